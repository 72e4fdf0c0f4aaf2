import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { QUEUES } from '../../shared/messaging/names';
import { syncJobSchema, type SyncJob } from '../../shared/messaging/messages';
import { runPullSync } from '../../shared/sync/pull';
import { seedGithubIntegration, type GithubSeed } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

let gh: GithubSandbox;
let t: TestServices;
let seed: GithubSeed;
let n = 0;

const job = (extra: Partial<SyncJob> = {}): SyncJob => ({
  type: 'sync.pull',
  tenantId: seed.tenantId,
  integrationId: seed.integrationId,
  trigger: 'manual',
  requestedAt: new Date().toISOString(),
  ...extra,
});
const msg = (deliveryCount = 1) => ({ messageId: `m-${++n}`, deliveryCount });

async function allRecords() {
  const out = [];
  let continuation: string | undefined;
  do {
    const page = await t.services.repos.listRecords(seed.tenantId, { integrationId: seed.integrationId }, 1000, continuation);
    out.push(...page.items);
    continuation = page.continuation;
  } while (continuation);
  return out;
}

beforeEach(async () => {
  gh = await startGithubSandbox({ tokens: { ghp_sandboxtoken0001: { limit: 5000 } } });
  gh.seedIssues('octo', 'hello', 250);
  t = await embeddedServices();
  seed = await seedGithubIntegration(t.services, gh.url);
});

afterEach(async () => {
  await t.cleanup();
  await gh.close();
});

test('a first sync stores every issue once, with deterministic ids, and records the run', async () => {
  const outcome = await runPullSync(t.services.syncDeps, job(), msg());
  expect(outcome.kind).toBe('succeeded');
  const records = await allRecords();
  expect(records).toHaveLength(250);
  expect(new Set(records.map((r) => r.externalId)).size).toBe(250);
  const run = await t.services.repos.getRun(seed.tenantId, outcome.kind === 'succeeded' ? outcome.runId : '');
  expect(run).toMatchObject({ status: 'succeeded', counts: { fetched: 250, created: 250, updated: 0, unchanged: 0 } });
  expect(run?.finishedAt).toBeDefined();
  const integration = await t.services.repos.getIntegration(seed.tenantId, seed.integrationId);
  expect(integration?.cursor).toEqual({ since: records.map((r) => r.updatedAt).sort().at(-1) });
  // Pages of 100: three requests to list 250 issues.
  expect(gh.requests().filter((r) => r.path.startsWith('/repos/octo/hello/issues'))).toHaveLength(3);
});

test('re-running the same sync changes nothing; an edited issue is updated on the next run', async () => {
  await runPullSync(t.services.syncDeps, job(), msg());
  const before = await allRecords();
  const second = await runPullSync(t.services.syncDeps, job(), msg());
  const run2 = await t.services.repos.getRun(seed.tenantId, second.kind === 'succeeded' ? second.runId : '');
  expect(run2?.counts.created).toBe(0);
  expect(run2?.counts.updated).toBe(0);
  expect((await allRecords()).map((r) => [r.id, r.etag])).toEqual(before.map((r) => [r.id, r.etag]));

  gh.updateIssue('octo', 'hello', 7, { title: 'Renamed' });
  const third = await runPullSync(t.services.syncDeps, job(), msg());
  const run3 = await t.services.repos.getRun(seed.tenantId, third.kind === 'succeeded' ? third.runId : '');
  expect(run3?.counts).toMatchObject({ updated: 1, created: 0 });
  const renamed = (await allRecords()).find((r) => r.data.number === 7);
  expect(renamed?.data.title).toBe('Renamed');
});

test('a crash after the first page resumes from the checkpoint on redelivery and ends with exactly the clean result', async () => {
  let calls = 0;
  const flaky: typeof fetch = (input, init) => {
    calls++;
    if (calls === 2) return Promise.reject(new TypeError('fetch failed: socket hang up'));
    return fetch(input, init);
  };
  const deps = { ...t.services.syncDeps, fetch: flaky };
  const first = await runPullSync(deps, job(), msg(1));
  expect(first.kind).toBe('rescheduled');
  const mid = await t.services.repos.getIntegration(seed.tenantId, seed.integrationId);
  expect(mid?.cursor).toHaveProperty('next');
  expect(await allRecords()).toHaveLength(100);

  // The backoff message carries the same run; it resumes from the checkpoint.
  const [retry] = t.queue.peek(QUEUES.syncInbound);
  expect(retry?.state).toBe('scheduled');
  const outcome = await runPullSync(deps, syncJobSchema.parse(retry?.body), { messageId: retry?.messageId ?? '', deliveryCount: 1 });
  expect(outcome).toEqual({ kind: 'succeeded', runId: first.kind === 'rescheduled' ? first.runId : '' });
  const records = await allRecords();
  expect(records).toHaveLength(250);
  expect(new Set(records.map((r) => r.id)).size).toBe(250);
});

test('a redelivered message for a finished run does nothing', async () => {
  const m = msg();
  await runPullSync(t.services.syncDeps, job(), m);
  const requests = gh.requests().length;
  const again = await runPullSync(t.services.syncDeps, job(), { ...m, deliveryCount: 2 });
  expect(again).toEqual({ kind: 'skipped', reason: 'run already finished (redelivery)' });
  expect(gh.requests().length).toBe(requests);
});

test('a revoked token marks the integration needs_reauth and fails the run without retry', async () => {
  await seedGithubIntegration(t.services, gh.url, { ...seed, token: 'ghp_revoked_or_unknown' });
  const outcome = await runPullSync(t.services.syncDeps, job(), msg());
  expect(outcome.kind).toBe('failed');
  expect((await t.services.repos.getIntegration(seed.tenantId, seed.integrationId))?.status).toBe('needs_reauth');
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(0);
});

test('an exhausted rate limit reschedules the same run at the reset instead of failing', async () => {
  gh.exhaust('ghp_sandboxtoken0001');
  const outcome = await runPullSync(t.services.syncDeps, job(), msg());
  expect(outcome.kind).toBe('rescheduled');
  const [queued] = t.queue.peek(QUEUES.syncInbound);
  expect(queued?.state).toBe('scheduled');
  // Waiting for a rate limit is a deferral, not a failure: it uses up none of the three retries.
  expect(queued?.body).toMatchObject({ runId: outcome.kind === 'rescheduled' ? outcome.runId : '', deferrals: 1 });
  expect(queued?.body).not.toHaveProperty('attempt');
  const run = await t.services.repos.getRun(seed.tenantId, outcome.kind === 'rescheduled' ? outcome.runId : '');
  expect(run?.status).toBe('queued');
  expect(run?.resumeAt).toBe(outcome.kind === 'rescheduled' ? outcome.at : '');
});

test('a second job while a run holds the integration is rescheduled, not run in parallel', async () => {
  await t.services.syncDeps.kv.setIfAbsent(`lock:sync:{${seed.integrationId}}`, 'run-other', 60_000);
  const outcome = await runPullSync(t.services.syncDeps, job(), msg());
  expect(outcome.kind).toBe('rescheduled');
  expect(await allRecords()).toHaveLength(0);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(1);
});

test('transient failures back off 30 s, 2 min, 10 min (with jitter), then fail the run and park the message', async () => {
  const delays: number[] = [];
  let current = job({ runId: 'run-backoff' });
  for (let attempt = 1; attempt <= 3; attempt++) {
    gh.failNext(1, 502);
    const before = Date.now();
    const outcome = await runPullSync(t.services.syncDeps, current, msg());
    expect(outcome.kind).toBe('rescheduled');
    const scheduled = t.queue.peek(QUEUES.syncInbound).find((m) => (m.body as { attempt?: number }).attempt === attempt);
    expect(scheduled?.state).toBe('scheduled');
    delays.push(Date.parse(outcome.kind === 'rescheduled' ? outcome.at : '') - before);
    current = syncJobSchema.parse(scheduled?.body);
  }
  expect(delays[0]).toBeGreaterThanOrEqual(24_000);
  expect(delays[0]).toBeLessThanOrEqual(36_500);
  expect(delays[1]).toBeGreaterThanOrEqual(96_000);
  expect(delays[2]).toBeGreaterThanOrEqual(480_000);
  gh.failNext(1, 502);
  const last = await runPullSync(t.services.syncDeps, current, msg());
  expect(last.kind).toBe('failed');
  const run = await t.services.repos.getRun(seed.tenantId, 'run-backoff');
  expect(run?.status).toBe('failed');
  expect(run?.error).toMatch(/gave up after 3 retries/);
  const parked = await t.services.repos.listDeadLetters(seed.tenantId, 10);
  expect(parked.items.map((d) => d.reason)).toEqual(['RetriesExhausted']);
});

test('every page request goes through the rate limiter: over the integration\'s fetch limit the run is rescheduled, not failed', async () => {
  await t.services.adminDeps.limits.setIntegration(seed.tenantId, seed.integrationId, { operations: { fetch: 2 } });
  const outcome = await runPullSync(t.services.syncDeps, job({ runId: 'run-limited' }), msg());
  expect(outcome.kind).toBe('rescheduled');
  expect(outcome.kind === 'rescheduled' ? outcome.reason : '').toMatch(/Rate limit reached for integration .* \(fetch\)/);
  // Two pages were admitted and stored; the third request was never sent.
  expect(gh.requests().filter((r) => r.path.startsWith('/repos/octo/hello/issues'))).toHaveLength(2);
  expect(await allRecords()).toHaveLength(200);
  expect((await t.services.repos.getRun(seed.tenantId, 'run-limited'))?.status).toBe('queued');
});
