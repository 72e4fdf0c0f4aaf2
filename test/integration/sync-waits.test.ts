/**
 * Waiting is not failing, and nothing waits forever: busy deferrals back off
 * and are counted apart from failures; a run with nothing behind it is
 * failed with a reason when it is read, and never blocks a new run.
 */
import { listRuns, postSync } from '../../shared/api/runs';
import { QUEUES } from '../../shared/messaging/names';
import { syncJobSchema } from '../../shared/messaging/messages';
import { deferralDelay, MAX_DEFERRAL_MS } from '../../shared/sync/followup';
import { lockKey, runPullSync } from '../../shared/sync/pull';
import { QUEUED_GRACE_MS, RUNNING_GRACE_MS } from '../../shared/sync/stale';
import { newRun } from '../../shared/sync/runs';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices, message, pullJob } from '../helpers/engine';
import { dataset, item } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
beforeEach(async () => { t = await fakeServices(); });
afterEach(async () => { await t.cleanup(); });

const ts = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

test('busy deferrals double (30 s → 5 min cap) and use up none of the retries', async () => {
  dataset('busy', [item(1, ts(1))]);
  await fakeIntegration(t, 'b1', 'busy');
  await t.services.syncDeps.kv.set(lockKey('b1'), 'someone-else', 600_000);
  let job = pullJob('b1', { runId: 'run-busy' });
  const delays: number[] = [];
  for (let i = 1; i <= 6; i++) {
    const before = Date.now();
    const outcome = await runPullSync(t.services.syncDeps, job, message());
    expect(outcome.kind).toBe('rescheduled');
    delays.push(Date.parse(outcome.kind === 'rescheduled' ? outcome.at : '') - before);
    const next = t.queue.peek(QUEUES.syncInbound).find((m) => (m.body as { deferrals?: number }).deferrals === i);
    job = syncJobSchema.parse(next?.body);
    expect(job.attempt).toBeUndefined();
  }
  expect(delays[0]).toBeGreaterThanOrEqual(24_000);
  expect(delays[0]).toBeLessThanOrEqual(36_500);
  expect(delays[2]).toBeGreaterThanOrEqual(96_000);
  expect(delays[5]).toBeLessThanOrEqual(360_500);
  // Then one real failure still gets the full backoff, not "retries exhausted".
  await t.services.syncDeps.kv.delete(lockKey('b1'));
  dataset('busy', [item(1, ts(1))]).failAt = { page: 0, times: 1, error: 'retryable' };
  const failed = await runPullSync(t.services.syncDeps, job, message());
  expect(failed.kind).toBe('rescheduled');
});

test('a job that has waited longer than the bound is parked with its own reason and its run fails', async () => {
  dataset('long-wait', [item(1, ts(1))]);
  await fakeIntegration(t, 'w1', 'long-wait');
  await t.services.syncDeps.kv.set(lockKey('w1'), 'someone-else', 600_000);
  const since = new Date(Date.now() - MAX_DEFERRAL_MS - 60_000).toISOString();
  const outcome = await runPullSync(t.services.syncDeps, pullJob('w1', { runId: 'run-wait', deferrals: 300, deferredSince: since }), message());
  expect(outcome.kind).toBe('failed');
  const parked = await t.services.repos.listDeadLetters('acme', 10);
  expect(parked.items.map((d) => d.reason)).toEqual(['DeferredTooLong']);
  expect((await t.services.repos.getRun('acme', 'run-wait'))?.error).toMatch(/waited more than 24 h/);
});

test('deferral delays grow and stay within the cap', () => {
  const mid = () => 0.5;
  expect([1, 2, 3, 4, 5, 6, 40].map((n) => deferralDelay(n, 2_000, 60_000, mid))).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
});

test('runs with nothing behind them are failed with a reason when listed; live ones are left alone', async () => {
  dataset('stale', [item(1, ts(1))]);
  await fakeIntegration(t, 's1', 'stale');
  const now = Date.now();
  const old = (ms: number) => new Date(now - ms).toISOString();
  await t.services.repos.createRun({ ...newRun({ tenantId: 'acme', integrationId: 's1', runId: 'run-lost' }, 'manual', new Date(now - QUEUED_GRACE_MS - 60_000)) });
  await t.services.repos.createRun({ ...newRun({ tenantId: 'acme', integrationId: 's1', runId: 'run-dead' }, 'manual', new Date(now - 3_600_000)), status: 'running', startedAt: old(3_600_000), heartbeatAt: old(RUNNING_GRACE_MS + 60_000) });
  await t.services.repos.createRun({ ...newRun({ tenantId: 'acme', integrationId: 's1', runId: 'run-waiting' }, 'manual', new Date(now - 3_600_000)), resumeAt: new Date(now + 60_000).toISOString() });
  await t.services.repos.createRun({ ...newRun({ tenantId: 'acme', integrationId: 's1', runId: 'run-live' }, 'manual', new Date(now - 3_600_000)), status: 'running', heartbeatAt: old(5_000) });
  const res = await listRuns(t.services.adminDeps, apiRequest({ params: { tenantId: 'acme', integrationId: 's1' } }));
  const byId = new Map((res.jsonBody as { items: { id: string; status: string; error: string | null }[] }).items.map((r) => [r.id, r]));
  expect(byId.get('run-lost')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^abandoned: queued/) as unknown });
  expect(byId.get('run-dead')).toMatchObject({ status: 'failed', error: expect.stringMatching(/^abandoned: its worker stopped/) as unknown });
  expect(byId.get('run-waiting')?.status).toBe('queued');
  expect(byId.get('run-live')?.status).toBe('running');
  expect((await t.services.repos.getRun('acme', 'run-lost'))?.status).toBe('failed');
  // A new run starts and completes regardless.
  const started = await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 's1' } }));
  const runId = (started.jsonBody as { runId: string }).runId;
  const [msg] = t.queue.peek(QUEUES.syncInbound).filter((m) => m.messageId === runId);
  expect((await runPullSync(t.services.syncDeps, syncJobSchema.parse(msg?.body), { messageId: runId, deliveryCount: 1 })).kind).toBe('succeeded');
});
