import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { slackProvider, type SlackConfig, type SlackCredentials } from '../../shared/providers/slack';
import type { PullPage, RateLimitSignal } from '../../shared/providers/types';
import { startSlackSandbox, type SlackSandbox } from '../../local/sandbox/slack';
import { collectSlack, recordIds, slackPullContext, slackPullError, type SlackCtxOptions } from '../helpers/slack';

let slack: SlackSandbox;
let clock = Date.now();
let seq = 0;

beforeAll(async () => {
  slack = await startSlackSandbox({ now: () => clock });
});
afterAll(async () => {
  await slack.close();
});

/** A fresh token per test: tier limits are per token and method, so tests never spend each other's budget. */
function bot(): SlackCredentials {
  const token = `xoxb-test-${++seq}`;
  slack.addToken(token);
  return { type: 'bot', token };
}

/** A fresh channel per test with `n` seeded messages. */
function channel(n: number): string {
  const id = `C0TEST${String(++seq).padStart(4, '0')}`;
  slack.seedMessages(id, n);
  return id;
}

const config = (channels: string[], pageSize = 100): SlackConfig => ({ channels, pageSize });
const pull = (c: SlackConfig, credentials: SlackCredentials, o: SlackCtxOptions = {}) => collectSlack(slackPullContext(slack.apiUrl, c, credentials, o));
const fail = (c: SlackConfig, credentials: SlackCredentials, o: SlackCtxOptions = {}, pages: PullPage[] = []) =>
  slackPullError(slackPullContext(slack.apiUrl, c, credentials, o), pages);

describe('config and credentials', () => {
  it('validates the shapes', () => {
    expect(slackProvider.configSchema.safeParse({ channels: ['C0123ABC', 'G0XYZ'], pageSize: 15, teamId: 'T0123' }).success).toBe(true);
    for (const bad of [{ channels: [] }, { channels: ['general'] }, { channels: ['C1X', 'C1X'] }, { channels: ['C0123'], pageSize: 1000 }]) {
      expect(slackProvider.configSchema.safeParse(bad).success).toBe(false);
    }
    expect(slackProvider.credentialsSchema.safeParse({ type: 'bot', token: 'xoxb-1' }).success).toBe(true);
    expect(slackProvider.credentialsSchema.safeParse({ type: 'oauth', accessToken: 'xoxb-1' }).success).toBe(true);
    expect(slackProvider.credentialsSchema.safeParse({ type: 'oauth_rotating', accessToken: 'a', refreshToken: 'r', expiresAt: 1, clientId: 'c', clientSecret: 's' }).success).toBe(true);
    expect(slackProvider.credentialsSchema.safeParse({ type: 'oauth_rotating', accessToken: 'a' }).success).toBe(false);
    expect(slackProvider.credentialsSchema.safeParse({ type: 'bot', token: 'has space' }).success).toBe(false);
  });
});

describe('pull against the sandbox', () => {
  it('reads 250 messages newest first in pages of 100 with the documented request', async () => {
    const c = channel(250);
    const credentials = bot();
    const sent: URL[] = [];
    const auth: (string | null)[] = [];
    const spy: typeof fetch = (input, init) => {
      sent.push(new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url));
      auth.push(new Headers(init?.headers).get('authorization'));
      return fetch(input, init);
    };
    const pages = await pull(config([c]), credentials, { fetch: spy });

    expect(pages.map((p) => p.records.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.done)).toEqual([false, false, true]);
    const ids = recordIds(pages);
    expect(new Set(ids).size).toBe(250);
    // Thread replies are not part of the channel history; their parents carry reply_count.
    const records = pages.flatMap((p) => p.records);
    expect(records.filter((r) => r.data.reply_count === 2)).toHaveLength(25);
    const ts = records.map((r) => r.data.ts as string);
    expect([...ts].sort().reverse()).toEqual(ts);

    expect(sent[0]!.pathname).toBe('/api/conversations.history');
    expect(Object.fromEntries(sent[0]!.searchParams)).toEqual({ channel: c, limit: '100', include_all_metadata: 'true' });
    expect(sent[1]!.searchParams.get('cursor')).toBe((pages[0]!.cursor as { next: string }).next);
    expect(auth.every((a) => a === `Bearer ${credentials.type === 'bot' ? credentials.token : ''}`)).toBe(true);

    const newest = slack.getMessage(c, ts[0]!)!;
    expect(records[0]).toEqual({
      externalId: `${c}:${newest.ts}`,
      entityType: 'message',
      updatedAt: new Date(Number(newest.ts.split('.')[0]) * 1000).toISOString(),
      deleted: false,
      data: {
        // #250 is a seeded thread parent (every 10th): thread_ts is its own ts.
        channel: c, ts: newest.ts, text: newest.text, user: newest.user, bot_id: null, subtype: null, thread_ts: newest.ts,
        reply_count: 2, created_at: new Date(Number(newest.ts.split('.')[0]) * 1000).toISOString(), edited_at: null,
      },
    });
    expect(pages[2]!.cursor).toEqual({ channels: { [c]: newest.ts } });
    expect(pages[0]!.cursor).toMatchObject({ pending: [c], high: newest.ts });
  });

  it('reads several channels in order; done only on the last page of the last one', async () => {
    const [a, b] = [channel(30), channel(5)];
    const pages = await pull(config([a, b], 20), bot());
    expect(pages.map((p) => [p.records.length, p.done])).toEqual([[20, false], [10, false], [5, true]]);
    expect(pages[1]!.cursor).toEqual({ channels: { [a]: expect.any(String) as unknown }, pending: [b] });
    expect(Object.keys(pages[2]!.cursor.channels as object)).toEqual([a, b]);
  });

  it('resumes from a mid-run cursor with exactly the remaining records', async () => {
    const [a, b] = [channel(45), channel(25)];
    const cfg = config([a, b], 20);
    const credentials = bot();
    const full = await pull(cfg, credentials);
    for (const at of [0, 2, 3]) {
      const resumed = await pull(cfg, credentials, { cursor: full[at]!.cursor });
      expect(recordIds(resumed)).toEqual(recordIds(full.slice(at + 1)));
      expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
    }
  });

  it('an incremental run returns only newer messages; edits and deletes of older ones are invisible to it', async () => {
    const c = channel(40);
    const credentials = bot();
    const cursor = (await pull(config([c]), credentials)).at(-1)!.cursor;

    const quiet = await pull(config([c]), credentials, { cursor });
    expect(quiet).toEqual([{ records: [], cursor, done: true }]);

    const [first, second] = [slack.postMessage(c, { text: 'new one', user: 'U0SANDBOX2' }), slack.postMessage(c, { text: 'new two', user: 'U0SANDBOX3' })];
    const history = (await pull(config([c]), credentials)).flatMap((p) => p.records);
    const oldTs = history.at(-1)!.data.ts as string;
    slack.editMessage(c, oldTs, 'edited long ago');
    slack.deleteMessage(c, history.at(-2)!.data.ts as string);

    const pages = await pull(config([c]), credentials, { cursor });
    expect(pages.flatMap((p) => p.records.map((r) => r.data.text))).toEqual(['new two', 'new one']);
    expect(pages.at(-1)!.cursor).toEqual({ channels: { [c]: second.ts } });
    expect(first.ts < second.ts).toBe(true);
  });

  it('deletions: a plain message disappears from a full pull; a thread parent stays as a deleted tombstone', async () => {
    const c = channel(20);
    const credentials = bot();
    const before = (await pull(config([c]), credentials)).flatMap((p) => p.records);
    const parent = before.find((r) => r.data.reply_count === 2)!;
    const plain = before.find((r) => r.data.reply_count === 0)!;
    slack.deleteMessage(c, parent.data.ts as string);
    slack.deleteMessage(c, plain.data.ts as string);

    const after = (await pull(config([c]), credentials)).flatMap((p) => p.records);
    expect(after).toHaveLength(19);
    expect(after.map((r) => r.externalId)).not.toContain(plain.externalId);
    expect(after.find((r) => r.externalId === parent.externalId)).toMatchObject({ deleted: true, data: { subtype: 'tombstone', text: 'This message was deleted.' } });
  });

  it('a stored page cursor Slack refuses (invalid_cursor) restarts that channel and still finishes', async () => {
    const c = channel(15);
    const pages = await pull(config([c]), bot(), { cursor: { pending: [c], next: 'Z2FyYmFnZQ==' } });
    expect(recordIds(pages)).toHaveLength(15);
    expect(pages.at(-1)!.done).toBe(true);
  });

  it('reports a rate-limit signal on a 429', async () => {
    const signals: RateLimitSignal[] = [];
    slack.rateLimitNext(1, 9);
    await fail(config([channel(1)]), bot(), { signals });
    expect(signals).toEqual([{ remaining: 0, resetAt: expect.any(Number) as unknown, retryAfterMs: 9000 }]);
  });
});

describe('pull failures map to typed errors', () => {
  it('unknown token → AuthError (invalid_auth), token not in the message', async () => {
    const e = await fail(config([channel(1)]), { type: 'bot', token: 'xoxb-unknown-token-123' });
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toBe('Slack conversations.history: invalid_auth');
  });

  it('revoked and expired tokens → AuthError', async () => {
    const revoked = bot();
    slack.revokeToken((revoked as { token: string }).token);
    expect(await fail(config([channel(1)]), revoked)).toMatchObject({ kind: 'auth', message: expect.stringContaining('token_revoked') as unknown });
  });

  it('HTTP 401 → AuthError; 500 and 503 → RetryableError, and the retry succeeds', async () => {
    const c = config([channel(3)]);
    const credentials = bot();
    slack.failNext(1, 401);
    expect(await fail(c, credentials)).toBeInstanceOf(AuthError);
    for (const status of [500, 503]) {
      slack.failNext(1, status);
      expect(await fail(c, credentials)).toBeInstanceOf(RetryableError);
    }
    slack.errorNext(1, 'internal_error');
    expect(await fail(c, credentials)).toBeInstanceOf(RetryableError);
    expect(recordIds(await pull(c, credentials))).toHaveLength(3);
  });

  it('429 storm → RateLimitedError at Retry-After; a `ratelimited` body on 200 too', async () => {
    const c = config([channel(1)]);
    slack.rateLimitNext(3, 17);
    for (let i = 0; i < 3; i++) expect(((await fail(c, bot())) as RateLimitedError).retryAfterMs).toBe(17_000);
    slack.errorNext(1, 'ratelimited');
    expect(await fail(c, bot())).toBeInstanceOf(RateLimitedError);
  });

  it('the method tier runs out mid-run: pages so far are kept, and the run resumes after the window', async () => {
    const c = channel(60);
    const credentials = bot();
    const pages: PullPage[] = [];
    const e = await fail(config([c], 1), credentials, {}, pages);
    expect(e).toBeInstanceOf(RateLimitedError);
    // Tier 3: 50 calls a minute per token and method; Retry-After is what is left of the minute.
    expect(pages).toHaveLength(50);
    // The sandbox clock stands still in this file: the whole minute is left.
    expect((e as RateLimitedError).retryAfterMs).toBe(60_000);
    clock += 61_000;
    const rest = await pull(config([c], 1), credentials, { cursor: pages.at(-1)!.cursor });
    expect(new Set([...recordIds(pages), ...recordIds(rest)]).size).toBe(60);
  });

  it('unknown channel or a channel the bot is not in → UnrecoverableError', async () => {
    expect(await fail(config(['C0NOSUCH']), bot())).toMatchObject({ kind: 'unrecoverable', message: 'Slack conversations.history: channel_not_found' });
    const c = channel(1);
    slack.setMembership(c, false);
    expect(await fail(config([c]), bot())).toMatchObject({ kind: 'unrecoverable', message: 'Slack conversations.history: not_in_channel' });
  });

  it("a slow answer past the caller's deadline → RetryableError", async () => {
    slack.setLatency(500);
    try {
      expect(await fail(config([channel(1)]), bot(), { signal: AbortSignal.timeout(50) })).toBeInstanceOf(RetryableError);
    } finally {
      slack.setLatency(0);
    }
  });

  it('a pull error is typed for every failure above (never a bare Error)', async () => {
    slack.failNext(1, 418, { body: 'teapot' });
    expect(await fail(config([channel(1)]), bot())).toBeInstanceOf(UnrecoverableError);
  });
});

describe('non-Marketplace app limits', () => {
  it('15 messages a page and 1 conversations.history call a minute', async () => {
    const limited = await startSlackSandbox({ nonMarketplace: true, tokens: ['xoxb-nm'], now: () => clock });
    try {
      limited.seedMessages('C0NONMKT', 40);
      const pages: PullPage[] = [];
      const ctx = slackPullContext(limited.apiUrl, config(['C0NONMKT'], 200), { type: 'bot', token: 'xoxb-nm' });
      const e = await slackPullError(ctx, pages);
      expect(pages.map((p) => p.records.length)).toEqual([15]);
      expect(e).toBeInstanceOf(RateLimitedError);
      expect((e as RateLimitedError).retryAfterMs).toBe(60_000);
    } finally {
      await limited.close();
    }
  });
});

describe('sandbox API', () => {
  const api = (method: string, init: RequestInit = {}): Promise<Record<string, unknown>> =>
    fetch(`${slack.apiUrl}/${method}`, init).then((r) => r.json() as Promise<Record<string, unknown>>);

  it('is deterministic for a seed', async () => {
    const [a, b, c] = await Promise.all([startSlackSandbox({ seed: 7 }), startSlackSandbox({ seed: 7 }), startSlackSandbox({ seed: 8 })]);
    try {
      const texts = (s: SlackSandbox) => s.seedMessages('C0SEED', 20).map((m) => [m.ts, m.text, m.user]);
      const [ta, tb, tc] = [texts(a), texts(b), texts(c)];
      expect(ta).toEqual(tb);
      expect(tc).not.toEqual(ta);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('takes arguments as a form with a token argument, refuses JSON without the header, Slack-shaped cursors', async () => {
    const c = channel(3);
    const { token } = bot() as { token: string };
    const form = await api('conversations.history', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, channel: c, limit: '2' }).toString(),
    });
    expect(form).toMatchObject({ ok: true, has_more: true, messages: [{ type: 'message' }, { type: 'message' }] });
    const cursor = (form.response_metadata as { next_cursor: string }).next_cursor;
    expect(Buffer.from(cursor, 'base64').toString()).toMatch(/^next_ts:\d{16}$/);

    const json = await api('conversations.history', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, channel: c }) });
    expect(json).toEqual({ ok: false, error: 'not_authed' });
    expect(await api('conversations.history?channel=' + c)).toEqual({ ok: false, error: 'not_authed' });
    const unknown = await fetch(`${slack.apiUrl}/nope.method`, { headers: { authorization: `Bearer ${token}` } });
    expect(unknown.status).toBe(404);
    expect(await api(`conversations.history?channel=${c}&cursor=bad`, { headers: { authorization: `Bearer ${token}` } })).toEqual({ ok: false, error: 'invalid_cursor' });
  });
});
