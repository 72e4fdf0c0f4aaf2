/**
 * PATCH …/integrations/{i}: conflictStrategy, mappings, the schedule (and the
 * other updatable fields) change without resending credentials, validated as
 * a PUT validates them; the route refuses what every admin route refuses.
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { getIntegration, patchIntegration, putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { setServices } from '../../shared/composition';
import type { Integration } from '../../shared/domain/types';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices, message, pullJob } from '../helpers/engine';
import { dataset, fakeProvider, item } from '../helpers/fake-provider';
import { TEST_ADMIN_KEY, type TestServices } from '../helpers/services';

let t: TestServices;
beforeEach(async () => {
  t = await fakeServices();
  dataset('patch', [item(1, '2027-01-01T00:01:00.000Z'), item(2, '2027-01-01T00:02:00.000Z')]);
  await fakeIntegration(t, 'p1', 'patch', { webhookSecret: 'patch-test-secret-01' });
  await runPullSync(t.services.syncDeps, pullJob('p1'), message());
});
afterEach(async () => { await t.cleanup(); });

type PatchOptions = Omit<Parameters<typeof apiRequest>[0], 'method'>;
const patch = (body: unknown, options: PatchOptions = {}) =>
  patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', integrationId: 'p1' }, body, ...options }));
const stored = async (tenantId = 'acme', id = 'p1') => (await t.services.repos.getIntegration(tenantId, id))!;
const generation = async (integration: Integration) => (await t.services.adminDeps.credentials.store.read(integration, fakeProvider))?.generation;

test('conflictStrategy, mappings and the schedule change without credentials; credentials, status and the cursor stay', async () => {
  const before = await stored();
  expect(before.cursor).toBeDefined();
  const generationBefore = await generation(before);
  const res = await patch({
    conflictStrategy: 'manual',
    mappings: { item: { name: { from: 'title', type: 'string', required: true } } },
    schedule: { everyMinutes: 15 },
  });
  expect(res.status).toBe(200);
  expect(res.jsonBody).toMatchObject({ conflictStrategy: 'manual', schedule: { everyMinutes: 15 }, mappings: { item: { name: { from: 'title' } } }, status: 'active', hasWebhookSecret: true });
  const after = await stored();
  expect(after).toMatchObject({ conflictStrategy: 'manual', scheduleMinutes: 15, status: 'active', credentialsSecret: before.credentialsSecret, webhookSecretName: before.webhookSecretName });
  expect(after.cursor).toEqual(before.cursor);
  expect(after.lastSyncAt).toBe(before.lastSyncAt);
  expect(await generation(after)).toBe(generationBefore);
  // Then a cron schedule, then back to an interval: the cron is gone, not left behind.
  expect((await patch({ schedule: { cron: '0 15 * * * *' } })).jsonBody).toMatchObject({ schedule: { cron: '0 15 * * * *' } });
  expect((await patch({ schedule: { everyMinutes: 30 } })).jsonBody).toMatchObject({ schedule: { everyMinutes: 30 } });
  expect((await stored()).scheduleCron).toBeUndefined();
  // A new config points at other data: the cursor goes, as on PUT.
  expect((await patch({ config: { dataset: 'other' } })).status).toBe(200);
  expect((await stored()).cursor).toBeUndefined();
  const got = await getIntegration(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme', integrationId: 'p1' } }));
  expect(got.jsonBody).toMatchObject({ config: { dataset: 'other' }, conflictStrategy: 'manual', schedule: { everyMinutes: 30 } });
});

test('each field is validated as on PUT, credentials and provider are refused with where to go, and a 400 changes nothing', async () => {
  const before = await stored();
  const cases: [unknown, RegExp][] = [
    [{}, /^body: give at least one of baseUrl, config, schedule/],
    [{ mappings: { item: {} } }, /^mappings\.item: map at least one field/],
    [{ mappings: { item: { name: { from: 'a..b' } } } }, /^mappings/],
    [{ shardMap: { item: 'records-nowhere' } }, /^shardMap\.item:/],
    [{ conflictStrategy: 'coin-flip' }, /^conflictStrategy:/],
    [{ schedule: { cron: '0 0 * * * * *' } }, /^schedule\.cron: Invalid NCRONTAB expression "0 0 \* \* \* \* \*": expected 6 fields/],
    [{ schedule: { cron: '0 * * * * *' } }, /^schedule\.cron: occurrences can be 1 minute apart; the minimum is 5 minutes/],
    [{ schedule: { everyMinutes: 1 } }, /^schedule\.everyMinutes: must be at least 5/],
    [{ config: {} }, /^config: dataset:/],
    [{ baseUrl: 'ftp://fake.invalid' }, /^baseUrl: must be an http\(s\) URL/],
    [{ baseUrl: 'https://169.254.169.254/latest' }, /^baseUrl: egress policy/],
    [{ baseUrl: 'https://evil.example.com' }, /^baseUrl: egress policy/],
    [{ webhookSecret: 'short' }, /^webhookSecret: must be at least 16 characters/],
    [{ limits: { perMinute: -1 } }, /^limits\.perMinute:/],
    [{ credentials: { type: 'token', token: 'fake-token-2' } }, /^credentials: not accepted here: replace credentials with PUT …\/integrations\/\{integrationId\}\/credentials/],
    [{ provider: 'github' }, /^provider: cannot change with PATCH/],
    [{ conflictStrategy: 'manual', surprise: 1 }, /surprise/],
  ];
  for (const [body, reason] of cases) {
    const res = await patch(body);
    expect([body, res.status]).toEqual([body, 400]);
    expect([body, (res.jsonBody as { reason: string }).reason]).toEqual([body, expect.stringMatching(reason)]);
  }
  expect((await stored()).etag).toBe(before.etag);
});

test('the route: 401 without or with a wrong key, 404 for another tenant\'s or an unknown integration, 400 malformed or too deep, 413 too big; nothing changes', async () => {
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'other' }, body: { name: 'Other' } }));
  const theirs = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'other', integrationId: 'o1' }, body: { provider: 'fake', config: { dataset: 'patch' }, credentials: { type: 'token', token: 'fake-token-9' } } }));
  expect(theirs.status).toBe(201);
  const mine = await stored();
  const other = await stored('other', 'o1');
  const ok = { conflictStrategy: 'manual' };

  for (const key of [null, '', 'wrong-key-wrong-key-wrong']) expect((await patch(ok, { key })).status).toBe(401);
  // Another tenant's integration, addressed from this tenant, and this tenant's from the other: both unknown.
  expect((await patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', integrationId: 'o1' }, body: ok }))).status).toBe(404);
  expect((await patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'other', integrationId: 'p1' }, body: ok }))).status).toBe(404);
  expect((await patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', integrationId: 'nope' }, body: ok }))).status).toBe(404);
  expect((await patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', integrationId: '../p1' }, body: ok }))).status).toBe(400);

  expect(await patch(undefined, { rawBody: '{not json' })).toMatchObject({ status: 400 });
  expect(await patch(undefined, { rawBody: `{"config":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}` })).toEqual({ status: 400, jsonBody: { error: 'bad_request', reason: 'body nests deeper than 64 levels' } });
  expect(await patch(undefined, { rawBody: '{"conflictStrategy":"manual","__proto__":{"x":1}}' })).toEqual({ status: 400, jsonBody: { error: 'bad_request', reason: 'body has a "__proto__" key, which is not accepted' } });
  const big = await patch({ config: { dataset: 'x'.repeat(300 * 1024) } });
  expect(big).toMatchObject({ status: 413, jsonBody: { error: 'payload_too_large' } });

  expect((await stored()).etag).toBe(mine.etag);
  expect((await stored('other', 'o1')).etag).toBe(other.etag);
});

describe('over HTTP through the local host', () => {
  let host: LocalHost;
  beforeEach(async () => {
    setServices(t.services);
    host = await startLocalHost({ definitions, receiver: t.queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
  });
  afterEach(async () => {
    await host.stop();
    setServices(undefined);
  });

  const send = (body: string, key: string | null = TEST_ADMIN_KEY, headers: Record<string, string> = {}) =>
    fetch(`${host.url}/api/admin/tenants/acme/integrations/p1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-functions-key': key }), ...headers },
      body,
    });

  test('PATCH is a method of the integration route: 200 with the key, 401 without, 413 over the route limit', async () => {
    const before = await stored();
    expect((await send(JSON.stringify({ conflictStrategy: 'newest-wins' }), null)).status).toBe(401);
    expect((await send(JSON.stringify({ config: { dataset: 'x'.repeat(300 * 1024) } }))).status).toBe(413);
    expect((await stored()).etag).toBe(before.etag);
    const res = await send(JSON.stringify({ conflictStrategy: 'newest-wins', schedule: { everyMinutes: 10 } }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'p1', conflictStrategy: 'newest-wins', schedule: { everyMinutes: 10 } });
  });
});
