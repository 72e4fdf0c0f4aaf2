/**
 * A small OAuth 2.0 authorization server for tests, strict where real ones
 * are strict:
 * - authorization code + PKCE S256 (RFC 7636); codes are one-time and bound
 *   to client, redirect URI and challenge;
 * - access tokens expire (`accessTtlSeconds`);
 * - refresh tokens ROTATE: each use returns a new one and kills the old pair;
 *   presenting a used refresh token again revokes the whole family (every
 *   access and refresh token from that grant) and answers invalid_grant
 *   (OAuth 2.0 Security BCP, RFC 9700 §4.14.2);
 * - `GET /api/me` answers 200 for a live access token, 401 otherwise.
 * Knobs let tests delay or fail token requests and omit refresh tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Family {
  id: string;
  clientId: string;
  current: string | undefined;
  used: Set<string>;
  access: Set<string>;
  revoked: boolean;
}

interface Code {
  clientId: string;
  redirectUri: string;
  challenge: string;
  expiresAt: number;
}

export interface TokenRequestRecord {
  grant: string;
  status: number;
  error?: string;
}

export interface OAuthServerOptions {
  accessTtlSeconds?: number;
  /** Prefix of every minted token (the canary test plants its marker here). */
  tokenPrefix?: string;
}

export interface OAuthTestServer {
  url: string;
  tokenRequests: TokenRequestRecord[];
  /** Families revoked because a used refresh token came back. */
  revocations: number;
  addClient(clientId: string, secret: string, redirectUri: string): void;
  /** Start a grant directly (as if a user had connected earlier). */
  issue(clientId: string): { accessToken: string; refreshToken: string; expiresIn: number };
  isLive(accessToken: string): boolean;
  /** Behaviour of the next token requests. */
  behaviour: {
    rotate: boolean;
    omitRefreshToken: boolean;
    /** Wait this long before answering a token request. */
    delayMs: number;
    /** Answer the next N token requests with this status (5xx: transient). */
    failNext: { status: number; count: number } | undefined;
    /** Refuse every refresh with invalid_grant (the user revoked the app). */
    refuseRefresh: boolean;
  };
  close(): Promise<void>;
}

export async function startOAuthServer(options: OAuthServerOptions = {}): Promise<OAuthTestServer> {
  const ttl = options.accessTtlSeconds ?? 3600;
  const prefix = options.tokenPrefix ?? '';
  const clients = new Map<string, { secret: string; redirectUri: string }>();
  const families = new Map<string, Family>();
  const byRefresh = new Map<string, Family>();
  const byAccess = new Map<string, { family: Family; expiresAt: number }>();
  const codes = new Map<string, Code>();
  const tokenRequests: TokenRequestRecord[] = [];
  let revocations = 0;
  const behaviour: OAuthTestServer['behaviour'] = { rotate: true, omitRefreshToken: false, delayMs: 0, failNext: undefined, refuseRefresh: false };

  const mint = (kind: string): string => `${prefix}${kind}_${randomBytes(18).toString('base64url')}`;

  function newAccess(family: Family): string {
    const token = mint('at');
    family.access.add(token);
    byAccess.set(token, { family, expiresAt: Date.now() + ttl * 1000 });
    return token;
  }

  function newFamily(clientId: string): Family {
    const family: Family = { id: randomBytes(6).toString('hex'), clientId, current: undefined, used: new Set(), access: new Set(), revoked: false };
    families.set(family.id, family);
    return family;
  }

  function rotateRefresh(family: Family): string {
    const token = mint('rt');
    if (family.current !== undefined) family.used.add(family.current);
    family.current = token;
    byRefresh.set(token, family);
    return token;
  }

  function revoke(family: Family): void {
    family.revoked = true;
    revocations++;
  }

  type Answer = [number, Record<string, unknown>];

  function clientOf(req: IncomingMessage, form: URLSearchParams): string | undefined {
    let id = form.get('client_id') ?? undefined;
    let secret = form.get('client_secret') ?? undefined;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (basic !== undefined) {
      const [u, p] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u ?? '');
      secret = decodeURIComponent(p ?? '');
    }
    const client = id === undefined ? undefined : clients.get(id);
    return client && secret === client.secret ? id : undefined;
  }

  function token(req: IncomingMessage, form: URLSearchParams): Answer {
    const grant = form.get('grant_type') ?? '';
    const clientId = clientOf(req, form);
    if (!clientId) return [401, { error: 'invalid_client' }];
    if (grant === 'authorization_code') {
      const code = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (!code || code.clientId !== clientId || code.expiresAt < Date.now() || code.redirectUri !== form.get('redirect_uri') || code.challenge !== challenge) {
        return [400, { error: 'invalid_grant' }];
      }
      const family = newFamily(clientId);
      return [200, { access_token: newAccess(family), token_type: 'bearer', expires_in: ttl, refresh_token: rotateRefresh(family) }];
    }
    if (grant === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      const family = byRefresh.get(presented);
      if (!family || family.clientId !== clientId || family.revoked || behaviour.refuseRefresh) return [400, { error: 'invalid_grant' }];
      if (family.used.has(presented)) {
        revoke(family);
        return [400, { error: 'invalid_grant', error_description: 'refresh token reuse detected; grant revoked' }];
      }
      // The old pair dies on use: its access tokens stop working.
      for (const t of family.access) byAccess.delete(t);
      family.access.clear();
      const body: Record<string, unknown> = { access_token: newAccess(family), token_type: 'bearer', expires_in: ttl };
      if (behaviour.rotate && !behaviour.omitRefreshToken) body.refresh_token = rotateRefresh(family);
      return [200, body];
    }
    return [400, { error: 'unsupported_grant_type' }];
  }

  function authorize(u: URL): [number, Record<string, string>] {
    const client = clients.get(u.searchParams.get('client_id') ?? '');
    const redirectUri = u.searchParams.get('redirect_uri') ?? '';
    if (!client || client.redirectUri !== redirectUri) return [400, {}];
    if (u.searchParams.get('response_type') !== 'code' || u.searchParams.get('code_challenge_method') !== 'S256') return [400, {}];
    const code = randomBytes(16).toString('base64url');
    codes.set(code, { clientId: u.searchParams.get('client_id') ?? '', redirectUri, challenge: u.searchParams.get('code_challenge') ?? '', expiresAt: Date.now() + 60_000 });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', u.searchParams.get('state') ?? '');
    // Auto-approve: the "user" consents at once.
    return [302, { location: back.toString() }];
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const u = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && u.pathname === '/oauth/authorize') {
      const [status, headers] = authorize(u);
      send(res, status, status === 302 ? undefined : { error: 'invalid_request' }, headers);
      return;
    }
    if (req.method === 'POST' && u.pathname === '/oauth/token') {
      const text = Buffer.concat(chunks).toString('utf8');
      const form = (req.headers['content-type'] ?? '').includes('json')
        ? new URLSearchParams(JSON.parse(text) as Record<string, string>)
        : new URLSearchParams(text);
      const grant = form.get('grant_type') ?? '';
      if (behaviour.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
      let answer: Answer;
      if (behaviour.failNext && behaviour.failNext.count > 0) {
        behaviour.failNext.count--;
        answer = [behaviour.failNext.status, { error: 'temporarily_unavailable' }];
      } else {
        answer = token(req, form);
      }
      const error = answer[1].error;
      tokenRequests.push({ grant, status: answer[0], ...(typeof error === 'string' ? { error } : {}) });
      // The client may have given up (aborted) meanwhile; the grant still happened, as on a real server.
      if (!res.destroyed) send(res, answer[0], answer[1]);
      return;
    }
    if (req.method === 'GET' && u.pathname === '/api/me') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (isLive(bearer)) send(res, 200, { id: 'user-1' });
      else send(res, 401, { error: 'invalid_token' });
      return;
    }
    send(res, 404, { error: 'not_found' });
  }

  function isLive(accessToken: string): boolean {
    const entry = byAccess.get(accessToken);
    return entry !== undefined && !entry.family.revoked && entry.expiresAt > Date.now();
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      send(res, 500, { error: 'server_error', detail: String(error) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    tokenRequests,
    get revocations() {
      return revocations;
    },
    addClient: (clientId, secret, redirectUri) => {
      clients.set(clientId, { secret, redirectUri });
    },
    issue: (clientId) => {
      const family = newFamily(clientId);
      return { accessToken: newAccess(family), refreshToken: rotateRefresh(family), expiresIn: ttl };
    },
    isLive,
    behaviour,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}
