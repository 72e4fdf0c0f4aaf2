/**
 * Salesforce API limits, read from every response.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
 * https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
 *
 * - `Sforce-Limit-Info: api-usage=USED/MAX` on every REST response: the
 *   org's requests in the rolling 24 hours against its allocation. Other
 *   entries may follow (`per-app-api-usage=17/250(appName=…)`).
 * - Over the allocation: 403 with errorCode `REQUEST_LIMIT_EXCEEDED`
 *   ("TotalRequests Limit exceeded."). The window rolls, so there is no
 *   reset instant: wait an hour and look again.
 * - The same errorCode also reports the concurrent long-running request cap
 *   (25 per org); then usage is under MAX, and the shared one-minute wait
 *   applies (requests in flight finish within minutes).
 * - A 429 is not part of the REST API's contract, but proxies in front of an
 *   org send them: honour `Retry-After`.
 */
import type { RateLimitSignal } from '../types';

/**
 * A rolling 24-hour window has no reset instant: usage falls as requests
 * age out, so look again in an hour rather than hammer an exhausted org.
 */
export const DAILY_LIMIT_RETRY_MS = 60 * 60 * 1000;
const API_USAGE = /(?:^|[\s,;])api-usage=(\d{1,12})\/(\d{1,12})(?=$|[\s,;(])/;

export function parseSalesforceRateLimit(status: number, headers: Headers, now: number = Date.now()): RateLimitSignal {
  const signal: RateLimitSignal = {};
  const usage = parseApiUsage(headers.get('sforce-limit-info'));
  if (usage) {
    signal.limit = usage.max;
    signal.remaining = Math.max(0, usage.max - usage.used);
  }

  if (status === 403 && usage && usage.used >= usage.max) {
    signal.retryAfterMs = DAILY_LIMIT_RETRY_MS;
    signal.resetAt = now + DAILY_LIMIT_RETRY_MS;
  } else if (status === 429 || status === 503) {
    const retryAfter = retryAfterMs(headers.get('retry-after'), now);
    if (retryAfter !== undefined) {
      signal.retryAfterMs = retryAfter;
      signal.resetAt = now + retryAfter;
    }
  }
  return signal;
}

/** A 403 whose errorCode names a limit (daily or concurrent) is a rate limit, not a permission error. */
export function isSalesforceRateLimitMessage(message: string): boolean {
  return /\bREQUEST_LIMIT_EXCEEDED\b/.test(message);
}

export function parseApiUsage(header: string | null): { used: number; max: number } | undefined {
  if (header === null) return undefined;
  const match = API_USAGE.exec(header);
  if (!match?.[1] || !match[2]) return undefined;
  const max = Number(match[2]);
  // A zero allocation says nothing useful (and would read as "exhausted").
  return max > 0 ? { used: Number(match[1]), max } : undefined;
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,9}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) || !/[A-Za-z]{3},/.test(trimmed) ? undefined : Math.max(0, date - now);
}
