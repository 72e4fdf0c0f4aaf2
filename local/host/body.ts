import type { IncomingMessage } from 'node:http';
import type { BodyLimit } from '../../functions/definitions';

/**
 * Request bodies, read only as far as the route allows. The real host's cap
 * is FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, 100 MiB by default
 * (azure-functions-host src/WebJobs.Script.WebHost/Middleware/HttpRequestSizeMiddleware.cs:
 * `DefaultRequestBodySize = 104857600`, set as Kestrel's MaxRequestBodySize;
 * https://learn.microsoft.com/azure/azure-functions/node-http-stream names the
 * setting and its default). Unless the app enables HTTP streams, that host
 * buffers the whole body before the Node worker sees it, so in Azure a
 * route's limit only bounds what our code reads. Here a route's limit, always
 * at or below the cap, is where reading stops.
 */
export const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;

/** The route's limit for this request, never above the host's cap. Throws if a setting-backed limit cannot be read. */
export async function resolveBodyLimit(limit: BodyLimit | undefined, hostCap: number): Promise<number> {
  if (limit === undefined) return hostCap;
  const value = typeof limit === 'number' ? limit : await limit();
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`body limit must be a non-negative number, got ${String(value)}`);
  return Math.min(value, hostCap);
}

/** Content-Length as a number; undefined when absent (chunked) or not a plain decimal. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const raw = req.headers['content-length'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** Whether the client says a body follows (a length above zero, or chunked). */
export function announcesBody(req: IncomingMessage): boolean {
  const length = declaredLength(req);
  return (length !== undefined && length > 0) || req.headers['transfer-encoding'] !== undefined;
}

export function expectsContinue(req: IncomingMessage): boolean {
  return req.headers.expect?.toLowerCase() === '100-continue';
}

/**
 * Read the whole body, or report 'too_large' as soon as it passes `max` (by
 * header, before reading anything, or by count for chunked bodies). On
 * 'too_large' the request is paused and no byte is kept: the caller answers
 * 413 and lets the rest go (see lingerThenClose).
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > max) return Promise.resolve('too_large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        chunks.length = 0;
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

/** What a refused request may still send, discarded, before its connection is dropped. */
// Discarded, never kept: the allowance costs bandwidth, not memory. It must outlast what a client
// writes before its event loop gets to the answer; at 1 MiB a busy client (CI under load) lost the
// 413 to the reset. nginx's lingering close reads for up to 30 s; 2 s or 64 MiB is enough here.
export const LINGER_BYTES = 64 * 1024 * 1024;
export const LINGER_MS = 2_000;

/**
 * After refusing a request whose body is still arriving: discard (never keep)
 * at most LINGER_BYTES more or LINGER_MS, then drop the connection. Closing at
 * once would reset it while the client is still sending, and many clients
 * (Node's own among them) then lose the answer to the reset: this is the
 * lingering close of RFC 9112 section 9.6, bounded. A body that ends within
 * the allowance leaves the connection reusable.
 */
export function lingerThenClose(req: IncomingMessage): void {
  const socket = req.socket;
  let discarded = 0;
  const drop = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(drop, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) drop();
  });
  req.once('end', () => { clearTimeout(timer); });
  socket.once('close', () => { clearTimeout(timer); });
  req.resume();
}
