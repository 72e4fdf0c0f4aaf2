import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { slackProvider } from '../../shared/providers/slack';
import { slackCall, slackCallAllowing, type SlackCallContext } from '../../shared/providers/slack/api';
import { refreshSlackToken } from '../../shared/providers/slack/auth';
import { parseSlackRateLimit } from '../../shared/providers/slack/ratelimit';
import type { RateLimitSignal } from '../../shared/providers/types';
import { rejectionOf } from '../helpers/slack';

const NOW = Date.parse('2024-06-01T12:00:00Z');
const TOKEN = 'xoxb-secret-token-never-in-messages';
const API = join(__dirname, '..', 'fixtures', 'slack', 'api');

describe('parseSlackRateLimit', () => {
  it('429 with Retry-After → nothing remains until then', () => {
    expect(parseSlackRateLimit(429, new Headers({ 'retry-after': '30' }), NOW)).toEqual({ remaining: 0, resetAt: NOW + 30_000, retryAfterMs: 30_000 });
  });

  it('429 without (or with an unusable) Retry-After → one minute', () => {
    for (const h of [{}, { 'retry-after': 'soon' }, { 'retry-after': '-5' }, { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }]) {
      expect(parseSlackRateLimit(429, new Headers(h), NOW)).toEqual({ remaining: 0, resetAt: NOW + 60_000, retryAfterMs: 60_000 });
    }
  });

  it('any other status carries no signal (Slack publishes no remaining/limit headers)', () => {
    for (const status of [200, 401, 403, 500, 503]) expect(parseSlackRateLimit(status, new Headers({ 'retry-after': '5' }), NOW)).toEqual({});
  });

  it('is the provider definition parser', () => {
    expect(slackProvider.parseRateLimit(429, new Headers({ 'retry-after': '2' })).retryAfterMs).toBe(2000);
  });
});

/** A fetch answering one canned response, recording the request. */
function stub(status: number, body: string, headers: Record<string, string> = {}): { fetch: typeof fetch; calls: { url: string; init: RequestInit | undefined }[] } {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const f: typeof fetch = (input, init) => {
    calls.push({ url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, init });
    return Promise.resolve(new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } }));
  };
  return { fetch: f, calls };
}

function ctx(f: typeof fetch, signals?: RateLimitSignal[]): SlackCallContext {
  const c: SlackCallContext = { baseUrl: 'https://slack.example/api', fetch: f };
  if (signals) c.onRateLimit = (s) => signals.push(s);
  return c;
}

const ok = z.object({ ok: z.literal(true), value: z.number() });
const call = (f: typeof fetch, signals?: RateLimitSignal[]) =>
  slackCall(ctx(f, signals), { method: 'conversations.history', http: 'GET', token: TOKEN, args: { channel: 'C1', limit: 5 }, schema: ok });

describe('slackCall: Slack error envelopes → typed errors', () => {
  it.each(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'missing_scope'])('HTTP 200 %s → AuthError', async (code) => {
    const e = await rejectionOf(() => call(stub(200, JSON.stringify({ ok: false, error: code })).fetch));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toBe(`Slack conversations.history: ${code}`);
  });

  it('the recorded invalid_auth body → AuthError', async () => {
    expect(await rejectionOf(() => call(stub(200, readFileSync(join(API, 'error.invalid_auth.json'), 'utf8')).fetch))).toBeInstanceOf(AuthError);
  });

  it('HTTP 200 ratelimited → RateLimitedError with Retry-After, reported to the limiter', async () => {
    const signals: RateLimitSignal[] = [];
    const e = await rejectionOf(() => call(stub(200, '{"ok":false,"error":"ratelimited"}', { 'retry-after': '12' }).fetch, signals));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(12_000);
    expect(signals.at(-1)).toMatchObject({ remaining: 0, retryAfterMs: 12_000 });
  });

  it('HTTP 429 (the recorded body) → RateLimitedError at Retry-After', async () => {
    const signals: RateLimitSignal[] = [];
    const body = readFileSync(join(API, 'error.ratelimited.json'), 'utf8');
    const e = await rejectionOf(() => call(stub(429, body, { 'retry-after': '7' }).fetch, signals));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(7000);
    expect((e as Error).message).toContain('HTTP 429 ratelimited');
    expect(signals).toEqual([expect.objectContaining({ retryAfterMs: 7000 })]);
  });

  it.each([
    [200, '{"ok":false,"error":"internal_error"}', RetryableError],
    [200, '{"ok":false,"error":"service_unavailable"}', RetryableError],
    [200, '{"ok":false,"error":"channel_not_found"}', UnrecoverableError],
    [200, '{"ok":false,"error":"not_in_channel"}', UnrecoverableError],
    [200, '{"ok":false}', UnrecoverableError],
    [200, '{"ok":false,"error":"<script>"}', UnrecoverableError],
    [401, '{"ok":false,"error":"invalid_auth"}', AuthError],
    [500, '{"ok":false,"error":"internal_error"}', RetryableError],
    [503, '<html>down</html>', RetryableError],
    [404, '{"ok":false,"error":"unknown_method"}', UnrecoverableError],
    [200, 'not json', RetryableError],
    [200, '{"ok":true,"value":"not a number"}', UnrecoverableError],
    [200, '{"no":"envelope"}', UnrecoverableError],
  ] as const)('HTTP %i %s → %p', async (status, body, type) => {
    const e = await rejectionOf(() => call(stub(status, body).fetch));
    expect(e).toBeInstanceOf(type);
    expect((e as Error).message).not.toContain(TOKEN);
    expect((e as Error).message).not.toContain('<script>');
  });

  it('returns an allowed code instead of throwing, and success bodies parsed', async () => {
    const allowed = await slackCallAllowing(
      ctx(stub(200, '{"ok":false,"error":"message_not_found"}').fetch),
      { method: 'chat.delete', http: 'POST', token: TOKEN, args: {}, schema: ok },
      ['message_not_found'],
    );
    expect(allowed).toEqual({ ok: false, error: 'message_not_found' });
    expect(await call(stub(200, '{"ok":true,"value":3,"extra":1}').fetch)).toEqual({ ok: true, value: 3 });
  });

  it('GET sends arguments in the query and the token only in the Authorization header; POST sends JSON', async () => {
    const get = stub(200, '{"ok":true,"value":1}');
    await call(get.fetch);
    const url = new URL(get.calls[0]!.url);
    expect(url.href).toBe('https://slack.example/api/conversations.history?channel=C1&limit=5');
    expect(new Headers(get.calls[0]!.init?.headers).get('authorization')).toBe(`Bearer ${TOKEN}`);

    const post = stub(200, '{"ok":true,"value":1}');
    await slackCall(ctx(post.fetch), { method: 'chat.postMessage', http: 'POST', token: TOKEN, args: { channel: 'C1', text: 'hi', blocks: undefined }, schema: ok });
    expect(post.calls[0]!.url).toBe('https://slack.example/api/chat.postMessage');
    expect(new Headers(post.calls[0]!.init?.headers).get('content-type')).toBe('application/json; charset=utf-8');
    expect(JSON.parse(post.calls[0]!.init?.body as string)).toEqual({ channel: 'C1', text: 'hi' });
  });
});

describe('token endpoint errors', () => {
  const rotating = {
    type: 'oauth_rotating' as const,
    accessToken: 'xoxe.xoxb-1-old',
    refreshToken: 'xoxe-1-old',
    expiresAt: NOW,
    clientId: '123.456',
    clientSecret: 'client-secret-value',
  };
  const refresh = (f: typeof fetch) => refreshSlackToken({ baseUrl: 'https://slack.example/api', fetch: f }, rotating, NOW);

  it.each([
    [200, readFileSync(join(API, 'error.invalid_refresh_token.json'), 'utf8').replace(/\s+/g, ''), AuthError],
    [400, '{"error":"invalid_grant","error_description":"Token has been expired or revoked."}', AuthError],
    [200, '{"ok":false,"error":"bad_client_secret"}', AuthError],
    [200, '{"ok":false,"error":"internal_error"}', RetryableError],
    [200, '{"ok":false,"error":"ratelimited"}', RateLimitedError],
    [200, '{"ok":false,"error":"token_rotation_not_enabled"}', UnrecoverableError],
    [200, '{"ok":true}', UnrecoverableError],
    [502, 'bad gateway', RetryableError],
  ] as const)('HTTP %i %s → %p, no secret in the message', async (status, body, type) => {
    const e = await rejectionOf(() => refresh(stub(status, body).fetch));
    expect(e).toBeInstanceOf(type);
    for (const secret of [rotating.refreshToken, rotating.clientSecret, rotating.accessToken]) expect((e as Error).message).not.toContain(secret);
  });

  it('a refresh answer without a refresh token keeps the old one; without expires_in assumes the documented 12 h', async () => {
    const next = await refresh(stub(200, '{"ok":true,"access_token":"xoxe.xoxb-1-new","token_type":"bot"}').fetch);
    expect(next).toEqual({ ...rotating, accessToken: 'xoxe.xoxb-1-new', refreshToken: 'xoxe-1-old', expiresAt: NOW + 43_200_000 });
  });

  it('the recorded rotating answer replaces both tokens; client auth is HTTP Basic', async () => {
    const s = stub(200, readFileSync(join(API, 'oauth.v2.access.rotating.json'), 'utf8'));
    const next = await refresh(s.fetch);
    expect(next).toMatchObject({ type: 'oauth_rotating', refreshToken: expect.stringMatching(/^xoxe-1-/) as unknown, expiresAt: NOW + 43_200_000, teamId: 'T9TK3CUKW' });
    expect(new Headers(s.calls[0]!.init?.headers).get('authorization')).toBe(`Basic ${Buffer.from('123.456:client-secret-value').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(s.calls[0]!.init?.body as string))).toEqual({ grant_type: 'refresh_token', refresh_token: 'xoxe-1-old' });
  });

  it('bot tokens and non-rotating OAuth tokens have no expiry and nothing to refresh', async () => {
    const bot = { type: 'bot' as const, token: 'xoxb-1' };
    expect(slackProvider.auth!.expiresAt(bot)).toBeUndefined();
    expect(slackProvider.auth!.expiresAt({ type: 'oauth', accessToken: 'xoxb-2' })).toBeUndefined();
    expect(slackProvider.auth!.expiresAt(rotating)).toBe(NOW);
    const never: typeof fetch = () => Promise.reject(new Error('must not call Slack'));
    expect(await refreshSlackToken({ baseUrl: 'https://slack.example/api', fetch: never }, bot)).toBe(bot);
  });
});
