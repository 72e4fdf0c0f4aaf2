/**
 * Salesforce Outbound Messages carry no signature: anyone who learns the org
 * id can forge them. Through the local host, against a Redis this test owns:
 * 30 forged 1 MiB messages no longer grow Redis by tens of MB (what they can
 * make us keep is bounded per integration, oldest dropped), and a flood is
 * refused with 429 past the per-minute rate. Signed schemes are not bounded.
 */
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { outboundMessageXml } from '../../local/sandbox/salesforce/webhooks';
import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { setServices } from '../../shared/composition';
import { UNVERIFIED_BOUNDS, UNVERIFIED_PER_MINUTE } from '../../shared/webhooks/unverified';
import { apiRequest } from '../helpers/api';
import { PrivateRedis } from '../helpers/private-redis';
import { embeddedServices, type TestServices } from '../helpers/services';

const ORG_ID = '00D000000000001AAA';
let redis: PrivateRedis;
let admin: Redis;
let t: TestServices;
let host: LocalHost;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
  t = await embeddedServices({ REDIS_URL: redis.url, WEBHOOK_COALESCE_SECONDS: '5' });
  setServices(t.services);
  host = await startLocalHost({ definitions: definitions.filter((d) => d.kind === 'http'), logger: t.services.logger, port: 0 });
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'sf' }, body: { name: 'SF' } }));
  for (const integrationId of ['sf-forged', 'sf-flood']) {
    const res = await putIntegration(
      t.services.adminDeps,
      apiRequest({
        method: 'PUT',
        params: { tenantId: 'sf', integrationId },
        body: {
          provider: 'salesforce',
          baseUrl: 'http://127.0.0.1:9',
          config: { apiVersion: '62.0', organizationId: ORG_ID, objects: [{ name: 'Account', fields: ['Name'], externalIdField: 'Castiel_Id__c' }] },
          credentials: { type: 'token', accessToken: 'sf-token', instanceUrl: 'http://127.0.0.1:9' },
        },
      }),
    );
    expect(res.status).toBe(201);
  }
}, 30_000);

afterAll(async () => {
  admin.disconnect();
  await host.stop();
  await t.cleanup();
  setServices(undefined);
  await redis.kill();
});

function forged(name: string): string {
  const id = `04l${randomBytes(6).toString('hex').slice(0, 12)}AAA`;
  return outboundMessageXml({ organizationId: ORG_ID, actionId: '04k000000000001AAA', instanceUrl: 'https://x.my.salesforce.com', notifications: [{ id, type: 'Account', fields: { Id: '001000000000001AAA', Name: name } }] });
}

const post = async (integrationId: string, body: string): Promise<number> => {
  const res = await fetch(`${host.url}/api/webhooks/salesforce/${integrationId}`, { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, body });
  await res.arrayBuffer();
  return res.status;
};

const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? 'NaN');

test('30 forged 1 MiB Outbound Messages are accepted, but what they leave in Redis stays within the bound', async () => {
  const before = await usedMemory();
  for (let i = 0; i < 30; i++) expect(await post('sf-forged', forged('x'.repeat(1_000_000)))).toBe(200);
  const grown = (await usedMemory()) - before;
  // Unbounded, 30 messages kept ~40 MB (bodies are stored base64). The index keeps at most 8 MiB as stored, plus allocator overhead.
  expect(grown).toBeLessThan(UNVERIFIED_BOUNDS.maxBytes + 3 * 1024 * 1024);
  const kept = await admin.keys('castiel:whbody:{sf-forged}:*');
  expect(kept.length).toBeGreaterThan(0);
  expect(kept.length).toBeLessThan(30);
}, 60_000);

test(`more than ${UNVERIFIED_PER_MINUTE} unverified deliveries a minute for one integration are refused with 429`, async () => {
  // Aligned to the start of a minute window is not needed: the window is per-minute and the burst is far above it.
  const statuses: number[] = [];
  for (let i = 0; i < UNVERIFIED_PER_MINUTE + 30; i++) statuses.push(await post('sf-flood', forged(`n${i}`)));
  expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
  expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(2 * UNVERIFIED_PER_MINUTE);
  expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
}, 60_000);
