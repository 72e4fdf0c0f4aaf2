import { listDeadLetters, requeueDeadLetter } from '../../shared/api/deadletters';
import { QUEUES } from '../../shared/messaging/names';
import type { OutboundJob } from '../../shared/messaging/messages';
import { handleOutbound } from '../../shared/sync/outbound';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices, records } from '../helpers/engine';
import { dataset, type FakeDataset } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
let d: FakeDataset;
beforeEach(async () => {
  t = await fakeServices();
  d = dataset('out', []);
  await fakeIntegration(t, 'o1', 'out');
});
afterEach(async () => { await t.cleanup(); });

const create = (key: string, extra: Partial<OutboundJob> = {}): OutboundJob => ({
  tenantId: 'acme',
  integrationId: 'o1',
  op: 'create',
  entityType: 'item',
  recordId: 'new',
  payload: { title: 'made here' },
  idempotencyKey: key,
  ...extra,
});
const info = (messageId: string) => ({ messageId, deliveryCount: 1 });

test('a create is pushed once; a redelivered message is recognised and not pushed again', async () => {
  expect(await handleOutbound(t.services.outboundDeps, create('k1'), info('m1'))).toEqual({ kind: 'pushed', externalId: 'new-1' });
  expect(await handleOutbound(t.services.outboundDeps, create('k1'), info('m1'))).toEqual({ kind: 'duplicate', externalId: 'new-1' });
  expect(d.pushes).toHaveLength(1);
  const [stored] = await records(t, 'o1');
  expect(stored).toMatchObject({ externalId: 'new-1', data: { title: 'made here' }, pushedVersion: 'v1' });
});

test('a rate-limited push is rescheduled at the retry time with the same idempotency key, as a wait (not a failure)', async () => {
  d.pushFails = 'rate';
  const outcome = await handleOutbound(t.services.outboundDeps, create('k2'), info('m2'));
  expect(outcome.kind).toBe('rescheduled');
  const [next] = t.queue.peek(QUEUES.syncOutbound);
  expect(next).toMatchObject({ state: 'scheduled', body: { idempotencyKey: 'k2', deferrals: 1 } });
  expect(next?.body).not.toHaveProperty('attempt');
});

test('transient failures back off three times, then the message is parked with its reason and can be requeued', async () => {
  d.pushFails = 'retryable';
  let job: unknown = create('k3');
  for (let attempt = 1; attempt <= 3; attempt++) {
    expect((await handleOutbound(t.services.outboundDeps, job, info(`m3-${attempt}`))).kind).toBe('rescheduled');
    job = t.queue.peek(QUEUES.syncOutbound).find((m) => (m.body as { attempt?: number }).attempt === attempt)?.body;
  }
  expect(await handleOutbound(t.services.outboundDeps, job, info('m3-4'))).toEqual({ kind: 'parked', reason: 'RetriesExhausted' });

  const list = await listDeadLetters(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' } }));
  const [dead] = (list.jsonBody as { items: { id: string; reason: string; description: string }[] }).items;
  expect(dead).toMatchObject({ reason: 'RetriesExhausted', description: expect.stringContaining('fake: 503') as unknown });

  delete d.pushFails;
  const depth = t.queue.depth(QUEUES.syncOutbound);
  const requeued = await requeueDeadLetter(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', deadLetterId: dead!.id } }));
  expect(requeued.status).toBe(202);
  expect(t.queue.depth(QUEUES.syncOutbound)).toBe(depth + 1);
  const fresh = t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId.includes(':requeue:'));
  expect(fresh?.body).not.toHaveProperty('attempt');
  expect(await handleOutbound(t.services.outboundDeps, fresh?.body, info(fresh!.messageId))).toMatchObject({ kind: 'pushed' });
  expect((await requeueDeadLetter(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', deadLetterId: dead!.id } }))).status).toBe(409);
});

test('an auth failure marks the integration needs_reauth and parks the message; no retry is queued', async () => {
  d.pushFails = 'auth';
  expect(await handleOutbound(t.services.outboundDeps, create('k4'), info('m4'))).toEqual({ kind: 'parked', reason: 'AuthFailed' });
  expect((await t.services.repos.getIntegration('acme', 'o1'))?.status).toBe('needs_reauth');
  expect(t.queue.depth(QUEUES.syncOutbound)).toBe(0);
});

test('a permanent failure, an invalid message and an unsupported entity are parked with reasons', async () => {
  d.pushFails = 'unrecoverable';
  expect(await handleOutbound(t.services.outboundDeps, create('k5'), info('m5'))).toEqual({ kind: 'parked', reason: 'Unrecoverable' });
  expect(await handleOutbound(t.services.outboundDeps, { op: 'explode' }, info('m6'))).toEqual({ kind: 'parked', reason: 'InvalidMessage' });
  expect(await handleOutbound(t.services.outboundDeps, create('k7', { entityType: 'spaceship' }), info('m7'))).toEqual({ kind: 'parked', reason: 'PushNotSupported' });
  const acme = await t.services.repos.listDeadLetters('acme', 10);
  const unknown = await t.services.repos.listDeadLetters('_unknown', 10);
  expect(acme.items.map((x) => x.reason).sort()).toEqual(['PushNotSupported', 'Unrecoverable']);
  expect(unknown.items.map((x) => x.reason)).toEqual(['InvalidMessage']);
  expect(t.queue.depth(QUEUES.syncOutbound)).toBe(0);
});
