import type { Timer, TimerHandler } from '@azure/functions';
import type { Logger } from '../../shared/observability/logger';
import { createInvocation, describeError, invoke } from './context';
import { nextOccurrence, parseNcrontab } from '../../shared/sync/ncrontab';
import type { CronSchedule } from '../../shared/sync/ncrontab';

/** The clock and timer primitive, injectable so tests need not wait for real seconds. */
export interface TimerScheduler {
  now(): number;
  /** Call `fn` after `delayMs`; returns a function that cancels the call. */
  schedule(fn: () => void, delayMs: number): () => void;
}

export const realScheduler: TimerScheduler = {
  now: () => Date.now(),
  schedule: (fn, delayMs) => {
    const handle = setTimeout(fn, delayMs);
    return () => { clearTimeout(handle); };
  },
};

export interface TimerFunction {
  name: string;
  schedule: string;
  handler: TimerHandler;
}

export interface TimerRunnerOptions {
  functions: readonly TimerFunction[];
  logger: Logger;
  scheduler?: TimerScheduler | undefined;
  /** A fire later than this after its occurrence is reported with `isPastDue: true`. */
  pastDueThresholdMs?: number | undefined;
}

export interface TimerRunner {
  /** The occurrence each timer is waiting for. */
  nextOccurrences(): Record<string, Date>;
  /** Cancel every pending fire and wait for running invocations to finish. */
  stop(): Promise<void>;
}

export const DEFAULT_PAST_DUE_THRESHOLD_MS = 5_000;

/** setTimeout overflows above 2^31-1 ms (~24.8 days) and fires at once; longer waits are re-armed in chunks. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** `default(DateTime)`, what the host reports for a status it has never recorded. */
const NEVER = (() => {
  const d = new Date(0);
  d.setUTCFullYear(1, 0, 1);
  return d.toISOString();
})();

/**
 * Runs each timer function on its NCRONTAB schedule (UTC), as the host's
 * TimerListener does:
 * - never on startup (we forbid `runOnStartup`);
 * - one invocation at a time per timer: an occurrence that comes due while
 *   the previous invocation still runs is skipped, like the host's singleton
 *   lock (across a scaled-out app only one instance runs a timer);
 * - the Timer passed in carries the status *recorded before* this run, as the
 *   host's does: `last` is the previous invocation's time, `next` is the
 *   occurrence now firing and `lastUpdated` when that status was recorded
 *   (see Azure/azure-functions-dotnet-worker#954). Before the first run the
 *   host reports `0001-01-01T00:00:00` for the unknown values; so do we.
 */
export function startTimers(options: TimerRunnerOptions): TimerRunner {
  const scheduler = options.scheduler ?? realScheduler;
  const threshold = options.pastDueThresholdMs ?? DEFAULT_PAST_DUE_THRESHOLD_MS;
  // Parse everything first so one bad schedule stops start-up before any timer is armed.
  const compiled = options.functions.map((fn) => ({ fn, schedule: parseNcrontab(fn.schedule) }));
  const timers = compiled.map(({ fn, schedule }) => new ScheduledTimer(fn, schedule, scheduler, threshold, options.logger));
  for (const t of timers) t.start();
  return {
    nextOccurrences: () => Object.fromEntries(timers.map((t) => [t.fn.name, new Date(t.due)])),
    stop: async () => {
      await Promise.all(timers.map((t) => t.stop()));
    },
  };
}

class ScheduledTimer {
  due = 0;
  private cancel: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastInvocation = NEVER;
  private lastUpdated = NEVER;

  constructor(
    readonly fn: TimerFunction,
    private readonly schedule: CronSchedule,
    private readonly scheduler: TimerScheduler,
    private readonly threshold: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.due = nextOccurrence(this.schedule, new Date(this.scheduler.now())).getTime();
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    await this.running;
  }

  private arm(): void {
    const delay = Math.min(Math.max(0, this.due - this.scheduler.now()), MAX_TIMEOUT_MS);
    this.cancel = this.scheduler.schedule(() => { this.tick(); }, delay);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.scheduler.now();
    // Timers may wake a little early against the wall clock, and long waits
    // are chunked: not due yet means wait for the rest.
    if (now < this.due) {
      this.arm();
      return;
    }
    const occurrence = this.due;
    this.due = nextOccurrence(this.schedule, new Date(Math.max(now, occurrence))).getTime();
    this.arm();
    if (this.running) {
      this.logger.warn('timer occurrence skipped: the previous invocation is still running', {
        functionName: this.fn.name,
        occurrence: new Date(occurrence).toISOString(),
      });
      return;
    }
    this.running = this.fire(occurrence, now).finally(() => {
      this.running = undefined;
    });
  }

  private async fire(occurrence: number, now: number): Promise<void> {
    const timer: Timer = {
      isPastDue: now - occurrence > this.threshold,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: this.lastInvocation, next: new Date(occurrence).toISOString(), lastUpdated: this.lastUpdated },
    };
    const { context, logger } = createInvocation({
      functionName: this.fn.name,
      trigger: { type: 'timerTrigger', name: 'timer', schedule: this.fn.schedule, runOnStartup: false },
      logger: this.logger,
    });
    const started = this.scheduler.now();
    logger.info('timer function started', { isPastDue: timer.isPastDue, occurrence: timer.scheduleStatus.next });
    try {
      await invoke(() => this.fn.handler(timer, context));
      logger.info('timer function succeeded', { durationMs: this.scheduler.now() - started });
    } catch (err) {
      // The host logs the failure and keeps the schedule; there is no retry.
      logger.error('timer function failed', { durationMs: this.scheduler.now() - started, ...describeError(err) });
    } finally {
      this.lastInvocation = new Date(now).toISOString();
      this.lastUpdated = new Date(this.scheduler.now()).toISOString();
    }
  }
}
