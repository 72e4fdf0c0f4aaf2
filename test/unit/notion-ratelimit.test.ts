import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { notionProvider } from '../../shared/providers/notion';
import { NotionRequestError, notionRequest, NOTION_VERSION, type NotionCall } from '../../shared/providers/notion/api';
import {
  NOTION_DEFAULT_RETRY_AFTER_MS,
  NOTION_MAX_RETRY_AFTER_MS,
  NOTION_REQUESTS_PER_SECOND,
  parseNotionRateLimit,
  parseRetryAfter,
} from '../../shared/providers/notion/ratelimit';
import type { RateLimitSignal } from '../../shared/providers/types';
import { rejection } from '../helpers/notion';

const NOW = Date.parse('2025-03-01T12:00:00Z');
const headers = (h: Record<string, string> = {}): Headers => new Headers(h);
const fixture = (name: string): string => readFileSync(join(__dirname, '..', 'fixtures', 'notion', 'api', name), 'utf8');

describe('parseNotionRateLimit', () => {
  it('carries the documented average (3 req/s) on an ordinary response, and nothing else', () => {
    expect(NOTION_REQUESTS_PER_SECOND).toBe(3);
    expect(parseNotionRateLimit(200, headers(), NOW)).toEqual({ limit: 3 });
    // Notion sends no budget headers; any that appear (a proxy's) are not Notion's.
    expect(parseNotionRateLimit(200, headers({ 'x-ratelimit-remaining': '0', 'retry-after': '5' }), NOW)).toEqual({ limit: 3 });
  });

  it('429 rate_limited: waits Retry-After seconds, budget spent until then', () => {
    expect(parseNotionRateLimit(429, headers({ 'retry-after': '7' }), NOW)).toEqual({ limit: 3, remaining: 0, retryAfterMs: 7000, resetAt: NOW + 7000 });
  });

  it('529 service_overload: the same, from its Retry-After', () => {
    expect(parseNotionRateLimit(529, headers({ 'retry-after': '2' }), NOW)).toEqual({ limit: 3, remaining: 0, retryAfterMs: 2000, resetAt: NOW + 2000 });
  });

  it.each([429, 529])('%i without a usable Retry-After waits one 60-second window', (status) => {
    for (const h of [{}, { 'retry-after': 'soon' }, { 'retry-after': '-5' }, { 'retry-after': '1.5' }, { 'retry-after': '' }]) {
      expect(parseNotionRateLimit(status, headers(h), NOW).retryAfterMs).toBe(NOTION_DEFAULT_RETRY_AFTER_MS);
    }
    expect(NOTION_DEFAULT_RETRY_AFTER_MS).toBe(60_000);
  });

  it.each([400, 401, 403, 404, 409, 500, 502, 503, 504])('%i is not a rate limit', (status) => {
    const signal: RateLimitSignal = parseNotionRateLimit(status, headers({ 'retry-after': '9' }), NOW);
    expect(signal).toEqual({ limit: 3 });
  });

  it('is what the provider definition reports', () => {
    expect(notionProvider.parseRateLimit(429, headers({ 'retry-after': '3' })).retryAfterMs).toBe(3000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds, zero included', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 42 ', NOW)).toBe(42_000);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
    expect(parseRetryAfter(new Date(NOW - 30_000).toUTCString(), NOW)).toBe(0);
  });

  it('caps an absurd wait at a day and ignores garbage', () => {
    expect(parseRetryAfter('9999999999', NOW)).toBe(NOTION_MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('1e3', NOW)).toBeUndefined();
    expect(parseRetryAfter('tomorrow', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
});

describe('typed errors from Notion answers (stubbed fetch)', () => {
  const TOKEN = 'ntn_unit_test_token_0123456789';
  const signals: RateLimitSignal[] = [];
  const sent: RequestInit[] = [];

  function call(status: number, body: string, h: Record<string, string> = {}): NotionCall {
    return {
      baseUrl: 'https://api.notion.example',
      credentials: { type: 'internal', token: TOKEN },
      fetch: (_input, init) => {
        if (init) sent.push(init);
        return Promise.resolve(new Response(body, { status, headers: { 'content-type': 'application/json', ...h } }));
      },
      onRateLimit: (s) => signals.push(s),
    };
  }
  const request = (c: NotionCall): Promise<unknown> => notionRequest(c, 'POST', 'data_sources/x/query', 'Notion query data source', {});

  it('sends the bearer token and the pinned Notion-Version', async () => {
    await request(call(200, fixture('query-data-source.json')));
    const h = new Headers(sent.at(-1)?.headers);
    expect(h.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(h.get('notion-version')).toBe(NOTION_VERSION);
    expect(NOTION_VERSION).toBe('2025-09-03');
  });

  it('429 rate_limited → RateLimitedError after Retry-After, and the signal is reported', async () => {
    const e = await rejection(request(call(429, fixture('error-rate-limited.json'), { 'retry-after': '4' })));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(4000);
    expect((e as Error).message).toContain('HTTP 429 rate_limited');
    expect(signals.at(-1)).toMatchObject({ remaining: 0, retryAfterMs: 4000 });
  });

  it('529 service_overload → RateLimitedError (not an immediate retry)', async () => {
    const body = JSON.stringify({ object: 'error', status: 529, code: 'service_overload', message: 'overloaded' });
    const e = await rejection(request(call(529, body, { 'retry-after': '3' })));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(3000);
    const bare = await rejection(request(call(529, body)));
    expect((bare as RateLimitedError).retryAfterMs).toBe(NOTION_DEFAULT_RETRY_AFTER_MS);
  });

  it('401 unauthorized → AuthError without the token in the message', async () => {
    const e = await rejection(request(call(401, fixture('error-unauthorized.json'))));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('unauthorized: API token is invalid.');
    expect((e as Error).message).not.toContain(TOKEN);
  });

  it('409 conflict_error → RetryableError ("try again")', async () => {
    expect(await rejection(request(call(409, fixture('error-conflict.json'))))).toBeInstanceOf(RetryableError);
  });

  it.each([500, 502, 503, 504])('%i → RetryableError', async (status) => {
    expect(await rejection(request(call(status, '{"object":"error","code":"internal_server_error","message":"x"}')))).toBeInstanceOf(RetryableError);
  });

  it.each([
    [400, 'error-validation.json', 'validation_error'],
    [404, 'error-object-not-found.json', 'object_not_found'],
    [403, undefined, 'restricted_resource'],
  ] as const)('%i → NotionRequestError (unrecoverable) with status and code', async (status, file, code) => {
    const body = file ? fixture(file) : JSON.stringify({ object: 'error', status, code, message: 'API token does not have access to this resource.' });
    const e = await rejection(request(call(status, body)));
    expect(e).toBeInstanceOf(NotionRequestError);
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(e).toMatchObject({ status, code });
  });

  it('a 2xx body that is not JSON → RetryableError', async () => {
    expect(await rejection(request(call(200, '<html>')))).toBeInstanceOf(RetryableError);
  });
});
