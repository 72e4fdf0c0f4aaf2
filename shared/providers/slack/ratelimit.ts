/**
 * Slack's rate-limit signal. https://docs.slack.dev/apis/web-api/rate-limits
 *
 * Slack publishes no remaining/limit headers: limits are per method tier
 * (Tier 1 ≈ 1/min … Tier 4 ≈ 100/min, chat.postMessage ≈ 1 message a second
 * per channel), and going over answers HTTP 429 with `Retry-After` in
 * seconds (body `{"ok":false,"error":"ratelimited"}`). So the only signal is
 * on a 429: nothing remains until `Retry-After` has passed.
 */
import { DEFAULT_RETRY_AFTER_MS } from '../../http/provider-fetch';
import type { RateLimitSignal } from '../types';

export function parseSlackRateLimit(status: number, headers: Headers, now: number = Date.now()): RateLimitSignal {
  if (status !== 429) return {};
  return exhausted(retryAfterMs(headers), now);
}

/**
 * The wait a `ratelimited` answer asks for: `Retry-After` seconds, or the
 * one-minute default when the header is missing or not a whole number
 * (an HTTP-date is not something Slack sends).
 */
export function retryAfterMs(headers: Headers): number {
  const value = headers.get('retry-after')?.trim();
  if (value === undefined || !/^\d{1,9}$/.test(value)) return DEFAULT_RETRY_AFTER_MS;
  return Number(value) * 1000;
}

/** The signal for "nothing left until `waitMs` from `now`". */
export function exhausted(waitMs: number, now: number): RateLimitSignal {
  return { remaining: 0, resetAt: now + waitMs, retryAfterMs: waitMs };
}
