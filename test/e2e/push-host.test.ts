/**
 * Pushes through the local host over HTTP, with the function definitions the
 * Functions worker loads and the real queue triggers: an edit and a create
 * reach the GitHub sandbox by themselves, without an operator or a pull in
 * between (the edit no longer waits 30 s for a pre-push pull).
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { setServices } from '../../shared/composition';
import { embeddedServices, TEST_ADMIN_KEY, type TestServices } from '../helpers/services';

let t: TestServices;
let gh: GithubSandbox;
let host: LocalHost;
const token = 'ghp_pushhost_000000001';

const api = (path: string, init: RequestInit & { key?: string | null } = {}) => {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('x-functions-key', init.key ?? TEST_ADMIN_KEY);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  return fetch(`${host.url}/api${path}`, { ...init, headers });
};

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  t = await embeddedServices();
  setServices(t.services);
  gh = await startGithubSandbox({ tokens: { [token]: {} } });
  gh.seedIssues('octo', 'push', 3);
  host = await startLocalHost({ definitions, receiver: t.queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
  expect((await api('/admin/tenants/acme', { method: 'PUT', body: JSON.stringify({ name: 'Acme' }) })).status).toBe(201);
  const put = await api('/admin/tenants/acme/integrations/gh-push', {
    method: 'PUT',
    body: JSON.stringify({ provider: 'github', baseUrl: gh.url, config: { owner: 'octo', repo: 'push' }, credentials: { type: 'token', token } }),
  });
  expect(put.status).toBe(201);
  const sync = await api('/admin/tenants/acme/integrations/gh-push/sync', { method: 'POST' });
  const { runId } = (await sync.json()) as { runId: string };
  await waitFor(async () => {
    const runs = ((await (await api('/admin/tenants/acme/integrations/gh-push/runs')).json()) as { items: { id: string; status: string }[] }).items;
    return runs.find((r) => r.id === runId && r.status === 'succeeded');
  });
});

afterAll(async () => {
  await host.stop();
  await gh.close();
  await t.cleanup();
  setServices(undefined);
});

test('PATCH …/records/{id}: the edit reaches GitHub on its own, within seconds, and the record stops being pending', async () => {
  const list = (await (await api('/admin/tenants/acme/records?integrationId=gh-push')).json()) as { items: { id: string; data: { number: number } }[] };
  const one = list.items.find((r) => r.data.number === 1)!;
  const res = await api(`/admin/tenants/acme/records/${one.id}`, { method: 'PATCH', body: JSON.stringify({ data: { title: 'Edited over HTTP' } }) });
  expect(res.status).toBe(202);
  await waitFor(() => (gh.getIssue('octo', 'push', 1)?.title === 'Edited over HTTP' ? true : undefined), 8_000);
  const after = await waitFor(async () => {
    const items = ((await (await api('/admin/tenants/acme/records?integrationId=gh-push')).json()) as { items: { id: string; pending: unknown; pushedVersion: string | null }[] }).items;
    const r = items.find((x) => x.id === one.id);
    return r?.pending === null ? r : undefined;
  });
  expect(after.pushedVersion).toBe(gh.getIssue('octo', 'push', 1)?.updated_at);
});

test('POST …/records: 401 without the key (before the body is read), 413 over the limit, 202 creates one issue', async () => {
  expect((await api('/admin/tenants/acme/records', { method: 'POST', key: null, body: JSON.stringify({ integrationId: 'gh-push', entityType: 'issue', data: { title: 'x' } }) })).status).toBe(401);
  expect((await api('/admin/tenants/acme/records', { method: 'POST', key: 'wrong-key-000000000000', body: '{}' })).status).toBe(401);
  expect((await api('/admin/tenants/acme/records', { method: 'POST', body: JSON.stringify({ integrationId: 'gh-push', entityType: 'issue', data: { title: 'x', body: 'y'.repeat(300 * 1024) } }) })).status).toBe(413);
  const res = await api('/admin/tenants/acme/records', { method: 'POST', body: JSON.stringify({ integrationId: 'gh-push', entityType: 'issue', data: { title: 'Created over HTTP' } }) });
  expect(res.status).toBe(202);
  const made = await waitFor(() => gh.getIssue('octo', 'push', 4));
  expect(made.title).toBe('Created over HTTP');
  await waitFor(async () => {
    const items = ((await (await api('/admin/tenants/acme/records?integrationId=gh-push')).json()) as { items: { externalId: string }[] }).items;
    return items.find((r) => r.externalId === String(made.id));
  });
  expect(gh.getIssue('octo', 'push', 5)).toBeUndefined();
});
