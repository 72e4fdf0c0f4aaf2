import type { ServiceBusQueueHandler } from '@azure/functions';
import { RECEIVABLE_QUEUES, type ReceivableQueue } from '../../shared/messaging/names';
import type { QueueReceiver, ReceivedMessage } from '../../shared/messaging/port';
import type { Logger } from '../../shared/observability/logger';
import { createInvocation, describeError, invoke } from './context';
import { serviceBusTriggerInput, serviceBusTriggerMetadata } from './triggerMetadata';

export interface QueueFunction {
  name: string;
  queueName: string;
  connection?: string;
  handler: ServiceBusQueueHandler;
}

export interface QueuePumpOptions {
  functions: readonly QueueFunction[];
  receiver: QueueReceiver;
  logger: Logger;
  /** Invocations in flight per queue (host.json `extensions.serviceBus.maxConcurrentCalls`). */
  maxConcurrentCalls?: number | undefined;
  /** How long one receive waits for a message; also bounds how long stop() waits for the receive loop. */
  receiveWaitMs?: number | undefined;
  /** Pause after a failing receive, so a broken queue does not spin the CPU. */
  errorBackoffMs?: number | undefined;
}

export interface QueuePumps {
  /** Invocations running now, across all queues. */
  inFlight(): number;
  /** Stop receiving, then wait for every in-flight invocation to settle its message. */
  stop(): Promise<void>;
}

/** Our host.json sets 16; the extension's own default is 16 × cores. */
export const DEFAULT_MAX_CONCURRENT_CALLS = 16;
export const DEFAULT_RECEIVE_WAIT_MS = 1_000;

const QUEUE_NAMES: ReadonlySet<string> = new Set(RECEIVABLE_QUEUES);
function isQueueName(name: string): name is ReceivableQueue {
  return QUEUE_NAMES.has(name);
}

/**
 * One pump per Service Bus queue trigger, with the host's settlement rules
 * (autoCompleteMessages): the handler returns → complete; it throws →
 * abandon, and the queue redelivers at once with deliveryCount + 1 until
 * maxDeliveryCount, then dead-letters. There is no retry policy beyond that.
 */
export function startQueuePumps(options: QueuePumpOptions): QueuePumps {
  const max = options.maxConcurrentCalls ?? DEFAULT_MAX_CONCURRENT_CALLS;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxConcurrentCalls must be a positive integer, got ${max}`);
  const pumps = options.functions.map((fn) => {
    if (!isQueueName(fn.queueName)) {
      throw new Error(`Function ${fn.name} listens on unknown queue "${fn.queueName}"; known queues: ${[...QUEUE_NAMES].join(', ')}`);
    }
    return new Pump(fn, fn.queueName, options, max);
  });
  for (const p of pumps) p.start();
  return {
    inFlight: () => pumps.reduce((n, p) => n + p.active.size, 0),
    stop: async () => {
      await Promise.all(pumps.map((p) => p.stop()));
    },
  };
}

class Pump {
  readonly active = new Set<Promise<void>>();
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private readonly receiveWaitMs: number;
  private readonly errorBackoffMs: number;

  constructor(
    private readonly fn: QueueFunction,
    private readonly queue: ReceivableQueue,
    private readonly options: QueuePumpOptions,
    private readonly max: number,
  ) {
    this.receiveWaitMs = options.receiveWaitMs ?? DEFAULT_RECEIVE_WAIT_MS;
    this.errorBackoffMs = options.errorBackoffMs ?? 1_000;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await Promise.all([...this.active]);
  }

  /** Resolve after `ms`, or earlier when stop() or a finished invocation wakes us. */
  private pause(ms: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.active.size >= this.max) {
        await this.pause(undefined);
        continue;
      }
      let message: ReceivedMessage | undefined;
      try {
        message = await this.options.receiver.receive(this.queue, this.receiveWaitMs);
      } catch (err) {
        this.options.logger.error('queue receive failed', { functionName: this.fn.name, queue: this.queue, ...describeError(err) });
        await this.pause(this.errorBackoffMs);
        continue;
      }
      // A message that arrives after stop() is still processed: it is locked
      // to us already, and abandoning it would burn one of its deliveries.
      if (!message) continue;
      const run: Promise<void> = this.process(message).finally(() => {
        this.active.delete(run);
        this.wake?.();
      });
      this.active.add(run);
    }
  }

  private async process(message: ReceivedMessage): Promise<void> {
    const { receiver } = this.options;
    const { context, logger } = createInvocation({
      functionName: this.fn.name,
      trigger: { type: 'serviceBusTrigger', name: 'message', queueName: this.queue, connection: this.fn.connection ?? '' },
      logger: this.options.logger,
      triggerMetadata: serviceBusTriggerMetadata(message),
    });
    const fields = { queue: this.queue, messageId: message.messageId, deliveryCount: message.deliveryCount };
    const started = Date.now();
    let failed = false;
    try {
      await invoke(() => this.fn.handler(serviceBusTriggerInput(message), context));
    } catch (err) {
      failed = true;
      logger.warn('queue function failed; abandoning the message for redelivery', { ...fields, durationMs: Date.now() - started, ...describeError(err) });
    }
    try {
      if (failed) {
        await receiver.abandon(this.queue, message.lockToken);
      } else {
        await receiver.complete(this.queue, message.lockToken);
        logger.info('queue function succeeded', { ...fields, durationMs: Date.now() - started });
      }
    } catch (err) {
      // Lost lock or closed queue: the message comes back on its own when the lock expires.
      logger.error(`queue message ${failed ? 'abandon' : 'complete'} failed`, { ...fields, ...describeError(err) });
    }
  }
}
