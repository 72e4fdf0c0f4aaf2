/**
 * Staged deletions under store and Redis faults: the store (a Cosmos-protocol
 * server cut off behind a TCP relay) going down right after a chunk of staged
 * deletions is written, or in the middle of applying them, and Redis paused
 * between chunks (the lease renewal times out). Each time the run is taken up
 * again from its checkpoint and every deletion lands once, counted once.
 */
import { syncJobSchema } from '../../shared/messaging/messages';
import { QUEUES } from '../../shared/messaging/names';
import type { DocumentBase } from '../../shared/storage/port';
import { CONTAINERS } from '../../shared/storage/names';
import { lockKey, runPullSync } from '../../shared/sync/pull';
import { driveRun } from '../helpers/drive';
import { fakeIntegration, pullJob, records } from '../helpers/engine';
import { dataset, item, registryWithFake, type FakeDataset } from '../helpers/fake-provider';
import { PrivateRedis } from '../helpers/private-redis';
import { relayedCosmos } from '../helpers/relayed-cosmos';
import { embeddedServices, type TestServices } from '../helpers/services';

const ts = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

/** 30 records synced, then three pages of 10 with 4 deletions each: three chunks, 12 deletions. */
async function withDeletions(t: TestServices, name: string): Promise<{ d: FakeDataset; deleted: string[] }> {
  const d = dataset(name, Array.from({ length: 30 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, name, name);
  expect((await driveRun(t.services.syncDeps, t.queue, pullJob(name))).outcome.kind).toBe('succeeded');
  const deleted: string[] = [];
  for (let p = 0; p < 3; p++) {
    for (let k = 0; k < 10; k++) {
      const id = p * 10 + k;
      if (k < 4) deleted.push(String(id));
      d.records.push(k < 4 ? item(id, ts(100 + p), { deleted: true }) : item(id, ts(100 + p), {}, { title: `edited ${id}` }));
    }
  }
  return { d, deleted: deleted.sort() };
}

const deletedIds = async (t: TestServices, integrationId: string): Promise<string[]> =>
  (await records(t, integrationId)).filter((r) => r.deleted).map((r) => r.externalId).sort();

describe('store down', () => {
  let cosmos: Awaited<ReturnType<typeof relayedCosmos>>;
  let t: TestServices;
  let upsert: typeof cosmos.store.upsert;
  beforeAll(async () => {
    cosmos = await relayedCosmos();
    upsert = cosmos.store.upsert.bind(cosmos.store);
    t = await embeddedServices({}, { providers: registryWithFake, adapters: { store: cosmos.store } });
  }, 60_000);
  afterAll(async () => {
    await t.cleanup();
    await cosmos.close();
  });
  afterEach(async () => {
    cosmos.store.upsert = upsert;
    await cosmos.resume().catch(() => undefined);
  });

  /** Cut the store off right after (or right before) the write `when` picks. */
  function cutOff(when: (container: string, doc: DocumentBase & Record<string, unknown>) => 'after' | 'before' | undefined): void {
    cosmos.store.upsert = async (container, doc, options) => {
      const moment = when(container, doc as DocumentBase & Record<string, unknown>);
      if (moment === 'before') await cosmos.stop();
      const stored = await upsert(container, doc, options);
      if (moment === 'after') await cosmos.stop();
      return stored;
    };
  }

  test('cut off right after a chunk of staged deletions is written: the page is redone, its chunk rewritten, nothing counted twice', async () => {
    const { deleted } = await withDeletions(t, 'sd-chunk');
    let chunks = 0;
    cutOff((_container, doc) => (doc.type === 'run-deletes' && ++chunks === 2 ? 'after' : undefined));
    const job = pullJob('sd-chunk', { runId: 'run-sd-chunk' });
    const message = { messageId: 'sd-chunk-1', deliveryCount: 1 };
    // Nothing can record the failure either: it escapes, and the host redelivers the message.
    await expect(runPullSync(t.services.syncDeps, job, message)).rejects.toThrow();
    cosmos.store.upsert = upsert;
    await cosmos.resume();
    expect(await deletedIds(t, 'sd-chunk')).toEqual([]);
    expect((await driveRun(t.services.syncDeps, t.queue, job)).outcome.kind).toBe('succeeded');
    expect((await t.services.repos.getRun('acme', 'run-sd-chunk'))?.counts).toMatchObject({ deleted: 12 });
    expect(await deletedIds(t, 'sd-chunk')).toEqual(deleted);
  }, 60_000);

  test('cut off in the middle of applying the deletions: the run resumes at its chunk and counts every deletion once', async () => {
    const { deleted } = await withDeletions(t, 'sd-apply');
    let applied = 0;
    cutOff((container, doc) => (container === CONTAINERS.records && doc.deleted === true && ++applied === 5 ? 'after' : undefined));
    const job = pullJob('sd-apply', { runId: 'run-sd-apply' });
    await expect(runPullSync(t.services.syncDeps, job, { messageId: 'sd-apply-1', deliveryCount: 1 })).rejects.toThrow();
    cosmos.store.upsert = upsert;
    await cosmos.resume();
    // Chunk 0 (4 deletions) was applied and recorded; chunk 1 was half done when the store went.
    const stopped = await t.services.repos.getRun('acme', 'run-sd-apply');
    expect(stopped).toMatchObject({ deleteChunksApplied: 1, counts: { deleted: 4 } });
    expect((await deletedIds(t, 'sd-apply')).length).toBeGreaterThanOrEqual(5);
    expect((await driveRun(t.services.syncDeps, t.queue, job)).outcome.kind).toBe('succeeded');
    expect((await t.services.repos.getRun('acme', 'run-sd-apply'))?.counts).toMatchObject({ deleted: 12 });
    expect(await deletedIds(t, 'sd-apply')).toEqual(deleted);
    // The next run finds nothing left to delete.
    expect((await driveRun(t.services.syncDeps, t.queue, pullJob('sd-apply', { runId: 'run-sd-apply-after' }))).outcome.kind).toBe('succeeded');
    expect((await t.services.repos.getRun('acme', 'run-sd-apply-after'))?.counts.deleted).toBe(0);
  }, 60_000);
});

describe('Redis paused', () => {
  let redis: PrivateRedis;
  let t: TestServices;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
    t = await embeddedServices({ REDIS_URL: redis.url }, { providers: registryWithFake });
  }, 30_000);
  afterAll(async () => {
    redis.resume();
    await t.cleanup();
    await redis.kill();
  });

  test('paused between two chunks of deletions (the lease renewal times out): the run backs off, resumes at the next chunk, counts each once', async () => {
    const { deleted } = await withDeletions(t, 'rd-apply');
    const store = t.services.adapters.store;
    const upsert = store.upsert.bind(store);
    let applied = 0;
    store.upsert = (container, doc, options) => {
      const stored = upsert(container, doc, options);
      // The first chunk's four deletions are written; Redis stalls before its lease is renewed.
      if (container === CONTAINERS.records && (doc as { deleted?: boolean }).deleted === true && ++applied === 4) redis.pause();
      return stored;
    };
    const job = pullJob('rd-apply', { runId: 'run-rd-apply' });
    const first = await runPullSync(t.services.syncDeps, job, { messageId: 'rd-apply-1', deliveryCount: 1 });
    store.upsert = upsert;
    expect(first.kind).toBe('rescheduled');
    expect(await t.services.repos.getRun('acme', 'run-rd-apply')).toMatchObject({ status: 'queued', deleteChunksApplied: 1, counts: { deleted: 4 } });
    redis.resume();
    // The stalled invocation's lease is released in the background once Redis answers again.
    for (let i = 0; i < 100 && (await t.services.adapters.kv.get(lockKey('rd-apply'))) !== undefined; i++) await new Promise((r) => setTimeout(r, 50));

    const retry = t.queue.peek(QUEUES.syncInbound).find((m) => (m.body as { runId?: string }).runId === 'run-rd-apply');
    expect(retry?.body).toMatchObject({ attempt: 1 });
    expect((await driveRun(t.services.syncDeps, t.queue, syncJobSchema.parse(retry?.body))).outcome.kind).toBe('succeeded');
    expect((await t.services.repos.getRun('acme', 'run-rd-apply'))?.counts).toMatchObject({ deleted: 12 });
    expect(await deletedIds(t, 'rd-apply')).toEqual(deleted);
  }, 60_000);
});
