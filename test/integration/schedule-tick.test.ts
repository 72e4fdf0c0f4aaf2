/**
 * Schedules mean what they say: the real SyncScheduler definition runs on the
 * local host's timer machinery (startTimers with a manual clock), against real
 * services whose clock is that same manual clock. A 5-minute schedule gets a
 * job every 5 minutes, a cron schedule a job within one tick of each
 * occurrence, the hourly default one an hour; finer schedules are refused
 * with the minimum; and a tick with nothing due reads one integration, not all.
 */
import { definitions } from '../../functions';
import { startTimers, type TimerRunner, type TimerScheduler } from '../../local/host/timers';
import { putIntegration } from '../../shared/api/integrations';
import { setServices } from '../../shared/composition';
import { QUEUES } from '../../shared/messaging/names';
import { SCHEDULER_TICK_MINUTES, scheduleDueSyncs } from '../../shared/sync/schedule';
import { apiRequest } from '../helpers/api';
import { fakeIntegration } from '../helpers/engine';
import { dataset, registryWithFake } from '../helpers/fake-provider';
import { embeddedServices, type TestServices } from '../helpers/services';

/** A manual clock: nothing fires until advance() moves time past it. */
class ManualClock implements TimerScheduler {
  private pending: { at: number; fn: () => void; cancelled: boolean }[] = [];
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  schedule(fn: () => void, delayMs: number): () => void {
    const entry = { at: this.t + delayMs, fn, cancelled: false };
    this.pending.push(entry);
    return () => { entry.cancelled = true; };
  }
  /** Move to `to`, firing what comes due on the way, in order. */
  advanceTo(to: number): void {
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      const due = this.pending.filter((p) => p.at <= to).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.pending.splice(this.pending.indexOf(due), 1);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = to;
  }
}

const MINUTE = 60_000;
const START = Date.parse('2027-01-04T09:58:30.000Z');

let t: TestServices;
let clock: ManualClock;
let timers: TimerRunner | undefined;

beforeEach(async () => {
  clock = new ManualClock(START);
  t = await embeddedServices({}, { providers: registryWithFake, now: () => new Date(clock.now()) });
  setServices(t.services);
  dataset('tick', []);
});
afterEach(async () => {
  await timers?.stop();
  timers = undefined;
  setServices(undefined);
  await t.cleanup();
});

const passes = (): number => t.logs.filter((l) => l.message === 'scheduler pass').length;

async function until(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 2_000 && !probe(); i++) await new Promise((r) => setImmediate(r));
  if (!probe()) throw new Error('the scheduler tick did not finish');
}

/** The SyncScheduler function exactly as registered, on the local host's timer runner. */
function startScheduler(): void {
  const fn = definitions.find((d) => d.kind === 'timer' && d.name === 'SyncScheduler');
  if (fn?.kind !== 'timer') throw new Error('SyncScheduler is not registered');
  timers = startTimers({ functions: [{ name: fn.name, schedule: fn.schedule, handler: fn.handler }], logger: t.services.logger, scheduler: clock });
}

/** Run the timers for `minutes`, one fire at a time; returns each job with the time it was enqueued. */
async function runFor(minutes: number): Promise<{ at: string; messageId: string }[]> {
  const seen = new Set<string>();
  const jobs: { at: string; messageId: string }[] = [];
  const end = clock.now() + minutes * MINUTE;
  for (;;) {
    const next = timers?.nextOccurrences().SyncScheduler?.getTime();
    if (next === undefined || next > end) break;
    const before = passes();
    clock.advanceTo(next);
    await until(() => passes() > before);
    for (const m of t.queue.peek(QUEUES.syncInbound)) {
      if (seen.has(m.messageId)) continue;
      seen.add(m.messageId);
      jobs.push({ at: new Date(clock.now()).toISOString(), messageId: m.messageId });
    }
  }
  clock.advanceTo(end);
  return jobs;
}

test('a 5-minute schedule gets a job every 5 minutes, a cron schedule within one tick of each occurrence, the default one an hour', async () => {
  await fakeIntegration(t, 'every5', 'tick', { schedule: { everyMinutes: 5 } });
  await fakeIntegration(t, 'cron', 'tick', { schedule: { cron: '0 2,33 * * * *' } });
  await fakeIntegration(t, 'hourly', 'tick');
  startScheduler();
  const jobs = await runFor(120);

  const of = (id: string) => jobs.filter((j) => j.messageId.startsWith(`sched:${id}:`));
  // Ticks at 10:00, 10:05, … 11:55: one job each, for the slot the tick falls in.
  const every5 = of('every5');
  expect(every5).toHaveLength(24);
  every5.forEach((job, i) => {
    const tick = START + 90_000 + i * 5 * MINUTE;
    expect(job.at).toBe(new Date(tick).toISOString());
    expect(job.messageId).toBe(`sched:every5:i:${Math.floor(tick / (5 * MINUTE))}`);
  });
  // Occurrences 10:02, 10:33, 11:02, 11:33: each enqueued by the first tick after it, never before it.
  expect(of('cron').map((j) => [j.at.slice(11, 16), j.messageId.split(':c:')[1]?.slice(11, 16)])).toEqual([
    ['10:05', '10:02'],
    ['10:35', '10:33'],
    ['11:05', '11:02'],
    ['11:35', '11:33'],
  ]);
  for (const job of of('cron')) {
    const occurrence = Date.parse(job.messageId.split(':c:')[1] ?? '');
    expect(Date.parse(job.at) - occurrence).toBeGreaterThan(0);
    expect(Date.parse(job.at) - occurrence).toBeLessThanOrEqual(SCHEDULER_TICK_MINUTES * MINUTE);
  }
  // The default stays hourly: due at once when created (first tick, 10:00), then the 11:00 slot.
  expect(of('hourly').map((j) => j.at.slice(11, 16))).toEqual(['10:00', '11:00']);
});

test('a schedule finer than the tick is refused with a reason naming the minimum; the tick itself is accepted', async () => {
  await fakeIntegration(t, 'fine', 'tick');
  const put = (schedule: unknown) =>
    putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 'fine' }, body: { provider: 'fake', config: { dataset: 'tick' }, credentials: { type: 'token', token: 'fake-token-1' }, schedule } }));
  for (const everyMinutes of [1, 4]) {
    const res = await put({ everyMinutes });
    expect(res.status).toBe(400);
    expect((res.jsonBody as { reason: string }).reason).toBe('schedule.everyMinutes: must be at least 5 (the scheduler runs every 5 minutes, so a finer schedule could not run on time)');
  }
  for (const [cron, gap] of [
    ['0 * * * * *', '1 minute'],
    ['*/30 * * * * *', '30 seconds'],
    ['0 0,3 * * * *', '3 minutes'],
    ['0 58,1 * * * *', '3 minutes'],
    // 23:58 and then 00:00 the next day.
    ['0 0,58 0,23 * * *', '2 minutes'],
  ] as const) {
    const res = await put({ cron });
    expect([cron, res.status]).toEqual([cron, 400]);
    expect((res.jsonBody as { reason: string }).reason).toBe(
      `schedule.cron: occurrences can be ${gap} apart; the minimum is 5 minutes (the scheduler runs every 5 minutes, so a finer schedule could not run on time)`,
    );
  }
  expect((await t.services.repos.getIntegration('acme', 'fine'))?.scheduleMinutes).toBe(60);
  for (const schedule of [{ everyMinutes: 5 }, { cron: '0 */5 * * * *' }, { cron: '0 3,8 * * * *' }, { cron: '0 0,58 0,23 * * 1' }, { cron: '0 0 0 13 * 5' }]) {
    expect([schedule, (await put(schedule)).status]).toEqual([schedule, 200]);
  }
});

test('a tick with nothing due reads one integration, not every integration', async () => {
  for (let i = 0; i < 150; i++) await fakeIntegration(t, `many${i}`, 'tick');
  const deps = t.services.scheduleDeps;
  clock.advanceTo(Date.parse('2027-01-04T10:00:00.000Z'));
  const first = await scheduleDueSyncs(deps, false);
  expect(first.enqueued).toBe(150);
  // Five minutes on, every hourly integration has had its slot: the scan stops at the first one.
  clock.advanceTo(Date.parse('2027-01-04T10:05:00.000Z'));
  const idle = await scheduleDueSyncs(deps, false);
  expect(idle).toMatchObject({ enqueued: 0, scanned: 1 });
  clock.advanceTo(Date.parse('2027-01-04T11:00:00.000Z'));
  expect((await scheduleDueSyncs(deps, false)).enqueued).toBe(150);
});
