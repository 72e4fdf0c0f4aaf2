/**
 * The one way providers call their APIs: `fetch` with a timeout, the
 * rate-limit signal reported on every response, and failures mapped to the
 * typed errors in shared/errors.ts so workers settle messages without string
 * matching. Provider knowledge (header names, error body shapes) comes in
 * through `options`; nothing here knows a provider.
 *
 * Error messages carry the status and a short provider message, never the
 * request headers, the URL's query or the request body: tokens live there.
 * Error bodies are summarised, never stored raw: what reaches `run.error`
 * and the logs is the status plus the provider's own error code/message
 * from a JSON body, stripped of markup, URLs and control characters, and
 * capped — so whatever answers (a proxy, or an internal service) cannot
 * have its page copied into a run record.
 */
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError, type SyncError } from '../errors';
import type { RateLimitSignal } from '../providers/types';
import { EgressRefusedError } from './egress-policy';

/** The part of a PullContext (or a push context) this helper needs. */
export interface ProviderFetchContext {
  fetch: typeof fetch;
  onRateLimit?: (signal: RateLimitSignal) => void;
  signal?: AbortSignal;
}

export interface ProviderFetchOptions {
  /** The provider's rate-limit header reader. */
  parseRateLimit(status: number, headers: Headers): RateLimitSignal;
  /** Short provider error message from a non-2xx JSON body (bodies that are not JSON are never described). */
  describe(body: unknown): string | undefined;
  /** Label for error messages, e.g. "GitHub list issues". */
  operation?: string;
  /**
   * Some providers flag a rate limit only in the body (GitHub's secondary
   * limits answer 403 with a message and maybe no retry-after). Given the
   * described message of a 403, say whether it is a rate limit.
   */
  isRateLimitMessage?(message: string): boolean;
  /** Per-request timeout; default 15 s. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
/** When a provider says "slow down" without saying how long: one minute, GitHub's documented floor. */
export const DEFAULT_RETRY_AFTER_MS = 60_000;
/** Error bodies are read only this far (bytes): enough for a message, never a whole page. */
const MAX_ERROR_BODY_BYTES = 16_384;
/** What of a provider's error message is kept: an error code and a sentence. */
export const MAX_ERROR_MESSAGE_CHARS = 120;

export async function providerFetch(
  ctx: ProviderFetchContext,
  url: string | URL,
  init: RequestInit,
  options: ProviderFetchOptions,
): Promise<Response> {
  const operation = options.operation ?? 'provider request';
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;

  let response: Response;
  try {
    response = await ctx.fetch(url, { ...init, signal });
  } catch (e) {
    // The rate limiter refused the request before it was sent: keep its retry time.
    if (e instanceof RateLimitedError) throw e;
    // The egress policy refused it: retrying the same URL changes nothing.
    if (e instanceof EgressRefusedError) throw e;
    throw new RetryableError(`${operation}: ${transportFailure(e, ctx.signal, timeout)}`, { cause: e });
  }

  const rateLimit = options.parseRateLimit(response.status, response.headers);
  ctx.onRateLimit?.(rateLimit);

  if (response.ok) return response;
  throw await errorFor(response, rateLimit, options, operation);
}

/** Read a 2xx body as JSON; a body cut off mid-read or garbled by a proxy is worth another try. */
export async function readJson(response: Response, operation = 'provider request'): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (e) {
    throw new RetryableError(`${operation}: reading the response failed (${errorName(e)})`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RetryableError(`${operation}: response is not JSON (status ${response.status})`, { cause: e });
  }
}

async function errorFor(
  response: Response,
  rateLimit: RateLimitSignal,
  options: ProviderFetchOptions,
  operation: string,
): Promise<SyncError> {
  const { status } = response;
  const message = await errorMessage(response, options);
  const text = `${operation}: HTTP ${status}${message ? ` ${message}` : ''}`;

  if (status === 429 || (status === 403 && isRateLimited(rateLimit, message, options))) {
    return new RateLimitedError(text, rateLimit.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
  }
  if (status === 401) return new AuthError(text);
  // 408 is the server giving up on a slow request: as transient as a 5xx.
  if (status >= 500 || status === 408) return new RetryableError(text);
  // Other 4xx (and an unfollowed 3xx): the request itself is wrong; retrying changes nothing.
  return new UnrecoverableError(text);
}

function isRateLimited(signal: RateLimitSignal, message: string | undefined, options: ProviderFetchOptions): boolean {
  if (signal.retryAfterMs !== undefined || signal.remaining === 0) return true;
  return message !== undefined && options.isRateLimitMessage?.(message) === true;
}

async function errorMessage(response: Response, options: ProviderFetchOptions): Promise<string | undefined> {
  const text = await readCapped(response, MAX_ERROR_BODY_BYTES);
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Not JSON (an HTML error page, a truncated dump): nothing of it is kept, not even the reason phrase,
    // which the server chooses too.
    return undefined;
  }
  const described = options.describe(body);
  return described === undefined ? undefined : summarise(described);
}

/** At most `max` bytes of the body as text; the rest is never read. */
async function readCapped(response: Response, max: number): Promise<string> {
  const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body cut off mid-read describes nothing.
    return '';
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/**
 * A provider message as it may be stored: one line, no markup, no URLs
 * (they can carry tokens or internal names), no control characters, capped.
 */
export function summarise(message: string): string | undefined {
  const flat = message
    .replace(/<[^>]*>?/g, ' ')
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S*/gi, '[url]')
    .replace(/[\p{Cc}\u2028\u2029<>]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (flat === '') return undefined;
  return flat.length > MAX_ERROR_MESSAGE_CHARS ? `${flat.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : flat;
}

function transportFailure(e: unknown, callerSignal: AbortSignal | undefined, timeout: AbortSignal): string {
  // Ask the signals, not the error: abort reasons are DOMExceptions, which may come from another realm.
  if (callerSignal?.aborted) return 'aborted by the caller';
  if (timeout.aborted) return 'timed out';
  const name = errorName(e);
  // undici wraps the socket error in `cause`; its code (ECONNREFUSED…) says enough.
  const code = stringProp(field(e, 'cause'), 'code');
  return `network error (${code ?? name})`;
}

// Duck-typed: errors from fetch may belong to another realm (jest, workers), defeating instanceof.
function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined;
}

function stringProp(value: unknown, key: string): string | undefined {
  const v = field(value, key);
  return typeof v === 'string' ? v : undefined;
}

function errorName(e: unknown): string {
  return stringProp(e, 'name') ?? 'unknown';
}
