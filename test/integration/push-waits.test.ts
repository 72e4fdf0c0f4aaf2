/**
 * Pushes that wait (issue 10, points 3 and 4): many pending edits share one
 * pre-push pull, and that pull carries the trigger `push`; waits (a rate
 * limit, a pull) are deferrals counted apart from failures and bounded by
 * time. The fake provider has no conditional writes, so its pushes wait for
 * a pull after their change: the path every such provider takes.
 */
import { patchRecord } from '../../shared/api/local-changes';
import { QUEUES } from '../../shared/messaging/names';
import { syncJobSchema, type OutboundJob } from '../../shared/messaging/messages';
import { MAX_DEFERRAL_MS } from '../../shared/sync/followup';
import { handleOutbound, type OutboundDeps } from '../../shared/sync/outbound';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices, message, pullJob, records } from '../helpers/engine';
import { dataset, item, type FakeDataset } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
let d: FakeDataset;
beforeEach(async () => { t = await fakeServices(); });
afterEach(async () => { await t.cleanup(); });

const ts = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const info = (messageId: string) => ({ messageId, deliveryCount: 1 });

async function deliver(deps: OutboundDeps, messageId: string) {
  const m = t.queue.peek(QUEUES.syncOutbound).find((x) => x.messageId === messageId);
  if (!m) throw new Error(`no queued message ${messageId}; queued: ${t.queue.peek(QUEUES.syncOutbound).map((x) => x.messageId).join(', ')}`);
  return handleOutbound(deps, m.body, info(messageId));
}

test('many pending edits on one integration share one pre-push pull, which carries the trigger push', async () => {
  d = dataset('many', Array.from({ length: 50 }, (_, i) => item(i + 1, ts(1))), 100);
  await fakeIntegration(t, 'w1', 'many');
  await runPullSync(t.services.syncDeps, pullJob('w1'), message());
  const keys: string[] = [];
  for (const r of await records(t, 'w1')) {
    const res = await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: r.id }, body: { data: { title: `edited ${r.externalId}` } } }));
    expect(res.status).toBe(202);
    keys.push((await t.services.repos.getRecord('acme', r.id, 'records'))!.local!.idempotencyKey);
  }
  // The workers take the 50 pushes within one window.
  const at = new Date();
  const deps: OutboundDeps = { ...t.services.outboundDeps, now: () => at };
  for (const key of keys) expect(await deliver(deps, key)).toMatchObject({ kind: 'rescheduled' });

  const pulls = t.queue.peek(QUEUES.syncInbound);
  expect(pulls).toHaveLength(1);
  const job = syncJobSchema.parse(pulls[0]?.body);
  expect(job).toMatchObject({ trigger: 'push', integrationId: 'w1' });
  expect(pulls[0]?.applicationProperties).toMatchObject({ trigger: 'push' });
  await new Promise((r) => setTimeout(r, 3));
  const outcome = await runPullSync(t.services.syncDeps, job, info(pulls[0]!.messageId));
  if (outcome.kind !== 'succeeded') throw new Error(outcome.kind);
  expect((await t.services.repos.getRun('acme', outcome.runId))?.trigger).toBe('push');

  // After that one pull every push goes out, each with only its edited field.
  for (const key of keys) expect(await deliver(t.services.outboundDeps, `${key}:defer:1`)).toMatchObject({ kind: 'pushed' });
  expect(d.pushes).toHaveLength(50);
  expect(d.pushes.every((p) => Object.keys(p.payload).join() === 'title')).toBe(true);
});

test('waiting for a pull is a deferral, not a failure: the follow-up counts deferrals and leaves attempt alone', async () => {
  d = dataset('one', [item(1, ts(1))]);
  await fakeIntegration(t, 'w2', 'one');
  await runPullSync(t.services.syncDeps, pullJob('w2'), message());
  const [one] = await records(t, 'w2');
  await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: one!.id }, body: { data: { title: 'x' } } }));
  const key = (await t.services.repos.getRecord('acme', one!.id, 'records'))!.local!.idempotencyKey;
  expect(await deliver(t.services.outboundDeps, key)).toMatchObject({ kind: 'rescheduled' });
  const next = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === `${key}:defer:1`);
  expect(next?.body).toMatchObject({ deferrals: 1, deferredSince: expect.any(String) as unknown });
  expect(next?.body).not.toHaveProperty('attempt');
});

const createJob = (key: string, extra: Partial<OutboundJob> = {}): OutboundJob => ({
  tenantId: 'acme', integrationId: 'w3', op: 'create', entityType: 'item', recordId: key, payload: { title: 'made here' }, idempotencyKey: key, ...extra,
});

test('a burst of real failures after a long rate-limited wait still gets the full three-step backoff', async () => {
  d = dataset('burst', []);
  await fakeIntegration(t, 'w3', 'burst');
  d.pushFails = 'rate';
  let id = 'b1';
  expect(await handleOutbound(t.services.outboundDeps, createJob('b1'), info(id))).toMatchObject({ kind: 'rescheduled' });
  for (let n = 1; n <= 20; n++) {
    id = `b1:defer:${n}`;
    expect(await deliver(t.services.outboundDeps, id)).toMatchObject({ kind: 'rescheduled' });
  }
  const waitedLong = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === 'b1:defer:21');
  expect(waitedLong?.body).toMatchObject({ deferrals: 21 });
  expect(waitedLong?.body).not.toHaveProperty('attempt');

  d.pushFails = 'retryable';
  id = 'b1:defer:21';
  for (let attempt = 1; attempt <= 3; attempt++) {
    expect(await deliver(t.services.outboundDeps, id)).toMatchObject({ kind: 'rescheduled' });
    id = `b1:retry:${attempt}`;
    expect(t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === id)?.body).toMatchObject({ attempt, deferrals: 21 });
  }
  expect(await deliver(t.services.outboundDeps, id)).toEqual({ kind: 'parked', reason: 'RetriesExhausted' });
  const dead = await t.services.repos.listDeadLetters('acme', 10);
  expect(dead.items.map((x) => [x.reason, x.description])).toEqual([['RetriesExhausted', 'after 3 retries: RetryableError: fake: 503']]);
});

test('a push that has waited more than 24 hours is parked DeferredTooLong, with its own reason', async () => {
  d = dataset('long', []);
  await fakeIntegration(t, 'w3', 'long');
  d.pushFails = 'rate';
  const since = new Date(Date.now() - MAX_DEFERRAL_MS - 60_000).toISOString();
  expect(await handleOutbound(t.services.outboundDeps, createJob('l1', { deferrals: 600, deferredSince: since }), info('l1:defer:600'))).toEqual({ kind: 'parked', reason: 'DeferredTooLong' });
  expect(t.queue.depth(QUEUES.syncOutbound)).toBe(0);
  const [dead] = (await t.services.repos.listDeadLetters('acme', 10)).items;
  expect(dead).toMatchObject({ reason: 'DeferredTooLong', description: expect.stringContaining('waited more than 24 h') as unknown });
  // Just inside the bound it still waits.
  const recent = new Date(Date.now() - MAX_DEFERRAL_MS + 60_000).toISOString();
  expect(await handleOutbound(t.services.outboundDeps, createJob('l2', { deferrals: 600, deferredSince: recent }), info('l2:defer:600'))).toMatchObject({ kind: 'rescheduled' });
});

test('an update waiting for a pull that never comes is parked DeferredTooLong after 24 hours', async () => {
  d = dataset('stuck', [item(1, ts(1))]);
  await fakeIntegration(t, 'w4', 'stuck');
  await runPullSync(t.services.syncDeps, pullJob('w4'), message());
  const [one] = await records(t, 'w4');
  await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: one!.id }, body: { data: { title: 'x' } } }));
  const key = (await t.services.repos.getRecord('acme', one!.id, 'records'))!.local!.idempotencyKey;
  const job = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === key)!.body;
  const since = new Date(Date.now() - MAX_DEFERRAL_MS - 1).toISOString();
  expect(await handleOutbound(t.services.outboundDeps, { ...job, deferrals: 1400, deferredSince: since }, info(`${key}:defer:1400`))).toEqual({ kind: 'parked', reason: 'DeferredTooLong' });
});
