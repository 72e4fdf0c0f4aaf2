import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { DEFAULT_RETRY_AFTER_MS, providerFetch } from '../../shared/http/provider-fetch';
import { salesforceProvider } from '../../shared/providers/salesforce';
import { describeSalesforceError } from '../../shared/providers/salesforce/api';
import { DAILY_LIMIT_RETRY_MS, isSalesforceRateLimitMessage, parseApiUsage, parseSalesforceRateLimit } from '../../shared/providers/salesforce/ratelimit';
import type { RateLimitSignal } from '../../shared/providers/types';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const FIXTURES = join(__dirname, '..', 'fixtures', 'salesforce');
const usage = (used: number, max = 15000): Record<string, string> => ({ 'sforce-limit-info': `api-usage=${used}/${max}` });

describe('parseSalesforceRateLimit', () => {
  it('reads Sforce-Limit-Info on an ordinary response: remaining = MAX − USED, no wait', () => {
    expect(parseSalesforceRateLimit(200, new Headers(usage(18)), NOW)).toEqual({ limit: 15000, remaining: 14982 });
  });

  it('finds api-usage among other entries (per-app usage)', () => {
    const h = new Headers({ 'sforce-limit-info': 'per-app-api-usage=17/250(appName=sample-connected-app), api-usage=25/5000' });
    expect(parseSalesforceRateLimit(200, h, NOW)).toEqual({ limit: 5000, remaining: 4975 });
    expect(parseApiUsage('api-usage=25/5000, per-app-api-usage=17/250(appName=x)')).toEqual({ used: 25, max: 5000 });
  });

  it('usage over the allocation (Salesforce lets it overshoot) reads as 0 remaining', () => {
    expect(parseSalesforceRateLimit(200, new Headers(usage(15010)), NOW)).toEqual({ limit: 15000, remaining: 0 });
  });

  it('403 with the allocation spent → wait an hour (a rolling 24 h window has no reset instant)', () => {
    expect(parseSalesforceRateLimit(403, new Headers(usage(15000)), NOW)).toEqual({
      limit: 15000,
      remaining: 0,
      retryAfterMs: DAILY_LIMIT_RETRY_MS,
      resetAt: NOW + DAILY_LIMIT_RETRY_MS,
    });
    expect(DAILY_LIMIT_RETRY_MS).toBe(3_600_000);
  });

  it('403 with allocation left is not a rate limit by headers (permissions, or the concurrency cap: the body decides)', () => {
    expect(parseSalesforceRateLimit(403, new Headers(usage(100)), NOW).retryAfterMs).toBeUndefined();
  });

  it('429 and 503 honour Retry-After in seconds or as an HTTP date', () => {
    expect(parseSalesforceRateLimit(429, new Headers({ 'retry-after': '30' }), NOW)).toEqual({ retryAfterMs: 30_000, resetAt: NOW + 30_000 });
    expect(parseSalesforceRateLimit(503, new Headers({ 'retry-after': 'Sat, 01 Jun 2024 12:02:00 GMT' }), NOW).retryAfterMs).toBe(120_000);
    expect(parseSalesforceRateLimit(429, new Headers({}), NOW)).toEqual({});
  });

  it('ignores junk and a zero allocation', () => {
    for (const value of ['api-usage=abc/15000', 'api-usage=5/0', 'api-usage=-1/100', 'apiusage=5/100', 'xapi-usage=5/100', '']) {
      expect(parseSalesforceRateLimit(200, new Headers({ 'sforce-limit-info': value }), NOW)).toEqual({});
    }
    expect(parseSalesforceRateLimit(200, new Headers({ 'retry-after': '5' }), NOW)).toEqual({});
    expect(parseSalesforceRateLimit(429, new Headers({ 'retry-after': 'soon' }), NOW)).toEqual({});
  });

  it('is the provider definition\'s parser', () => {
    expect(salesforceProvider.parseRateLimit(200, new Headers(usage(1, 100)))).toEqual({ limit: 100, remaining: 99 });
  });

  it('recognises limit error codes only', () => {
    expect(isSalesforceRateLimitMessage('REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.')).toBe(true);
    expect(isSalesforceRateLimitMessage('REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn Limit exceeded.')).toBe(true);
    expect(isSalesforceRateLimitMessage('INSUFFICIENT_ACCESS_OR_READONLY: insufficient access rights on object id')).toBe(false);
  });
});

describe('Salesforce responses through providerFetch', () => {
  interface Answer {
    status: number;
    headers?: Record<string, string>;
    body?: unknown;
  }

  async function call(answer: Answer): Promise<{ error: unknown; signals: RateLimitSignal[] }> {
    const signals: RateLimitSignal[] = [];
    const fake: typeof fetch = () =>
      Promise.resolve(new Response(answer.body === undefined ? null : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body), { status: answer.status, headers: answer.headers ?? {} }));
    try {
      await providerFetch(
        { fetch: fake, onRateLimit: (s) => signals.push(s) },
        'https://acme.my.salesforce.com/services/data/v62.0/queryAll/?q=SELECT+Id+FROM+Account',
        { headers: { authorization: 'Bearer 00D5e000000KQ2e!AQsupersecret' } },
        {
          parseRateLimit: (status, h) => parseSalesforceRateLimit(status, h, NOW),
          describe: describeSalesforceError,
          isRateLimitMessage: isSalesforceRateLimitMessage,
          operation: 'Salesforce query Account',
        },
      );
      return { error: undefined, signals };
    } catch (error) {
      return { error, signals };
    }
  }
  const fixture = (file: string): string => readFileSync(join(FIXTURES, file), 'utf8');

  it('401 INVALID_SESSION_ID (expired session) → AuthError naming the code, not the token', async () => {
    const { error } = await call({ status: 401, body: fixture('error.invalid-session.json'), headers: { 'www-authenticate': 'Token' } });
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toBe('Salesforce query Account: HTTP 401 INVALID_SESSION_ID: Session expired or invalid');
    expect((error as Error).message).not.toContain('supersecret');
  });

  it('403 REQUEST_LIMIT_EXCEEDED with the allocation spent → RateLimitedError after an hour, signal reported', async () => {
    const { error, signals } = await call({ status: 403, body: fixture('error.request-limit.json'), headers: usage(15000) });
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3_600_000);
    expect(signals).toEqual([{ limit: 15000, remaining: 0, retryAfterMs: 3_600_000, resetAt: NOW + 3_600_000 }]);
  });

  it('403 REQUEST_LIMIT_EXCEEDED under the allocation (the concurrency cap) → RateLimitedError after the default minute', async () => {
    const body = [{ message: 'ConcurrentPerOrgLongTxn Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }];
    const { error } = await call({ status: 403, body, headers: usage(100) });
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(DEFAULT_RETRY_AFTER_MS);
  });

  it('403 INSUFFICIENT_ACCESS → UnrecoverableError', async () => {
    const { error } = await call({ status: 403, body: [{ message: 'insufficient access rights on object id', errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY' }], headers: usage(100) });
    expect(error).toBeInstanceOf(UnrecoverableError);
  });

  it('429 with Retry-After → RateLimitedError after that long', async () => {
    const { error } = await call({ status: 429, headers: { 'retry-after': '12' } });
    expect((error as RateLimitedError).retryAfterMs).toBe(12_000);
  });

  it.each([500, 502, 503])('%i → RetryableError', async (status) => {
    expect((await call({ status, body: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'Server unavailable' }] })).error).toBeInstanceOf(RetryableError);
  });

  it('400 MALFORMED_QUERY and 404 NOT_FOUND → UnrecoverableError with the code', async () => {
    const malformed = await call({ status: 400, body: [{ message: 'unexpected token: FROM', errorCode: 'MALFORMED_QUERY' }] });
    expect(malformed.error).toBeInstanceOf(UnrecoverableError);
    expect((malformed.error as Error).message).toContain('MALFORMED_QUERY');
    expect((await call({ status: 404, body: fixture('error.entity-is-deleted.json') })).error).toBeInstanceOf(UnrecoverableError);
  });
});
