import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@azure/functions';
import type { HttpHandler, HttpMethod } from '@azure/functions';
import type { Logger } from '../../shared/observability/logger';
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
}

export interface HttpServerOptions {
  functions: readonly HttpFunction[];
  logger: Logger;
  port: number;
  /** Interface to bind; the host default is every interface, ours is loopback (admin API is anonymous locally). */
  hostname?: string | undefined;
  /** host.json `extensions.http.routePrefix`; default `api`. */
  routePrefix?: string | undefined;
  /** Largest request body read; the Functions host caps it at 100 MB (`FUNCTIONS_REQUEST_BODY_SIZE_LIMIT`). */
  maxBodyBytes?: number | undefined;
}

export interface LocalHttpServer {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** Stop accepting, finish in-flight requests, close idle keep-alive connections. */
  stop(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;

interface Target {
  fn: HttpFunction;
  methods: ReadonlySet<string>;
  trigger: { type: 'httpTrigger'; name: string; authLevel: string; methods: HttpMethod[]; route: string };
}

/**
 * The HTTP half of the local host: routes under `/{routePrefix}` to the same
 * HttpHandlers that functions/ registers, with real HttpRequest and
 * InvocationContext objects. As with Core Tools, authLevel is not enforced
 * locally.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<LocalHttpServer> {
  const { logger } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
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

  const server = createServer((req, res) => {
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
  });
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
    try {
      for (const route of routes) {
        const p = matchRoute(route, rest);
        if (!p) continue;
        if (route.target.methods.has(method)) {
          target = route;
          params = p;
          break;
        }
        for (const m of route.target.methods) allowed.add(m);
      }
    } catch (err) {
      if (err instanceof MalformedPathError) { sendJson(res, 400, { error: 'bad_request', message: err.message }); return; }
      throw err;
    }
    if (!target || !params) {
      if (allowed.size === 0) { notFound(req, res, method, rawUrl); return; }
      req.resume();
      res.setHeader('allow', [...allowed].join(', '));
      sendJson(res, 405, { error: 'method_not_allowed', message: `${method} is not allowed here; use ${[...allowed].join(', ')}` });
      return;
    }

    const body = await readBody(req, maxBodyBytes);
    if (body === 'too_large') {
      // Answer now and close the connection: Node then stops reading the
      // socket, so the rest of an oversized upload is never buffered.
      res.setHeader('connection', 'close');
      sendJson(res, 413, { error: 'payload_too_large', message: `Request body exceeds ${maxBodyBytes} bytes.` });
      return;
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
    req.resume();
    sendJson(res, 404, { error: 'not_found', message: `No function matches ${method} ${rawUrl.split('?')[0] ?? ''}` });
  }

  function buildRequest(req: IncomingMessage, method: string, params: Record<string, string>, body: Buffer): HttpRequest {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const host = headers.host ?? `localhost:${port}`;
    // GET/HEAD bodies are dropped, exactly as the library does (fetch forbids them).
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

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Read the whole body, or report 'too_large' as soon as it passes the cap (by header or by count). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return Promise.resolve('too_large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        chunks.length = 0;
        // Stop pulling data; the 413 goes out with Connection: close.
        req.pause();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
