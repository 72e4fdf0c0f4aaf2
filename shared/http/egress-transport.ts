/**
 * The `fetch` provider calls go out on: node:http(s) with a DNS lookup that
 * refuses addresses the egress policy forbids. The check sits in the lookup
 * the socket itself uses, so it applies to the address actually connected:
 * a name that resolves to 127.0.0.1 or 169.254.169.254 — or that answers
 * differently the second time (DNS rebinding) — never gets a connection.
 * (Node's global fetch takes no lookup hook without the undici package, and
 * a resolve-then-fetch check would leave the rebinding window open.)
 *
 * It never follows redirects: it answers the 3xx, and the guard (egress.ts)
 * decides. Request bodies are buffered (provider requests are small JSON or
 * forms); response bodies stream.
 */
import dns, { type LookupAddress, type LookupAllOptions, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { bareAddress, isAddressLiteral } from './egress-address';
import { EgressRefusedError, type EgressPolicy } from './egress-policy';

/** The part of dns.lookup the transport uses; tests inject their own answers. */
export type Resolver = (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export interface EgressTransportOptions {
  resolver?: Resolver;
  /** Sent when the caller sets none (GitHub refuses requests without one). */
  userAgent?: string;
}

const defaultResolver: Resolver = (hostname, options, callback) => {
  dns.lookup(hostname, options, callback);
};

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function createEgressTransport(policy: EgressPolicy, options: EgressTransportOptions = {}): typeof fetch {
  const resolver = options.resolver ?? defaultResolver;
  const userAgent = options.userAgent ?? 'castiel-sync';
  const lookup = guardedLookup(policy, resolver);
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('fetch failed', { cause: new Error(`unsupported scheme ${url.protocol}`) });
    // Node connects to an address literal without a lookup: check it here.
    if (isAddressLiteral(url.hostname)) {
      const refused = policy.addressRefusal(url.hostname);
      if (refused !== undefined) throw new EgressRefusedError('address', `egress refused (address): ${bareAddress(url.hostname)} is ${refused}`);
    }
    // fetch's defaults, then the caller's headers (Headers hands names over lower-cased).
    const headers: Record<string, string> = { 'user-agent': userAgent, accept: '*/*' };
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    if (body !== undefined) headers['content-length'] = String(body.length);
    const signal = request.signal;
    signal.throwIfAborted();
    const target: Target = { url, method: request.method, headers, body, signal, agent: url.protocol === 'https:' ? agents.https : agents.http, lookup };
    try {
      return await send(target);
    } catch (error) {
      // A kept-alive socket the server closed while idle: send once more on a fresh one, if repeating is harmless.
      if (!(error instanceof StaleSocketError)) throw error;
      if (!IDEMPOTENT.has(request.method)) throw new TypeError('fetch failed', { cause: error.cause });
      return await send(target);
    }
  };
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

class StaleSocketError extends Error {}

interface Target {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  signal: AbortSignal;
  agent: http.Agent;
  lookup: ReturnType<typeof guardedLookup>;
}

function send(t: Target): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const transport = t.url.protocol === 'https:' ? https : http;
    const req = transport.request({
      protocol: t.url.protocol,
      hostname: bareAddress(t.url.hostname),
      port: t.url.port === '' ? undefined : Number(t.url.port),
      path: `${t.url.pathname}${t.url.search}`,
      method: t.method,
      headers: t.headers,
      agent: t.agent,
      lookup: t.lookup,
    });
    let response: http.IncomingMessage | undefined;
    const onAbort = (): void => {
      const reason = abortReason(t.signal);
      response?.destroy(reason);
      req.destroy(reason);
    };
    t.signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      t.signal.removeEventListener('abort', onAbort);
    };
    req.on('error', (error: NodeJS.ErrnoException) => {
      done();
      if (error instanceof EgressRefusedError || t.signal.aborted) reject(error);
      else if (req.reusedSocket && response === undefined && error.code === 'ECONNRESET') reject(new StaleSocketError('stale socket', { cause: error }));
      else reject(new TypeError('fetch failed', { cause: error }));
    });
    req.on('response', (res) => {
      response = res;
      res.on('close', done);
      resolve(toResponse(res, t.method));
    });
    req.end(t.body);
  });
}

/** A lookup for net.connect that hands back only addresses the policy allows, and fails if any is refused. */
function guardedLookup(policy: EgressPolicy, resolver: Resolver) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolver(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, []);
        return;
      }
      // One refused answer refuses the name: a mix of public and internal addresses is not a provider.
      for (const { address } of addresses) {
        const refused = policy.addressRefusal(address);
        if (refused !== undefined) {
          callback(new EgressRefusedError('address', `egress refused (address): ${hostname} resolves to ${refused}`), []);
          return;
        }
      }
      const [first] = addresses;
      if (first === undefined) callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      else if (options.all === true) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

function toResponse(res: http.IncomingMessage, method: string): Response {
  const status = res.statusCode ?? 502;
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '');
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(status)) {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage ?? '', headers });
  }
  const stream = decoded(res, headers);
  return new Response(Readable.toWeb(stream), { status, statusText: res.statusMessage ?? '', headers });
}

/** fetch decodes compressed bodies; so does this, and drops the headers that described the encoding. */
function decoded(res: http.IncomingMessage, headers: Headers): Readable {
  const encoding = res.headers['content-encoding']?.trim().toLowerCase();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : undefined;
  if (decoder === undefined) return res;
  headers.delete('content-encoding');
  headers.delete('content-length');
  res.on('error', (error) => decoder.destroy(error));
  return res.pipe(decoder);
}

/** The signal's reason (a TimeoutError, say), which may come from another realm: no instanceof. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return typeof reason === 'object' && reason !== null ? (reason as Error) : new DOMException('This operation was aborted', 'AbortError');
}
