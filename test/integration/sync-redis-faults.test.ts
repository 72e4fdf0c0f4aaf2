/**
 * Sync and apply jobs under Redis faults, through the local host's queue
 * workers and the admin API, against a redis-server this test owns. Every job
 * ends done or parked as a dead letter with a reason the API lists; no run
 * is left queued or running with nothing behind it; a stall leaves no ghost
 * lease; failures back off instead of storming the log. The queue's clock is
 * moved forward to play the 30 s / 2 min / 10 min backoff in seconds.
 */
import Redis from 'ioredis';
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { listDeadLetters, requeueDeadLetter } from '../../shared/api/deadletters';
import { listRuns, postSync } from '../../shared/api/runs';
import { setServices } from '../../shared/composition';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { QUEUES } from '../../shared/messaging/names';
import { enqueueEventRecords } from '../../shared/webhooks/enqueue';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, records } from '../helpers/engine';
import { dataset, item, registryWithFake } from '../helpers/fake-provider';
import { PrivateRedis } from '../helpers/private-redis';
import { embeddedServices, type TestServices } from '../helpers/services';
import { until } from '../helpers/until';

let redis: PrivateRedis;
let t: TestServices;
let host: LocalHost;
let offset = 0;
const queue = new EmbeddedQueue({ now: () => Date.now() + offset });
const ts = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

beforeAll(async () => {
  redis = await PrivateRedis.start();
  t = await embeddedServices({ REDIS_URL: redis.url }, { providers: registryWithFake, adapters: { queue, receiver: queue } });
  setServices(t.services);
  host = await startLocalHost({ definitions: definitions.filter((d) => d.kind !== 'timer'), receiver: queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
}, 30_000);

afterAll(async () => {
  await host.stop();
  await t.cleanup();
  setServices(undefined);
  await redis.kill();
});

type RunView = { id: string; status: string; error: string | null; trigger: string };
async function runs(integrationId: string): Promise<RunView[]> {
  const res = await listRuns(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme', integrationId }, query: { limit: '50' } }));
  return (res.jsonBody as { items: RunView[] }).items;
}
async function deadLetters(): Promise<{ id: string; reason: string; description: string }[]> {
  const res = await listDeadLetters(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' } }));
  return (res.jsonBody as { items: { id: string; reason: string; description: string }[] }).items;
}
/** Move the queue's clock past every scheduled retry, and let the workers take them. */
function advance(ms: number): void {
  offset += ms;
  queue.tick();
}
const idle = (): boolean => queue.peek(QUEUES.syncInbound).every((m) => m.state === 'scheduled');
const storm = (): number => t.logs.filter((l) => /rescheduled|retrying|waiting/.test(l.message)).length;

test('with Redis down, a queued deletion and a manual sync back off, are parked with a reason, and land after a requeue', async () => {
  dataset('faults', Array.from({ length: 12 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'f1', 'faults');
  await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'f1' } }));
  await until('the first sync', async () => ((await runs('f1'))[0]?.status === 'succeeded' ? true : undefined));
  const integration = await t.services.repos.getIntegration('acme', 'f1');
  if (!integration) throw new Error('no integration');
  const logsBefore = storm();

  await redis.kill();
  // The deletion a webhook carried (queued while Redis was still up) and a manual sync asked for during the outage.
  await enqueueEventRecords(queue, integration, 'dl-delivery-1', [{ ...item(3, ts(30)), deleted: true }], new Date());
  const manual = await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'f1' } }));
  expect(manual.status).toBe(202);
  const manualRunId = (manual.jsonBody as { runId: string }).runId;

  // Three retries with backoff (the queue clock jumps past each), then both jobs are parked.
  for (let retry = 0; retry < 4; retry++) {
    await until('the workers to reschedule', () => Promise.resolve(idle() ? true : undefined));
    advance(12 * 60_000);
  }
  const parked = await until('two dead letters', async () => {
    const items = await deadLetters();
    return items.length === 2 ? items : undefined;
  });
  expect(parked.map((d) => d.reason)).toEqual(['RetriesExhausted', 'RetriesExhausted']);
  for (const d of parked) expect(d.description).toMatch(/after 3 retries/);
  // Nothing went to the host's own dead-letter queue, where no admin would see it.
  expect(await queue.deadLetters(QUEUES.syncInbound)).toEqual([]);
  // No run is left queued or running with nothing behind it; each failed one says why.
  const after = await runs('f1');
  expect(after.filter((r) => r.status === 'queued' || r.status === 'running')).toEqual([]);
  const failed = after.find((r) => r.id === manualRunId);
  expect(failed?.status).toBe('failed');
  expect(failed?.error).toMatch(/gave up after 3 retries/);
  // Backoff, not a storm: a handful of lines per job.
  expect(storm() - logsBefore).toBeLessThanOrEqual(12);

  await redis.restart();
  await until('Redis to answer the app again', async () => (await t.services.adapters.kv.ping().then(() => true, () => undefined)));
  for (const d of parked) {
    const res = await requeueDeadLetter(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', deadLetterId: d.id } }));
    expect(res.status).toBe(202);
  }
  const deleted = await until('the deletion to land', async () => (await records(t, 'f1')).find((r) => r.externalId === '3' && r.deleted));
  expect(deleted.deleted).toBe(true);
  await until('a succeeded manual run after the requeue', async () => ((await runs('f1')).filter((r) => r.trigger === 'manual' && r.status === 'succeeded').length >= 2 ? true : undefined));
}, 60_000);

test('a Redis stall while a run takes its lease leaves no ghost lease: the rescheduled run succeeds right after', async () => {
  dataset('stall', Array.from({ length: 12 }, (_, i) => item(i, ts(i))));
  await fakeIntegration(t, 'f2', 'stall');
  const direct = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
  try {
    redis.pause();
    let runId: string;
    try {
      const res = await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'f2' } }));
      runId = (res.jsonBody as { runId: string }).runId;
      // The worker's SET NX times out on the client (it still runs on the server after SIGCONT).
      await until('the run to be rescheduled', async () => {
        const run = await t.services.repos.getRun('acme', runId);
        return run?.status === 'queued' && run.resumeAt !== undefined ? run : undefined;
      });
    } finally {
      redis.resume();
    }
    // The invocation that gave up deletes its own lease as soon as Redis answers again: not after the 2-minute TTL.
    await until('the ghost lease to be released', async () => ((await direct.get(`castiel:lock:sync:{f2}`)) === null ? true : undefined), 5_000);
    advance(60_000);
    await until('the run to succeed', async () => ((await t.services.repos.getRun('acme', runId))?.status === 'succeeded' ? true : undefined));
    expect((await records(t, 'f2')).length).toBe(12);
  } finally {
    direct.disconnect();
  }
}, 60_000);
