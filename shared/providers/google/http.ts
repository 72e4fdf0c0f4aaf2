/**
 * Every Drive and Calendar call goes through here: providerFetch (timeouts,
 * typed errors, rate-limit signal) plus what Google asks of a client:
 * - truncated exponential backoff on 429, rate-limit 403s and 5xx, retried
 *   in process up to `maxRetries` and then handed to the worker with the
 *   next (longer) wait; https://developers.google.com/drive/api/guides/limits#exponential
 * - one token renewal on a 401 (the stored token expired early or was revoked);
 * - statuses the caller handles itself (409 on an idempotent create, 410 on
 *   a stale sync token) come back as the response instead of an error.
 */
import { AuthError, RateLimitedError, RetryableError, type SyncError } from '../../errors';
import { providerFetch } from '../../http/provider-fetch';
import type { RateLimitSignal } from '../types';
import { googleBackoffMs, isGoogleRateLimitMessage, MAX_BACKOFF_MS, parseGoogleRateLimit, parseRetryAfter } from './ratelimit';
import type { GoogleRuntime } from './runtime';
import { googleErrorSchema } from './schemas';
import type { GoogleTokenSession } from './session';

/** When in-process retries are spent, the worker reschedules at this backoff step (32 s + jitter). */
const HANDOFF_ATTEMPT = 5;

export interface GoogleCallContext {
  fetch: typeof fetch;
  onRateLimit?: (signal: RateLimitSignal) => void;
  signal?: AbortSignal;
}

export interface GoogleRequest {
  url: URL;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  body?: unknown;
  /** Label for errors, e.g. "Google Calendar list events". */
  operation: string;
  /** Non-2xx statuses returned to the caller (body already consumed) instead of thrown. */
  accept?: readonly number[];
  /** Extra request headers (a push's If-Match). */
  headers?: Readonly<Record<string, string>>;
}

export async function googleRequest(
  ctx: GoogleCallContext,
  session: GoogleTokenSession,
  rt: GoogleRuntime,
  request: GoogleRequest,
): Promise<Response> {
  let retries = 0;
  for (;;) {
    const token = await session.token();
    let last: Response | undefined;
    const spy: typeof fetch = async (input, init) => {
      last = await ctx.fetch(input, init);
      return last;
    };
    const headers: Record<string, string> = { ...request.headers, authorization: `Bearer ${token}`, accept: 'application/json' };
    const init: RequestInit = { method: request.method, headers };
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(request.body);
    }
    const fetchCtx: GoogleCallContext = { fetch: spy };
    if (ctx.onRateLimit) fetchCtx.onRateLimit = ctx.onRateLimit;
    if (ctx.signal) fetchCtx.signal = ctx.signal;
    try {
      return await providerFetch(fetchCtx, request.url, init, {
        parseRateLimit: (status, h) => parseGoogleRateLimit(status, h, { now: rt.now(), random: rt.random }),
        describe: describeGoogleError,
        isRateLimitMessage: isGoogleRateLimitMessage,
        operation: request.operation,
      });
    } catch (error) {
      const response: Response | undefined = last;
      const status = response?.status;
      if (response && status !== undefined && request.accept?.includes(status)) return response;
      if (error instanceof AuthError && status === 401 && session.canRenew()) {
        await session.renew();
        continue;
      }
      if (!isTransient(error, status)) throw error;
      const hinted = parseRetryAfter(response?.headers.get('retry-after') ?? null, rt.now());
      // A server-given wait longer than our longest backoff is the worker's to honour, not ours.
      if (retries < rt.maxRetries && (hinted === undefined || hinted <= MAX_BACKOFF_MS)) {
        await pause(rt, hinted ?? googleBackoffMs(retries, rt.random), ctx.signal, request.operation);
        retries++;
        continue;
      }
      if (error instanceof RateLimitedError && hinted === undefined) {
        throw new RateLimitedError(error.message, googleBackoffMs(HANDOFF_ATTEMPT, rt.random), { cause: error });
      }
      throw error;
    }
  }
}

/** Read a JSON body after a 2xx; a truncated body is worth another try. */
export async function readGoogleJson(response: Response, operation: string): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (e) {
    throw new RetryableError(`${operation}: reading the response failed`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RetryableError(`${operation}: response is not JSON (status ${response.status})`, { cause: e });
  }
}

/**
 * `[reason] message` from Google's error body: the legacy `errors[0].reason`
 * (Drive, Calendar) or the newer `status` (`RESOURCE_EXHAUSTED`).
 * https://developers.google.com/calendar/api/guides/errors
 */
export function describeGoogleError(body: unknown): string | undefined {
  const parsed = googleErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { error } = parsed.data;
  const reason = error.errors?.[0]?.reason ?? error.status;
  const message = error.message ?? error.errors?.[0]?.message;
  if (reason === undefined) return message;
  return message === undefined ? `[${reason}]` : `[${reason}] ${message}`;
}

function isTransient(error: unknown, status: number | undefined): error is SyncError {
  if (error instanceof RateLimitedError) return true;
  // Only statuses: a timeout or a dropped connection goes straight back to the worker.
  return error instanceof RetryableError && status !== undefined && (status >= 500 || status === 408);
}

async function pause(rt: GoogleRuntime, ms: number, signal: AbortSignal | undefined, operation: string): Promise<void> {
  try {
    await rt.sleep(ms, signal);
  } catch (e) {
    throw new RetryableError(`${operation}: aborted by the caller during backoff`, { cause: e });
  }
}
