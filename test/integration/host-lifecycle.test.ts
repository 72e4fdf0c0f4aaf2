import { EventEmitter } from 'node:events';
import type { InvocationContext, Timer } from '@azure/functions';
import type { FunctionDefinition } from '../../functions/definitions';
import { createLogger, silentLogger } from '../../shared/observability/logger';
import type { LogFields, LogLevel } from '../../shared/observability/logger';
import { installSignalHandlers, startLocalHost } from '../../local/host/host';
import type { SignalTarget } from '../../local/host/host';

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function capture(): { logger: ReturnType<typeof createLogger>; lines: { level: LogLevel; message: string; fields: LogFields }[] } {
  const lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
  return { logger: createLogger((level, message, fields) => lines.push({ level, message, fields }), 'debug'), lines };
}

describe('local host lifecycle', () => {
  it('fires timers on a fast real schedule with the Timer shape', async () => {
    const fires: { timer: Timer; context: InvocationContext; at: number }[] = [];
    const host = await startLocalHost({
      definitions: [{ kind: 'timer', name: 'Tick', schedule: '*/1 * * * * *', handler: (timer, context) => { fires.push({ timer, context, at: Date.now() }); } }],
      logger: silentLogger,
      port: 0,
    });
    // Never on startup.
    expect(fires).toHaveLength(0);
    await wait(2_600);
    await host.stop();
    expect(fires.length).toBeGreaterThanOrEqual(2);
    for (const f of fires) {
      expect(f.timer.isPastDue).toBe(false);
      expect(f.timer.scheduleStatus.next).toMatch(/\.000Z$/);
      expect(f.at).toBeGreaterThanOrEqual(Date.parse(f.timer.scheduleStatus.next));
      expect(f.context.functionName).toBe('Tick');
    }
    // `last` is the previous invocation's start, between its occurrence and its handler running.
    const last = Date.parse(fires[1]!.timer.scheduleStatus.last);
    expect(last).toBeGreaterThanOrEqual(Date.parse(fires[0]!.timer.scheduleStatus.next));
    expect(last).toBeLessThanOrEqual(fires[0]!.at);
    const count = fires.length;
    await wait(1_200);
    expect(fires).toHaveLength(count);
  });

  it('stop() drains an in-flight slow HTTP handler before resolving, then refuses connections', async () => {
    let entered = false;
    const host = await startLocalHost({
      definitions: [{
        kind: 'http', name: 'Slow', route: 'slow', methods: ['GET'], authLevel: 'anonymous',
        handler: async () => {
          entered = true;
          await wait(300);
          return { jsonBody: { done: true } };
        },
      }],
      logger: silentLogger,
      port: 0,
    });
    const pending = fetch(`${host.url}/api/slow`);
    while (!entered) await wait(5);
    let stopped = false;
    const stopping = host.stop().then(() => { stopped = true; });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await stopping;
    expect(stopped).toBe(true);
    await expect(fetch(`${host.url}/api/slow`)).rejects.toThrow();
  });

  it('logs each function like Core Tools', async () => {
    const { logger, lines } = capture();
    const definitions: FunctionDefinition[] = [
      { kind: 'http', name: 'WebhookReceiver', route: 'webhooks/{provider}/{integrationId}', methods: ['POST'], authLevel: 'function', handler: () => ({ status: 202 }) },
      { kind: 'timer', name: 'SyncScheduler', schedule: '0 0 * * * *', handler: () => undefined },
    ];
    const host = await startLocalHost({ definitions, logger, port: 0 });
    await host.stop();
    const messages = lines.map((l) => l.message);
    expect(messages).toContain(`WebhookReceiver: [POST] http://127.0.0.1:${host.port}/api/webhooks/{provider}/{integrationId}`);
    expect(messages).toContain('SyncScheduler: timerTrigger (0 0 * * * * UTC)');
    expect(lines.find((l) => l.fields.functionName === 'SyncScheduler')?.fields.next).toMatch(/:00:00\.000Z$/);
  });

  it('fails start-up cleanly on a bad definition or a busy port', async () => {
    const handler = (): undefined => undefined;
    await expect(startLocalHost({
      definitions: [
        { kind: 'timer', name: 'A', schedule: '* * * * * *', handler },
        { kind: 'timer', name: 'A', schedule: '* * * * * *', handler },
      ],
      logger: silentLogger,
      port: 0,
    })).rejects.toThrow(/Two functions are named "A"/);
    await expect(startLocalHost({ definitions: [{ kind: 'timer', name: 'T', schedule: '0 0 * *', handler }], logger: silentLogger, port: 0 }))
      .rejects.toThrow(/NCRONTAB/);
    await expect(startLocalHost({
      definitions: [{ kind: 'http', name: 'H', route: 'a/{x?}/b', methods: ['GET'], authLevel: 'anonymous', handler: () => ({}) }],
      logger: silentLogger,
      port: 0,
    })).rejects.toThrow(/Invalid route template/);
    const first = await startLocalHost({ definitions: [], logger: silentLogger, port: 0 });
    await expect(startLocalHost({ definitions: [], logger: silentLogger, port: first.port })).rejects.toThrow(/EADDRINUSE/);
    await first.stop();
  });

  it('stop() is idempotent', async () => {
    const host = await startLocalHost({ definitions: [], logger: silentLogger, port: 0 });
    await Promise.all([host.stop(), host.stop()]);
    await host.stop();
  });
});

describe('installSignalHandlers', () => {
  const setup = (): { target: EventEmitter & SignalTarget; exits: number[]; release: () => void; stopCalls: () => number } => {
    const target = new EventEmitter();
    const exits: number[] = [];
    let release: () => void = () => undefined;
    let stops = 0;
    const host = {
      stop: () => {
        stops++;
        return new Promise<void>((resolve) => { release = resolve; });
      },
    };
    installSignalHandlers(host, { target, exit: (code) => exits.push(code), logger: silentLogger });
    return { target, exits, release: () => { release(); }, stopCalls: () => stops };
  };

  it('drains on SIGTERM, then exits 0', async () => {
    const s = setup();
    s.target.emit('SIGTERM');
    expect(s.stopCalls()).toBe(1);
    expect(s.exits).toEqual([]);
    s.release();
    await wait(0);
    expect(s.exits).toEqual([0]);
    expect(s.target.listenerCount('SIGTERM')).toBe(0);
    expect(s.target.listenerCount('SIGINT')).toBe(0);
  });

  it('exits at once on a second signal while draining', () => {
    const s = setup();
    s.target.emit('SIGINT');
    s.target.emit('SIGINT');
    expect(s.stopCalls()).toBe(1);
    expect(s.exits).toEqual([130]);
  });

  it('exits 1 when draining fails', async () => {
    const target = new EventEmitter();
    const exits: number[] = [];
    installSignalHandlers({ stop: () => Promise.reject(new Error('stuck')) }, { target, exit: (code) => exits.push(code) });
    target.emit('SIGINT');
    await wait(0);
    expect(exits).toEqual([1]);
  });

  it('can be uninstalled', () => {
    const target = new EventEmitter();
    const uninstall = installSignalHandlers({ stop: () => Promise.resolve() }, { target, exit: () => undefined });
    expect(target.listenerCount('SIGINT')).toBe(1);
    uninstall();
    expect(target.listenerCount('SIGINT')).toBe(0);
    expect(target.listenerCount('SIGTERM')).toBe(0);
  });
});
