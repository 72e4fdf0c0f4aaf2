import { putIntegration } from '../../shared/api/integrations';
import { cancelRun, listRuns, postSync } from '../../shared/api/runs';
import { PHASES } from '../../shared/domain/types';
import { QUEUES } from '../../shared/messaging/names';
import { syncJobSchema } from '../../shared/messaging/messages';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices, message, pullJob, records } from '../helpers/engine';
import { dataset, item } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
beforeEach(async () => { t = await fakeServices(); });
afterEach(async () => { await t.cleanup(); });

const ts = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

test('a run records all ten phases with times, and its counts, as the API returns it', async () => {
  dataset('phases', Array.from({ length: 25 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'p1', 'phases');
  const outcome = await runPullSync(t.services.syncDeps, pullJob('p1'), message());
  expect(outcome.kind).toBe('succeeded');
  const res = await listRuns(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme', integrationId: 'p1' } }));
  const [run] = (res.jsonBody as { items: Record<string, unknown>[] }).items;
  expect(run).toMatchObject({ status: 'succeeded', phase: 'completing', counts: { fetched: 25, created: 25, updated: 0, unchanged: 0, deleted: 0, invalid: 0, conflicts: 0 } });
  const phases = run?.phases as { name: string; status: string; startedAt?: string; finishedAt?: string }[];
  expect(phases.map((p) => p.name)).toEqual([...PHASES]);
  for (const p of phases) {
    expect([p.name, p.status]).toEqual([p.name, 'done']);
    expect(Date.parse(p.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(p.startedAt ?? ''));
  }
});

test('a live run shows its current phase and counts so far', async () => {
  const d = dataset('live', Array.from({ length: 30 }, (_, i) => item(i, ts(i))));
  d.failAt = { page: 2, times: 1, error: 'retryable' };
  await fakeIntegration(t, 'live', 'live');
  const outcome = await runPullSync(t.services.syncDeps, pullJob('live', { runId: 'run-live' }), message());
  expect(outcome.kind).toBe('rescheduled');
  const run = await t.services.repos.getRun('acme', 'run-live');
  // Two pages persisted before the failure: the run shows them, and is waiting for its retry.
  expect(run?.counts.fetched).toBe(20);
  expect(run?.status).toBe('queued');
  expect(run?.phases.find((p) => p.name === 'persisting')?.status).toBe('running');
  expect(run?.phases.find((p) => p.name === 'completing')?.status).toBe('pending');
});

test('mappings transform provider data; invalid records are counted with reasons and never stored', async () => {
  dataset('mapped', [item(1, ts(1), {}, { owner: { login: 'ada' } }), item(2, ts(2)), item(3, ts(3), {}, { owner: { login: 7 } })]);
  await fakeIntegration(t, 'm1', 'mapped', {
    mappings: { item: { name: { from: 'title', type: 'string', required: true }, owner: { from: 'owner.login', type: 'string', required: true } } },
  });
  const outcome = await runPullSync(t.services.syncDeps, pullJob('m1', { runId: 'run-m' }), message());
  expect(outcome.kind).toBe('succeeded');
  const stored = await records(t, 'm1');
  expect(stored.map((r) => [r.externalId, r.data])).toEqual([['1', { name: 'item 1', owner: 'ada' }]]);
  const run = await t.services.repos.getRun('acme', 'run-m');
  expect(run?.counts).toMatchObject({ fetched: 3, created: 1, invalid: 2 });
  expect(run?.invalid).toEqual([
    { entityType: 'item', externalId: '2', reason: 'owner (from owner.login) is required' },
    { entityType: 'item', externalId: '3', reason: 'owner (from owner.login) is not a string' },
  ]);
});

test('a bad mapping or shard map is refused when the integration is saved', async () => {
  dataset('x', []);
  await fakeIntegration(t, 'x1', 'x');
  const put = (extra: Record<string, unknown>) =>
    putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 'x1' }, body: { provider: 'fake', config: { dataset: 'x' }, credentials: { type: 'token', token: 't' }, ...extra } }));
  expect((await put({ mappings: { item: { name: { from: 'a..b' } } } })).status).toBe(400);
  expect((await put({ mappings: { item: {} } })).status).toBe(400);
  expect((await put({ mappings: { item: { name: { from: 'title', type: 'text' } } } })).status).toBe(400);
  expect((await put({ shardMap: { item: 'records-nowhere' } })).status).toBe(400);
  expect((await put({ conflictStrategy: 'coin-flip' })).status).toBe(400);
  expect((await put({ schedule: { cron: '0 0 * * *' } })).status).toBe(400);
  expect((await put({ schedule: { cron: '0 15 * * * *' }, shardMap: { item: 'records-activity' } })).status).toBe(200);
});

test('records route to the shard their entity type maps to, partitioned by tenant', async () => {
  dataset('sharded', [item(1, ts(1)), item(2, ts(2), { entityType: 'note' }), item(3, ts(3))]);
  await fakeIntegration(t, 's1', 'sharded', { shardMap: { note: 'records-content' } });
  await runPullSync(t.services.syncDeps, pullJob('s1'), message());
  const stored = await records(t, 's1');
  expect(stored.map((r) => [r.externalId, r.shard, r.tenantId])).toEqual([
    ['1', 'records', 'acme'],
    ['2', 'records-content', 'acme'],
    ['3', 'records', 'acme'],
  ]);
});

test('duplicates inside a page and across overlapping windows collapse to one record, unchanged ones are not rewritten', async () => {
  const d = dataset('dups', [item(1, ts(1)), item(1, ts(2), {}, { title: 'newer' }), item(2, ts(2))], 10);
  await fakeIntegration(t, 'd1', 'dups');
  await runPullSync(t.services.syncDeps, pullJob('d1'), message());
  const first = await records(t, 'd1');
  expect(first.map((r) => [r.externalId, r.data.title])).toEqual([['1', 'newer'], ['2', 'item 2']]);
  // The next window overlaps: the provider sends the last two again.
  d.records = [item(1, ts(2), {}, { title: 'newer' }), item(2, ts(2)), item(3, ts(3))];
  await t.services.repos.putIntegration({ ...(await t.services.repos.getIntegration('acme', 'd1'))!, cursor: { offset: 0 } });
  const second = await runPullSync(t.services.syncDeps, pullJob('d1', { runId: 'run-d2' }), message());
  expect(second.kind).toBe('succeeded');
  const run = await t.services.repos.getRun('acme', 'run-d2');
  expect(run?.counts).toMatchObject({ fetched: 3, created: 1, updated: 0, unchanged: 2 });
  const after = await records(t, 'd1');
  expect(after.filter((r) => r.externalId !== '3').map((r) => r.etag)).toEqual(first.map((r) => r.etag));
});

test('deletions are soft and applied only when the run completes; a failed run deletes nothing', async () => {
  const d = dataset('del', Array.from({ length: 30 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'del1', 'del');
  await runPullSync(t.services.syncDeps, pullJob('del1'), message());
  // A full resync in which item 3 comes back as a tombstone, and page 3 then fails for good.
  d.records[3] = item(3, ts(40), { deleted: true });
  d.failAt = { page: 2, times: 99, error: 'retryable' };
  let job = pullJob('del1', { runId: 'run-del', full: true });
  for (;;) {
    const outcome = await runPullSync(t.services.syncDeps, job, message());
    if (outcome.kind !== 'rescheduled') break;
    const next = t.queue.peek(QUEUES.syncInbound).find((m) => (m.body as { runId?: string }).runId === 'run-del' && (m.body as { attempt?: number }).attempt === (job.attempt ?? 0) + 1);
    job = syncJobSchema.parse(next?.body);
  }
  expect((await t.services.repos.getRun('acme', 'run-del'))?.status).toBe('failed');
  expect((await records(t, 'del1')).find((r) => r.externalId === '3')?.deleted).toBe(false);

  // The provider recovers: the next run completes and applies the delete, softly.
  delete d.failAt;
  const ok = await runPullSync(t.services.syncDeps, pullJob('del1', { runId: 'run-del-2', full: true }), message());
  expect(ok.kind).toBe('succeeded');
  const three = (await records(t, 'del1')).find((r) => r.externalId === '3');
  expect(three?.deleted).toBe(true);
  expect(three?.data.title).toBe('item 3');
  expect((await t.services.repos.getRun('acme', 'run-del-2'))?.counts.deleted).toBe(1);
});

test('a run over its time budget stops at a page boundary and continues itself to the same result', async () => {
  const budget = await fakeServices({ SYNC_TIME_BUDGET_SECONDS: '1' });
  try {
    dataset('long', Array.from({ length: 40 }, (_, i) => item(i, ts(i))));
    await fakeIntegration(budget, 'long1', 'long');
    const deps = { ...budget.services.syncDeps, timeBudgetMs: 0 };
    let job = pullJob('long1', { runId: 'run-long' });
    let invocations = 0;
    for (;;) {
      invocations++;
      const outcome = await runPullSync(deps, job, message());
      if (outcome.kind !== 'continued') {
        expect(outcome.kind).toBe('succeeded');
        break;
      }
      const [next] = budget.queue.peek(QUEUES.syncInbound).filter((m) => (m.body as { continuations?: number }).continuations === (job.continuations ?? 0) + 1);
      job = syncJobSchema.parse(next?.body);
    }
    expect(invocations).toBe(4);
    expect((await records(budget, 'long1')).map((r) => r.externalId)).toEqual(Array.from({ length: 40 }, (_, i) => String(i)));
    expect((await budget.services.repos.getRun('acme', 'run-long'))?.counts).toMatchObject({ fetched: 40, created: 40 });
  } finally {
    await budget.cleanup();
  }
});

test('a full resync resets the cursor, keeps records and does not rewrite unchanged ones', async () => {
  const d = dataset('full', Array.from({ length: 15 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'f1', 'full');
  await runPullSync(t.services.syncDeps, pullJob('f1'), message());
  const before = await records(t, 'f1');
  const requestsBefore = d.requests;
  const full = await runPullSync(t.services.syncDeps, pullJob('f1', { runId: 'run-full', full: true }), message());
  expect(full.kind).toBe('succeeded');
  expect(d.requests - requestsBefore).toBe(2); // both pages again, from offset 0
  expect((await t.services.repos.getRun('acme', 'run-full'))?.counts).toMatchObject({ fetched: 15, unchanged: 15, created: 0, updated: 0 });
  expect((await records(t, 'f1')).map((r) => r.etag)).toEqual(before.map((r) => r.etag));
});

test('the same job delivered twice at once makes one run and one set of writes', async () => {
  dataset('twice', Array.from({ length: 30 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'tw', 'twice');
  let recordWrites = 0;
  const store = t.services.adapters.store;
  const upsert = store.upsert.bind(store);
  store.upsert = (container, doc, options) => {
    if (container.startsWith('records')) recordWrites++;
    return upsert(container, doc, options);
  };
  const m = message();
  const outcomes = await Promise.all([runPullSync(t.services.syncDeps, pullJob('tw'), m), runPullSync(t.services.syncDeps, pullJob('tw'), m)]);
  expect(outcomes.map((o) => o.kind).sort()).toEqual(['rescheduled', 'succeeded']);
  expect(recordWrites).toBe(30);
  const runs = await t.services.repos.listRuns('acme', 'tw', 10);
  expect(runs.items).toHaveLength(1);
  // The rescheduled copy finds the run finished and does nothing.
  const [retry] = t.queue.peek(QUEUES.syncInbound);
  expect(await runPullSync(t.services.syncDeps, syncJobSchema.parse(retry?.body), message())).toEqual({ kind: 'skipped', reason: 'run already finished (redelivery)' });
  expect(recordWrites).toBe(30);
});

test('an admin cancels a running run: it stops at the next page boundary, keeps what it stored, deletes nothing', async () => {
  const d = dataset('cancel', Array.from({ length: 50 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'cx', 'cancel');
  await runPullSync(t.services.syncDeps, pullJob('cx'), message());
  d.records[45] = item(45, ts(50), { deleted: true });
  const params = { tenantId: 'acme', integrationId: 'cx', runId: 'run-cancel-me' };
  d.onPage = async (page) => {
    if (page !== 2) return;
    const res = await cancelRun(t.services.adminDeps, apiRequest({ method: 'POST', params }));
    expect(res).toMatchObject({ status: 202, jsonBody: { status: 'cancelling' } });
  };
  const outcome = await runPullSync(t.services.syncDeps, pullJob('cx', { runId: 'run-cancel-me', full: true }), message());
  expect(outcome).toEqual({ kind: 'cancelled', runId: 'run-cancel-me' });
  const run = await t.services.repos.getRun('acme', 'run-cancel-me');
  expect(run?.status).toBe('cancelled');
  expect(run?.counts.fetched).toBeLessThan(50);
  expect((await records(t, 'cx')).find((r) => r.externalId === '45')?.deleted).toBe(false);
  expect((await cancelRun(t.services.adminDeps, apiRequest({ method: 'POST', params }))).status).toBe(409);
});

test('cancelling a queued run marks it cancelled at once, and its message then does nothing', async () => {
  dataset('cq', [item(1, ts(1))]);
  await fakeIntegration(t, 'cq', 'cq');
  const sync = await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'cq' } }));
  const { runId } = sync.jsonBody as { runId: string };
  const res = await cancelRun(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'cq', runId } }));
  expect(res.jsonBody).toMatchObject({ status: 'cancelled' });
  const [queued] = t.queue.peek(QUEUES.syncInbound);
  expect(await runPullSync(t.services.syncDeps, syncJobSchema.parse(queued?.body), message())).toEqual({ kind: 'skipped', reason: 'run already finished (redelivery)' });
  expect(await records(t, 'cq')).toHaveLength(0);
  expect((await cancelRun(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'cq', runId: 'run-nope' } }))).status).toBe(404);
});
