import type { InvocationContext, Timer } from '@azure/functions';
import { createLogger } from '../../shared/observability/logger';
import type { LogFields, LogLevel } from '../../shared/observability/logger';
import { startTimers } from '../../local/host/timers';
import type { TimerScheduler } from '../../local/host/timers';

/** A manual clock: nothing fires until advance() moves time past it. */
class FakeScheduler implements TimerScheduler {
  t: number;
  /** Fires come this much later than asked, to simulate a blocked event loop or a sleeping laptop. */
  lag = 0;
  delays: number[] = [];
  private pending: { at: number; fn: () => void; cancelled: boolean }[] = [];
  constructor(start: string) {
    this.t = Date.parse(start);
  }
  now(): number {
    return this.t;
  }
  schedule(fn: () => void, delayMs: number): () => void {
    this.delays.push(delayMs);
    const entry = { at: this.t + delayMs + this.lag, fn, cancelled: false };
    this.pending.push(entry);
    return () => { entry.cancelled = true; };
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      const due = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.pending.splice(this.pending.indexOf(due), 1);
      this.t = Math.max(this.t, due.at);
      due.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
  armed(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function capture(): { logger: ReturnType<typeof createLogger>; lines: { level: LogLevel; message: string; fields: LogFields }[] } {
  const lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
  return { logger: createLogger((level, message, fields) => lines.push({ level, message, fields }), 'debug'), lines };
}

interface Call {
  timer: Timer;
  context: InvocationContext;
  at: number;
}

describe('timer runner (fake clock)', () => {
  it('never runs on startup, then fires at each occurrence with the host Timer shape', async () => {
    const clock = new FakeScheduler('2024-01-01T10:00:00.200Z');
    const calls: Call[] = [];
    const { logger, lines } = capture();
    const runner = startTimers({
      functions: [{ name: 'Every5s', schedule: '*/5 * * * * *', handler: (timer, context) => { calls.push({ timer, context, at: clock.now() }); } }],
      logger,
      scheduler: clock,
    });
    expect(calls).toHaveLength(0);
    expect(runner.nextOccurrences().Every5s?.toISOString()).toBe('2024-01-01T10:00:05.000Z');

    await clock.advance(4_000);
    expect(calls).toHaveLength(0);
    await clock.advance(1_000);
    expect(calls).toHaveLength(1);
    await clock.advance(5_000);
    expect(calls).toHaveLength(2);

    const [first, second] = calls;
    expect(first?.timer).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: '0001-01-01T00:00:00.000Z', next: '2024-01-01T10:00:05.000Z', lastUpdated: '0001-01-01T00:00:00.000Z' },
    });
    // The status seen by a run is the one recorded after the previous run.
    expect(second?.timer.scheduleStatus).toEqual({ last: '2024-01-01T10:00:05.000Z', next: '2024-01-01T10:00:10.000Z', lastUpdated: '2024-01-01T10:00:05.000Z' });
    expect(first?.context.functionName).toBe('Every5s');
    expect(first?.context.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(first?.context.invocationId).not.toBe(second?.context.invocationId);
    expect(first?.context.options.trigger.type).toBe('timerTrigger');
    expect(lines.some((l) => l.message === 'timer function succeeded' && l.fields.functionName === 'Every5s')).toBe(true);
    await runner.stop();
  });

  it('reports isPastDue when the fire is later than the threshold', async () => {
    const clock = new FakeScheduler('2024-01-01T10:00:00.000Z');
    clock.lag = 6_000;
    const seen: boolean[] = [];
    const runner = startTimers({
      functions: [{ name: 'Late', schedule: '0 * * * * *', handler: (timer) => { seen.push(timer.isPastDue); } }],
      logger: capture().logger,
      scheduler: clock,
      pastDueThresholdMs: 5_000,
    });
    await clock.advance(70_000);
    expect(seen).toEqual([true]);
    // The fire already armed keeps its 6 s lag; the one after comes 1 s late.
    clock.lag = 1_000;
    await clock.advance(120_000);
    expect(seen).toEqual([true, true, false]);
    await runner.stop();
  });

  it('skips occurrences while the previous invocation runs, then resumes', async () => {
    const clock = new FakeScheduler('2024-01-01T10:00:00.000Z');
    let release: () => void = () => undefined;
    let calls = 0;
    const { logger, lines } = capture();
    const runner = startTimers({
      functions: [{
        name: 'Slow',
        schedule: '* * * * * *',
        handler: () => {
          calls++;
          return new Promise<void>((resolve) => { release = resolve; });
        },
      }],
      logger,
      scheduler: clock,
    });
    await clock.advance(3_500);
    expect(calls).toBe(1);
    expect(lines.filter((l) => l.message.startsWith('timer occurrence skipped'))).toHaveLength(2);
    release();
    await flush();
    await clock.advance(1_000);
    expect(calls).toBe(2);
    release();
    await runner.stop();
  });

  it('keeps the schedule after a handler throws, and logs the failure', async () => {
    const clock = new FakeScheduler('2024-01-01T10:00:00.000Z');
    let calls = 0;
    const { logger, lines } = capture();
    const runner = startTimers({
      functions: [{ name: 'Boom', schedule: '* * * * * *', handler: () => { calls++; throw new Error('kaput'); } }],
      logger,
      scheduler: clock,
    });
    await clock.advance(2_000);
    expect(calls).toBe(2);
    const failure = lines.find((l) => l.message === 'timer function failed');
    expect(failure?.level).toBe('error');
    expect(failure?.fields.error).toBe('Error: kaput');
    await runner.stop();
  });

  it('stop() cancels pending fires and waits for the running invocation', async () => {
    const clock = new FakeScheduler('2024-01-01T10:00:00.000Z');
    let finished = false;
    let release: () => void = () => undefined;
    const runner = startTimers({
      functions: [{
        name: 'Drain',
        schedule: '* * * * * *',
        handler: async () => {
          await new Promise<void>((resolve) => { release = resolve; });
          finished = true;
        },
      }],
      logger: capture().logger,
      scheduler: clock,
    });
    await clock.advance(1_000);
    let stopped = false;
    const stopping = runner.stop().then(() => { stopped = true; });
    await flush();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(true);
    expect(clock.armed()).toBe(0);
  });

  it('chunks waits longer than setTimeout can hold, without firing early', async () => {
    const clock = new FakeScheduler('2024-01-02T00:00:00.000Z');
    let calls = 0;
    const runner = startTimers({
      functions: [{ name: 'Yearly', schedule: '0 0 0 1 1 *', handler: () => { calls++; } }],
      logger: capture().logger,
      scheduler: clock,
    });
    expect(clock.delays[0]).toBe(2 ** 31 - 1);
    await clock.advance(2 ** 31);
    expect(calls).toBe(0);
    expect(clock.delays.length).toBeGreaterThan(1);
    await clock.advance(365 * 24 * 3600 * 1000);
    expect(calls).toBe(1);
    await runner.stop();
  });

  it('rejects an invalid schedule before arming anything', () => {
    const clock = new FakeScheduler('2024-01-01T00:00:00.000Z');
    expect(() => startTimers({
      functions: [
        { name: 'Good', schedule: '* * * * * *', handler: () => undefined },
        { name: 'Bad', schedule: '0 0 * * *', handler: () => undefined },
      ],
      logger: capture().logger,
      scheduler: clock,
    })).toThrow(/expected 6 fields/);
    expect(clock.armed()).toBe(0);
  });
});
