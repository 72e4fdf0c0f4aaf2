import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { notionProvider, type NotionConfig } from '../../shared/providers/notion';
import { NotionRequestError } from '../../shared/providers/notion/api';
import type { PullPage, RateLimitSignal } from '../../shared/providers/types';
import { startNotionSandbox, type NotionSandbox } from '../../local/sandbox/notion';
import {
  callCtx,
  collectNotion,
  notionCtx,
  notionPullError,
  recordIds,
  rejection,
  spyFetch,
  startNotionReceiver,
  type NotionCtxOptions,
  type NotionReceiver,
} from '../helpers/notion';

const TOKEN = 'ntn_sandbox_token_0001';
let notion: NotionSandbox;

beforeAll(async () => {
  // A generous budget: these tests are about behaviour, not the default 180/min.
  notion = await startNotionSandbox({ tokens: { [TOKEN]: { requestsPerMinute: 100_000 } } });
});
afterAll(async () => {
  await notion.close();
});

/** A fresh data source per test, so tests never see each other's writes. */
function freshSource(n = 250): NotionConfig {
  const { id } = notion.createDataSource();
  notion.seedPages(id, n);
  return { dataSourceId: id };
}

const ctx = (config: NotionConfig, o: NotionCtxOptions = {}) => notionCtx(notion.url, config, TOKEN, o);
const title = (text: string) => ({ title: [{ text: { content: text } }] });
const records = (pages: PullPage[]) => pages.flatMap((p) => p.records);

describe('pull', () => {
  it('reads 250 pages, live then trash, 100 a page, with the documented request', async () => {
    const config = freshSource();
    const sent: { url: string; headers: Headers; body: unknown }[] = [];
    const pages = await collectNotion(ctx(config, { fetch: spyFetch(sent) }));

    expect(pages.map((p) => p.records.length)).toEqual([100, 100, 25, 25]);
    expect(pages.map((p) => p.done)).toEqual([false, false, false, true]);
    expect(new Set(recordIds(pages)).size).toBe(250);
    expect(records(pages).filter((r) => r.deleted)).toHaveLength(25);
    expect(pages[3]!.records.every((r) => r.deleted)).toBe(true);
    const live = records(pages.slice(0, 3)).map((r) => r.updatedAt);
    expect([...live].sort()).toEqual(live);

    expect(new URL(sent[0]!.url).pathname).toBe(`/v1/data_sources/${config.dataSourceId}/query`);
    expect(sent[0]!.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(sent[0]!.headers.get('notion-version')).toBe('2025-09-03');
    expect(sent[0]!.body).toEqual({ sorts: [{ timestamp: 'last_edited_time', direction: 'ascending' }], page_size: 100 });
    expect(sent[1]!.body).toMatchObject({ start_cursor: expect.any(String) as unknown });
    expect(sent[3]!.body).toEqual({ sorts: [{ timestamp: 'last_edited_time', direction: 'ascending' }], page_size: 100, in_trash: true });

    // Pages edited in the same minute come in id order, so look Task 1 up by title.
    const first = records(pages).find((r) => r.data.title === 'Task 1')!;
    const page = notion.getPage(first.externalId)!;
    expect(first).toEqual({
      externalId: page.id,
      entityType: 'page',
      updatedAt: page.last_edited_time,
      deleted: false,
      data: {
        title: 'Task 1', url: page.url, created_time: page.created_time, last_edited_time: page.last_edited_time,
        properties: {
          Name: 'Task 1', Status: 'In progress', Priority: 'Medium', Tags: ['frontend'], Estimate: 1, Done: false,
          Due: { start: '2025-02-02', end: null, time_zone: null }, 'External ID': '', Link: null,
        },
      },
    });
    const newest = records(pages).map((r) => r.updatedAt).sort().at(-1)!;
    expect(pages[3]!.cursor).toEqual({ since: newest });
    expect(pages[0]!.cursor).toMatchObject({ phase: 'live', next: expect.any(String) as unknown, high: live[99] });
  });

  it('resumes from a mid-run cursor (and from the phase boundary) with exactly the remaining pages', async () => {
    const config = freshSource();
    const full = await collectNotion(ctx(config));
    const resumed = await collectNotion(ctx(config, { cursor: full[0]!.cursor }));
    expect(recordIds(resumed)).toEqual(recordIds(full.slice(1)));
    expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
    const trashOnly = await collectNotion(ctx(config, { cursor: full[2]!.cursor }));
    expect(recordIds(trashOnly)).toEqual(recordIds(full.slice(3)));
  });

  it('an incremental run re-reads only the high-water minute, then picks up a change', async () => {
    const config = freshSource();
    const full = await collectNotion(ctx(config));
    const cursor = full.at(-1)!.cursor;
    const since = cursor.since as string;

    const quiet = records(await collectNotion(ctx(config, { cursor })));
    expect(quiet.length).toBeGreaterThan(0);
    expect(quiet.every((r) => r.updatedAt === since)).toBe(true);

    // The oldest live page: far below the high-water mark until it changes.
    const target = full[0]!.records[0]!.externalId;
    const changed = notion.updatePage(target, { Name: title('Renamed'), Estimate: { number: 42 } });
    const pages = await collectNotion(ctx(config, { cursor }));
    const hit = records(pages).filter((r) => r.externalId === target);
    expect(hit).toHaveLength(1);
    expect(hit[0]!.data).toMatchObject({ title: 'Renamed', properties: { Name: 'Renamed', Estimate: 42 } });
    expect(pages.at(-1)!.cursor).toEqual({ since: changed.last_edited_time });
  });

  it('overlaps the minute: an edit in the same minute as the last read is not missed', async () => {
    // Clock: writes at 09:00:20, 09:00:40 — both shown as 09:00 (Notion rounds down to the minute).
    const local = await startNotionSandbox({ tokens: { [TOKEN]: {} }, clockStart: '2025-01-06T09:00:00.000Z', tickSeconds: 20 });
    try {
      const { id } = local.createDataSource();
      const page = local.createPage(id, { Name: title('Before') });
      const c = (cursor?: Record<string, unknown>) => notionCtx(local.url, { dataSourceId: id }, TOKEN, cursor ? { cursor } : {});
      const first = await collectNotion(c());
      expect(first.at(-1)!.cursor).toEqual({ since: '2025-01-06T09:00:00.000Z' });
      const edited = local.updatePage(page.id, { Name: title('After') });
      expect(edited.last_edited_time).toBe(page.last_edited_time);
      const again = records(await collectNotion(c(first.at(-1)!.cursor)));
      expect(again.map((r) => r.data.title)).toEqual(['After']);
    } finally {
      await local.close();
    }
  });

  it('sees deletions (moved to the trash) and restorations', async () => {
    const config = freshSource(5);
    const full = await collectNotion(ctx(config));
    const cursor = full.at(-1)!.cursor;
    const victim = records(full).find((r) => !r.deleted)!.externalId;
    notion.trashPage(victim);
    const afterTrash = records(await collectNotion(ctx(config, { cursor }))).filter((r) => r.externalId === victim);
    expect(afterTrash.map((r) => r.deleted)).toEqual([true]);
    notion.trashPage(victim, false);
    const afterRestore = records(await collectNotion(ctx(config, { cursor }))).filter((r) => r.externalId === victim);
    expect(afterRestore.map((r) => r.deleted)).toEqual([false]);
  });

  it('an unparseable cursor starts over instead of failing', async () => {
    const config = freshSource(3);
    expect(recordIds(await collectNotion(ctx(config, { cursor: { since: 'yesterday' } })))).toHaveLength(3);
  });

  it('reports every response\'s rate-limit signal', async () => {
    const signals: RateLimitSignal[] = [];
    await collectNotion(ctx(freshSource(150), { signals }));
    expect(signals).toEqual([{ limit: 3 }, { limit: 3 }, { limit: 3 }]);
  });
});

describe('failures map to typed errors', () => {
  it('revoked token → AuthError, token not in the message', async () => {
    const token = 'ntn_revoked_token_123';
    notion.addToken(token);
    notion.revokeToken(token);
    const e = await notionPullError(notionCtx(notion.url, freshSource(1), token));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('401 unauthorized');
    expect((e as Error).message).not.toContain(token);
  });

  it('429 storm → RateLimitedError after Retry-After; the next try succeeds', async () => {
    const config = freshSource(2);
    notion.rateLimitStorm(1, 7);
    expect(((await notionPullError(ctx(config))) as RateLimitedError).retryAfterMs).toBe(7000);
    expect(recordIds(await collectNotion(ctx(config)))).toHaveLength(2);
  });

  it('a spent 60-second budget → 429 with the rest of the window as Retry-After', async () => {
    const token = 'ntn_spent_budget';
    notion.addToken(token);
    notion.exhaust(token);
    const e = await notionPullError(notionCtx(notion.url, freshSource(1), token));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect((e as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('budget running out mid-run: pages so far are kept, and the run resumes from the last cursor', async () => {
    const token = 'ntn_small_budget';
    notion.addToken(token, { requestsPerMinute: 2 });
    const config = freshSource();
    const pages: PullPage[] = [];
    expect(await notionPullError(notionCtx(notion.url, config, token), pages)).toBeInstanceOf(RateLimitedError);
    expect(pages.map((p) => p.records.length)).toEqual([100, 100]);
    notion.addToken(token, { requestsPerMinute: 10 }); // a new window
    const rest = await collectNotion(notionCtx(notion.url, config, token, { cursor: pages[1]!.cursor }));
    expect(new Set([...recordIds(pages), ...recordIds(rest)]).size).toBe(250);
  });

  it('529 service_overload → RateLimitedError (its Retry-After, else one window)', async () => {
    const config = freshSource(1);
    notion.overload(1, 3);
    expect(((await notionPullError(ctx(config))) as RateLimitedError).retryAfterMs).toBe(3000);
    notion.overload(1);
    expect(((await notionPullError(ctx(config))) as RateLimitedError).retryAfterMs).toBe(60_000);
  });

  it.each([500, 502, 503, 504])('%i → RetryableError, and the retry succeeds', async (status) => {
    const config = freshSource(3);
    notion.failNext(1, status);
    expect(await notionPullError(ctx(config))).toBeInstanceOf(RetryableError);
    expect(recordIds(await collectNotion(ctx(config)))).toHaveLength(3);
  });

  it('unknown data source → unrecoverable object_not_found', async () => {
    const e = await notionPullError(ctx({ dataSourceId: '0123456789abcdef0123456789abcdef' }));
    expect(e).toBeInstanceOf(NotionRequestError);
    expect(e).toMatchObject({ status: 404, code: 'object_not_found' });
  });

  it('a slow answer past the caller\'s deadline → RetryableError', async () => {
    notion.setLatency(500);
    try {
      expect(await notionPullError(ctx(freshSource(1), { signal: AbortSignal.timeout(50) }))).toBeInstanceOf(RetryableError);
    } finally {
      notion.setLatency(0);
    }
  });

  it('the sandbox insists on Notion-Version and answers Notion error bodies', async () => {
    const config = freshSource(1);
    const res = await fetch(`${notion.url}/v1/data_sources/${config.dataSourceId}/query`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ object: 'error', status: 400, code: 'missing_version' });
    const big = await fetch(`${notion.url}/v1/data_sources/${config.dataSourceId}/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'notion-version': '2025-09-03' },
      body: JSON.stringify({ page_size: 101 }),
    });
    expect(await big.json()).toMatchObject({ status: 400, code: 'validation_error' });
  });
});

describe('push', () => {
  const push = notionProvider.push!;
  const op = (o: Partial<Parameters<typeof push.apply>[1]>) => ({ op: 'create' as const, entityType: 'page', payload: {}, idempotencyKey: 'k-0', ...o });

  it('creates, updates and trashes a page in the data source', async () => {
    const config = freshSource(0);
    const c = callCtx(notion.url, config, { type: 'internal', token: TOKEN });
    const created = await push.apply(c, op({ payload: { properties: { Name: title('Pushed'), Status: { status: { name: 'Done' } } } } }));
    const page = notion.getPage(created.externalId)!;
    expect(page.parent.data_source_id).toBe(config.dataSourceId);
    expect(page.properties.Status).toMatchObject({ status: { name: 'Done' } });
    expect(created.updatedAt).toBe(page.last_edited_time);

    await push.apply(c, op({ op: 'update', externalId: created.externalId, payload: { properties: { Name: title('Edited') } } }));
    expect(notion.getPage(created.externalId)!.properties.Name).toMatchObject({ title: [{ plain_text: 'Edited' }] });

    const deleted = await push.apply(c, op({ op: 'delete', externalId: created.externalId }));
    expect(deleted.externalId).toBe(created.externalId);
    expect(notion.getPage(created.externalId)!.in_trash).toBe(true);
    // Again, and for a page that does not exist: nothing to do, success.
    await expect(push.apply(c, op({ op: 'delete', externalId: created.externalId }))).resolves.toMatchObject({ externalId: created.externalId });
    await expect(push.apply(c, op({ op: 'delete', externalId: '0123456789abcdef0123456789abcdef' }))).resolves.toBeDefined();
    // A trashed page's properties cannot be edited.
    expect(await rejection(push.apply(c, op({ op: 'update', externalId: created.externalId, payload: { properties: { Name: title('x') } } })))).toBeInstanceOf(UnrecoverableError);
  });

  it('a retried create with the same idempotency key finds its page instead of making another', async () => {
    const config = { ...freshSource(0), idempotencyProperty: 'External ID' };
    const c = callCtx(notion.url, config, { type: 'internal', token: TOKEN });
    const create = op({ idempotencyKey: 'outbound-msg-17', payload: { properties: { Name: title('Once') } } });
    const first = await push.apply(c, create);
    const second = await push.apply(c, create);
    expect(second.externalId).toBe(first.externalId);
    const other = await push.apply(c, { ...create, idempotencyKey: 'outbound-msg-18' });
    expect(other.externalId).not.toBe(first.externalId);
    const all = records(await collectNotion(ctx(config)));
    expect(all.filter((r) => !r.deleted)).toHaveLength(2);
    expect(all.find((r) => r.externalId === first.externalId)!.data.properties).toMatchObject({ 'External ID': 'outbound-msg-17' });
  });

  it('refuses bad operations before calling Notion, and maps Notion\'s refusals', async () => {
    const config = freshSource(0);
    const c = callCtx(notion.url, config, { type: 'internal', token: TOKEN });
    expect(await rejection(push.apply(c, op({ entityType: 'issue' })))).toBeInstanceOf(UnrecoverableError);
    expect(await rejection(push.apply(c, op({ op: 'update' })))).toBeInstanceOf(UnrecoverableError);
    expect(await rejection(push.apply(c, op({ payload: { properties: 'x' } })))).toBeInstanceOf(UnrecoverableError);
    expect(await rejection(push.apply(c, op({ payload: { properties: { Nope: title('x') } } })))).toMatchObject({ status: 400, code: 'validation_error' });
    notion.addToken('ntn_read_only', { readOnly: true });
    const readOnly = callCtx(notion.url, config, { type: 'internal', token: 'ntn_read_only' });
    expect(await rejection(push.apply(readOnly, op({ payload: { properties: { Name: title('x') } } })))).toMatchObject({ status: 403, code: 'restricted_resource' });
    notion.failNext(1, 409);
    expect(await rejection(push.apply(c, op({ payload: { properties: { Name: title('x') } } })))).toBeInstanceOf(RetryableError);
  });
});

describe('sandbox webhook deliveries verify with the Notion scheme', () => {
  let receiver: NotionReceiver;
  beforeAll(async () => {
    receiver = await startNotionReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('handshake: the verification_token is stored once, then signs the events', async () => {
    const hello = await notion.sendVerification(receiver.url);
    expect(hello.status).toBe(200);
    expect(receiver.secrets).toEqual([hello.verificationToken]);
    expect((await notion.sendVerification(receiver.url)).status).toBe(409);
    expect(receiver.secrets).toEqual([hello.verificationToken]);

    const config = freshSource(1);
    const pageId = notion.getPage(recordIds(await collectNotion(ctx(config)))[0]!)!.id;
    const result = await notion.deliverWebhook({ url: receiver.url, verificationToken: hello.verificationToken, payload: notion.pageEvent('page.properties_updated', pageId) });
    expect(result.status).toBe(202);
    expect(receiver.verdicts.at(-1)).toEqual({ kind: 'accept', events: [{ deliveryId: result.eventId, event: 'page.properties_updated' }] });
  });

  it('a documented payload delivered byte for byte is accepted; the wrong token is not', async () => {
    const payload = readFileSync(join(__dirname, '..', 'fixtures', 'notion', 'webhooks', 'page.created.json'), 'utf8');
    const token = receiver.secrets[0]!;
    const ok = await notion.deliverWebhook({ url: receiver.url, verificationToken: token, payload });
    expect(ok).toMatchObject({ status: 202, eventId: '367cba44-b6f3-4c92-81e7-6a2e9659efd4' });
    expect(receiver.bodies.at(-1)).toBe(payload);
    expect((await notion.deliverWebhook({ url: receiver.url, verificationToken: 'secret_wrong_0123456789', payload })).status).toBe(401);
  });

  it('retries a failed delivery with the same event id and the next attempt_number', async () => {
    const token = receiver.secrets[0]!;
    const config = freshSource(1);
    const pageId = recordIds(await collectNotion(ctx(config)))[0]!;
    receiver.failNext = 2;
    const before = receiver.bodies.length;
    const result = await notion.deliverWebhook({ url: receiver.url, verificationToken: token, payload: notion.pageEvent('page.content_updated', pageId), maxAttempts: 8 });
    expect(result).toMatchObject({ status: 202, attempts: 3 });
    const sent = receiver.bodies.slice(before).map((b) => JSON.parse(b) as { id: string; attempt_number: number });
    expect(sent.map((b) => b.attempt_number)).toEqual([1, 2, 3]);
    expect(new Set(sent.map((b) => b.id))).toEqual(new Set([result.eventId]));
  });
});
