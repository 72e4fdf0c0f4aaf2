/**
 * The whole app through the local host over HTTP: the same function
 * definitions the Functions worker loads, the GitHub sandbox, embedded adapters.
 */
import { randomUUID } from 'node:crypto';
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { setServices } from '../../shared/composition';
import { QUEUES } from '../../shared/messaging/names';
import { embeddedServices, TEST_ADMIN_KEY, type TestServices } from '../helpers/services';

let t: TestServices;
let gh: GithubSandbox;
let host: LocalHost;
const token = 'ghp_e2e_token_000000001';
const secret = 'e2e-webhook-secret-xyz';

const api = (path: string, init: RequestInit & { key?: string | null } = {}) => {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('x-functions-key', init.key ?? TEST_ADMIN_KEY);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  return fetch(`${host.url}/api${path}`, { ...init, headers });
};

async function waitFor<T>(probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface RunView { id: string; status: string; trigger: string; counts: Record<string, number> }
const runs = async (): Promise<RunView[]> =>
  ((await (await api('/admin/tenants/acme/integrations/gh-e2e/runs')).json()) as { items: RunView[] }).items;

beforeAll(async () => {
  t = await embeddedServices();
  setServices(t.services);
  gh = await startGithubSandbox({ tokens: { [token]: {} } });
  gh.seedIssues('octo', 'e2e', 130);
  host = await startLocalHost({ definitions, receiver: t.queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
});

afterAll(async () => {
  await host.stop();
  await gh.close();
  await t.cleanup();
  setServices(undefined);
});

test('health answers 200 with one check per dependency', async () => {
  const res = await fetch(`${host.url}/api/health`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { status: string; checks: Record<string, { status: string }> };
  expect(body.status).toBe('ok');
  expect(Object.keys(body.checks).sort()).toEqual(['kv', 'queue', 'ratelimit', 'secrets', 'store']);
});

test('admin: create tenant and integration, sync, and read runs and records over HTTP', async () => {
  expect((await api('/admin/tenants/acme', { method: 'PUT', body: JSON.stringify({ name: 'Acme' }) })).status).toBe(201);
  const put = await api('/admin/tenants/acme/integrations/gh-e2e', {
    method: 'PUT',
    body: JSON.stringify({ provider: 'github', baseUrl: gh.url, config: { owner: 'octo', repo: 'e2e' }, credentials: { type: 'token', token }, webhookSecret: secret }),
  });
  expect(put.status).toBe(201);
  expect(await put.text()).not.toContain(token);

  const sync = await api('/admin/tenants/acme/integrations/gh-e2e/sync', { method: 'POST' });
  expect(sync.status).toBe(202);
  const { runId } = (await sync.json()) as { runId: string };
  const done = await waitFor(async () => (await runs()).find((r) => r.id === runId && r.status === 'succeeded'));
  expect(done.counts).toMatchObject({ fetched: 130, created: 130 });

  const page1 = (await (await api('/admin/tenants/acme/records?integrationId=gh-e2e&limit=100')).json()) as { items: unknown[]; continuation?: string };
  expect(page1.items).toHaveLength(100);
  const page2 = (await (await api(`/admin/tenants/acme/records?integrationId=gh-e2e&limit=100&continuation=${encodeURIComponent(page1.continuation ?? '')}`)).json()) as { items: unknown[]; continuation?: string };
  expect(page2.items).toHaveLength(30);
  expect(page2.continuation).toBeUndefined();
});

test('admin: 401 without the key, 400 with a reason on bad input, 404 for unknown ids', async () => {
  expect((await api('/admin/tenants/acme/integrations/gh-e2e', { key: null })).status).toBe(401);
  const bad = await api('/admin/tenants/acme', { method: 'PUT', body: '{"name":' });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { reason: string }).reason).toMatch(/JSON/);
  expect((await api('/admin/tenants/acme/integrations/missing')).status).toBe(404);
});

test('webhook: a signed sandbox delivery is accepted and triggers a sync that picks up the change', async () => {
  gh.updateIssue('octo', 'e2e', 3, { title: 'changed upstream' });
  const url = `${host.url}/api/webhooks/github/gh-e2e`;
  const before = (await runs()).length;
  const delivery = await gh.deliverWebhook({ url, secret, event: 'issues', payload: { action: 'edited', issue: { number: 3 } } });
  expect(delivery.status).toBe(202);
  const webhookRun = await waitFor(async () => {
    const all = await runs();
    return all.length > before ? all.find((r) => r.trigger === 'webhook' && r.status === 'succeeded') : undefined;
  });
  expect(webhookRun.counts.updated).toBe(1);

  const again = await gh.deliverWebhook({ url, secret, event: 'issues', payload: { action: 'edited', issue: { number: 3 } }, deliveryId: delivery.deliveryId });
  expect(again.status).toBe(202);
  expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });
});

test('webhook: tampered, unknown, oversized and malformed deliveries are refused and nothing is queued', async () => {
  const url = `${host.url}/api/webhooks/github/gh-e2e`;
  const depth = t.queue.depth(QUEUES.syncInbound);
  expect((await gh.deliverWebhook({ url, secret: 'wrong-secret-000', event: 'issues', payload: { action: 'opened' } })).status).toBe(401);
  expect((await gh.deliverWebhook({ url: `${host.url}/api/webhooks/github/nope`, secret, event: 'issues', payload: {} })).status).toBe(401);
  expect((await gh.deliverWebhook({ url, secret, event: 'issues', payload: '{"action":' })).status).toBe(401);
  expect((await gh.deliverWebhook({ url, secret, event: 'ping', payload: { zen: 'Keep it simple.' } })).status).toBe(200);
  const big = await fetch(url, {
    method: 'POST',
    body: Buffer.alloc(1024 * 1024 + 10, 0x20),
    headers: { 'x-github-event': 'issues', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': 'sha256=00' },
  });
  expect(big.status).toBe(413);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(depth);
});
