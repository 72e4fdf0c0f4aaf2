import { randomUUID } from 'node:crypto';
import { MinHeap } from './min-heap';

/** Service Bus's own dead-letter reason when deliveries run out. */
export const MAX_DELIVERY_COUNT_EXCEEDED = 'MaxDeliveryCountExceeded';

export interface LedgerLimits {
  readonly lockDurationMs: number;
  readonly maxDeliveryCount: number;
  readonly dedupeWindowMs: number;
}

/** What a sender hands in: the body already validated and serialised. */
export interface NewEntry {
  readonly messageId: string;
  readonly json: string;
  readonly applicationProperties: Readonly<Record<string, string | number | boolean>>;
  readonly correlationId: string | undefined;
  readonly subject: string | undefined;
  /** When it is enqueued: send time, or the scheduled time. */
  readonly visibleAt: number;
  /** Why it was dead-lettered (entries of a dead-letter sub-queue). */
  readonly deadLetter?: { reason: string; description: string | undefined } | undefined;
}

export interface Entry extends NewEntry {
  readonly seq: number;
  deliveryCount: number;
  lockedUntil: number;
}

export interface DeadEntry {
  readonly entry: Entry;
  readonly reason: string;
  readonly description: string | undefined;
  readonly at: number;
}

export type EntryState = 'active' | 'locked' | 'scheduled';

interface LockExpiry {
  readonly until: number;
  readonly token: string;
}

// FIFO by enqueue time, then send order; an abandoned message keeps its place.
const byVisibleThenSeq = (a: Entry, b: Entry): boolean => a.visibleAt < b.visibleAt || (a.visibleAt === b.visibleAt && a.seq < b.seq);

/**
 * One queue's messages and locks, with Service Bus's rules, as plain
 * bookkeeping: no timers and no clock of its own (every call is given `now`),
 * so it is deterministic under a fake clock.
 */
export class QueueLedger {
  private readonly available = new MinHeap<Entry>(byVisibleThenSeq);
  private readonly scheduled = new MinHeap<Entry>(byVisibleThenSeq);
  private readonly locked = new Map<string, Entry>();
  /** Lazily pruned: expiries of settled locks are skipped when they surface. */
  private readonly lockExpiries = new MinHeap<LockExpiry>((a, b) => a.until < b.until);
  /** messageId → end of its dedupe window; insertion-ordered, so expired ids sit at the front. */
  private readonly seenIds = new Map<string, number>();
  readonly dead: DeadEntry[] = [];
  private seq = 0;

  constructor(private readonly limits: LedgerLimits) {}

  /** Unsettled messages: available, locked and scheduled (Service Bus counts locked ones as active). */
  get size(): number {
    return this.available.size + this.locked.size + this.scheduled.size;
  }

  /** False when dropped as a duplicate: same messageId inside the detection window. */
  add(message: NewEntry, now: number): boolean {
    if (this.isDuplicate(message.messageId, now)) return false;
    const entry: Entry = { ...message, seq: ++this.seq, deliveryCount: 0, lockedUntil: 0 };
    (entry.visibleAt > now ? this.scheduled : this.available).push(entry);
    return true;
  }

  /** Move due scheduled messages to available, and release expired locks. */
  promote(now: number): void {
    for (let e = this.scheduled.peek(); e && e.visibleAt <= now; e = this.scheduled.peek()) {
      this.scheduled.pop();
      this.available.push(e);
    }
    for (let x = this.lockExpiries.peek(); x && x.until <= now; x = this.lockExpiries.peek()) {
      this.lockExpiries.pop();
      const entry = this.locked.get(x.token);
      if (entry?.lockedUntil !== x.until) continue; // settled meanwhile: a stale expiry
      this.locked.delete(x.token);
      this.release(entry, now);
    }
  }

  /** Peek-lock the next available message; each lock is one delivery. */
  lockNext(now: number): { entry: Entry; token: string } | undefined {
    const entry = this.available.pop();
    if (!entry) return undefined;
    const token = randomUUID();
    entry.deliveryCount += 1;
    entry.lockedUntil = now + this.limits.lockDurationMs;
    this.locked.set(token, entry);
    this.lockExpiries.push({ until: entry.lockedUntil, token });
    // Completed locks leave stale expiries behind; compact before they dominate.
    if (this.lockExpiries.size > 1024 && this.lockExpiries.size > 4 * this.locked.size) {
      this.lockExpiries.rebuild([...this.locked].map(([t, e]) => ({ until: e.lockedUntil, token: t })));
    }
    return { entry, token };
  }

  /** Remove a held lock for settlement; undefined when unknown, expired (after promote) or settled. */
  take(token: string): Entry | undefined {
    const entry = this.locked.get(token);
    this.locked.delete(token);
    return entry;
  }

  /** Lock let go without completion: back in line, or dead-lettered once deliveries are used up. */
  release(entry: Entry, now: number): void {
    const max = this.limits.maxDeliveryCount;
    if (entry.deliveryCount >= max) {
      this.bury(entry, MAX_DELIVERY_COUNT_EXCEEDED, `Message could not be consumed after ${max} delivery attempts.`, now);
    } else {
      this.available.push(entry);
    }
  }

  bury(entry: Entry, reason: string, description: string | undefined, now: number): void {
    this.dead.push({ entry, reason, description, at: now });
    this.onBury?.({ entry, reason, description, at: now });
  }

  /** Called for every message dead-lettered (the embedded queue copies it to the dead-letter sub-queue). */
  onBury: ((dead: DeadEntry) => void) | undefined;

  /** Next instant something changes by itself (a scheduled message or a lock expiry), or Infinity. */
  nextChangeAt(): number {
    return Math.min(this.scheduled.peek()?.visibleAt ?? Infinity, this.lockExpiries.peek()?.until ?? Infinity);
  }

  /** Every unsettled message in delivery order. O(n log n): introspection only. */
  snapshot(): { entry: Entry; state: EntryState }[] {
    const tagged = [
      ...this.available.values().map((entry) => ({ entry, state: 'active' as const })),
      ...[...this.locked.values()].map((entry) => ({ entry, state: 'locked' as const })),
      ...this.scheduled.values().map((entry) => ({ entry, state: 'scheduled' as const })),
    ];
    return tagged.sort((a, b) => a.entry.visibleAt - b.entry.visibleAt || a.entry.seq - b.entry.seq);
  }

  private isDuplicate(messageId: string, now: number): boolean {
    for (const [id, until] of this.seenIds) {
      if (until > now) break;
      this.seenIds.delete(id);
    }
    const until = this.seenIds.get(messageId);
    if (until !== undefined && until > now) return true;
    // Re-insert so the map stays ordered by window end, even for a reused id.
    this.seenIds.delete(messageId);
    this.seenIds.set(messageId, now + this.limits.dedupeWindowMs);
    return false;
  }
}
