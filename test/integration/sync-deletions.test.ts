/**
 * Deletions are never lost (issue 10, point 1). The fake provider is a change
 * log read by offset (the cursor), so an incremental run reads only what was
 * appended since the last one, like a `since` cursor; every appended page
 * carries tombstones. A run that fails or is cancelled part-way must apply
 * nothing and report 0 deleted, and the next run must apply every deletion
 * exactly once; a run's staged deletions never make one giant document.
 */
import { cancelRun } from '../../shared/api/runs';
import { recordId } from '../../shared/domain/ids';
import type { SyncRun } from '../../shared/domain/types';
import { syncJobSchema, type SyncJob } from '../../shared/messaging/messages';
import { QUEUES } from '../../shared/messaging/names';
import type { NormalizedRecord } from '../../shared/providers/types';
import { CONTAINERS } from '../../shared/storage/names';
import type { SyncDeps } from '../../shared/sync/deps';
import { MAX_DELETES_PER_CHUNK } from '../../shared/sync/deletions';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { driveRun } from '../helpers/drive';
import { fakeIntegration, fakeServices, message, pullJob, records } from '../helpers/engine';
import { dataset, item } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
beforeEach(async () => { t = await fakeServices(); });
afterEach(async () => { await t.cleanup(); });

const ts = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

const drive = (deps: SyncDeps, first: SyncJob, q = t.queue): ReturnType<typeof driveRun> => driveRun(deps, q, first);

const run = async (runId: string): Promise<SyncRun | undefined> => t.services.repos.getRun('acme', runId);

/** `pages` pages of 10 appended to the log: in each, 4 tombstones of live items and 6 edits. */
function changes(pages: number, minute: number): { log: NormalizedRecord[]; deleted: string[] } {
  const log: NormalizedRecord[] = [];
  const deleted: string[] = [];
  for (let p = 0; p < pages; p++) {
    for (let k = 0; k < 10; k++) {
      const id = p * 10 + k;
      if (k < 4) {
        log.push(item(id, ts(minute + p), { deleted: true }));
        deleted.push(String(id));
      } else {
        log.push(item(id, ts(minute + p), {}, { title: `edited ${id}` }));
      }
    }
  }
  return { log, deleted };
}

async function deletedIds(integrationId: string): Promise<string[]> {
  return (await records(t, integrationId)).filter((r) => r.deleted).map((r) => r.externalId);
}

test('a run failing mid-way over and over applies no deletion and reports 0; the next run applies every one, once', async () => {
  const d = dataset('fail-mid', Array.from({ length: 60 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'fm', 'fail-mid');
  expect((await drive(t.services.syncDeps, pullJob('fm'))).outcome.kind).toBe('succeeded');

  // Six new pages, each with deletions; the provider then fails on the fourth of them, through every retry.
  const { log, deleted } = changes(6, 100);
  d.records.push(...log);
  d.failAt = { page: 9, times: 99, error: 'retryable' };
  const failed = await drive(t.services.syncDeps, pullJob('fm', { runId: 'run-fm-failing' }));
  expect(failed.outcome.kind).toBe('failed');
  expect(failed.invocations).toBe(4);
  expect((await run('run-fm-failing'))?.counts).toMatchObject({ fetched: 30, deleted: 0 });
  expect(await deletedIds('fm')).toEqual([]);
  // The next run starts before the first page that carried a deletion, not after the pages this one read.
  expect((await t.services.repos.getIntegration('acme', 'fm'))?.cursor).toEqual({ offset: 60 });

  // The provider recovers.
  delete d.failAt;
  expect((await drive(t.services.syncDeps, pullJob('fm', { runId: 'run-fm-recovered' }))).outcome.kind).toBe('succeeded');
  expect((await run('run-fm-recovered'))?.counts).toMatchObject({ fetched: 60, deleted: 24 });
  expect(await deletedIds('fm')).toEqual(deleted);
  const stored = await records(t, 'fm');
  expect(stored.filter((r) => !r.deleted && Number(r.externalId) % 10 >= 4).every((r) => r.data.title === `edited ${r.externalId}`)).toBe(true);

  expect((await drive(t.services.syncDeps, pullJob('fm', { runId: 'run-fm-after' }))).outcome.kind).toBe('succeeded');
  expect((await run('run-fm-after'))?.counts.deleted).toBe(0);
  // Nothing of the staged deletions is left behind once the runs have ended.
  for (const runId of ['run-fm-failing', 'run-fm-recovered']) expect(await t.services.repos.getStagedDeletes('acme', runId, 0)).toBeUndefined();
});

test('an admin cancels a run mid-way: it applies and reports no deletion, and the next run applies every one, once', async () => {
  const d = dataset('cancel-mid', Array.from({ length: 60 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'cm', 'cancel-mid');
  expect((await drive(t.services.syncDeps, pullJob('cm'))).outcome.kind).toBe('succeeded');

  const { log, deleted } = changes(6, 100);
  d.records.push(...log);
  const params = { tenantId: 'acme', integrationId: 'cm', runId: 'run-cm-cancelled' };
  d.onPage = async (page) => {
    if (page === 9) expect((await cancelRun(t.services.adminDeps, apiRequest({ method: 'POST', params }))).status).toBe(202);
  };
  const cancelled = await drive(t.services.syncDeps, pullJob('cm', { runId: 'run-cm-cancelled' }));
  delete d.onPage;
  expect(cancelled.outcome.kind).toBe('cancelled');
  const stopped = await run('run-cm-cancelled');
  expect(stopped?.counts.fetched).toBeGreaterThanOrEqual(30);
  expect(stopped?.counts.deleted).toBe(0);
  expect(await deletedIds('cm')).toEqual([]);

  expect((await drive(t.services.syncDeps, pullJob('cm', { runId: 'run-cm-next' }))).outcome.kind).toBe('succeeded');
  expect((await run('run-cm-next'))?.counts.deleted).toBe(24);
  expect(await deletedIds('cm')).toEqual(deleted);
});

test('a tombstone followed later in the same run by a newer live version does not delete the record', async () => {
  const d = dataset('restored', Array.from({ length: 20 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'rs', 'restored');
  expect((await drive(t.services.syncDeps, pullJob('rs'))).outcome.kind).toBe('succeeded');
  // Page 2 trashes items 3, 4 and 5; page 3 brings item 3 back edited, and item 5 back exactly as it was.
  d.records.push(item(3, ts(100), { deleted: true }), item(4, ts(100), { deleted: true }), item(5, ts(100), { deleted: true }), ...Array.from({ length: 7 }, (_, i) => item(10 + i, ts(100), {}, { title: 'edited' })));
  d.records.push(item(3, ts(101), {}, { title: 'restored' }), item(5, ts(101)));
  expect((await drive(t.services.syncDeps, pullJob('rs', { runId: 'run-rs' }))).outcome.kind).toBe('succeeded');
  expect(await deletedIds('rs')).toEqual(['4']);
  const stored = await records(t, 'rs');
  expect(stored.find((r) => r.externalId === '3')?.data.title).toBe('restored');
  // Same content, newer version: kept, with the provider's newer time.
  expect(stored.find((r) => r.externalId === '5')).toMatchObject({ deleted: false, updatedAt: ts(101), data: { title: 'item 5' } });
  expect((await run('run-rs'))?.counts).toMatchObject({ deleted: 1, updated: 8 });
});

test('100k deletions in one run are staged in bounded chunks, never one giant document, and all applied once', async () => {
  const n = 100_000;
  const d = dataset('huge', Array.from({ length: n }, (_, i) => item(i, ts(0))), 5_000);
  await fakeIntegration(t, 'hg', 'huge');
  expect((await drive(t.services.syncDeps, pullJob('hg'))).outcome.kind).toBe('succeeded');

  d.records.push(...Array.from({ length: n }, (_, i) => item(i, ts(1), { deleted: true })));
  let largest = 0;
  const store = t.services.adapters.store;
  const upsert = store.upsert.bind(store);
  store.upsert = (container, doc, options) => {
    if (container === CONTAINERS.runs) largest = Math.max(largest, Buffer.byteLength(JSON.stringify(doc)));
    return upsert(container, doc, options);
  };
  const { outcome } = await drive(t.services.syncDeps, pullJob('hg', { runId: 'run-hg' }));
  expect(outcome.kind).toBe('succeeded');
  // A chunk of MAX_DELETES_PER_CHUNK entries is ~130 KB; Cosmos refuses items over 2 MB.
  expect(largest).toBeLessThan(256 * 1024);
  expect((await run('run-hg'))?.counts).toMatchObject({ fetched: n, deleted: n });
  expect(MAX_DELETES_PER_CHUNK).toBeLessThanOrEqual(1000);
  // Every record is deleted (point reads: listing 100k records from the in-memory store would dominate the test).
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => t.services.repos.getRecord('acme', recordId('acme', 'hg', 'item', String(i)))));
  expect(ids.filter((r) => r?.deleted !== true)).toEqual([]);
}, 120_000);

test('applying many deletions stops at the time budget between chunks and continues, without re-reading the provider', async () => {
  const budget = await fakeServices({ SYNC_TIME_BUDGET_SECONDS: '1' });
  try {
    const d = dataset('slow-apply', Array.from({ length: 2_400 }, (_, i) => item(i, ts(0))), 1_200);
    await fakeIntegration(budget, 'sa', 'slow-apply');
    const deps = { ...budget.services.syncDeps, timeBudgetMs: 0 };
    expect((await drive(deps, pullJob('sa'), budget.queue)).outcome.kind).toBe('succeeded');
    d.records.push(...Array.from({ length: 2_400 }, (_, i) => item(i, ts(1), { deleted: true })));
    const asked: number[] = [];
    d.onPage = (page) => { asked.push(page); return Promise.resolve(); };
    const { outcome, invocations } = await drive(deps, pullJob('sa', { runId: 'run-sa' }), budget.queue);
    expect(outcome.kind).toBe('succeeded');
    // Two pages (one invocation each; the first one's read-ahead asks for the second too), then
    // four chunks of at most 1,000, one an invocation, with no provider request after the last page.
    expect(new Set(asked)).toEqual(new Set([2, 3]));
    expect(invocations).toBe(5);
    expect((await budget.services.repos.getRun('acme', 'run-sa'))?.counts).toMatchObject({ fetched: 2_400, deleted: 2_400 });
    expect((await records(budget, 'sa')).every((r) => r.deleted)).toBe(true);
  } finally {
    await budget.cleanup();
  }
});

test("a run's own checkpoint is dropped when an admin points the integration at other data meanwhile", async () => {
  const d = dataset('basis-a', Array.from({ length: 30 }, (_, i) => item(i, ts(i))));
  dataset('basis-b', Array.from({ length: 12 }, (_, i) => item(100 + i, ts(i))));
  await fakeIntegration(t, 'bs', 'basis-a');
  d.failAt = { page: 2, times: 1, error: 'retryable' };
  const first = await runPullSync(t.services.syncDeps, pullJob('bs', { runId: 'run-bs' }), message());
  expect(first.kind).toBe('rescheduled');
  expect((await run('run-bs'))?.checkpoint?.cursor).toEqual({ offset: 20 });
  // The admin switches the dataset; the retry must not read the new one from offset 20.
  await fakeIntegration(t, 'bs', 'basis-b');
  const retry = t.queue.peek(QUEUES.syncInbound).find((m) => (m.body as { runId?: string }).runId === 'run-bs');
  expect((await drive(t.services.syncDeps, syncJobSchema.parse(retry?.body))).outcome.kind).toBe('succeeded');
  expect((await records(t, 'bs')).filter((r) => Number(r.externalId) >= 100)).toHaveLength(12);
});
