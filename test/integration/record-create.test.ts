/**
 * Creates through the API (issue 10, point 8): `POST …/records` queues a
 * create with an idempotency key, and a redelivered create makes exactly one
 * provider object — the same message delivered twice, and a retry after a
 * failure between the provider's write and our bookkeeping (the store cut
 * off; Redis paused), run through the worker as the SyncOutboundWorker
 * function runs it.
 */
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { putIntegration } from '../../shared/api/integrations';
import { createRecord } from '../../shared/api/record-create';
import { putTenant } from '../../shared/api/tenants';
import type { ServiceOverrides } from '../../shared/composition';
import { QUEUES } from '../../shared/messaging/names';
import { handleOutbound, type OutboundDeps } from '../../shared/sync/outbound';
import { settleEscapedFailure } from '../../shared/sync/worker-guard';
import { apiRequest } from '../helpers/api';
import { records } from '../helpers/engine';
import { PrivateRedis } from '../helpers/private-redis';
import { relayedCosmos } from '../helpers/relayed-cosmos';
import { embeddedServices, type TestServices } from '../helpers/services';

const TOKEN = 'ghp_create0001';
let gh: GithubSandbox;
let t: TestServices | undefined;

beforeEach(async () => {
  gh = await startGithubSandbox({ tokens: { [TOKEN]: { limit: 100_000 } } });
  gh.seedIssues('octo', 'hello', 2);
});
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
  await gh.close();
});

async function services(env: Record<string, string> = {}, overrides: ServiceOverrides = {}): Promise<TestServices> {
  t = await embeddedServices(env, overrides);
  for (const tenantId of ['acme', 'other']) {
    await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId }, body: { name: tenantId } }));
  }
  const body = { provider: 'github', baseUrl: gh.url, config: { owner: 'octo', repo: 'hello' }, credentials: { type: 'token', token: TOKEN } };
  for (const [tenantId, integrationId] of [['acme', 'gh-acme'], ['other', 'gh-other']] as const) {
    const res = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId, integrationId }, body }));
    expect(res.status).toBe(201);
  }
  return t;
}

const post = (s: TestServices, body: unknown, o: { key?: string | null; rawBody?: string; headers?: Record<string, string>; tenantId?: string } = {}) =>
  createRecord(s.services.adminDeps, apiRequest({
    method: 'POST',
    params: { tenantId: o.tenantId ?? 'acme' },
    ...(o.rawBody === undefined ? { body } : { rawBody: o.rawBody }),
    ...(o.key === undefined ? {} : { key: o.key }),
    ...(o.headers ? { headers: o.headers } : {}),
  }));

/** As functions/SyncOutboundWorker.ts runs a delivery: the handler, then the guard for what escapes it. */
async function worker(s: TestServices, deps: OutboundDeps, messageId: string): Promise<string> {
  const m = s.queue.peek(QUEUES.syncOutbound).find((x) => x.messageId === messageId);
  if (!m) throw new Error(`no queued message ${messageId}`);
  const info = { messageId, deliveryCount: 1 };
  try {
    return (await handleOutbound(deps, m.body, info)).kind;
  } catch (error) {
    return `guard:${(await settleEscapedFailure(deps, QUEUES.syncOutbound, m.body, info, error)).kind}`;
  }
}

const titled = (title: string) => allIssues().filter((i) => i.title === title);
function allIssues() {
  const out = [];
  for (let n = 1; ; n++) {
    const issue = gh.getIssue('octo', 'hello', n);
    if (!issue) return out;
    out.push(issue);
  }
}

describe('the route', () => {
  test('a create is queued with an idempotency key: 202, nothing written until the push lands', async () => {
    const s = await services();
    const res = await post(s, { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Made via the API' } });
    expect(res.status).toBe(202);
    const key = (res.jsonBody as { idempotencyKey: string }).idempotencyKey;
    expect(res.jsonBody).toEqual({ status: 'queued', idempotencyKey: key, integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Made via the API' } });
    const [queued] = s.queue.peek(QUEUES.syncOutbound);
    expect(queued).toMatchObject({ messageId: key, body: { op: 'create', entityType: 'issue', payload: { title: 'Made via the API' }, idempotencyKey: key } });
    expect(await records(s, 'gh-acme')).toEqual([]);
  });

  test.each([
    ['no key', 401, { key: null }],
    ['a wrong key', 401, { key: 'not-the-admin-key-000000' }],
    ['another tenant\'s integration id', 404, { body: { integrationId: 'gh-other', entityType: 'issue', data: { title: 'x' } } }],
    ['an unknown tenant', 404, { tenantId: 'nobody' }],
    ['malformed JSON', 400, { rawBody: '{"integrationId": "gh-acme", ' }],
    ['an over-deep body', 400, { rawBody: `{"integrationId":"gh-acme","entityType":"issue","data":{"x":${'['.repeat(100)}${']'.repeat(100)}}}` }],
    ['an oversized body', 413, { rawBody: JSON.stringify({ integrationId: 'gh-acme', entityType: 'issue', data: { title: 'x', body: 'y'.repeat(300 * 1024) } }) }],
    ['a __proto__ key', 400, { rawBody: '{"integrationId":"gh-acme","entityType":"issue","data":{"title":"x","__proto__":{"a":1}}}' }],
    ['an unknown field', 400, { body: { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'x' }, op: 'delete' } }],
    ['no data', 400, { body: { integrationId: 'gh-acme', entityType: 'issue', data: {} } }],
    ['an entity type the provider cannot create', 400, { body: { integrationId: 'gh-acme', entityType: 'pull_request', data: { title: 'x' } } }],
    ['a field the provider cannot write', 400, { body: { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'x', user: 'mallory' } } }],
    ['a malformed Idempotency-Key', 400, { headers: { 'idempotency-key': 'a b/c' } }],
  ])('%s: %d, and nothing is queued', async (_what, status, o: { key?: string | null; body?: unknown; rawBody?: string; tenantId?: string; headers?: Record<string, string> }) => {
    const s = await services();
    const res = await post(s, o.body ?? { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'x' } }, o);
    expect(res.status).toBe(status);
    expect(res.jsonBody).toMatchObject({ error: expect.any(String) as unknown, reason: expect.any(String) as unknown });
    expect(s.queue.depth(QUEUES.syncOutbound)).toBe(0);
  });

  test('the same Idempotency-Key twice is the same create: one message, one issue', async () => {
    const s = await services();
    const send = () => post(s, { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Keyed create' } }, { headers: { 'idempotency-key': 'client-req-7' } });
    const [a, b] = [await send(), await send()];
    expect((a.jsonBody as { idempotencyKey: string }).idempotencyKey).toBe((b.jsonBody as { idempotencyKey: string }).idempotencyKey);
    expect(s.queue.depth(QUEUES.syncOutbound)).toBe(1);
    // The other tenant's equal header value is its own create.
    const other = await post(s, { integrationId: 'gh-other', entityType: 'issue', data: { title: 'Keyed create' } }, { tenantId: 'other', headers: { 'idempotency-key': 'client-req-7' } });
    expect((other.jsonBody as { idempotencyKey: string }).idempotencyKey).not.toBe((a.jsonBody as { idempotencyKey: string }).idempotencyKey);
  });
});

describe('exactly one provider object', () => {
  test('the same queue message delivered twice makes one issue; the record holds its id and version', async () => {
    const s = await services();
    const res = await post(s, { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Delivered twice', body: 'once' } });
    const key = (res.jsonBody as { idempotencyKey: string }).idempotencyKey;
    expect(await worker(s, s.services.outboundDeps, key)).toBe('pushed');
    expect(await worker(s, s.services.outboundDeps, key)).toBe('duplicate');
    const made = titled('Delivered twice');
    expect(made).toHaveLength(1);
    const [record] = await records(s, 'gh-acme');
    expect(record).toMatchObject({ externalId: String(made[0]!.id), pushedVersion: made[0]!.updated_at, data: { title: 'Delivered twice', body: 'once' } });
    expect(record?.local).toBeUndefined();
  });

  test('the store cut off between GitHub\'s write and our bookkeeping: the redelivery finds the first issue, and the record is written', async () => {
    const cosmos = await relayedCosmos();
    try {
      const s = await services({}, { adapters: { store: cosmos.store } });
      const res = await post(s, { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Store went down' } });
      const key = (res.jsonBody as { idempotencyKey: string }).idempotencyKey;
      const cutAfterCreate: typeof fetch = async (input, init) => {
        const response = await s.services.outboundDeps.fetch(input, init);
        if (init?.method === 'POST') await cosmos.stop();
        return response;
      };
      // The record cannot be written: the guard queues the retry (the queue is up), with the backoff.
      expect(await worker(s, { ...s.services.outboundDeps, fetch: cutAfterCreate }, key)).toMatch(/rescheduled$/);
      expect(titled('Store went down')).toHaveLength(1);
      await cosmos.resume();
      expect(await worker(s, s.services.outboundDeps, `${key}:retry:1`)).toBe('pushed');
      expect(titled('Store went down')).toHaveLength(1);
      const [record] = await records(s, 'gh-acme');
      expect(record).toMatchObject({ externalId: String(titled('Store went down')[0]!.id), data: { title: 'Store went down' } });
      expect(await worker(s, s.services.outboundDeps, key)).toBe('duplicate');
    } finally {
      await t?.cleanup();
      t = undefined;
      await cosmos.close();
    }
  }, 60_000);

  test('Redis paused between GitHub\'s write and the done mark: the retry the guard queues makes no second issue', async () => {
    const redis = await PrivateRedis.start();
    try {
      const s = await services({ REDIS_URL: redis.url });
      const res = await post(s, { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Redis stalled' } });
      const key = (res.jsonBody as { idempotencyKey: string }).idempotencyKey;
      const pauseAfterCreate: typeof fetch = async (input, init) => {
        const response = await s.services.outboundDeps.fetch(input, init);
        if (init?.method === 'POST') redis.pause();
        return response;
      };
      expect(await worker(s, { ...s.services.outboundDeps, fetch: pauseAfterCreate }, key)).toMatch(/rescheduled$/);
      redis.resume();
      // A timed-out SET may still land once Redis runs again (then the retry is a duplicate), or not (then GitHub's marker finds the issue).
      expect(['pushed', 'duplicate']).toContain(await worker(s, s.services.outboundDeps, `${key}:retry:1`));
      expect(titled('Redis stalled')).toHaveLength(1);
      expect(await records(s, 'gh-acme')).toHaveLength(1);
    } finally {
      await t?.cleanup();
      t = undefined;
      await redis.kill();
    }
  }, 60_000);

  test('Redis killed between GitHub\'s write and the done mark: the retry pushes again, GitHub\'s marker finds the first issue', async () => {
    const redis = await PrivateRedis.start();
    try {
      const s = await services({ REDIS_URL: redis.url });
      const res = await post(s, { integrationId: 'gh-acme', entityType: 'issue', data: { title: 'Redis died' } });
      const key = (res.jsonBody as { idempotencyKey: string }).idempotencyKey;
      const killAfterCreate: typeof fetch = async (input, init) => {
        const response = await s.services.outboundDeps.fetch(input, init);
        if (init?.method === 'POST') await redis.kill();
        return response;
      };
      expect(await worker(s, { ...s.services.outboundDeps, fetch: killAfterCreate }, key)).toMatch(/rescheduled$/);
      await redis.restart(); // empty: the done mark never existed
      // The client reconnects on its own schedule: wait until it answers, as a retry 30 s later would find it.
      for (let i = 0; i < 200; i++) {
        try {
          await s.services.adapters.kv.get('probe');
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      let outcome = '';
      for (let attempt = 1; attempt <= 3 && !['pushed', 'duplicate'].includes(outcome); attempt++) {
        outcome = await worker(s, s.services.outboundDeps, `${key}:retry:${attempt}`);
      }
      expect(outcome).toBe('pushed');
      expect(titled('Redis died')).toHaveLength(1);
      expect(await records(s, 'gh-acme')).toHaveLength(1);
    } finally {
      await t?.cleanup();
      t = undefined;
      await redis.kill();
    }
  }, 60_000);
});
