import type { InvocationContext, ServiceBusQueueHandler } from '@azure/functions';
import type { FunctionDefinition } from '../../functions/definitions';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { QUEUES } from '../../shared/messaging/names';
import type { QueueName } from '../../shared/messaging/names';
import type { DeadLetter, QueueReceiver, ReceivedMessage } from '../../shared/messaging/port';
import { createLogger, silentLogger } from '../../shared/observability/logger';
import type { LogFields, LogLevel } from '../../shared/observability/logger';
import { startLocalHost } from '../../local/host/host';
import type { LocalHost } from '../../local/host/host';
import { startQueuePumps } from '../../local/host/queues';

interface Call {
  input: unknown;
  meta: Record<string, unknown>;
  functionName: string;
}

const queueFn = (name: string, queueName: string, handler: ServiceBusQueueHandler): FunctionDefinition =>
  ({ kind: 'serviceBusQueue', name, queueName, connection: 'ServiceBusConnection', handler });

const record = (calls: Call[], input: unknown, context: InvocationContext): void => {
  calls.push({ input, meta: { ...context.triggerMetadata }, functionName: context.functionName });
};

async function until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Counts settlements on top of the real embedded queue. */
class Spy implements QueueReceiver {
  completed: string[] = [];
  abandoned: string[] = [];
  constructor(readonly inner: EmbeddedQueue) {}
  receive(queue: QueueName, maxWaitMs: number): Promise<ReceivedMessage | undefined> {
    return this.inner.receive(queue, maxWaitMs);
  }
  async complete(queue: QueueName, lockToken: string): Promise<void> {
    await this.inner.complete(queue, lockToken);
    this.completed.push(lockToken);
  }
  async abandon(queue: QueueName, lockToken: string): Promise<void> {
    await this.inner.abandon(queue, lockToken);
    this.abandoned.push(lockToken);
  }
  deadLetter(queue: QueueName, lockToken: string, reason: string, description?: string): Promise<void> {
    return this.inner.deadLetter(queue, lockToken, reason, description);
  }
  deadLetters(queue: QueueName): Promise<DeadLetter[]> {
    return this.inner.deadLetters(queue);
  }
}

describe('local host queue pumps (embedded queue)', () => {
  let queue: EmbeddedQueue;
  let spy: Spy;
  let host: LocalHost | undefined;

  beforeEach(() => {
    queue = new EmbeddedQueue();
    spy = new Spy(queue);
  });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await queue.close();
  });

  const start = async (definitions: FunctionDefinition[], maxConcurrentCalls?: number): Promise<void> => {
    host = await startLocalHost({
      definitions,
      receiver: spy,
      logger: silentLogger,
      port: 0,
      queues: { receiveWaitMs: 50, ...(maxConcurrentCalls !== undefined ? { maxConcurrentCalls } : {}) },
    });
  };

  it('completes on success and hands the handler the host trigger shapes', async () => {
    const calls: Call[] = [];
    await start([queueFn('SyncInboundWorker', QUEUES.syncInbound, (input, context) => { record(calls, input, context); })]);
    await queue.send(QUEUES.syncInbound, {
      messageId: '12345',
      body: { tenantId: 't1', integrationId: 'i1', since: '2024-01-01T00:00:00.000Z' },
      applicationProperties: { TenantId: 't1', attempt: 1 },
      correlationId: 'run-1',
      subject: 'pull',
    });
    await until(() => spy.completed.length === 1);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.functionName).toBe('SyncInboundWorker');
    expect(call.input).toEqual({ tenantId: 't1', integrationId: 'i1', since: '2024-01-01T00:00:00.000Z' });
    // The host JSON-parses string metadata: the id "12345" arrives as a number.
    expect(call.meta.messageId).toBe(12345);
    expect(call.meta.deliveryCount).toBe(1);
    expect(call.meta.enqueuedTimeUtc).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/));
    expect(call.meta.lockToken).toEqual(expect.any(String));
    expect(call.meta.applicationProperties).toEqual({ tenantId: 't1', attempt: 1 });
    expect(call.meta.correlationId).toBe('run-1');
    expect(call.meta.subject).toBe('pull');
    expect(spy.abandoned).toHaveLength(0);
    expect(queue.depth(QUEUES.syncInbound)).toBe(0);
  });

  it('abandons on a throw; the redelivery arrives with deliveryCount 2 and then completes', async () => {
    const counts: unknown[] = [];
    await start([queueFn('SyncOutboundWorker', QUEUES.syncOutbound, (_input, context) => {
      counts.push(context.triggerMetadata?.deliveryCount);
      if (counts.length === 1) throw new Error('transient');
    })]);
    await queue.send(QUEUES.syncOutbound, { messageId: 'push-1', body: { op: 'create' } });
    await until(() => spy.completed.length === 1);
    expect(counts).toEqual([1, 2]);
    expect(spy.abandoned).toHaveLength(1);
    expect(await queue.deadLetters(QUEUES.syncOutbound)).toHaveLength(0);
  });

  it('dead-letters (via the queue) once a message keeps failing', async () => {
    queue = new EmbeddedQueue({ maxDeliveryCount: 3 });
    spy = new Spy(queue);
    let calls = 0;
    await start([queueFn('AlwaysFails', QUEUES.syncInbound, () => { calls++; throw new Error('permanent'); })]);
    await queue.send(QUEUES.syncInbound, { messageId: 'poison', body: {} });
    await until(() => spy.abandoned.length === 3);
    const dead = await queue.deadLetters(QUEUES.syncInbound);
    expect(calls).toBe(3);
    expect(dead.map((d) => d.messageId)).toEqual(['poison']);
  });

  it('runs at most maxConcurrentCalls invocations per queue', async () => {
    let running = 0;
    let peak = 0;
    let done = 0;
    await start([queueFn('Slow', QUEUES.syncInbound, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 30));
      running--;
      done++;
    })], 2);
    for (let i = 0; i < 6; i++) await queue.send(QUEUES.syncInbound, { messageId: `m${i}`, body: { i } });
    await until(() => done === 6);
    expect(peak).toBe(2);
  });

  it('stop() stops receiving and drains an in-flight slow handler before resolving', async () => {
    let finished = false;
    let started = false;
    await start([queueFn('Slow', QUEUES.syncInbound, async () => {
      started = true;
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
    })]);
    await queue.send(QUEUES.syncInbound, { messageId: 'slow', body: {} });
    await until(() => started);
    const h = host!;
    host = undefined;
    await h.stop();
    expect(finished).toBe(true);
    expect(spy.completed).toHaveLength(1);
    // Nothing is received after stop.
    await queue.send(QUEUES.syncInbound, { messageId: 'after-stop', body: {} });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(queue.depth(QUEUES.syncInbound)).toBe(1);
  });

  it('refuses an unknown queue name and queue triggers without a receiver', async () => {
    await expect(startLocalHost({ definitions: [queueFn('X', 'no-such-queue', () => undefined)], receiver: spy, logger: silentLogger, port: 0 }))
      .rejects.toThrow(/unknown queue "no-such-queue"/);
    await expect(startLocalHost({ definitions: [queueFn('X', QUEUES.syncInbound, () => undefined)], logger: silentLogger, port: 0 }))
      .rejects.toThrow(/need a QueueReceiver/);
  });
});

describe('queue pump resilience', () => {
  it('logs a failing receive, backs off and keeps pumping', async () => {
    const lines: { level: LogLevel; message: string; fields: LogFields }[] = [];
    const logger = createLogger((level, message, fields) => lines.push({ level, message, fields }), 'debug');
    const inner = new EmbeddedQueue();
    let failures = 1;
    const flaky: QueueReceiver = {
      receive: (q, wait) => (failures-- > 0 ? Promise.reject(new Error('network blip')) : inner.receive(q, wait)),
      complete: (q, t) => inner.complete(q, t),
      abandon: (q, t) => inner.abandon(q, t),
      deadLetter: (q, t, r, d) => inner.deadLetter(q, t, r, d),
      deadLetters: (q) => inner.deadLetters(q),
    };
    let handled = 0;
    const pumps = startQueuePumps({
      functions: [{ name: 'W', queueName: QUEUES.syncInbound, handler: () => { handled++; } }],
      receiver: flaky,
      logger,
      receiveWaitMs: 20,
      errorBackoffMs: 20,
    });
    await inner.send(QUEUES.syncInbound, { messageId: 'm', body: {} });
    await until(() => handled === 1);
    await pumps.stop();
    await inner.close();
    expect(lines.find((l) => l.message === 'queue receive failed')?.fields.error).toBe('Error: network blip');
  });
});
