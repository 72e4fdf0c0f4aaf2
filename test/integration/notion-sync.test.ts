/**
 * The Notion provider through the real core: the admin API validates the
 * demo integration, the sync pipeline pulls it (overlap re-reads are
 * unchanged, trashed pages become deletions), and the webhook receiver runs
 * the handshake and signed deliveries. The registry is passed in, so this
 * runs before `notion` is added to shared/providers/registry.ts.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import { QUEUES } from '../../shared/messaging/names';
import { notionProvider } from '../../shared/providers/notion';
import { providerRegistry } from '../../shared/providers/registry';
import type { ProviderRegistry, WebhookRequest } from '../../shared/providers/types';
import { runPullSync } from '../../shared/sync/pull';
import { receiveWebhook, REFUSED } from '../../shared/webhooks/receive';
import { getWebhookHandshake, postWebhookHandshake } from '../../shared/api/webhook-handshake';
import { notionDemoSandbox } from '../../local/sandbox/notion/demo';
import type { ProviderSandbox } from '../../local/sandbox/types';
import { apiRequest } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

const TENANT = 'acme';
const registry: ProviderRegistry = {
  get: (key) => (key === 'notion' ? notionProvider : providerRegistry.get(key)),
  keys: () => [...providerRegistry.keys(), 'notion'],
};

let t: TestServices;
let sandbox: ProviderSandbox;
let n = 0;

beforeEach(async () => {
  sandbox = await notionDemoSandbox();
  t = await embeddedServices({}, { providers: registry });
  const tenant = await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: TENANT }, body: { name: 'Acme' } }));
  expect(tenant.status).toBeLessThan(300);
});
afterEach(async () => {
  await t.cleanup();
  await sandbox.close();
});

async function putNotion(integrationId: string, body: Record<string, unknown>): Promise<void> {
  const res = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: TENANT, integrationId }, body }));
  if (res.status >= 300) throw new Error(`integration: ${JSON.stringify(res.jsonBody)}`);
}

const sync = (integrationId: string) =>
  runPullSync(t.services.syncDeps, { type: 'sync.pull', tenantId: TENANT, integrationId, trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: `m-${++n}`, deliveryCount: 1 });

async function counts(outcome: Awaited<ReturnType<typeof sync>>) {
  expect(outcome.kind).toBe('succeeded');
  return (await t.services.repos.getRun(TENANT, outcome.kind === 'succeeded' ? outcome.runId : ''))?.counts;
}

/** A curl line from the demo back into a request (the demo quotes with '…'). */
function fromCurl(curl: string, integrationId: string): WebhookRequest {
  const headers = new Map([...curl.matchAll(/-H '([^:]+): ([^']*)'/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
  const body = /--data-binary '(.*)'$/s.exec(curl)![1]!.replace(/'\\''/g, "'");
  return { rawBody: Buffer.from(body), header: (name) => headers.get(name.toLowerCase()), url: `http://localhost/api/webhooks/notion/${integrationId}` };
}

test('the demo integration syncs: first run stores the live pages, a re-run changes nothing, a trashed page is deleted', async () => {
  const demo = sandbox.demoIntegration();
  expect(demo.integrationId).toBe('demo-notion');
  await putNotion(demo.integrationId, demo.body);

  expect(await counts(await sync(demo.integrationId))).toMatchObject({ fetched: 120, created: 108, updated: 0, deleted: 0 });
  // The next run re-reads the high-water minute (Notion's rounding): all unchanged.
  const second = await counts(await sync(demo.integrationId));
  expect(second).toMatchObject({ created: 0, updated: 0, deleted: 0 });
  expect(second?.unchanged).toBeGreaterThan(0);

  const integration = await t.services.repos.getIntegration(TENANT, demo.integrationId);
  expect(Object.keys(integration?.cursor ?? {})).toEqual(['since']);

  // Someone moves a page to the trash in Notion (here: the API call Notion's UI would make).
  const stored = await t.services.repos.listRecords(TENANT, { integrationId: demo.integrationId }, 1000);
  const victim = stored.items.find((r) => !r.deleted)!;
  const token = (demo.body.credentials as { token: string }).token;
  const trashed = await fetch(`${sandbox.url}/v1/pages/${victim.externalId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'notion-version': '2025-09-03', 'content-type': 'application/json' },
    body: JSON.stringify({ in_trash: true }),
  });
  expect(trashed.status).toBe(200);
  expect(await counts(await sync(demo.integrationId))).toMatchObject({ created: 0, updated: 0, deleted: 1 });
  const after = await t.services.repos.listRecords(TENANT, { integrationId: demo.integrationId }, 1000);
  expect(after.items.find((r) => r.id === victim.id)?.deleted).toBe(true);
});

test('the demo webhook curl is accepted, its tampered copy refused', async () => {
  const demo = sandbox.demoIntegration();
  await putNotion(demo.integrationId, demo.body);
  const curl = sandbox.demoWebhook!(`http://localhost/api/webhooks/notion/${demo.integrationId}`);
  const route = { provider: 'notion', integrationId: demo.integrationId };
  expect((await receiveWebhook(t.services.webhookDeps, route, fromCurl(curl.signed, demo.integrationId))).status).toBe(202);
  expect((await receiveWebhook(t.services.webhookDeps, route, fromCurl(curl.tampered, demo.integrationId))).status).toBe(401);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(1);
});

test('handshake stores the verification_token once; signed events then queue a sync, deduped by payload id', async () => {
  const demo = sandbox.demoIntegration();
  const { webhookSecret: _none, ...withoutSecret } = demo.body;
  await putNotion('notion-hooked', withoutSecret);
  const route = { provider: 'notion', integrationId: 'notion-hooked' };
  const req = (raw: string, headers: Record<string, string> = {}): WebhookRequest => ({
    rawBody: Buffer.from(raw),
    header: (name) => ({ 'content-type': 'application/json', ...headers })[name.toLowerCase()],
    url: 'http://localhost/api/webhooks/notion/notion-hooked',
  });

  const token = `secret_${randomUUID().replace(/-/g, '')}`;
  const handshake = (tok: string) => receiveWebhook(t.services.webhookDeps, route, req(JSON.stringify({ verification_token: tok })));
  const admin = (method: 'GET' | 'POST') => (method === 'POST' ? postWebhookHandshake : getWebhookHandshake)(t.services.adminDeps, apiRequest({ method, params: { tenantId: TENANT, integrationId: 'notion-hooked' } }));

  // Anyone who knows the id posting first gets the same refusal as a bad signature, and becomes nothing.
  const planted = await handshake(`${token}-planted`);
  expect(planted).toEqual(REFUSED);
  expect((await t.services.repos.getIntegration(TENANT, 'notion-hooked'))?.webhookSecretName).toBeUndefined();

  // The admin arms the handshake; Notion's token is taken, and shown back to the admin to paste into Notion.
  expect((await admin('POST')).status).toBe(202);
  const hello = await handshake(token);
  expect(hello.status).toBe(200);
  const stored = await t.services.repos.getIntegration(TENANT, 'notion-hooked');
  expect(stored?.webhookSecretName).toBeDefined();
  expect((await admin('GET')).jsonBody).toMatchObject({ armedUntil: null, received: { token } });
  // The window closed on the first token: a second handshake cannot replace it.
  expect(await handshake(`${token}x`)).toEqual(REFUSED);

  const event = { id: randomUUID(), timestamp: new Date().toISOString(), type: 'page.created', attempt_number: 1, entity: { id: randomUUID(), type: 'page' }, data: {} };
  const signedReq = (body: string) => req(body, { 'x-notion-signature': `sha256=${createHmac('sha256', token).update(body).digest('hex')}` });
  const first = await receiveWebhook(t.services.webhookDeps, route, signedReq(JSON.stringify(event)));
  expect(first.status).toBe(202);
  expect(JSON.parse(first.body)).toMatchObject({ duplicate: false, deliveryIds: [event.id] });
  // Notion's retry: same id, next attempt_number, a different body and signature.
  const retry = await receiveWebhook(t.services.webhookDeps, route, signedReq(JSON.stringify({ ...event, attempt_number: 2 })));
  expect(JSON.parse(retry.body)).toMatchObject({ duplicate: true });
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(1);
});
