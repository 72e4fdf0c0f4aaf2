/**
 * Integration ids are global: two tenants racing to create the same new id
 * cannot both own it. Run on the embedded store and on the Cosmos-protocol
 * server (where the claim is a real create-if-absent on the wire).
 */
import { getIntegration, putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { secretNameFor } from '../../shared/domain/ids';
import { apiRequest } from '../helpers/api';
import { relayedCosmos } from '../helpers/relayed-cosmos';
import { embeddedServices, type TestServices } from '../helpers/services';

const body = (token: string) => ({ provider: 'github', baseUrl: 'http://127.0.0.1:9', config: { owner: 'o', repo: 'r' }, credentials: { type: 'token', token }, webhookSecret: `secret-of-${token}` });

async function race(t: TestServices): Promise<void> {
  for (const tenantId of ['red', 'blue']) await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId }, body: { name: tenantId } }));
  const attempts = Array.from({ length: 20 }, (_, i) => {
    const tenantId = i % 2 === 0 ? 'red' : 'blue';
    return putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId, integrationId: 'contested' }, body: body(`ghp_${tenantId}token000${i}`) })).then((res) => ({
      tenantId,
      status: res.status,
      reason: (res.jsonBody as { reason?: string }).reason ?? '',
    }));
  });
  const results = await Promise.all(attempts);
  const winners = new Set(results.filter((r) => r.status < 300).map((r) => r.tenantId));
  expect(winners.size).toBe(1);
  const [winner] = [...winners];
  const loser = winner === 'red' ? 'blue' : 'red';
  const lost = results.filter((r) => r.tenantId === loser);
  expect(lost.map((r) => r.status)).toEqual(Array(10).fill(409));
  for (const r of lost) expect(r.reason).toMatch(/is taken; ids are global/);
  // The winner's own parallel writes may trip over each other's ETag (409 "changed concurrently"), never over the id.
  const won = results.filter((r) => r.tenantId === winner);
  expect(won.some((r) => r.status === 201)).toBe(true);
  for (const r of won) expect(r.status === 200 || r.status === 201 || /concurrently/.test(r.reason)).toBe(true);
  // The loser can read nothing of it, and nothing of the loser's was kept.
  const read = (tenantId: string) => getIntegration(t.services.adminDeps, apiRequest({ params: { tenantId, integrationId: 'contested' } }));
  expect((await read(loser)).status).toBe(404);
  expect((await read(winner ?? '')).status).toBe(200);
  expect((await t.services.repos.lookupIntegrationOwner('contested'))?.ownerTenantId).toBe(winner);
  expect(await t.services.adapters.secrets.get(secretNameFor('whsec', loser, 'contested'))).toBeUndefined();
}

test('20 concurrent PUTs of one new id from two tenants: one tenant owns it, the other gets 409 and nothing (embedded store)', async () => {
  const t = await embeddedServices();
  try {
    await race(t);
  } finally {
    await t.cleanup();
  }
});

test('the same race on the Cosmos-protocol server', async () => {
  const cosmos = await relayedCosmos();
  const t = await embeddedServices({}, { adapters: { store: cosmos.store } });
  try {
    await race(t);
  } finally {
    await t.cleanup();
    await cosmos.close();
  }
}, 60_000);
