/**
 * The finding behind issue 10 point 1, replayed against the Notion sandbox
 * over HTTP: pages moved to the trash are read in the pull's trash phase, 100
 * a page, after the cursor has moved past the live phase. A run that fails
 * (503s through every retry) or is cancelled by an admin in the middle of the
 * trash must apply and report no deletion, and the next run must apply every
 * one exactly once — not only those on the pages after the failure.
 */
import { putIntegration } from '../../shared/api/integrations';
import { cancelRun } from '../../shared/api/runs';
import { putTenant } from '../../shared/api/tenants';
import type { SyncDeps } from '../../shared/sync/deps';
import { startNotionSandbox, type NotionSandbox } from '../../local/sandbox/notion';
import { apiRequest } from '../helpers/api';
import { driveRun } from '../helpers/drive';
import { pullJob, records } from '../helpers/engine';
import { embeddedServices, type TestServices } from '../helpers/services';

const TOKEN = 'ntn_deletions_test_token_01';
let t: TestServices;
let notion: NotionSandbox;
let live: string[];

beforeEach(async () => {
  notion = await startNotionSandbox({ tokens: { [TOKEN]: { requestsPerMinute: 100_000 } } });
  t = await embeddedServices();
  const { id } = notion.createDataSource({ title: 'Tasks' });
  // Every 10th seeded page starts in the trash: 360 live pages.
  live = notion.seedPages(id, 400).filter((p) => !p.in_trash).map((p) => p.id);
  expect((await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }))).status).toBeLessThan(300);
  const body = { provider: 'notion', baseUrl: notion.url, config: { dataSourceId: id }, credentials: { type: 'internal', token: TOKEN } };
  const res = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 'tasks' }, body }));
  expect(res.status).toBeLessThan(300);
  expect((await driveRun(t.services.syncDeps, t.queue, pullJob('tasks'))).outcome.kind).toBe('succeeded');
  expect((await records(t, 'tasks')).filter((r) => !r.deleted)).toHaveLength(360);
});
afterEach(async () => {
  await t.cleanup();
  await notion.close();
});

/** Provider requests as they leave, with the query's trash flag and start cursor, so a test can act at an exact page. */
function watching(onQuery: (q: { trash: boolean; next: boolean }) => Promise<void> | void): SyncDeps {
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { in_trash?: boolean; start_cursor?: string }) : {};
    await onQuery({ trash: body.in_trash === true, next: body.start_cursor !== undefined });
    return t.services.syncDeps.fetch(input, init);
  };
  return { ...t.services.syncDeps, fetch };
}

async function trashedIds(): Promise<string[]> {
  return (await records(t, 'tasks')).filter((r) => r.deleted).map((r) => r.externalId).sort();
}

const countsOf = async (runId: string) => (await t.services.repos.getRun('acme', runId))?.counts;

test('150 pages trashed, a run failing in the middle of the trash applies 0 and says so; the next run applies all 150, the one after 0', async () => {
  const victims = live.filter((_, i) => i % 12 < 5).slice(0, 150);
  for (const id of victims) notion.trashPage(id);

  // Notion answers 503 to the trash phase's second page, through the run's every retry.
  let failing = true;
  const deps = watching(({ trash, next }) => { if (failing && trash && next) notion.failNext(1, 503); });
  const failed = await driveRun(deps, t.queue, pullJob('tasks', { runId: 'run-notion-failing' }));
  expect(failed.outcome.kind).toBe('failed');
  expect(await countsOf('run-notion-failing')).toMatchObject({ deleted: 0 });
  expect((await countsOf('run-notion-failing'))?.fetched).toBeGreaterThanOrEqual(100);
  expect(await trashedIds()).toEqual([]);

  failing = false;
  expect((await driveRun(deps, t.queue, pullJob('tasks', { runId: 'run-notion-next' }))).outcome.kind).toBe('succeeded');
  expect(await countsOf('run-notion-next')).toMatchObject({ deleted: 150 });
  expect(await trashedIds()).toEqual([...victims].sort());

  expect((await driveRun(deps, t.queue, pullJob('tasks', { runId: 'run-notion-after' }))).outcome.kind).toBe('succeeded');
  expect(await countsOf('run-notion-after')).toMatchObject({ deleted: 0 });
});

test('all 360 pages trashed, an admin cancels the run two trash pages in: it applies and reports 0; the next run applies all 360', async () => {
  for (const id of live) notion.trashPage(id);

  const params = { tenantId: 'acme', integrationId: 'tasks', runId: 'run-notion-cancelled' };
  let trashPages = 0;
  const deps = watching(async ({ trash }) => {
    // The third trash request goes out while the second page is stored: the run stops after it.
    if (trash && ++trashPages === 3) expect((await cancelRun(t.services.adminDeps, apiRequest({ method: 'POST', params }))).status).toBe(202);
  });
  expect((await driveRun(deps, t.queue, pullJob('tasks', { runId: 'run-notion-cancelled' }))).outcome.kind).toBe('cancelled');
  expect(await countsOf('run-notion-cancelled')).toMatchObject({ deleted: 0 });
  expect((await countsOf('run-notion-cancelled'))?.fetched).toBeGreaterThanOrEqual(200);
  expect(await trashedIds()).toEqual([]);

  expect((await driveRun(t.services.syncDeps, t.queue, pullJob('tasks', { runId: 'run-notion-resumed' }))).outcome.kind).toBe('succeeded');
  expect(await countsOf('run-notion-resumed')).toMatchObject({ deleted: 360 });
  expect(await trashedIds()).toEqual([...live].sort());
});
