/**
 * The one way providers call their APIs: `fetch` with a timeout, the
 * rate-limit signal reported on every response, and failures mapped to the
 * typed errors in shared/errors.ts so workers settle messages without string
 * matching. Provider knowledge (header names, error body shapes) comes in
 * through `options`; nothing here knows a provider.
 *
 * Error messages carry the status and a short provider message, never the
 * request headers, the URL's query or the request body: tokens live there.
 */
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError, type SyncError } from '../errors';
import type { RateLimitSignal } from '../providers/types';

/** The part of a PullContext (or a push context) this helper needs. */
export interface ProviderFetchContext {
  fetch: typeof fetch;
  onRateLimit?: (signal: RateLimitSignal) => void;
  signal?: AbortSignal;
}

export interface ProviderFetchOptions {
  /** The provider's rate-limit header reader. */
  parseRateLimit(status: number, headers: Headers): RateLimitSignal;
  /** Short provider error message from a non-2xx body (parsed JSON when it parses, else the text). */
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
/** Error bodies are read only this far: enough for a message, never a whole page. */
const MAX_ERROR_BODY_CHARS = 16_384;
const MAX_MESSAGE_CHARS = 200;

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
  let text: string;
  try {
    text = (await response.text()).slice(0, MAX_ERROR_BODY_CHARS);
  } catch {
    return response.statusText || undefined;
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // Not JSON (an HTML error page from a proxy): describe() gets the text.
  }
  const described = options.describe(body) ?? response.statusText;
  return described ? oneLine(described) : undefined;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_MESSAGE_CHARS ? `${flat.slice(0, MAX_MESSAGE_CHARS)}…` : flat;
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
