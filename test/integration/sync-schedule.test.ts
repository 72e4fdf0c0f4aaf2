import { QUEUES } from '../../shared/messaging/names';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { dueSlot, nextDueAt, scheduleDueSyncs } from '../../shared/sync/schedule';
import { fakeIntegration, fakeServices } from '../helpers/engine';
import { dataset } from '../helpers/fake-provider';
import type { TestServices } from '../helpers/services';

let t: TestServices;
afterEach(async () => { await t.cleanup(); });

test('the timer fired ten times for one slot enqueues one job per integration, even past the duplicate-detection window', async () => {
  // A queue that forgets message ids at once: only the recorded slot can stop repeats.
  const forgetful = new EmbeddedQueue({ duplicateDetectionWindowMs: 1 });
  t = await fakeServices();
  dataset('sched', []);
  for (const id of ['a1', 'a2', 'a3']) await fakeIntegration(t, id, 'sched');
  const now = new Date('2026-03-01T10:00:00.000Z');
  const deps = { ...t.services.scheduleDeps, queue: forgetful, now: () => now };
  for (let i = 0; i < 10; i++) await scheduleDueSyncs(deps, i > 0);
  const queued = forgetful.peek(QUEUES.syncInbound);
  expect(queued.map((m) => m.messageId).sort()).toEqual(['a1', 'a2', 'a3'].map((id) => `sched:${id}:i:${Math.floor(now.getTime() / 3_600_000)}`));
  // The next hour is a new slot.
  const later = new Date('2026-03-01T11:00:00.000Z');
  const report = await scheduleDueSyncs({ ...deps, now: () => later }, false);
  expect(report.enqueued).toBe(3);
});

test('cron schedules: a past-due fire after an outage enqueues one catch-up job for the latest missed slot', async () => {
  t = await fakeServices();
  dataset('cron', []);
  await fakeIntegration(t, 'cr', 'cron', { schedule: { cron: '0 */15 * * * *' } });
  const integration = (await t.services.repos.getIntegration('acme', 'cr'))!;
  // As the scheduler itself would have left it after enqueuing the 06:00 occurrence (its index moved on too).
  const recorded = { ...integration, lastScheduledSlot: 'c:2026-03-01T06:00:00.000Z' };
  await t.services.repos.putIntegration({ ...recorded, nextDueAt: nextDueAt(recorded, new Date('2026-03-01T06:00:00.000Z')) });
  const now = new Date('2026-03-01T10:07:00.000Z');
  const report = await scheduleDueSyncs({ ...t.services.scheduleDeps, now: () => now }, true);
  expect(report).toMatchObject({ enqueued: 1, pastDue: true, slots: { cr: 'c:2026-03-01T10:00:00.000Z' } });
  // Deterministic: running the catch-up again finds nothing due.
  expect((await scheduleDueSyncs({ ...t.services.scheduleDeps, now: () => now }, true)).enqueued).toBe(0);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(1);
});

test('interval schedules are not due again in the slot of the last completed sync', () => {
  const base = { status: 'active' as const, scheduleMinutes: 60, createdAt: '2026-01-01T00:00:00Z' };
  const i = { ...base, id: 'x', tenantId: 't', type: 'integration' as const, provider: 'fake', baseUrl: 'http://x', config: {}, credentialsSecret: 's', conflictStrategy: 'provider-wins' as const, updatedAt: base.createdAt };
  expect(dueSlot({ ...i, lastSyncAt: '2026-03-01T10:05:00Z' }, new Date('2026-03-01T10:30:00Z'))).toBeUndefined();
  expect(dueSlot({ ...i, lastSyncAt: '2026-03-01T09:59:00Z' }, new Date('2026-03-01T10:30:00Z'))).toBe(`i:${Math.floor(Date.parse('2026-03-01T10:30:00Z') / 3_600_000)}`);
  expect(dueSlot({ ...i, status: 'needs_reauth' }, new Date('2026-03-01T10:30:00Z'))).toBeUndefined();
});
