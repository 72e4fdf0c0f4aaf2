/**
 * Notion's rate-limit signals.
 * https://developers.notion.com/reference/request-limits
 *
 * - Notion sends no budget headers on ordinary responses. The documented
 *   average is about three requests per second per connection ("some bursts
 *   beyond the average rate are allowed"); every signal carries that as
 *   `limit` (requests per second) so a limiter can pace before it is told off.
 * - 429 `rate_limited` carries `Retry-After` in integer seconds. The
 *   per-connection budget is a 60-second window, so that wait is at most 60 s;
 *   the per-workspace limit can ask for longer.
 * - 529 `service_overload`: "handle HTTP 429 and 529 responses and respect
 *   the Retry-After response header"; treated the same way.
 * Without a usable Retry-After the wait is one full window (60 s).
 */
import type { RateLimitSignal } from '../types';

/** "An average of three requests per second" per connection. */
export const NOTION_REQUESTS_PER_SECOND = 3;
/** One per-connection window: the longest a per-connection 429 asks for. */
export const NOTION_DEFAULT_RETRY_AFTER_MS = 60_000;
/** A Retry-After beyond a day is a broken header, not advice: waiting that long would park the integration. */
export const NOTION_MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/** Statuses that mean "slow down and come back after Retry-After". */
export function isNotionThrottle(status: number): boolean {
  return status === 429 || status === 529;
}

export function parseNotionRateLimit(status: number, headers: Headers, now: number = Date.now()): RateLimitSignal {
  if (!isNotionThrottle(status)) return { limit: NOTION_REQUESTS_PER_SECOND };
  const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now) ?? NOTION_DEFAULT_RETRY_AFTER_MS;
  return { limit: NOTION_REQUESTS_PER_SECOND, remaining: 0, retryAfterMs, resetAt: now + retryAfterMs };
}

/**
 * `Retry-After` as milliseconds. Notion sends delay-seconds; an HTTP-date
 * (RFC 9110 §10.2.3, what a proxy in between might send) is honoured too.
 * Anything else is ignored, so the caller falls back to its default.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  let ms: number | undefined;
  if (/^\d{1,10}$/.test(text)) {
    ms = Number(text) * 1000;
  } else if (/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) {
    const at = Date.parse(text);
    if (!Number.isNaN(at)) ms = Math.max(0, at - now);
  }
  return ms === undefined ? undefined : Math.min(ms, NOTION_MAX_RETRY_AFTER_MS);
}
