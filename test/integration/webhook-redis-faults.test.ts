/**
 * A 2xx from the webhook receiver means the delivery's work is queued, under
 * Redis faults too. Against a redis-server this test owns, paused (SIGSTOP)
 * and killed while deliveries of every scheme arrive through the local host:
 * every delivery acknowledged with a 2xx — first try or the provider's retry
 * after a 503 — has its sync job (and, for deliveries that carry records, its
 * apply job) in the queue. A `SET NX` that timed out on the client and ran on
 * the server after SIGCONT used to make the retry a "duplicate" that queued nothing.
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { setServices } from '../../shared/composition';
import { QUEUES } from '../../shared/messaging/names';
import { apiRequest } from '../helpers/api';
import { PrivateRedis } from '../helpers/private-redis';
import { embeddedServices, type TestServices } from '../helpers/services';
import { webhookSchemes, type Delivery, type Scheme } from '../helpers/signed-deliveries';

let redis: PrivateRedis;
let t: TestServices;
let host: LocalHost;
const schemes: Scheme[] = webhookSchemes();

beforeAll(async () => {
  redis = await PrivateRedis.start();
  t = await embeddedServices({ REDIS_URL: redis.url, WEBHOOK_COALESCE_SECONDS: '0' });
  setServices(t.services);
  // Only the HTTP functions: the queue is inspected, not drained.
  host = await startLocalHost({ definitions: definitions.filter((d) => d.kind === 'http'), logger: t.services.logger, port: 0 });
  expect((await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'faults' }, body: { name: 'Faults' } }))).status).toBeLessThan(300);
  for (const s of schemes) {
    const put = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'faults', integrationId: s.integrationId }, body: s.integration }));
    expect([s.name, put.status]).toEqual([s.name, 201]);
  }
}, 30_000);

afterAll(async () => {
  await host.stop();
  await t.cleanup();
  setServices(undefined);
  await redis.kill();
});

async function post(s: Scheme, d: Delivery): Promise<number> {
  const res = await fetch(`${host.url}/api/webhooks/${s.provider}/${s.integrationId}`, { method: 'POST', headers: d.headers, body: d.body });
  await res.arrayBuffer();
  return res.status;
}

/** The queue messages a delivery's work is: its sync job, and its apply job when it carries records. */
function expectedMessages(s: Scheme, d: Delivery): string[] {
  return d.deliveryIds.flatMap((id) => [`wh:${s.integrationId}:d:${id}`, ...(d.carriesRecords ? [`apply:${s.integrationId}:${id}:0`] : [])]);
}

function missingWork(acked: readonly { s: Scheme; d: Delivery }[]): string[] {
  const queued = new Set(t.queue.peek(QUEUES.syncInbound).map((m) => m.messageId));
  return acked.flatMap(({ s, d }) => expectedMessages(s, d).filter((id) => !queued.has(id)).map((id) => `${s.name}: ${id}`));
}

async function redisAnswers(): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await t.services.adapters.kv.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Send every delivery until it is acknowledged (the provider's retries), at most `tries` times each. */
async function deliverUntilAcked(batch: { s: Scheme; d: Delivery }[], tries: number): Promise<{ s: Scheme; d: Delivery }[]> {
  const acked: { s: Scheme; d: Delivery }[] = [];
  for (const item of batch) {
    for (let i = 0; i < tries; i++) {
      const status = await post(item.s, item.d);
      if (status >= 200 && status < 300) {
        acked.push(item);
        break;
      }
      expect(status).toBe(503);
    }
  }
  return acked;
}

test('a delivery refused during a Redis stall is queued when the provider retries it, for every scheme', async () => {
  const batch = schemes.flatMap((s) => Array.from({ length: 4 }, () => ({ s, d: s.next() })));
  redis.pause();
  let statuses: number[];
  try {
    statuses = await Promise.all(batch.map(({ s, d }) => post(s, d)));
  } finally {
    redis.resume();
  }
  // Refused while Redis held every command; anything acknowledged must already be queued.
  expect(statuses.every((st) => st === 503 || (st >= 200 && st < 300))).toBe(true);
  expect(statuses.filter((st) => st === 503).length).toBeGreaterThan(0);
  const ackedDuringStall = batch.filter((_, i) => (statuses[i] ?? 0) < 300);
  expect(missingWork(ackedDuringStall)).toEqual([]);

  await redisAnswers();
  const acked = await deliverUntilAcked(batch, 3);
  expect(acked).toHaveLength(batch.length);
  expect(missingWork(acked)).toEqual([]);

  // Queued once: now a retry is a duplicate (still a 2xx), and nothing new is queued.
  const depth = t.queue.depth(QUEUES.syncInbound);
  for (const { s, d } of batch.slice(0, schemes.length)) expect((await post(s, d)) < 300).toBe(true);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(depth);
}, 60_000);

test('a delivery refused while Redis is down is queued when the provider retries it after a restart, for every scheme', async () => {
  const batch = schemes.map((s) => ({ s, d: s.next() }));
  await redis.kill();
  const statuses = await Promise.all(batch.map(({ s, d }) => post(s, d)));
  expect(statuses.every((st) => st === 503)).toBe(true);
  await redis.restart();
  await redisAnswers();
  const acked = await deliverUntilAcked(batch, 3);
  expect(acked).toHaveLength(batch.length);
  expect(missingWork(acked)).toEqual([]);
}, 60_000);
