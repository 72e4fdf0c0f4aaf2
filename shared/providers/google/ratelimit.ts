/**
 * Google's rate-limit signals. Drive and Calendar send no rate-limit headers:
 * a limit shows as 403 `userRateLimitExceeded` / `rateLimitExceeded` or 429
 * (`rateLimitExceeded`, `RESOURCE_EXHAUSTED`), and the documented answer is
 * truncated exponential backoff:
 *   wait = min(2^n · 1 s + random(0…1 s), maximum_backoff), maximum 32–64 s.
 * https://developers.google.com/drive/api/guides/limits#exponential
 * https://developers.google.com/calendar/api/guides/quota#backoff
 * Some front ends add `Retry-After` (seconds or an HTTP date) to a 429/503;
 * when present it wins.
 */
import type { RateLimitSignal } from '../types';

/** First backoff step: 2^0 · 1 s. */
export const BACKOFF_BASE_MS = 1_000;
/** Jitter added to every step: up to 1 s ("random_number_milliseconds"). */
export const BACKOFF_JITTER_MS = 1_000;
/** Google's upper bound on a single wait ("maximum_backoff … typically 32 or 64 seconds"). */
export const MAX_BACKOFF_MS = 64_000;

/** 403 reasons that mean "slow down" rather than "forbidden". */
export const RATE_LIMIT_REASONS = ['userRateLimitExceeded', 'rateLimitExceeded'] as const;

/** Truncated exponential backoff for the `attempt`-th retry (0-based); `random` ∈ [0, 1). */
export function googleBackoffMs(attempt: number, random: () => number = Math.random): number {
  const n = Math.max(0, Math.min(Math.floor(attempt), 16));
  const jitter = Math.floor(Math.min(Math.max(random(), 0), 0.999_999) * BACKOFF_JITTER_MS);
  return Math.min(2 ** n * BACKOFF_BASE_MS + jitter, MAX_BACKOFF_MS);
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) || !/[a-z]/i.test(v) ? undefined : Math.max(0, at - now);
}

export interface RateLimitOptions {
  now?: number;
  random?: () => number;
}

/**
 * The signal a response carries. Only a 429 says "rate limited" by itself;
 * a 403 needs its body (see isGoogleRateLimitMessage), which providerFetch
 * reads before deciding, so a 403 here reports nothing unless it carries
 * `Retry-After`.
 */
export function parseGoogleRateLimit(status: number, headers: Headers, options: RateLimitOptions = {}): RateLimitSignal {
  const now = options.now ?? Date.now();
  const retryAfter = parseRetryAfter(headers.get('retry-after'), now);
  if (status === 429) {
    const wait = retryAfter ?? googleBackoffMs(0, options.random);
    // Nothing is left until the wait is over; Google publishes no window size.
    return { remaining: 0, resetAt: now + wait, retryAfterMs: wait };
  }
  if ((status === 403 || status === 503) && retryAfter !== undefined) return { retryAfterMs: retryAfter, resetAt: now + retryAfter };
  return {};
}

/**
 * describeGoogleError() puts the first error reason in brackets
 * (`[userRateLimitExceeded] User Rate Limit Exceeded`); a 403 with one of the
 * rate-limit reasons is a rate limit, any other 403 is a permission error.
 */
export function isGoogleRateLimitMessage(message: string): boolean {
  const reason = /^\[([A-Za-z_]+)\]/.exec(message)?.[1];
  return reason !== undefined && (RATE_LIMIT_REASONS as readonly string[]).includes(reason);
}
