import { randomUUID } from 'node:crypto';
import { resolveConflict } from '../../shared/api/conflicts';
import type { AdminDeps } from '../../shared/api/deps';
import { patchRecord } from '../../shared/api/local-changes';
import type { ServiceOverrides } from '../../shared/composition';
import { QUEUES } from '../../shared/messaging/names';
import type { OutgoingMessage, QueueSender } from '../../shared/messaging/port';
import { handleOutbound } from '../../shared/sync/outbound';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, message, pullJob, records } from '../helpers/engine';
import { dataset, item, registryWithFake, type FakeDataset } from '../helpers/fake-provider';
import { relayedCosmos } from '../helpers/relayed-cosmos';
import { embeddedServices, type TestServices } from '../helpers/services';

/**
 * A record edit is a pending local change plus its queued push: both or
 * neither. A 2xx means the push is queued; any error means the record is
 * exactly as it was and nothing will be pushed — whichever part failed.
 */
let t: TestServices;
let d: FakeDataset;
let datasetName: string;
afterEach(async () => { await t.cleanup(); });

async function setup(adapters: ServiceOverrides['adapters'] = {}): Promise<{ id: string; etag: string; data: Record<string, unknown> }> {
  t = await embeddedServices({}, { providers: registryWithFake, adapters });
  datasetName = `atomic-${randomUUID()}`;
  d = dataset(datasetName, [item(1, '2026-01-01T00:01:00.000Z')]);
  await fakeIntegration(t, 'a1', datasetName);
  await runPullSync(t.services.syncDeps, pullJob('a1'), message());
  const [one] = await records(t, 'a1');
  return { id: one!.id, etag: one!.etag, data: one!.data };
}

/** The admin deps with a different queue sender (the queue is in-process locally, so this is where a fault sits). */
const withQueue = (send: QueueSender['send']): AdminDeps => ({ ...t.services.adminDeps, queue: { ...t.services.adminDeps.queue, send } });

const edit = (deps: AdminDeps, recordId: string) =>
  patchRecord(deps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId }, body: { data: { title: 'local title' } } }));

async function expectAsBefore(before: { etag?: string; data: Record<string, unknown> }): Promise<void> {
  const [now] = await records(t, 'a1');
  if (before.etag !== undefined) expect(now?.etag).toBe(before.etag);
  expect(now?.data).toEqual(before.data);
  expect(now?.local).toBeUndefined();
}

/** Deliver every queued push to the real worker: none may reach the provider or leave a pending change. */
async function deliverPushes(): Promise<string[]> {
  const outcomes: string[] = [];
  for (const m of t.queue.peek(QUEUES.syncOutbound)) {
    outcomes.push((await handleOutbound(t.services.outboundDeps, m.body, { messageId: m.messageId, deliveryCount: 1 })).kind);
  }
  return outcomes;
}

test('the queue refusing the push: 503, the record exactly as it was, nothing queued', async () => {
  const before = await setup();
  await t.queue.close();
  const res = await edit(t.services.adminDeps, before.id);
  expect(res).toEqual({ status: 503, jsonBody: { error: 'unavailable', reason: 'A dependency failed; retry later' } });
  await expectAsBefore(before);
});

test('a push enqueued but not acknowledged (the client saw an error): 503, the record as it was, and the push finds nothing to send', async () => {
  const before = await setup();
  const real = t.services.adminDeps.queue;
  const res = await edit(withQueue(async (queue: Parameters<QueueSender['send']>[0], m: OutgoingMessage) => {
    await real.send(queue, m);
    throw new Error('ETIMEDOUT waiting for the send acknowledgement');
  }), before.id);
  expect(res.status).toBe(503);
  await expectAsBefore(before);
  expect(await deliverPushes()).toEqual(['superseded']);
  expect(d.pushes).toHaveLength(0);
  await expectAsBefore({ data: before.data });
});

test('a worker that takes the push before its write lands fences the record: the write is refused (409 conflict) and nothing is pushed or left pending', async () => {
  const before = await setup();
  const real = t.services.adminDeps.queue;
  const outcomes: string[] = [];
  const res = await edit(withQueue(async (queue: Parameters<QueueSender['send']>[0], m: OutgoingMessage) => {
    await real.send(queue, m);
    // As if the outbound worker picked the message up at once, before the API wrote the record.
    outcomes.push((await handleOutbound(t.services.outboundDeps, m.body, { messageId: m.messageId, deliveryCount: 1 })).kind);
  }), before.id);
  expect(outcomes).toEqual(['superseded']);
  expect(res).toEqual({ status: 409, jsonBody: { error: 'conflict', reason: 'The resource changed concurrently; read it again and retry' } });
  await expectAsBefore({ data: before.data });
  expect(d.pushes).toHaveLength(0);

  // Retried the ordinary way, the edit is written and its push goes through the usual pull-first wait.
  const again = await edit(t.services.adminDeps, before.id);
  expect(again.status).toBe(202);
  const [pending] = await records(t, 'a1');
  expect(pending?.local?.data.title).toBe('local title');
  const push = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === pending?.local?.idempotencyKey);
  expect(push?.state).toBe('scheduled');
  expect(await handleOutbound(t.services.outboundDeps, push?.body, { messageId: push!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'rescheduled' });
});

test('the store going down between the enqueue and the write (Cosmos-protocol server cut off): 5xx, and once it is back the record is as it was and the push sends nothing', async () => {
  const cosmos = await relayedCosmos();
  try {
    const before = await setup({ store: cosmos.store });
    const real = t.services.adminDeps.queue;
    const res = await edit(withQueue(async (queue: Parameters<QueueSender['send']>[0], m: OutgoingMessage) => {
      await real.send(queue, m);
      // The store stops answering right after the push is queued: the write that follows fails.
      await cosmos.stop();
    }), before.id);
    expect(res.status).toBe(503);
    await cosmos.resume();
    await expectAsBefore(before);
    expect(await deliverPushes()).toEqual(['superseded']);
    expect(d.pushes).toHaveLength(0);
    await expectAsBefore({ data: before.data });
  } finally {
    await t.cleanup();
    t = await embeddedServices(); // afterEach cleans up this one
    await cosmos.close();
  }
}, 60_000);

test('resolving a conflict with the queue refusing the push: 503, the conflict still open and the record as it was', async () => {
  const before = await setup();
  await fakeIntegration(t, 'a1', datasetName, { conflictStrategy: 'manual' });
  expect((await edit(t.services.adminDeps, before.id)).status).toBe(202);
  d.records[0] = item(1, '2026-01-01T00:30:00.000Z', {}, { title: 'provider title' });
  await t.services.repos.putIntegration({ ...(await t.services.repos.getIntegration('acme', 'a1'))!, cursor: { offset: 0 } });
  await new Promise((r) => setTimeout(r, 3)); // a pull strictly after the edit
  await runPullSync(t.services.syncDeps, pullJob('a1'), message());
  const conflict = await t.services.repos.getConflict('acme', before.id);
  expect(conflict?.status).toBe('open');
  const [held] = await records(t, 'a1');

  const res = await resolveConflict(
    withQueue(() => Promise.reject(new Error('queue unavailable'))),
    apiRequest({ method: 'POST', params: { tenantId: 'acme', conflictId: before.id }, body: { pick: 'local' } }),
  );
  expect(res.status).toBe(503);
  expect((await t.services.repos.getConflict('acme', before.id))?.status).toBe('open');
  const [after] = await records(t, 'a1');
  expect(after?.etag).toBe(held?.etag);
  expect(after?.local?.idempotencyKey).toBe(held?.local?.idempotencyKey);
});
