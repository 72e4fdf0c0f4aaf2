/**
 * GitHub's rate-limit headers, read from every response.
 * https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
 *
 * - `x-ratelimit-limit|remaining|used|reset` (reset in epoch seconds) on every
 *   API response: the primary limit.
 * - Primary limit exhausted: 403 or 429 with `x-ratelimit-remaining: 0`; wait
 *   until `x-ratelimit-reset`.
 * - Secondary limits: 403 or 429, with `retry-after` (seconds) when GitHub
 *   says how long; otherwise "wait for at least one minute".
 */
import { DEFAULT_RETRY_AFTER_MS } from '../../http/provider-fetch';
import type { RateLimitSignal } from '../types';

export function parseGithubRateLimit(status: number, headers: Headers, now: number = Date.now()): RateLimitSignal {
  const signal: RateLimitSignal = {};
  const limit = nonNegativeInt(headers.get('x-ratelimit-limit'));
  const remaining = nonNegativeInt(headers.get('x-ratelimit-remaining'));
  const reset = nonNegativeInt(headers.get('x-ratelimit-reset'));
  if (limit !== undefined) signal.limit = limit;
  if (remaining !== undefined) signal.remaining = remaining;
  if (reset !== undefined) signal.resetAt = reset * 1000;

  if (status !== 403 && status !== 429) return signal;

  const retryAfter = nonNegativeInt(headers.get('retry-after'));
  if (retryAfter !== undefined) {
    signal.retryAfterMs = retryAfter * 1000;
  } else if (remaining === 0 && signal.resetAt !== undefined) {
    signal.retryAfterMs = Math.max(0, signal.resetAt - now);
  } else if (status === 429 || (limit === undefined && remaining === undefined)) {
    // A 429, or a 403 with no rate-limit headers at all: the docs' "at least one minute".
    signal.retryAfterMs = DEFAULT_RETRY_AFTER_MS;
  }
  // A 403 with headers and remaining > 0 is a permission error, unless its
  // body names a secondary limit (see isGithubRateLimitMessage).
  return signal;
}

/**
 * Secondary-limit 403s can arrive with ordinary rate-limit headers and no
 * `retry-after`; only the message tells ("You have exceeded a secondary rate
 * limit", "API rate limit exceeded for …"). octokit's throttling plugin
 * matches the same way.
 */
export function isGithubRateLimitMessage(message: string): boolean {
  return /\brate limit\b/i.test(message);
}

function nonNegativeInt(value: string | null): number | undefined {
  if (value === null || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}
