import { listConflicts } from '../../shared/api/conflicts';
import { listDeadLetters, requeueDeadLetter } from '../../shared/api/deadletters';
import { listRecords } from '../../shared/api/records';
import { handleOutbound } from '../../shared/sync/outbound';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices } from '../helpers/engine';
import { dataset } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
beforeEach(async () => {
  t = await fakeServices();
  dataset('consistency', []);
  await fakeIntegration(t, 'k1', 'consistency');
});
afterEach(async () => { await t.cleanup(); });

test('records, conflicts and dead letters of an unknown tenant all answer 404; of a known one, 200', async () => {
  const ghost = { params: { tenantId: 'ghost' } };
  for (const list of [listRecords, listConflicts, listDeadLetters]) {
    expect(await list(t.services.adminDeps, apiRequest(ghost))).toEqual({ status: 404, jsonBody: { error: 'not_found', reason: "Tenant 'ghost' not found" } });
    expect(await list(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' } }))).toEqual({ status: 200, jsonBody: { items: [] } });
  }
});

test('a 409 says "conflict" in its body', async () => {
  const job = { tenantId: 'acme', integrationId: 'gone', op: 'update', entityType: 'item', recordId: 'r1', payload: {}, idempotencyKey: 'k-409' };
  expect(await handleOutbound(t.services.outboundDeps, job, { messageId: 'm-409', deliveryCount: 1 })).toMatchObject({ kind: 'parked' });
  const list = await listDeadLetters(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' } }));
  const [dead] = (list.jsonBody as { items: { id: string }[] }).items;
  const requeue = () => requeueDeadLetter(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', deadLetterId: dead!.id } }));
  expect((await requeue()).status).toBe(202);
  expect(await requeue()).toEqual({ status: 409, jsonBody: { error: 'conflict', reason: 'Already requeued' } });
});
