import { AuthError, RateLimitedError, UnrecoverableError } from '../../shared/errors';
import { providerFetch } from '../../shared/http/provider-fetch';
import { githubProvider } from '../../shared/providers/github';
import { describeGithubError } from '../../shared/providers/github/pull';
import { isGithubRateLimitMessage, parseGithubRateLimit } from '../../shared/providers/github/ratelimit';
import type { RateLimitSignal } from '../../shared/providers/types';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const RESET_S = NOW / 1000 + 1800;

function headers(h: Record<string, string>): Headers {
  return new Headers(h);
}

const primary = (remaining: number): Record<string, string> => ({
  'x-ratelimit-limit': '5000',
  'x-ratelimit-remaining': String(remaining),
  'x-ratelimit-used': String(5000 - remaining),
  'x-ratelimit-reset': String(RESET_S),
  'x-ratelimit-resource': 'core',
});

describe('parseGithubRateLimit', () => {
  it('reads the primary-limit headers of an ordinary response', () => {
    expect(parseGithubRateLimit(200, headers(primary(4999)), NOW)).toEqual({
      limit: 5000,
      remaining: 4999,
      resetAt: RESET_S * 1000,
    });
  });

  it('reports remaining 0 on a 200 without asking to wait (the next request would)', () => {
    expect(parseGithubRateLimit(200, headers(primary(0)), NOW)).toEqual({ limit: 5000, remaining: 0, resetAt: RESET_S * 1000 });
  });

  it.each([403, 429])('exhausted %i → wait until reset', (status) => {
    const signal = parseGithubRateLimit(status, headers(primary(0)), NOW);
    expect(signal.retryAfterMs).toBe(1800 * 1000);
  });

  it('a reset already in the past never gives a negative wait', () => {
    const h = { ...primary(0), 'x-ratelimit-reset': String(NOW / 1000 - 5) };
    expect(parseGithubRateLimit(403, headers(h), NOW).retryAfterMs).toBe(0);
  });

  it.each([403, 429])('secondary limit %i with retry-after → that many seconds', (status) => {
    const signal = parseGithubRateLimit(status, headers({ ...primary(4000), 'retry-after': '37' }), NOW);
    expect(signal).toEqual({ limit: 5000, remaining: 4000, resetAt: RESET_S * 1000, retryAfterMs: 37_000 });
  });

  it('retry-after wins over reset when both are present', () => {
    expect(parseGithubRateLimit(429, headers({ ...primary(0), 'retry-after': '5' }), NOW).retryAfterMs).toBe(5000);
  });

  it.each([403, 429])('%i without any rate-limit headers → 60 s', (status) => {
    expect(parseGithubRateLimit(status, headers({}), NOW)).toEqual({ retryAfterMs: 60_000 });
  });

  it('429 with headers and remaining left → 60 s', () => {
    expect(parseGithubRateLimit(429, headers(primary(10)), NOW).retryAfterMs).toBe(60_000);
  });

  it('403 with remaining left and no retry-after is not a rate limit by headers (permission error)', () => {
    expect(parseGithubRateLimit(403, headers(primary(4000)), NOW).retryAfterMs).toBeUndefined();
  });

  it('ignores retry-after on other statuses and junk values', () => {
    expect(parseGithubRateLimit(503, headers({ 'retry-after': '5' }), NOW)).toEqual({});
    expect(parseGithubRateLimit(200, headers({ 'x-ratelimit-remaining': '-1', 'x-ratelimit-limit': 'lots', 'x-ratelimit-reset': '1.5' }), NOW)).toEqual({});
    expect(parseGithubRateLimit(429, headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }), NOW).retryAfterMs).toBe(60_000);
  });

  it('is the provider definition parser', () => {
    expect(githubProvider.parseRateLimit(200, headers(primary(1)))).toMatchObject({ remaining: 1 });
  });

  it('recognises secondary-limit messages', () => {
    expect(isGithubRateLimitMessage('You have exceeded a secondary rate limit. Please wait a few minutes before you try again.')).toBe(true);
    expect(isGithubRateLimitMessage('API rate limit exceeded for user ID 1.')).toBe(true);
    expect(isGithubRateLimitMessage('Resource not accessible by integration')).toBe(false);
  });
});

describe('GitHub responses through providerFetch', () => {
  type Answer = { status: number; headers?: Record<string, string>; body?: unknown };

  async function call(answer: Answer): Promise<{ error: unknown; signals: RateLimitSignal[] }> {
    const signals: RateLimitSignal[] = [];
    const fetchFake: typeof fetch = () =>
      Promise.resolve(
        new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
          status: answer.status,
          headers: answer.headers ?? {},
        }),
      );
    try {
      await providerFetch(
        { fetch: fetchFake, onRateLimit: (s) => signals.push(s) },
        'https://api.github.com/repos/o/r/issues',
        { headers: { Authorization: 'Bearer ghp_supersecret' } },
        {
          parseRateLimit: (status, h) => parseGithubRateLimit(status, h, NOW),
          describe: describeGithubError,
          isRateLimitMessage: isGithubRateLimitMessage,
          operation: 'GitHub list issues',
        },
      );
      return { error: undefined, signals };
    } catch (error) {
      return { error, signals };
    }
  }

  it('exhausted primary limit (403, remaining 0) → RateLimitedError until reset', async () => {
    const { error, signals } = await call({ status: 403, headers: primary(0), body: { message: 'API rate limit exceeded for user ID 1.' } });
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(1_800_000);
    expect((error as Error).message).toBe('GitHub list issues: HTTP 403 API rate limit exceeded for user ID 1.');
    expect(signals).toEqual([{ limit: 5000, remaining: 0, resetAt: RESET_S * 1000, retryAfterMs: 1_800_000 }]);
  });

  it('secondary limit 403 with only a message → RateLimitedError after 60 s', async () => {
    const { error } = await call({ status: 403, headers: primary(4000), body: { message: 'You have exceeded a secondary rate limit.' } });
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(60_000);
  });

  it('429 with retry-after → RateLimitedError after retry-after', async () => {
    const { error } = await call({ status: 429, headers: { 'retry-after': '12' } });
    expect((error as RateLimitedError).retryAfterMs).toBe(12_000);
  });

  it('403 permission error → UnrecoverableError with GitHub\'s message', async () => {
    const { error } = await call({ status: 403, headers: primary(4000), body: { message: 'Resource not accessible by integration' } });
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toContain('Resource not accessible by integration');
  });

  it('401 → AuthError without the token in the message', async () => {
    const { error } = await call({ status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } });
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toBe('GitHub list issues: HTTP 401 Bad credentials');
    expect((error as Error).message).not.toContain('supersecret');
  });
});
