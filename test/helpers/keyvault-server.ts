import { randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';

/**
 * A local HTTPS server speaking enough of the Key Vault secrets REST API
 * (api-version 7.x / 2025-07-01) for @azure/keyvault-secrets. Wire shapes follow
 * the SDK's generated models: attributes are Unix seconds, ids are
 * `<vault>/secrets/<name>/<version>`, errors are `{error:{code,message}}`.
 * Soft-delete is always on, as it is for every vault created since 2020.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  authorized: boolean;
}

export interface KeyVaultServerOptions {
  /** When set, only this bearer token is accepted; otherwise any non-empty one. */
  token?: string;
  tenantId?: string;
  /** Clock for `created`/`updated` attributes (tests step it to order versions). */
  now?: () => number;
}

export interface KeyVaultTestServer {
  url: string;
  /** PEM of the self-signed certificate, for `tlsOptions: { ca }`. */
  cert: string;
  requests: RecordedRequest[];
  /**
   * Answer the next `count` authorized requests with `method` (and a path
   * starting with `pathPrefix`) with `status` instead of serving them: a
   * throttled (429) or unavailable (503) vault. Nothing is stored.
   */
  failNext(match: { method: string; pathPrefix?: string }, status: 429 | 500 | 503, count?: number): void;
  close(): Promise<void>;
}

interface Version {
  id: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  exp?: number;
  nbf?: number;
  created: number;
  updated: number;
}

interface Secret {
  name: string;
  versions: Version[];
  deletedDate?: number;
}

/** Key Vault's documented 25 KB value limit. */
const MAX_VALUE_BYTES = 25 * 1024;
const NAME = /^[0-9a-zA-Z-]{1,127}$/;

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly inner?: string) {
    super(message);
  }
}

const notFound = (name: string): HttpError =>
  new HttpError(404, 'SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`);

export async function startKeyVaultServer(options: KeyVaultServerOptions = {}): Promise<KeyVaultTestServer> {
  const tenantId = options.tenantId ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const nowSeconds = (): number => Math.floor((options.now ?? Date.now)() / 1000);
  const { cert, private: key } = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const active = new Map<string, Secret>();
  const deleted = new Map<string, Secret>();
  const requests: RecordedRequest[] = [];
  const faults: { method: string; pathPrefix: string; status: number; count: number }[] = [];
  let url = '';

  const latest = (s: Secret): Version => {
    const v = s.versions.at(-1);
    if (!v) throw new HttpError(500, 'InternalError', 'secret without versions');
    return v;
  };
  const bundle = (s: Secret, v: Version, withValue: boolean): Record<string, unknown> => ({
    ...(withValue ? { value: v.value } : {}),
    id: `${url}/secrets/${s.name}/${v.id}`,
    ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
    ...(v.tags !== undefined ? { tags: v.tags } : {}),
    attributes: {
      enabled: v.enabled,
      ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
      ...(v.exp !== undefined ? { exp: v.exp } : {}),
      created: v.created,
      updated: v.updated,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
    },
  });
  const deletedBundle = (s: Secret): Record<string, unknown> => ({
    ...bundle(s, latest(s), false),
    recoveryId: `${url}/deletedsecrets/${s.name}`,
    deletedDate: s.deletedDate,
    scheduledPurgeDate: (s.deletedDate ?? 0) + 90 * 86400,
  });
  const find = (map: Map<string, Secret>, name: string): Secret => {
    const s = map.get(name.toLowerCase());
    if (!s) throw notFound(name);
    return s;
  };

  function setSecret(name: string, body: unknown): [number, unknown] {
    if (!NAME.test(name)) throw new HttpError(400, 'BadParameter', 'The secret name is invalid.');
    const b = (body ?? {}) as { value?: unknown; contentType?: string; tags?: Record<string, string>; attributes?: { enabled?: boolean; exp?: number; nbf?: number } };
    if (typeof b.value !== 'string') throw new HttpError(400, 'BadParameter', 'Property value is required.');
    if (Buffer.byteLength(b.value) > MAX_VALUE_BYTES) throw new HttpError(400, 'BadParameter', 'The secret value is too large.');
    if (deleted.has(name.toLowerCase())) {
      throw new HttpError(409, 'Conflict', `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`, 'ObjectIsDeletedButRecoverable');
    }
    const now = nowSeconds();
    const s = active.get(name.toLowerCase()) ?? { name, versions: [] };
    const v: Version = { id: randomBytes(16).toString('hex'), value: b.value, enabled: b.attributes?.enabled ?? true, created: now, updated: now };
    if (b.contentType !== undefined) v.contentType = b.contentType;
    if (b.tags !== undefined) v.tags = b.tags;
    if (b.attributes?.exp !== undefined) v.exp = b.attributes.exp;
    if (b.attributes?.nbf !== undefined) v.nbf = b.attributes.nbf;
    s.versions.push(v);
    active.set(name.toLowerCase(), s);
    return [200, bundle(s, v, true)];
  }

  function getSecret(name: string, version: string | undefined): [number, unknown] {
    const s = find(active, name);
    const v = version ? s.versions.find((x) => x.id === version) : latest(s);
    if (!v) throw notFound(`${name}/${version ?? ''}`);
    if (!v.enabled) throw new HttpError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    return [200, bundle(s, v, true)];
  }

  function updateSecret(name: string, version: string, body: unknown): [number, unknown] {
    const s = find(active, name);
    const v = s.versions.find((x) => x.id === version);
    if (!v) throw notFound(`${name}/${version}`);
    const b = (body ?? {}) as { contentType?: string; tags?: Record<string, string>; attributes?: { enabled?: boolean; exp?: number; nbf?: number } };
    if (b.contentType !== undefined) v.contentType = b.contentType;
    if (b.tags !== undefined) v.tags = b.tags;
    if (b.attributes?.enabled !== undefined) v.enabled = b.attributes.enabled;
    if (b.attributes?.exp !== undefined) v.exp = b.attributes.exp;
    v.updated = nowSeconds();
    return [200, bundle(s, v, false)];
  }

  function route(method: string, parts: string[], body: unknown): [number, unknown] {
    const [collection, rawName, sub] = parts;
    const name = decodeURIComponent(rawName ?? '');
    if (collection === 'secrets' && name) {
      if (method === 'PUT' && parts.length === 2) return setSecret(name, body);
      if (method === 'GET' && sub === 'versions' && parts.length === 3) {
        const s = find(active, name);
        return [200, { value: s.versions.map((v) => bundle(s, v, false)), nextLink: null }];
      }
      if (method === 'GET' && parts.length <= 3) return getSecret(name, sub);
      if (method === 'PATCH' && sub && parts.length === 3) return updateSecret(name, sub, body);
      if (method === 'DELETE' && parts.length === 2) {
        const s = find(active, name);
        active.delete(name.toLowerCase());
        s.deletedDate = nowSeconds();
        deleted.set(name.toLowerCase(), s);
        return [200, deletedBundle(s)];
      }
    }
    if (collection === 'deletedsecrets' && name) {
      const s = find(deleted, name);
      if (method === 'GET' && parts.length === 2) return [200, deletedBundle(s)];
      if (method === 'DELETE' && parts.length === 2) {
        deleted.delete(name.toLowerCase());
        return [204, undefined];
      }
      if (method === 'POST' && sub === 'recover' && parts.length === 3) {
        deleted.delete(name.toLowerCase());
        delete s.deletedDate;
        active.set(name.toLowerCase(), s);
        return [200, bundle(s, latest(s), false)];
      }
    }
    throw new HttpError(400, 'BadParameter', `Unsupported request: ${method} /${parts.join('/')}`);
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-request-id': randomUUID(), ...headers });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const u = new URL(req.url ?? '/', 'https://localhost');
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/.exec(auth)?.[1];
    const authorized = token !== undefined && (options.token === undefined || token === options.token);
    const record = (status: number): void => {
      requests.push({ method, path: u.pathname, status, authorized });
    };
    if (!authorized) {
      // The SDK sends its first request without a body or token and expects this challenge.
      record(401);
      send(res, 401, { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } }, {
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${tenantId}", resource="https://vault.azure.net"`,
      });
      return;
    }
    const fault = faults.find((f) => f.count > 0 && f.method === method && u.pathname.startsWith(f.pathPrefix));
    if (fault) {
      fault.count--;
      record(fault.status);
      const code = fault.status === 429 ? 'Throttled' : 'ServiceUnavailable';
      send(res, fault.status, { error: { code, message: 'Injected fault' } }, fault.status === 429 ? { 'retry-after': '1' } : {});
      return;
    }
    try {
      if (!u.searchParams.get('api-version')) throw new HttpError(400, 'BadParameter', 'api-version is required');
      const text = Buffer.concat(chunks).toString('utf8');
      const body: unknown = text ? JSON.parse(text) : undefined;
      const [status, out] = route(method, u.pathname.split('/').filter(Boolean), body);
      record(status);
      send(res, status, out);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', String(err));
      record(e.status);
      send(res, e.status, { error: { code: e.code, message: e.message, ...(e.inner ? { innererror: { code: e.inner } } : {}) } });
    }
  }

  const server = https.createServer({ key, cert }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      send(res, 500, { error: { code: 'InternalError', message: String(err) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    cert,
    requests,
    failNext: (match, status, count = 1) => {
      faults.push({ method: match.method, pathPrefix: match.pathPrefix ?? '/', status, count });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Keep-alive sockets from the SDK's agent would otherwise hold close() open.
        server.closeAllConnections();
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}
