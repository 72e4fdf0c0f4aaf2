import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { googleProvider } from '../../shared/providers/google';
import { describeGoogleError, googleRequest } from '../../shared/providers/google/http';
import {
  BACKOFF_BASE_MS,
  googleBackoffMs,
  isGoogleRateLimitMessage,
  MAX_BACKOFF_MS,
  parseGoogleRateLimit,
  parseRetryAfter,
} from '../../shared/providers/google/ratelimit';
import { googleRuntime, type GoogleRuntime } from '../../shared/providers/google/runtime';
import { GoogleTokenSession } from '../../shared/providers/google/session';
import type { GoogleConfig } from '../../shared/providers/google';
import type { RateLimitSignal } from '../../shared/providers/types';

const ERRORS = join(__dirname, '..', 'fixtures', 'google', 'errors');
const errorBody = (name: string): string => readFileSync(join(ERRORS, name), 'utf8');
const NOW = Date.parse('2024-06-01T00:00:00Z');
const headers = (h: Record<string, string> = {}): Headers => new Headers(h);

describe('truncated exponential backoff', () => {
  it('doubles from 1 s and adds up to 1 s of jitter (Google\'s formula)', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => googleBackoffMs(n, () => 0))).toEqual([1000, 2000, 4000, 8000, 16000, 32000]);
    expect(googleBackoffMs(0, () => 0.5)).toBe(1500);
    expect(googleBackoffMs(2, () => 0.999)).toBe(4999);
  });

  it('is truncated at 64 s', () => {
    expect(googleBackoffMs(6, () => 0)).toBe(MAX_BACKOFF_MS);
    expect(googleBackoffMs(6, () => 0.9)).toBe(MAX_BACKOFF_MS);
    expect(googleBackoffMs(40, () => 0.3)).toBe(MAX_BACKOFF_MS);
  });

  it('property: within [2^n s, 2^n s + 1 s) before the cap, never above it, never decreasing in n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (n, r) => {
        const wait = googleBackoffMs(n, () => r);
        const floor = 2 ** n * BACKOFF_BASE_MS;
        expect(wait).toBeLessThanOrEqual(MAX_BACKOFF_MS);
        if (floor + 1000 <= MAX_BACKOFF_MS) {
          expect(wait).toBeGreaterThanOrEqual(floor);
          expect(wait).toBeLessThan(floor + 1000);
        }
        expect(googleBackoffMs(n + 1, () => r)).toBeGreaterThanOrEqual(wait);
      }),
    );
  });
});

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates, ignores the rest', () => {
    expect(parseRetryAfter('7', NOW)).toBe(7000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('-3', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('2024', NOW)).toBe(2_024_000);
  });
});

describe('parseGoogleRateLimit', () => {
  const opts = { now: NOW, random: () => 0.25 };

  it('429 without Retry-After: nothing left, first backoff step', () => {
    expect(parseGoogleRateLimit(429, headers(), opts)).toEqual({ remaining: 0, resetAt: NOW + 1250, retryAfterMs: 1250 });
  });

  it('429 with Retry-After follows it', () => {
    expect(parseGoogleRateLimit(429, headers({ 'retry-after': '12' }), opts)).toEqual({ remaining: 0, resetAt: NOW + 12_000, retryAfterMs: 12_000 });
  });

  it('a 403 says nothing from headers alone (the body decides), unless it carries Retry-After', () => {
    expect(parseGoogleRateLimit(403, headers(), opts)).toEqual({});
    expect(parseGoogleRateLimit(403, headers({ 'retry-after': '3' }), opts)).toEqual({ retryAfterMs: 3000, resetAt: NOW + 3000 });
    expect(parseGoogleRateLimit(503, headers({ 'retry-after': '2' }), opts)).toEqual({ retryAfterMs: 2000, resetAt: NOW + 2000 });
  });

  it('success and other errors carry no signal (Google sends no quota headers)', () => {
    for (const status of [200, 201, 204, 400, 401, 404, 409, 410, 500]) expect(parseGoogleRateLimit(status, headers(), opts)).toEqual({});
  });

  it('is what the provider definition reports', () => {
    expect(googleProvider.parseRateLimit(429, headers({ 'retry-after': '4' }))).toMatchObject({ remaining: 0, retryAfterMs: 4000 });
    expect(googleProvider.parseRateLimit(200, headers())).toEqual({});
  });
});

describe('error bodies (docs fixtures)', () => {
  it.each([
    ['401-auth-error.json', '[authError] Invalid Credentials', false],
    ['403-user-rate-limit.json', '[userRateLimitExceeded] User Rate Limit Exceeded', true],
    ['403-rate-limit.json', '[rateLimitExceeded] Rate Limit Exceeded', true],
    ['403-forbidden-for-non-organizer.json', '[forbiddenForNonOrganizer] Shared properties can only be changed by the organizer of the event.', false],
    ['429-rate-limit.json', '[rateLimitExceeded] Rate Limit Exceeded', true],
    ['409-duplicate.json', '[duplicate] The requested identifier already exists.', false],
    ['410-full-sync-required.json', '[fullSyncRequired] Sync token is no longer valid, a full sync is required.', false],
    ['410-deleted.json', '[deleted] Resource has been deleted', false],
    ['500-backend-error.json', '[backendError] Backend Error', false],
  ])('%s → %s (rate limit: %s)', (file, described, rateLimit) => {
    const message = describeGoogleError(JSON.parse(errorBody(file)));
    expect(message).toBe(described);
    expect(isGoogleRateLimitMessage(message!)).toBe(rateLimit);
  });

  it('describes the newer status-only shape and nothing for non-Google bodies', () => {
    expect(describeGoogleError({ error: { code: 429, message: 'Quota exceeded', status: 'RESOURCE_EXHAUSTED' } })).toBe('[RESOURCE_EXHAUSTED] Quota exceeded');
    expect(describeGoogleError('<html>502</html>')).toBeUndefined();
    expect(describeGoogleError({ message: 'nope' })).toBeUndefined();
  });
});

describe('googleRequest: backoff, hand-off and typed errors', () => {
  const CONFIG: GoogleConfig = { calendar: { calendarId: 'primary' } };
  const URL_ = new URL('https://www.googleapis.com/calendar/v3/calendars/primary/events');

  interface Scripted {
    status: number;
    body?: string;
    headers?: Record<string, string>;
  }
  function setup(script: (Scripted | Error)[], rt: Partial<GoogleRuntime> = {}) {
    const sleeps: number[] = [];
    const signals: RateLimitSignal[] = [];
    let calls = 0;
    const fetchFn: typeof fetch = () => {
      const next = script[Math.min(calls++, script.length - 1)]!;
      if (next instanceof Error) return Promise.reject(next);
      return Promise.resolve(new Response(next.body ?? '{}', { status: next.status, headers: next.headers ?? {} }));
    };
    const runtime = googleRuntime({
      now: () => NOW,
      random: () => 0,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      ...rt,
    });
    const session = new GoogleTokenSession({ baseUrl: 'https://www.googleapis.com', config: CONFIG, fetch: fetchFn }, { type: 'oauth', clientId: 'c', clientSecret: 's', accessToken: 'ya29.static' }, runtime);
    const run = () =>
      googleRequest({ fetch: fetchFn, onRateLimit: (s) => signals.push(s) }, session, runtime, { url: URL_, method: 'GET', operation: 'Google Calendar list events' });
    return { run, sleeps, signals, calls: () => calls };
  }
  const fail = async (p: Promise<unknown>): Promise<unknown> => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e);

  it('retries a 429 with 1 s, 2 s, 4 s (+ jitter) and succeeds', async () => {
    const t = setup([{ status: 429, body: errorBody('429-rate-limit.json') }, { status: 429 }, { status: 429 }, { status: 200 }]);
    expect((await t.run()).status).toBe(200);
    expect(t.sleeps).toEqual([1000, 2000, 4000]);
    expect(t.signals.map((s) => s.remaining)).toEqual([0, 0, 0, undefined]);
  });

  it('a 403 userRateLimitExceeded storm is handed to the worker as RateLimitedError at the 32 s step', async () => {
    const t = setup([{ status: 403, body: errorBody('403-user-rate-limit.json') }]);
    const e = await fail(t.run());
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(32_000);
    expect((e as Error).message).toContain('userRateLimitExceeded');
    expect(t.sleeps).toEqual([1000, 2000, 4000]);
    expect(t.calls()).toBe(4);
  });

  it('with no in-process retries, the first rate limit is handed over at once', async () => {
    const t = setup([{ status: 403, body: errorBody('403-rate-limit.json') }], { maxRetries: 0, random: () => 0.5 });
    expect(((await fail(t.run())) as RateLimitedError).retryAfterMs).toBe(32_500);
    expect(t.sleeps).toEqual([]);
  });

  it('follows a short Retry-After in process; hands a long one to the worker as is', async () => {
    const short = setup([{ status: 429, headers: { 'retry-after': '5' } }, { status: 200 }]);
    expect((await short.run()).status).toBe(200);
    expect(short.sleeps).toEqual([5000]);
    const long = setup([{ status: 429, headers: { 'retry-after': '120' } }]);
    expect(((await fail(long.run())) as RateLimitedError).retryAfterMs).toBe(120_000);
    expect(long.sleeps).toEqual([]);
  });

  it('a 403 that is not a rate limit is unrecoverable and not retried', async () => {
    const t = setup([{ status: 403, body: errorBody('403-forbidden-for-non-organizer.json') }]);
    expect(await fail(t.run())).toBeInstanceOf(UnrecoverableError);
    expect(t.calls()).toBe(1);
  });

  it('5xx is retried, then RetryableError (redelivery)', async () => {
    const t = setup([{ status: 500, body: errorBody('500-backend-error.json') }]);
    const e = await fail(t.run());
    expect(e).toBeInstanceOf(RetryableError);
    expect((e as Error).message).toContain('HTTP 500 [backendError]');
    expect(t.calls()).toBe(4);
  });

  it('network failures go straight back to the worker', async () => {
    const t = setup([new TypeError('fetch failed')]);
    expect(await fail(t.run())).toBeInstanceOf(RetryableError);
    expect(t.calls()).toBe(1);
    expect(t.sleeps).toEqual([]);
  });

  it('401 without a way to renew is an AuthError; the token is never in the message', async () => {
    const t = setup([{ status: 401, body: errorBody('401-auth-error.json') }]);
    const e = await fail(t.run());
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).not.toContain('ya29.static');
    expect(t.calls()).toBe(1);
  });

  it('an abort during backoff ends the call as RetryableError', async () => {
    const t = setup([{ status: 429 }], { sleep: () => Promise.reject(new Error('AbortError')) });
    const e = await fail(t.run());
    expect(e).toBeInstanceOf(RetryableError);
    expect((e as Error).message).toContain('aborted by the caller during backoff');
  });
});
