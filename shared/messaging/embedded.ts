import { QueueLedger, type Entry, type EntryState, type LedgerLimits } from './embedded-ledger';
import { serialiseBody } from './json-body';
import { deadLetterQueueOf, DUPLICATE_DETECTION_WINDOW_MS, MAX_DELIVERY_COUNT, type QueueName, type ReceivableQueue } from './names';
import type { DeadLetter, OutgoingMessage, QueueReceiver, QueueSender, ReceivedMessage } from './port';

export { MAX_DELIVERY_COUNT_EXCEEDED } from './embedded-ledger';

/** Settling with a lock that expired, was already settled, or never existed (as the SDK's MessageLockLost). */
export class MessageLockLostError extends Error {
  readonly code = 'MessageLockLost';
  constructor(
    readonly queue: ReceivableQueue,
    lockToken: string,
  ) {
    super(`Lock ${lockToken} on queue ${queue} is unknown, expired or already settled; the message will be redelivered`);
    this.name = 'MessageLockLostError';
  }
}

export class QueueClosedError extends Error {
  constructor() {
    super('Embedded queue is closed');
    this.name = 'QueueClosedError';
  }
}

export interface EmbeddedQueueOptions {
  /** Clock for message times (schedules, locks, dedupe). Waits in receive() use real timers. */
  now?: () => number;
  /** Peek-lock duration; Service Bus's default is 60 s. */
  lockDurationMs?: number;
  maxDeliveryCount?: number;
  duplicateDetectionWindowMs?: number;
}

export interface PeekedMessage extends Omit<ReceivedMessage, 'lockToken'> {
  state: EntryState;
}

interface Waiter {
  readonly resolve: (m: ReceivedMessage | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

interface Slot {
  readonly ledger: QueueLedger;
  /** A Set: FIFO iteration plus O(1) removal when a waiter times out. */
  readonly waiters: Set<Waiter>;
  wakeTimer: NodeJS.Timeout | undefined;
  wakeAt: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * In-process stand-in for a Service Bus namespace: peek-lock, delivery counts,
 * dead-lettering after max deliveries, scheduled delivery and duplicate
 * detection with Service Bus's semantics, so one contract suite holds for both.
 * Bodies are stored as JSON text, so every delivery is a fresh deep copy.
 */
export class EmbeddedQueue implements QueueSender, QueueReceiver {
  private readonly now: () => number;
  private readonly limits: LedgerLimits;
  private readonly slots = new Map<ReceivableQueue, Slot>();
  private draining = false;
  private closed = false;

  constructor(options: EmbeddedQueueOptions = {}) {
    this.now = options.now ?? (() => Date.now());
    this.limits = {
      lockDurationMs: options.lockDurationMs ?? 60_000,
      maxDeliveryCount: options.maxDeliveryCount ?? MAX_DELIVERY_COUNT,
      dedupeWindowMs: options.duplicateDetectionWindowMs ?? DUPLICATE_DETECTION_WINDOW_MS,
    };
  }

  send(queue: QueueName, message: OutgoingMessage): Promise<void> {
    // A throw inside the executor becomes the rejection: validation errors reach the caller as such.
    return new Promise((resolve) => {
      if (this.closed) throw new QueueClosedError();
      if (message.messageId === '') throw new TypeError('messageId must be a non-empty string (it is the idempotency key)');
      const json = serialiseBody(message.body);
      const now = this.now();
      const at = message.scheduledEnqueueTime?.getTime() ?? now;
      if (Number.isNaN(at)) throw new TypeError('scheduledEnqueueTime is an invalid Date');
      const slot = this.slot(queue);
      // add() is false for a duplicate, which is dropped silently, as Service Bus does.
      const added = slot.ledger.add(
        {
          messageId: message.messageId,
          json,
          applicationProperties: { ...message.applicationProperties },
          correlationId: message.correlationId,
          subject: message.subject,
          visibleAt: Math.max(at, now),
        },
        now,
      );
      if (added) this.serve(slot);
      resolve();
    });
  }

  receive(queue: ReceivableQueue, maxWaitMs: number): Promise<ReceivedMessage | undefined> {
    if (this.draining) return Promise.resolve(undefined);
    const slot = this.slot(queue);
    const message = this.lockNext(slot);
    if (message || maxWaitMs <= 0) return Promise.resolve(message);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          slot.waiters.delete(waiter);
          this.rearm(slot);
          resolve(undefined);
        }, Math.min(maxWaitMs, MAX_TIMER_MS)),
      };
      slot.waiters.add(waiter);
      this.rearm(slot);
    });
  }

  complete(queue: ReceivableQueue, lockToken: string): Promise<void> {
    return this.settle(queue, lockToken, () => undefined);
  }

  abandon(queue: ReceivableQueue, lockToken: string): Promise<void> {
    return this.settle(queue, lockToken, (slot, entry) => {
      slot.ledger.release(entry, this.now());
      this.serve(slot);
    });
  }

  deadLetter(queue: QueueName, lockToken: string, reason: string, description?: string): Promise<void> {
    return this.settle(queue, lockToken, (slot, entry) => {
      slot.ledger.bury(entry, reason, description, this.now());
    });
  }

  deadLetters(queue: QueueName): Promise<DeadLetter[]> {
    const { ledger } = this.slot(queue);
    ledger.promote(this.now()); // an expired last lock dead-letters now
    return Promise.resolve(
      ledger.dead.map((d) => ({
        ...toReceived(d.entry, ''),
        deadLetterReason: d.reason,
        ...(d.description === undefined ? {} : { deadLetterErrorDescription: d.description }),
        deadLetteredAt: new Date(d.at),
      })),
    );
  }

  /** Unsettled messages: available, locked and scheduled (Service Bus counts locked ones as active). */
  depth(queue: ReceivableQueue): number {
    const { ledger } = this.slot(queue);
    ledger.promote(this.now());
    return ledger.size;
  }

  /** Every unsettled message in delivery order, without locking anything. */
  peek(queue: ReceivableQueue): PeekedMessage[] {
    const { ledger } = this.slot(queue);
    ledger.promote(this.now());
    return ledger.snapshot().map(({ entry, state }) => {
      const { lockToken: _lockToken, ...rest } = toReceived(entry, '');
      return { ...rest, state };
    });
  }

  /** For a fake clock: apply due schedules and expired locks now, and wake waiters they satisfy. */
  tick(): void {
    for (const slot of this.slots.values()) this.serve(slot);
  }

  /** Stop handing out messages and wake every waiter; locks already held can still be settled. */
  drain(): Promise<void> {
    this.draining = true;
    for (const slot of this.slots.values()) {
      for (const w of slot.waiters) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
      slot.waiters.clear();
      this.rearm(slot);
    }
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return this.closed ? Promise.reject(new QueueClosedError()) : Promise.resolve();
  }

  /** drain(), and refuse further sends. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
  }

  private slot(queue: ReceivableQueue): Slot {
    let slot = this.slots.get(queue);
    if (!slot) {
      slot = { ledger: new QueueLedger(this.limits), waiters: new Set(), wakeTimer: undefined, wakeAt: Infinity };
      this.slots.set(queue, slot);
      // As Service Bus does, a dead-lettered message moves to the queue's dead-letter sub-queue, where a trigger can read it.
      // (A dead-letter sub-queue has none of its own: what is abandoned there too often stays in its `dead` list.)
      if (!queue.endsWith('/$DeadLetterQueue')) {
        const dlq = deadLetterQueueOf(queue as QueueName);
        slot.ledger.onBury = (dead) => {
          const target = this.slot(dlq);
          const { seq: _seq, deliveryCount: _count, lockedUntil: _lock, ...entry } = dead.entry;
          if (target.ledger.add({ ...entry, visibleAt: dead.at, deadLetter: { reason: dead.reason, description: dead.description } }, dead.at)) this.serve(target);
        };
      }
    }
    return slot;
  }

  private lockNext(slot: Slot): ReceivedMessage | undefined {
    const now = this.now();
    slot.ledger.promote(now);
    const locked = slot.ledger.lockNext(now);
    return locked && toReceived(locked.entry, locked.token);
  }

  private settle(queue: ReceivableQueue, lockToken: string, then: (slot: Slot, entry: Entry) => void): Promise<void> {
    const slot = this.slot(queue);
    slot.ledger.promote(this.now()); // an expired lock is released here, so take() misses it
    const entry = slot.ledger.take(lockToken);
    if (!entry) return Promise.reject(new MessageLockLostError(queue, lockToken));
    then(slot, entry);
    return Promise.resolve();
  }

  /** Hand available messages to waiting receivers, oldest waiter first. */
  private serve(slot: Slot): void {
    for (const w of slot.waiters) {
      const message = this.lockNext(slot);
      if (!message) break;
      slot.waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve(message);
    }
    this.rearm(slot);
  }

  /** While someone waits, keep one timer for the next scheduled message or lock expiry: no polling. */
  private rearm(slot: Slot): void {
    const next = slot.waiters.size === 0 ? Infinity : slot.ledger.nextChangeAt();
    if (next === slot.wakeAt) return;
    clearTimeout(slot.wakeTimer);
    slot.wakeTimer = undefined;
    slot.wakeAt = next;
    if (next === Infinity) return;
    slot.wakeTimer = setTimeout(
      () => {
        slot.wakeTimer = undefined;
        slot.wakeAt = Infinity;
        this.serve(slot);
      },
      Math.min(Math.max(next - this.now(), 0), MAX_TIMER_MS),
    );
  }
}

function toReceived(e: Entry, lockToken: string): ReceivedMessage {
  return {
    messageId: e.messageId,
    body: JSON.parse(e.json) as Record<string, unknown>,
    applicationProperties: { ...e.applicationProperties },
    deliveryCount: e.deliveryCount,
    enqueuedTimeUtc: new Date(e.visibleAt),
    lockToken,
    ...(e.correlationId === undefined ? {} : { correlationId: e.correlationId }),
    ...(e.subject === undefined ? {} : { subject: e.subject }),
    ...(e.deadLetter === undefined ? {} : { deadLetterReason: e.deadLetter.reason, ...(e.deadLetter.description === undefined ? {} : { deadLetterErrorDescription: e.deadLetter.description }) }),
  };
}
