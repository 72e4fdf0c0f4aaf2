import { createHmac, randomUUID } from 'node:crypto';
import { putIntegration } from '../../shared/api/integrations';
import { patchRecord } from '../../shared/api/local-changes';
import { listRecords } from '../../shared/api/records';
import { putTenant } from '../../shared/api/tenants';
import { QUEUES } from '../../shared/messaging/names';
import { runPullSync } from '../../shared/sync/pull';
import { receiveWebhook } from '../../shared/webhooks/receive';
import { apiRequest, seedGithubIntegration } from '../helpers/api';
import { fakeIntegration, fakeServices, message, pullJob, records } from '../helpers/engine';
import { dataset, item } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

/**
 * Every JSON body is parsed by one bounded parser (shared/http/json.ts): too
 * deep or with a `__proto__` key → 400 with a reason, too big → 413, and in
 * each case nothing is written or queued.
 */
let t: TestServices;
beforeEach(async () => { t = await fakeServices(); });
afterEach(async () => { await t.cleanup(); });

const deep = (levels: number): string => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

async function syncedRecord(): Promise<{ id: string; etag: string }> {
  dataset('limits', [item(1, '2026-01-01T00:01:00.000Z')]);
  await fakeIntegration(t, 'l1', 'limits');
  await runPullSync(t.services.syncDeps, pullJob('l1'), message());
  const [one] = await records(t, 'l1');
  return { id: one!.id, etag: one!.etag };
}

const patch = (recordId: string, rawBody: string) =>
  patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId }, rawBody }));

async function expectUnchanged(record: { id: string; etag: string }): Promise<void> {
  const [now] = await records(t, 'l1');
  expect(now?.etag).toBe(record.etag);
  expect(now?.local).toBeUndefined();
  expect(t.queue.depth(QUEUES.syncOutbound)).toBe(0);
}

test('a record PATCH nested 3,000 deep is a 400 with a reason, and leaves no pending change or message', async () => {
  const record = await syncedRecord();
  const res = await patch(record.id, `{"data":{"x":${deep(3000)}}}`);
  expect(res).toEqual({ status: 400, jsonBody: { error: 'bad_request', reason: 'body nests deeper than 64 levels' } });
  await expectUnchanged(record);
  // The limit is about nesting, not about shape: a 60-deep value is an ordinary edit.
  expect((await patch(record.id, `{"data":{"x":${deep(60)}}}`)).status).toBe(202);
});

test.each([
  ['top level', '{"__proto__":{"op":"delete"},"data":{"title":"x"}}'],
  ['inside data', '{"data":{"title":"x","__proto__":{"isAdmin":true}}}'],
  ['escaped', '{"data":{"\\u005f_proto__":{"isAdmin":true}}}'],
])('a record PATCH with a __proto__ key (%s) is a 400 naming it, not a silent 202', async (_name, body) => {
  const record = await syncedRecord();
  const res = await patch(record.id, body);
  expect(res).toEqual({ status: 400, jsonBody: { error: 'bad_request', reason: 'body has a "__proto__" key, which is not accepted' } });
  await expectUnchanged(record);
});

test('every management body gets the same answer for a __proto__ key: a tenant PUT, and an integration PUT whose config schema would drop it', async () => {
  const reason = { error: 'bad_request', reason: 'body has a "__proto__" key, which is not accepted' };
  const tenant = await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'proto' }, rawBody: '{"name":"P","__proto__":{"x":1}}' }));
  expect(tenant).toEqual({ status: 400, jsonBody: reason });
  expect(await t.services.repos.getTenant('proto')).toBeUndefined();
  // The provider's config schema strips unknown keys: without the parser's check this was a silent 201.
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
  const config = '{"dataset":"limits","__proto__":{"dataset":"other"}}';
  const integration = await putIntegration(t.services.adminDeps, apiRequest({
    method: 'PUT',
    params: { tenantId: 'acme', integrationId: 'proto1' },
    rawBody: `{"provider":"fake","config":${config},"credentials":{"type":"token","token":"fake-token-1"}}`,
  }));
  expect(integration).toEqual({ status: 400, jsonBody: reason });
  expect(await t.services.repos.getIntegration('acme', 'proto1')).toBeUndefined();
});

test('an admin body over the size limit is a 413 payload_too_large', async () => {
  const record = await syncedRecord();
  const res = await patch(record.id, JSON.stringify({ data: { title: 'x'.repeat(300 * 1024) } }));
  expect(res.status).toBe(413);
  expect(res.jsonBody).toMatchObject({ error: 'payload_too_large', reason: expect.stringMatching(/^body is \d+ bytes; the limit is 262144$/) as unknown });
  await expectUnchanged(record);
});

test('a signed webhook delivery nested too deep or with a __proto__ key is refused and queues nothing', async () => {
  const seed = await seedGithubIntegration(t.services, 'http://127.0.0.1:1');
  const deliver = (raw: string) => {
    const headers: Record<string, string> = {
      'x-github-event': 'issues',
      'x-github-delivery': randomUUID(),
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${createHmac('sha256', seed.webhookSecret).update(raw).digest('hex')}`,
    };
    return receiveWebhook(t.services.webhookDeps, { provider: 'github', integrationId: seed.integrationId }, {
      rawBody: Buffer.from(raw),
      header: (n) => headers[n.toLowerCase()],
      url: `http://localhost/api/webhooks/github/${seed.integrationId}`,
    });
  };
  for (const raw of [`{"action":"opened","issue":${deep(3000)}}`, '{"action":"deleted","issue":{"__proto__":{"x":1}}}']) {
    const res = await deliver(raw);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  }
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(0);
  // The same delivery within the limits is accepted.
  expect((await deliver('{"action":"opened","issue":{"id":1}}')).status).toBe(202);
});

test('a continuation token is read by the same parser: one with a __proto__ key is not a token the listing issued', async () => {
  await syncedRecord();
  const list = (continuation: string) => listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' }, query: { continuation } }));
  expect((await list(Buffer.from('{"s":0}').toString('base64url'))).status).toBe(200);
  expect(await list(Buffer.from('{"s":0,"__proto__":{"c":"x"}}').toString('base64url'))).toEqual({
    status: 400,
    jsonBody: { error: 'bad_request', reason: 'continuation: not a token this listing issued' },
  });
});
