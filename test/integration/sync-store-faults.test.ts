/**
 * The store down under the workers (a Cosmos-protocol server cut off behind
 * a TCP relay, so it keeps its data): a failure that escapes the handler —
 * the integration cannot even be read — takes the same 30 s / 2 min / 10 min
 * backoff through a follow-up message instead of the host's ten immediate
 * redeliveries into a dead-letter queue nobody sees; once the store is back,
 * the job completes. With the queue refusing too, the message is parked
 * where the admin API lists it.
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { setServices } from '../../shared/composition';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { QUEUES } from '../../shared/messaging/names';
import type { QueueSender } from '../../shared/messaging/port';
import { settleEscapedFailure } from '../../shared/sync/worker-guard';
import { fakeIntegration, pullJob, records } from '../helpers/engine';
import { dataset, item, registryWithFake } from '../helpers/fake-provider';
import { relayedCosmos } from '../helpers/relayed-cosmos';
import { embeddedServices, type TestServices } from '../helpers/services';
import { until } from '../helpers/until';

let offset = 0;
const queue = new EmbeddedQueue({ now: () => Date.now() + offset });
let cosmos: Awaited<ReturnType<typeof relayedCosmos>>;
let t: TestServices;
let host: LocalHost;

beforeAll(async () => {
  cosmos = await relayedCosmos();
  t = await embeddedServices({}, { providers: registryWithFake, adapters: { store: cosmos.store, queue, receiver: queue } });
  setServices(t.services);
  host = await startLocalHost({ definitions: definitions.filter((d) => d.kind !== 'timer'), receiver: queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
  dataset('store-faults', Array.from({ length: 5 }, (_, i) => item(i, new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString())));
  await fakeIntegration(t, 'st1', 'store-faults');
}, 60_000);

afterAll(async () => {
  await host.stop();
  await t.cleanup();
  setServices(undefined);
  await cosmos.close();
});

test('a sync job taken while the store is down is retried with backoff, not dead-lettered by the host, and completes once the store is back', async () => {
  await cosmos.stop();
  await queue.send(QUEUES.syncInbound, { messageId: 'store-down-1', body: { ...pullJob('st1'), trigger: 'schedule' } });
  const retry = await until('a scheduled retry', () => queue.peek(QUEUES.syncInbound).find((m) => /:retry:1$/.test(m.messageId) && m.state === 'scheduled'));
  expect(retry.body).toMatchObject({ attempt: 1, runId: expect.stringMatching(/^run-/) as unknown });
  expect(await queue.deadLetters(QUEUES.syncInbound)).toEqual([]);
  // Not before its time: the retry waits its backoff (30 s ± 20 %).
  expect(Date.parse(retry.enqueuedTimeUtc.toISOString()) - Date.now()).toBeGreaterThan(20_000);

  await cosmos.resume();
  offset += 40_000;
  queue.tick();
  const stored = await until('the records', async () => {
    const all = await records(t, 'st1');
    return all.length === 5 ? all : undefined;
  }, 30_000);
  expect(stored).toHaveLength(5);
  expect(await queue.deadLetters(QUEUES.syncInbound)).toEqual([]);
}, 60_000);

test('with the store down and the queue refusing, the failure is left to the host; with the queue up it is rescheduled, never lost', async () => {
  await cosmos.stop();
  try {
    const refusing: QueueSender = { send: () => Promise.reject(new Error('queue down')), ping: () => Promise.resolve(), close: () => Promise.resolve() };
    const error = new Error('store down');
    // Neither a retry nor a park can be recorded: rethrow, so the host keeps the message (redelivery, then its dead-letter queue).
    await expect(settleEscapedFailure({ ...t.services.syncDeps, queue: refusing }, QUEUES.syncInbound, pullJob('st1'), { messageId: 'both-down', deliveryCount: 1 }, error)).rejects.toBe(error);
  } finally {
    await cosmos.resume();
  }
  // The store back but the queue still refusing: parked with the reason, listed for the admin.
  const refusing: QueueSender = { send: () => Promise.reject(new Error('queue down')), ping: () => Promise.resolve(), close: () => Promise.resolve() };
  const outcome = await settleEscapedFailure({ ...t.services.syncDeps, queue: refusing }, QUEUES.syncInbound, pullJob('st1'), { messageId: 'queue-down', deliveryCount: 1 }, new Error('redis down'));
  expect(outcome).toEqual({ kind: 'parked', reason: 'DependencyUnavailable' });
  const parked = await t.services.repos.listDeadLetters('acme', 10);
  expect(parked.items.map((d) => [d.messageId, d.reason, d.description])).toContainEqual(['queue-down', 'DependencyUnavailable', 'Error: redis down']);
}, 60_000);
