/**
 * The handshake route through the local host, as an attacker would try it:
 * no key or a wrong one, another tenant's integration, a provider without a
 * handshake, an oversized body; and the armed window closing on the first token.
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { setServices } from '../../shared/composition';
import { HANDSHAKE_WINDOW_MS } from '../../shared/webhooks/handshake';
import { apiRequest } from '../helpers/api';
import { embeddedServices, TEST_ADMIN_KEY, type TestServices } from '../helpers/services';

let t: TestServices;
let host: LocalHost;

beforeAll(async () => {
  t = await embeddedServices();
  setServices(t.services);
  host = await startLocalHost({ definitions: definitions.filter((d) => d.kind === 'http'), logger: t.services.logger, port: 0, functionKey: TEST_ADMIN_KEY });
  for (const tenantId of ['acme', 'other']) await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId }, body: { name: tenantId } }));
  const notion = { provider: 'notion', baseUrl: 'http://127.0.0.1:9', config: { dataSourceId: '3a1c4c6f-5d2b-4e5f-9a2b-0c1d2e3f4a5b' }, credentials: { type: 'internal', token: 'ntn_handshake' } };
  expect((await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 'hs-notion' }, body: notion }))).status).toBe(201);
  const github = { provider: 'github', baseUrl: 'http://127.0.0.1:9', config: { owner: 'o', repo: 'r' }, credentials: { type: 'token', token: 'ghp_handshake0001' }, webhookSecret: 'gh-handshake-secret' };
  expect((await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 'hs-github' }, body: github }))).status).toBe(201);
});

afterAll(async () => {
  await host.stop();
  await t.cleanup();
  setServices(undefined);
});

const path = (tenantId: string, integrationId: string) => `${host.url}/api/admin/tenants/${tenantId}/integrations/${integrationId}/webhook/handshake`;
const call = (url: string, init: RequestInit = {}, key: string | null = TEST_ADMIN_KEY) =>
  fetch(url, { ...init, headers: { ...(key === null ? {} : { 'x-functions-key': key }), ...(init.headers as Record<string, string> | undefined) } });

test('no key or a wrong key: 401, and nothing is armed', async () => {
  for (const key of [null, 'wrong-key-0123456789abcdef']) {
    for (const method of ['GET', 'POST']) expect((await call(path('acme', 'hs-notion'), { method }, key)).status).toBe(401);
  }
  const status = await (await call(path('acme', 'hs-notion'))).json();
  expect(status).toEqual({ armedUntil: null, received: null });
});

test("another tenant's integration is not found; malformed ids are refused", async () => {
  expect((await call(path('other', 'hs-notion'), { method: 'POST' })).status).toBe(404);
  expect((await call(path('other', 'hs-notion'))).status).toBe(404);
  expect((await call(path('acme', '..%2Fhs-notion'), { method: 'POST' })).status).toBe(400);
  expect((await call(path('acme', 'hs-notion'), { method: 'POST', body: 'x'.repeat(1024 * 1024), headers: { 'content-type': 'application/json' } })).status).toBe(413);
});

test('a provider without a secret handshake is refused with a reason', async () => {
  const res = await call(path('acme', 'hs-github'), { method: 'POST' });
  expect(res.status).toBe(409);
  expect(await res.json()).toMatchObject({ error: 'conflict', reason: expect.stringMatching(/no secret handshake/) as unknown });
});

test('arming opens a short window that the first handshake closes', async () => {
  const before = Date.now();
  const armed = await call(path('acme', 'hs-notion'), { method: 'POST' });
  expect(armed.status).toBe(202);
  const { armedUntil } = (await armed.json()) as { armedUntil: string };
  expect(Date.parse(armedUntil) - before).toBeLessThanOrEqual(HANDSHAKE_WINDOW_MS + 1_000);
  const hook = `${host.url}/api/webhooks/notion/hs-notion`;
  const first = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ verification_token: 'secret_first_token_0001' }) });
  expect(first.status).toBe(200);
  const second = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ verification_token: 'secret_second_token_002' }) });
  expect(second.status).toBe(401);
  expect(await (await call(path('acme', 'hs-notion'))).json()).toMatchObject({ armedUntil: null, received: { token: 'secret_first_token_0001' } });
});
