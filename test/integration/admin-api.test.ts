import { getIntegration, putIntegration } from '../../shared/api/integrations';
import { listRecords } from '../../shared/api/records';
import { listRuns, postSync } from '../../shared/api/runs';
import { putTenant } from '../../shared/api/tenants';
import { QUEUES } from '../../shared/messaging/names';
import { apiRequest, seedGithubIntegration } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

let t: TestServices;
beforeEach(async () => { t = await embeddedServices(); });
afterEach(async () => { await t.cleanup(); });

const ghBody = (extra: Record<string, unknown> = {}) => ({
  provider: 'github',
  baseUrl: 'http://127.0.0.1:9',
  config: { owner: 'octo', repo: 'hello' },
  credentials: { type: 'token', token: 'ghp_CANARY_secret_value_123' },
  webhookSecret: 'whsec-CANARY-value-456',
  ...extra,
});

test('every admin route answers 401 without the key or with a wrong one, and changes nothing', async () => {
  const params = { tenantId: 'acme', integrationId: 'gh1' };
  for (const key of [null, '', 'wrong-key-wrong-key-wrong']) {
    expect((await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params, body: { name: 'x' }, key }))).status).toBe(401);
    expect((await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params, body: ghBody(), key }))).status).toBe(401);
    expect((await getIntegration(t.services.adminDeps, apiRequest({ params, key }))).status).toBe(401);
    expect((await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params, key }))).status).toBe(401);
    expect((await listRuns(t.services.adminDeps, apiRequest({ params, key }))).status).toBe(401);
    expect((await listRecords(t.services.adminDeps, apiRequest({ params, key }))).status).toBe(401);
  }
  expect(await t.services.repos.getTenant('acme')).toBeUndefined();
});

test('tenant: 201 then 200; bad bodies and ids are 400 with a reason', async () => {
  const put = (params: Record<string, string>, req: Parameters<typeof apiRequest>[0]) =>
    putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params, ...req }));
  expect((await put({ tenantId: 'acme' }, { body: { name: 'Acme' } })).status).toBe(201);
  expect((await put({ tenantId: 'acme' }, { body: { name: 'Acme Inc' } })).status).toBe(200);
  for (const [params, req] of [
    [{ tenantId: 'acme' }, { rawBody: '{not json' }],
    [{ tenantId: 'acme' }, { body: { name: '' } }],
    [{ tenantId: 'acme' }, { body: { name: 'x', extra: 1 } }],
    [{ tenantId: '../etc' }, { body: { name: 'x' } }],
  ] as const) {
    const res = await put(params, req);
    expect(res.status).toBe(400);
    expect(res.jsonBody).toMatchObject({ reason: expect.any(String) as unknown });
  }
  expect((await t.services.repos.getTenant('acme'))?.name).toBe('Acme Inc');
});

test('integration: validated per provider, secrets write-only, 404 for unknown tenant or id', async () => {
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
  const params = { tenantId: 'acme', integrationId: 'gh1' };
  const bad = [
    ghBody({ provider: 'gitlab' }),
    ghBody({ config: { owner: 'octo' } }),
    ghBody({ credentials: { type: 'token' } }),
    ghBody({ baseUrl: 'ftp://x' }),
    ghBody({ webhookSecret: 'short' }),
    ghBody({ schedule: { everyMinutes: 0 } }),
  ];
  for (const body of bad) {
    const res = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params, body }));
    expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
  }
  expect(await t.services.repos.getIntegration('acme', 'gh1')).toBeUndefined();
  expect((await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'ghost', integrationId: 'gh1' }, body: ghBody() }))).status).toBe(404);

  const created = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params, body: ghBody() }));
  expect(created.status).toBe(201);
  const got = await getIntegration(t.services.adminDeps, apiRequest({ params }));
  expect(got.status).toBe(200);
  expect(got.jsonBody).toMatchObject({ id: 'gh1', provider: 'github', status: 'active', hasWebhookSecret: true, webhookPath: '/api/webhooks/github/gh1' });
  expect(JSON.stringify([created.jsonBody, got.jsonBody])).not.toMatch(/CANARY/);
  expect((await getIntegration(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme', integrationId: 'nope' } }))).status).toBe(404);
});

test('integration ids are global: another tenant cannot take one', async () => {
  const seed = await seedGithubIntegration(t.services, 'http://127.0.0.1:9');
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'other' }, body: { name: 'Other' } }));
  const res = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'other', integrationId: seed.integrationId }, body: ghBody() }));
  expect(res.status).toBe(409);
});

test('manual sync: 202 with a queued run that lists newest first; 404 for unknown integration', async () => {
  const seed = await seedGithubIntegration(t.services, 'http://127.0.0.1:9');
  const params = { tenantId: seed.tenantId, integrationId: seed.integrationId };
  const first = await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params }));
  await new Promise((r) => setTimeout(r, 5));
  const second = await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params }));
  expect(first.status).toBe(202);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(2);
  const runs = await listRuns(t.services.adminDeps, apiRequest({ params }));
  const items = (runs.jsonBody as { items: { id: string; status: string; counts: unknown }[] }).items;
  expect(items.map((r) => r.id)).toEqual([(second.jsonBody as { runId: string }).runId, (first.jsonBody as { runId: string }).runId]);
  expect(items[0]).toMatchObject({ status: 'queued', counts: { fetched: 0 } });
  expect((await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { ...params, integrationId: 'nope' } }))).status).toBe(404);
  expect((await listRuns(t.services.adminDeps, apiRequest({ params: { ...params, integrationId: 'nope' } }))).status).toBe(404);
});

test('records: pagination with continuation, filters validated', async () => {
  const seed = await seedGithubIntegration(t.services, 'http://127.0.0.1:9');
  expect((await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: seed.tenantId }, query: { limit: '0' } }))).status).toBe(400);
  expect((await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: seed.tenantId }, query: { entityType: 'a b' } }))).status).toBe(400);
  expect((await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: seed.tenantId }, query: { continuation: 'garbage!!' } }))).status).toBe(400);
  expect((await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: 'ghost' } }))).status).toBe(404);
  const empty = await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: seed.tenantId } }));
  expect(empty).toEqual({ status: 200, jsonBody: { items: [] } });
});
