import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@azure/functions';
import type { HttpHandler, HttpMethod } from '@azure/functions';
import type { BodyLimit } from '../../functions/definitions';
import { keyMatches } from '../../shared/api/http';
import type { Logger } from '../../shared/observability/logger';
import { announcesBody, DEFAULT_MAX_BODY_BYTES, declaredLength, expectsContinue, lingerThenClose, readBody, resolveBodyLimit } from './body';
import { createInvocation, describeError, invoke } from './context';
import { toWireResponse } from './response';
import type { WireResponse } from './response';
import { byPrecedence, compileRoute, MalformedPathError, matchRoute, splitPath } from './routes';
import type { CompiledRoute } from './routes';

export interface HttpFunction {
  name: string;
  route: string;
  methods: readonly HttpMethod[];
  authLevel: 'anonymous' | 'function';
  handler: HttpHandler;
  /** This route's body limit (default: the host's cap); the host stops reading there. */
  maxBodyBytes?: BodyLimit | undefined;
}

export interface HttpServerOptions {
  functions: readonly HttpFunction[];
  logger: Logger;
  port: number;
  /** Interface to bind; the host default is every interface, ours is loopback (admin API is anonymous locally). */
  hostname?: string | undefined;
  /** host.json `extensions.http.routePrefix`; default `api`. */
  routePrefix?: string | undefined;
  /** The host's cap on any body; the Functions host's is 100 MiB (`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`). Routes declare lower ones. */
  maxBodyBytes?: number | undefined;
  /**
   * The key `authLevel: 'function'` routes require (x-functions-key header or
   * `?code=`), checked before the route's method, body or function: the
   * Functions host authorizes before it invokes, so an unauthenticated caller
   * learns nothing and sends nothing we read. Unset: not enforced, as in Core Tools.
   */
  functionKey?: string | undefined;
}

export interface LocalHttpServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** Stop accepting, finish in-flight requests, close idle keep-alive connections. */
  stop(): Promise<void>;
}

export { DEFAULT_MAX_BODY_BYTES };

interface Target {
  fn: HttpFunction;
  methods: ReadonlySet<string>;
  trigger: { type: 'httpTrigger'; name: string; authLevel: string; methods: HttpMethod[]; route: string };
}

/**
 * The HTTP half of the local host: routes under `/{routePrefix}` to the same
 * HttpHandlers that functions/ registers, with real HttpRequest and
 * InvocationContext objects. Limits come before work: route, then key, then
 * the route's body limit (by Content-Length before reading, by count while
 * reading), and only then the function.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<LocalHttpServer> {
  const { logger } = options;
  const hostCap = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const functionKey = options.functionKey;
  const prefix = splitPath(options.routePrefix ?? 'api').map((s) => s.toLowerCase());
  const routes: CompiledRoute<Target>[] = options.functions
    .map((fn) =>
      compileRoute<Target>(fn.route, {
        fn,
        methods: new Set(fn.methods.map((m) => m.toUpperCase())),
        trigger: { type: 'httpTrigger', name: 'request', authLevel: fn.authLevel, methods: [...fn.methods], route: fn.route },
      }),
    )
    .sort(byPrecedence);

  let inFlight = 0;
  let stopping = false;
  let drained: (() => void) | undefined;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0 && drained) drained();
    });
    // While draining, tell keep-alive clients to go away after this response.
    if (stopping) res.setHeader('connection', 'close');
    handle(req, res).catch((err: unknown) => {
      // A client that hung up mid-upload is not a host failure.
      if (req.destroyed || res.destroyed) {
        logger.debug('local host: client went away', { method: req.method, url: req.url, ...describeError(err) });
        return;
      }
      logger.error('local host: failed to answer request', { method: req.method, url: req.url, ...describeError(err) });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal_error', message: 'The function host failed to answer this request.' });
      else res.destroy();
    });
  };
  const server = createServer(onRequest);
  // With a listener here Node no longer answers `Expect: 100-continue` by
  // itself: the client is told to send its body only once route, key and
  // Content-Length have passed (curl waits for this above 1 MiB).
  server.on('checkContinue', onRequest);
  // Keep-alive longer than a typical client pool's idle time, so benchmarks and
  // SDK clients reuse connections instead of racing a server-side close.
  server.keepAliveTimeout = 65_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const parts = splitPath(q === -1 ? rawUrl : rawUrl.slice(0, q));
    const method = (req.method ?? 'GET').toUpperCase();
    if (!hasPrefix(parts, prefix)) { notFound(req, res, method, rawUrl); return; }
    const rest = parts.slice(prefix.length);

    let target: CompiledRoute<Target> | undefined;
    let params: Record<string, string> | undefined;
    const allowed = new Set<string>();
    let keyed = false;
    try {
      for (const route of routes) {
        const p = matchRoute(route, rest);
        if (!p) continue;
        if (route.target.methods.has(method)) {
          target = route;
          params = p;
          break;
        }
        if (route.target.fn.authLevel === 'function') keyed = true;
        for (const m of route.target.methods) allowed.add(m);
      }
    } catch (err) {
      if (err instanceof MalformedPathError) { refuse(req, res, 400, { error: 'bad_request', message: err.message }); return; }
      throw err;
    }
    if (!target && allowed.size === 0) { notFound(req, res, method, rawUrl); return; }
    // 401 before 405: the methods a management route takes are not for strangers (HEAD/OPTIONS included).
    const needsKey = target ? target.target.fn.authLevel === 'function' : keyed;
    if (needsKey && functionKey !== undefined && !keyMatches(givenKey(req, rawUrl, q), functionKey)) {
      refuse(req, res, 401, { error: 'unauthorized', reason: 'Missing or wrong x-functions-key' });
      return;
    }
    if (!target || !params) {
      refuse(req, res, 405, { error: 'method_not_allowed', message: `${method} is not allowed here; use ${[...allowed].join(', ')}` }, { allow: [...allowed].join(', ') });
      return;
    }

    let body: Buffer = EMPTY;
    // GET/HEAD bodies are dropped, exactly as the library does (fetch forbids them): never read them.
    if (method !== 'GET' && method !== 'HEAD') {
      let limit: number;
      try {
        limit = await resolveBodyLimit(target.target.fn.maxBodyBytes, hostCap);
      } catch (err) {
        logger.error('local host: body limit unavailable', { functionName: target.target.fn.name, ...describeError(err) });
        refuse(req, res, 503, { error: 'unavailable', reason: 'Service is starting or misconfigured' });
        return;
      }
      const declared = declaredLength(req);
      if (declared !== undefined && declared > limit) { tooLarge(req, res, limit); return; }
      if (expectsContinue(req)) res.writeContinue();
      const read = await readBody(req, limit);
      if (read === 'too_large') { tooLarge(req, res, limit); return; }
      body = read;
    }

    const { fn, trigger } = target.target;
    let request: HttpRequest;
    try {
      request = buildRequest(req, method, params, body);
    } catch (err) {
      // fetch's Request rejects what Node's parser lets through (e.g. a Host header that is not a host).
      sendJson(res, 400, { error: 'bad_request', message: `Malformed request: ${err instanceof Error ? err.message : 'invalid'}` });
      return;
    }
    const { context, logger: invocationLogger } = createInvocation({ functionName: fn.name, trigger, logger });
    let wire: WireResponse;
    try {
      const result = await invoke(() => fn.handler(request, context));
      wire = await toWireResponse(result);
    } catch (err) {
      // Handlers are meant to map every failure to a response; this is the
      // last resort, and it must not take the server down.
      invocationLogger.error('http function threw', { method, url: rawUrl, ...describeError(err) });
      sendJson(res, 500, { error: 'internal_error', message: 'The function failed; see the host log for details.' });
      return;
    }
    // A known length instead of chunked encoding, as the Functions host sends it.
    if (wire.headers['content-length'] === undefined && wire.headers['transfer-encoding'] === undefined && wire.status !== 204 && wire.status !== 304) {
      wire.headers['content-length'] = String(wire.body?.length ?? 0);
    }
    res.writeHead(wire.status, wire.headers);
    res.end(wire.body);
  }

  function notFound(req: IncomingMessage, res: ServerResponse, method: string, rawUrl: string): void {
    refuse(req, res, 404, { error: 'not_found', message: `No function matches ${method} ${rawUrl.split('?')[0] ?? ''}` });
  }

  function tooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
    logger.debug('local host: body over the route limit', { method: req.method, url: req.url?.split('?')[0], limit });
    refuse(req, res, 413, { error: 'payload_too_large', message: `Request body exceeds ${limit} bytes.` });
  }

  function buildRequest(req: IncomingMessage, method: string, params: Record<string, string>, body: Buffer): HttpRequest {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const host = headers.host ?? `localhost:${port}`;
    const withBody = method !== 'GET' && method !== 'HEAD';
    return new HttpRequest({
      method,
      url: `http://${host}${req.url ?? '/'}`,
      headers,
      params,
      ...(withBody ? { body: { bytes: body } } : {}),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.hostname ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${displayHost(options.hostname ?? '127.0.0.1')}:${port}`;

  let stopPromise: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => { resolve(); }));
      if (inFlight > 0) await new Promise<void>((resolve) => { drained = resolve; });
      // Every request is answered: what is left are idle keep-alive sockets.
      server.closeIdleConnections();
      await closed;
    })();
    return stopPromise;
  };

  return { server, port, url, stop };
}

/**
 * An address clients can reach. Not "localhost": it may resolve to ::1 first,
 * which a server bound to 127.0.0.1 (or 0.0.0.0) does not answer.
 */
function displayHost(bound: string): string {
  if (bound === '0.0.0.0') return '127.0.0.1';
  if (bound === '::') return '[::1]';
  return bound.includes(':') ? `[${bound}]` : bound;
}

function hasPrefix(parts: readonly string[], prefix: readonly string[]): boolean {
  if (parts.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (parts[i]?.toLowerCase() !== prefix[i]) return false;
  return true;
}

const EMPTY = Buffer.alloc(0);

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Answer without reading the body. If one is still on its way, the rest is
 * discarded within a small allowance once the answer is out, then the
 * connection is dropped: never buffered, never drained in full.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  // Runs after Node's own 'finish' handling, which has detached the request by then.
  if (!req.complete && announcesBody(req)) res.once('finish', () => { lingerThenClose(req); });
  sendJson(res, status, body, headers);
}

/** The caller's key, where the Functions host looks for it: the x-functions-key header, else `?code=`. */
function givenKey(req: IncomingMessage, rawUrl: string, q: number): string | undefined {
  const header = req.headers['x-functions-key'];
  if (typeof header === 'string') return header;
  return q === -1 ? undefined : (new URLSearchParams(rawUrl.slice(q + 1)).get('code') ?? undefined);
}
