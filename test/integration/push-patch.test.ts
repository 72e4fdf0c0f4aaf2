/**
 * A push never overwrites a provider change it has not seen, and never
 * touches fields nobody edited (issue 10, point 2), through the real worker
 * against the GitHub sandbox: the provider changes an issue after the last
 * pull and before the push — the window a pre-push pull left open.
 */
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { listConflicts, resolveConflict } from '../../shared/api/conflicts';
import { putIntegration } from '../../shared/api/integrations';
import { patchRecord } from '../../shared/api/local-changes';
import { listRecords } from '../../shared/api/records';
import { putTenant } from '../../shared/api/tenants';
import type { SyncRecord } from '../../shared/domain/types';
import { QUEUES } from '../../shared/messaging/names';
import { handleOutbound, type OutboundDeps, type OutboundOutcome } from '../../shared/sync/outbound';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

const TOKEN = 'ghp_pushpatch0001';
let gh: GithubSandbox;
let t: TestServices;
let n = 0;
/** The bodies of the writes GitHub received (PATCH / POST), in order. */
let writes: { method: string; path: string; body: unknown }[];

beforeEach(async () => {
  gh = await startGithubSandbox({ tokens: { [TOKEN]: { limit: 100_000 } } });
  gh.seedIssues('octo', 'hello', 3);
  t = await embeddedServices();
  writes = [];
});
afterEach(async () => {
  await t.cleanup();
  await gh.close();
});

async function integration(extra: Record<string, unknown> = {}): Promise<void> {
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
  const res = await putIntegration(t.services.adminDeps, apiRequest({
    method: 'PUT',
    params: { tenantId: 'acme', integrationId: 'gh1' },
    body: { provider: 'github', baseUrl: gh.url, config: { owner: 'octo', repo: 'hello' }, credentials: { type: 'token', token: TOKEN }, ...extra },
  }));
  expect(res.status).toBeLessThan(300);
  await pull();
}

async function pull(): Promise<{ updated: number; unchanged: number }> {
  // Pulls are compared with local edits by millisecond timestamps: start this one strictly later.
  await new Promise((r) => setTimeout(r, 3));
  const outcome = await runPullSync(t.services.syncDeps, { type: 'sync.pull', tenantId: 'acme', integrationId: 'gh1', trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: `pull-${++n}`, deliveryCount: 1 });
  if (outcome.kind !== 'succeeded') throw new Error(`pull ${outcome.kind}`);
  const run = await t.services.repos.getRun('acme', outcome.runId);
  return { updated: run?.counts.updated ?? -1, unchanged: run?.counts.unchanged ?? -1 };
}

async function issueRecord(number: number): Promise<SyncRecord> {
  const res = await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' }, query: { integrationId: 'gh1', limit: '100' } }));
  const items = (res.jsonBody as { items: { id: string }[] }).items;
  for (const { id } of items) {
    const r = await t.services.repos.getRecord('acme', id, 'records');
    if (r?.data.number === number) return r;
  }
  throw new Error(`no record for issue #${number}`);
}

async function edit(recordId: string, data: Record<string, unknown>): Promise<string> {
  const res = await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId }, body: { data } }));
  expect(res.status).toBe(202);
  const stored = await t.services.repos.getRecord('acme', recordId, 'records');
  return stored!.local!.idempotencyKey;
}

/** The worker, with a fetch that notes every write GitHub receives. */
function deps(): OutboundDeps {
  const inner = t.services.outboundDeps.fetch;
  const spy: typeof fetch = async (input, init) => {
    if (init?.method === 'PATCH' || init?.method === 'POST') {
      const url = new URL(input instanceof Request ? input.url : String(input));
      writes.push({ method: init.method, path: url.pathname, body: JSON.parse(init.body as string) as unknown });
    }
    return inner(input, init);
  };
  return { ...t.services.outboundDeps, fetch: spy };
}

async function deliver(messageId: string): Promise<OutboundOutcome> {
  const m = t.queue.peek(QUEUES.syncOutbound).find((x) => x.messageId === messageId);
  if (!m) throw new Error(`no queued message ${messageId}`);
  return handleOutbound(deps(), m.body, { messageId, deliveryCount: 1 });
}

const ORIGINAL_BODY = 'Body of seeded issue #1 in octo/hello.';

test('an edit sends only the edited field; the fields nobody edited are not written back', async () => {
  await integration();
  const one = await issueRecord(1);
  const key = await edit(one.id, { title: 'Edited here' });
  expect(await deliver(key)).toMatchObject({ kind: 'pushed' });
  expect(writes).toEqual([{ method: 'PATCH', path: '/repos/octo/hello/issues/1', body: { title: 'Edited here' } }]);
  expect(gh.getIssue('octo', 'hello', 1)).toMatchObject({ title: 'Edited here', body: ORIGINAL_BODY });
});

test('provider-wins: a provider change after the last pull is not overwritten; its version is stored and the edit dropped', async () => {
  await integration();
  const one = await issueRecord(1);
  const key = await edit(one.id, { title: 'Edited here' });
  await pull(); // the pull a push used to wait for: it saw nothing new
  gh.updateIssue('octo', 'hello', 1, { title: 'Changed on GitHub', body: 'Body changed on GitHub' });

  expect(await deliver(key)).toMatchObject({ kind: 'superseded' });
  expect(writes).toEqual([]);
  expect(gh.getIssue('octo', 'hello', 1)).toMatchObject({ title: 'Changed on GitHub', body: 'Body changed on GitHub' });
  const after = await issueRecord(1);
  expect(after.local).toBeUndefined();
  expect(after.data).toMatchObject({ title: 'Changed on GitHub', body: 'Body changed on GitHub' });
});

test('local-wins: the edit goes out over the provider change, and only the edited field: the provider\'s other change stays', async () => {
  await integration({ conflictStrategy: 'local-wins' });
  const one = await issueRecord(1);
  const key = await edit(one.id, { title: 'Edited here' });
  await pull();
  gh.updateIssue('octo', 'hello', 1, { body: 'Body changed on GitHub' });

  expect(await deliver(key)).toMatchObject({ kind: 'pushed' });
  expect(writes).toEqual([{ method: 'PATCH', path: '/repos/octo/hello/issues/1', body: { title: 'Edited here' } }]);
  expect(gh.getIssue('octo', 'hello', 1)).toMatchObject({ title: 'Edited here', body: 'Body changed on GitHub' });
});

test('manual: the push parks a conflict instead of writing; {pick: "local"} then pushes only the edited field', async () => {
  await integration({ conflictStrategy: 'manual' });
  const one = await issueRecord(1);
  const key = await edit(one.id, { title: 'Edited here' });
  await pull();
  gh.updateIssue('octo', 'hello', 1, { body: 'Body changed on GitHub' });

  expect(await deliver(key)).toMatchObject({ kind: 'superseded' });
  const list = await listConflicts(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' }, query: { status: 'open' } }));
  const [conflict] = (list.jsonBody as { items: { id: string; provider: { data: Record<string, unknown> } }[] }).items;
  expect(conflict?.provider.data.body).toBe('Body changed on GitHub');

  const res = await resolveConflict(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', conflictId: conflict!.id }, body: { pick: 'local' } }));
  expect(res.jsonBody).toMatchObject({ resolution: 'local', pushQueued: true });
  const resolved = await issueRecord(1);
  expect(await deliver(resolved.local!.idempotencyKey)).toMatchObject({ kind: 'pushed' });
  expect(writes).toEqual([{ method: 'PATCH', path: '/repos/octo/hello/issues/1', body: { title: 'Edited here' } }]);
  expect(gh.getIssue('octo', 'hello', 1)).toMatchObject({ title: 'Edited here', body: 'Body changed on GitHub' });
});

test('two edits before a push accumulate: one push sends both fields, the first edit\'s push is superseded', async () => {
  await integration();
  const two = await issueRecord(2);
  const first = await edit(two.id, { title: 'First edit' });
  const second = await edit(two.id, { body: 'Second edit' });
  expect(await deliver(first)).toMatchObject({ kind: 'superseded' });
  expect(await deliver(second)).toMatchObject({ kind: 'pushed' });
  expect(writes.map((w) => w.body)).toEqual([{ title: 'First edit', body: 'Second edit' }]);
  expect(gh.getIssue('octo', 'hello', 2)).toMatchObject({ title: 'First edit', body: 'Second edit' });
});

test('a GitHub push stores the issue\'s version (updated_at) as pushedVersion, and the issue as GitHub holds it', async () => {
  await integration();
  const one = await issueRecord(1);
  expect(await deliver(await edit(one.id, { title: 'Versioned' }))).toMatchObject({ kind: 'pushed' });
  const issue = gh.getIssue('octo', 'hello', 1)!;
  const res = await listRecords(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme' }, query: { integrationId: 'gh1' } }));
  const view = (res.jsonBody as { items: { id: string; pushedVersion: string | null; updatedAt: string; pending: unknown; data: Record<string, unknown> }[] }).items.find((i) => i.id === one.id);
  expect(view).toMatchObject({ pushedVersion: issue.updated_at, updatedAt: issue.updated_at, pending: null, data: { title: 'Versioned', updated_at: issue.updated_at } });
  // The stored record is GitHub's version: the next pull (which re-reads the newest issue) finds it unchanged.
  const next = await pull();
  expect(next.updated).toBe(0);
  expect(next.unchanged).toBeGreaterThan(0);
});

test('the re-read before a write counts against the fetch budget, not the write budget: one update a minute is one push a minute', async () => {
  await integration({ limits: { perMinute: 100, operations: { update: 1 } } });
  const one = await issueRecord(1);
  expect(await deliver(await edit(one.id, { title: 'Within the budget' }))).toMatchObject({ kind: 'pushed' });
  expect(gh.getIssue('octo', 'hello', 1)?.title).toBe('Within the budget');
  // The minute's one update is spent: the next push waits (a deferral) instead of failing.
  const two = await issueRecord(2);
  const key = await edit(two.id, { title: 'Over the budget' });
  expect(await deliver(key)).toMatchObject({ kind: 'rescheduled' });
  expect(t.queue.peek(QUEUES.syncOutbound).find((m) => m.messageId === `${key}:defer:1`)?.body).toMatchObject({ deferrals: 1 });
});
