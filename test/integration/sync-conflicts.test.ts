import { listConflicts, resolveConflict } from '../../shared/api/conflicts';
import { patchRecord } from '../../shared/api/local-changes';
import { QUEUES } from '../../shared/messaging/names';
import { outboundJobSchema, syncJobSchema } from '../../shared/messaging/messages';
import { handleOutbound } from '../../shared/sync/outbound';
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

/** Sync once, edit record 1 locally through the API, then change it at the provider too. */
async function conflictSetup(strategy: string, providerMinute = 30): Promise<{ recordId: string }> {
  d = dataset(`c-${strategy}`, [item(1, ts(1)), item(2, ts(2))]);
  await fakeIntegration(t, 'c1', `c-${strategy}`, { conflictStrategy: strategy });
  await runPullSync(t.services.syncDeps, pullJob('c1'), message());
  const [one] = await records(t, 'c1');
  const edit = await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: one!.id }, body: { data: { title: 'local title' } } }));
  expect(edit.status).toBe(202);
  d.records[0] = item(1, ts(providerMinute), {}, { title: 'provider title' });
  await t.services.repos.putIntegration({ ...(await t.services.repos.getIntegration('acme', 'c1'))!, cursor: { offset: 0 } });
  return { recordId: one!.id };
}

async function syncAgain(runId: string) {
  // Pulls are compared with local edits by millisecond timestamps: start this one strictly later.
  await new Promise((r) => setTimeout(r, 3));
  const outcome = await runPullSync(t.services.syncDeps, pullJob('c1', { runId }), message());
  expect(outcome.kind).toBe('succeeded');
  return (await t.services.repos.getRun('acme', runId))!;
}

test('an admin edit becomes a pending local change and one queued outbound message', async () => {
  const { recordId } = await conflictSetup('provider-wins');
  const [msg] = t.queue.peek(QUEUES.syncOutbound);
  expect(outboundJobSchema.parse(msg?.body)).toMatchObject({ op: 'update', recordId, entityType: 'item', payload: { title: 'local title' } });
  const stored = (await records(t, 'c1'))[0];
  expect(stored?.local?.data.title).toBe('local title');
  expect(stored?.data.title).toBe('item 1');
});

test('provider-wins: the provider version is stored and the local change dropped (its push is then superseded)', async () => {
  await conflictSetup('provider-wins');
  const run = await syncAgain('run-pw');
  expect(run.counts.conflicts).toBe(1);
  const [one] = await records(t, 'c1');
  expect(one?.data.title).toBe('provider title');
  expect(one?.local).toBeUndefined();
  const [msg] = t.queue.peek(QUEUES.syncOutbound);
  expect(await handleOutbound(t.services.outboundDeps, msg?.body, { messageId: msg!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'superseded' });
  expect(d.pushes).toHaveLength(0);
});

test('local-wins: the local change stays pending and is pushed over the provider version', async () => {
  await conflictSetup('local-wins');
  const run = await syncAgain('run-lw');
  expect(run.counts.conflicts).toBe(1);
  const [one] = await records(t, 'c1');
  expect(one?.local?.data.title).toBe('local title');
  const [msg] = t.queue.peek(QUEUES.syncOutbound);
  expect(await handleOutbound(t.services.outboundDeps, msg?.body, { messageId: msg!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'pushed', externalId: '1' });
  expect(d.pushes.map((p) => [p.op, p.externalId, p.payload.title])).toEqual([['update', '1', 'local title']]);
  const [after] = await records(t, 'c1');
  expect(after?.data.title).toBe('local title');
  expect(after?.local).toBeUndefined();
  expect(after?.pushedVersion).toBe('v1');
});

test('newest-wins: the later of the local edit and the provider change wins', async () => {
  // The provider's change (2030) is newer than the local edit (now): provider wins.
  await conflictSetup('newest-wins', 60 * 24 * 365 * 4);
  await syncAgain('run-nw1');
  expect((await records(t, 'c1'))[0]?.data.title).toBe('provider title');
  expect((await records(t, 'c1'))[0]?.local).toBeUndefined();
});

test('newest-wins: a local edit newer than the provider change is kept', async () => {
  await conflictSetup('newest-wins', 30); // provider changed in 2026-01-01, the local edit is later
  await syncAgain('run-nw2');
  expect((await records(t, 'c1'))[0]?.local?.data.title).toBe('local title');
});

test('manual: a conflict record is parked, the record left alone, and an admin resolves it by merging fields', async () => {
  const { recordId } = await conflictSetup('manual');
  d.records[0] = item(1, ts(30), {}, { title: 'provider title', colour: 'red' });
  const run = await syncAgain('run-m');
  expect(run.counts.conflicts).toBe(1);
  const [one] = await records(t, 'c1');
  expect(one?.data.title).toBe('item 1');
  expect(one?.local?.data.title).toBe('local title');

  // The original push waits for the admin instead of overwriting the provider's change.
  const original = t.queue.peek(QUEUES.syncOutbound)[0];
  expect(await handleOutbound(t.services.outboundDeps, original?.body, { messageId: original!.messageId, deliveryCount: 1 })).toEqual({
    kind: 'superseded',
    reason: 'an open conflict waits for an admin',
  });
  expect(d.pushes).toHaveLength(0);

  const list = await listConflicts(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' }, query: { status: 'open' } }));
  const items = (list.jsonBody as { items: { id: string; local: { data: unknown }; provider: { data: unknown } }[] }).items;
  expect(items).toHaveLength(1);
  expect(items[0]).toMatchObject({ id: recordId, local: { data: { title: 'local title' } }, provider: { data: { title: 'provider title', colour: 'red' } } });

  const bad = await resolveConflict(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', conflictId: recordId }, body: { pick: 'both' } }));
  expect(bad.status).toBe(400);
  const res = await resolveConflict(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', conflictId: recordId }, body: { merge: { title: 'local' } } }));
  expect(res).toMatchObject({ status: 200, jsonBody: { status: 'resolved', resolution: 'merge', pushQueued: true } });
  const again = await resolveConflict(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', conflictId: recordId }, body: { pick: 'provider' } }));
  expect(again.status).toBe(409);

  const merged = t.queue.peek(QUEUES.syncOutbound).map((m) => outboundJobSchema.parse(m.body)).find((j) => j.idempotencyKey.startsWith('resolve-'));
  // A patch: only the field taken from the local side (the provider holds the rest).
  expect(merged?.payload).toEqual({ title: 'local title' });
  const mergedMsg = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === merged?.idempotencyKey);
  // The merge is newer than the last pull: the push first asks for one, then goes out.
  expect(await handleOutbound(t.services.outboundDeps, mergedMsg?.body, { messageId: mergedMsg!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'rescheduled' });
  await syncAgain('run-m-after');
  expect(await handleOutbound(t.services.outboundDeps, mergedMsg?.body, { messageId: mergedMsg!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'pushed' });
  expect((await records(t, 'c1'))[0]?.data).toEqual({ id: 1, title: 'local title', colour: 'red' });
});

test('manual: picking the provider side takes its version and queues nothing', async () => {
  const { recordId } = await conflictSetup('manual');
  await syncAgain('run-m2');
  const before = t.queue.depth(QUEUES.syncOutbound);
  const res = await resolveConflict(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', conflictId: recordId }, body: { pick: 'provider' } }));
  expect(res.jsonBody).toMatchObject({ resolution: 'provider', pushQueued: false });
  expect(t.queue.depth(QUEUES.syncOutbound)).toBe(before);
  const [one] = await records(t, 'c1');
  expect(one?.data.title).toBe('provider title');
  expect(one?.local).toBeUndefined();
});

test('a push waits for a pull after its local change; a provider change that pull finds is settled by the strategy, not overwritten', async () => {
  d = dataset('pf', [item(1, ts(1))]);
  await fakeIntegration(t, 'c1', 'pf', { conflictStrategy: 'provider-wins' });
  await runPullSync(t.services.syncDeps, pullJob('c1'), message());
  const [one] = await records(t, 'c1');
  await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: one!.id }, body: { data: { title: 'local title' } } }));
  const [push] = t.queue.peek(QUEUES.syncOutbound);
  // Nothing has looked at the provider since the edit: the push asks for a pull and waits.
  expect(await handleOutbound(t.services.outboundDeps, push?.body, { messageId: push!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'rescheduled' });
  const pull = t.queue.peek(QUEUES.syncInbound).find((m) => m.messageId.startsWith('prepush:'));
  expect(pull?.body).toMatchObject({ type: 'sync.pull', integrationId: 'c1' });
  // Meanwhile the provider changed the record: the pull sees it, and provider-wins drops the local change.
  d.records[0] = item(1, ts(30), {}, { title: 'provider title' });
  await t.services.repos.putIntegration({ ...(await t.services.repos.getIntegration('acme', 'c1'))!, cursor: { offset: 0 } });
  expect((await runPullSync(t.services.syncDeps, syncJobSchema.parse(pull?.body), { messageId: pull!.messageId, deliveryCount: 1 })).kind).toBe('succeeded');
  const waited = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId.endsWith(':defer:1'));
  expect(await handleOutbound(t.services.outboundDeps, waited?.body, { messageId: waited!.messageId, deliveryCount: 1 })).toMatchObject({ kind: 'superseded' });
  expect(d.pushes).toHaveLength(0);
  expect((await records(t, 'c1'))[0]?.data.title).toBe('provider title');
});
