/**
 * A message the broker dead-letters (a handler that keeps throwing, ten
 * deliveries) is collected from the queue's dead-letter sub-queue and listed
 * by the admin API with the broker's reason: no dead letter stays where only
 * the Azure portal would show it. Through the local host, whose embedded
 * queue moves buried messages to `<queue>/$DeadLetterQueue` as Service Bus does.
 */
import { definitions, type FunctionDefinition } from '../../functions/definitions';
import '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { listDeadLetters } from '../../shared/api/deadletters';
import { putTenant } from '../../shared/api/tenants';
import { setServices } from '../../shared/composition';
import { QUEUES } from '../../shared/messaging/names';
import { apiRequest } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

let t: TestServices;
let host: LocalHost;
let attempts = 0;

const alwaysThrows: FunctionDefinition = {
  kind: 'serviceBusQueue',
  name: 'AlwaysThrows',
  queueName: QUEUES.syncOutbound,
  connection: 'ServiceBusConnection',
  handler: () => {
    attempts++;
    return Promise.reject(new Error('handler crashed'));
  },
};

beforeAll(async () => {
  t = await embeddedServices();
  setServices(t.services);
  const collectors = definitions.filter((d) => d.kind === 'serviceBusQueue' && d.queueName.endsWith('/$DeadLetterQueue'));
  expect(collectors.map((d) => d.name).sort()).toEqual(['SyncInboundDeadLetters', 'SyncOutboundDeadLetters']);
  host = await startLocalHost({ definitions: [alwaysThrows, ...collectors], receiver: t.queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
});

afterAll(async () => {
  await host.stop();
  await t.cleanup();
  setServices(undefined);
});

test('a message dead-lettered after ten failed deliveries is listed by the admin API with the broker reason', async () => {
  await t.queue.send(QUEUES.syncOutbound, { messageId: 'doomed-1', body: { tenantId: 'acme', op: 'update', note: 'never handled' } });
  const deadline = Date.now() + 15_000;
  let items: { messageId: string; reason: string; description: string; queue: string; body: unknown }[] = [];
  while (Date.now() < deadline) {
    const res = await listDeadLetters(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' } }));
    items = (res.jsonBody as { items: typeof items }).items;
    if (items.length > 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(attempts).toBe(10);
  expect(items).toEqual([
    expect.objectContaining({ messageId: 'doomed-1', queue: QUEUES.syncOutbound, reason: 'MaxDeliveryCountExceeded', description: expect.stringMatching(/10 delivery attempts/) as unknown, body: { tenantId: 'acme', op: 'update', note: 'never handled' } }),
  ]);
  // Collected, so the sub-queue is empty; the main queue's own record of the burial stays for introspection.
  expect(t.queue.depth(`${QUEUES.syncOutbound}/$DeadLetterQueue`)).toBe(0);
  expect(await t.queue.deadLetters(QUEUES.syncOutbound)).toHaveLength(1);
});
