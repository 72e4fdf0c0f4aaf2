import type { KeyValueStore } from './port';
import { checkTtl } from './ttl';

export interface InMemoryKeyValueStoreOptions {
  /** Clock for TTLs; tests inject a fake one. */
  now?: () => number;
}

interface Slot {
  readonly value: string;
  readonly expiresAt: number;
}

// Expired keys are dropped when read. Keys nobody reads again (dedupe keys
// mostly) are reclaimed incrementally: each write examines a few more keys, so
// memory stays bounded without a stop-the-world scan of the whole map (which,
// at 100k keys, stalls every request queued behind it).
const SWEEP_STEP = 4;

/** In-process KeyValueStore with Redis's SET NX PX / PTTL semantics. */
export class InMemoryKeyValueStore implements KeyValueStore {
  private readonly now: () => number;
  private readonly slots = new Map<string, Slot>();
  private cursor: Iterator<[string, Slot]> | undefined;
  private closed = false;

  constructor(options: InMemoryKeyValueStoreOptions = {}) {
    this.now = options.now ?? (() => Date.now());
  }

  get(key: string): Promise<string | undefined> {
    return this.run(() => this.live(key)?.value);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.run(() => {
      this.write(key, value, ttlMs);
    });
  }

  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return this.run(() => {
      checkTtl(ttlMs);
      if (this.live(key)) return false;
      this.write(key, value, ttlMs);
      return true;
    });
  }

  deleteIfEquals(key: string, expected: string): Promise<boolean> {
    return this.run(() => this.live(key)?.value === expected && this.slots.delete(key));
  }

  expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean> {
    return this.run(() => {
      if (this.live(key)?.value !== expected) return false;
      this.write(key, expected, ttlMs);
      return true;
    });
  }

  increment(key: string, by: number, ttlMs: number): Promise<number> {
    return this.run(() => {
      const slot = this.live(key);
      const n = Number(slot?.value ?? '0') + by;
      // The window is fixed by the first increment, as in Redis (PEXPIRE only when created).
      if (slot) this.slots.set(key, { value: String(n), expiresAt: slot.expiresAt });
      else this.write(key, String(n), ttlMs);
      return n;
    });
  }

  pushBounded(key: string, member: string, size: number, bounds: { maxCount: number; maxBytes: number }, ttlMs: number): Promise<string[]> {
    return this.run(() => {
      const entries = JSON.parse(this.live(key)?.value ?? '[]') as [number, string][];
      entries.unshift([size, member]);
      let total = entries.reduce((sum, [n]) => sum + n, 0);
      const evicted: string[] = [];
      while (entries.length > bounds.maxCount || total > bounds.maxBytes) {
        const oldest = entries.pop();
        if (!oldest) break;
        total -= oldest[0];
        evicted.push(oldest[1]);
      }
      this.write(key, JSON.stringify(entries), ttlMs);
      return evicted;
    });
  }

  delete(key: string): Promise<void> {
    return this.run(() => {
      this.slots.delete(key);
    });
  }

  ttlMs(key: string): Promise<number | undefined> {
    return this.run(() => {
      const slot = this.live(key);
      return slot && slot.expiresAt - this.now();
    });
  }

  ping(): Promise<void> {
    return this.run(() => undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    this.slots.clear();
    return Promise.resolve();
  }

  /** Keys held in memory, including expired ones not reclaimed yet (for tests and status). */
  size(): number {
    return this.slots.size;
  }

  /** Every operation is synchronous inside, so concurrent callers see Redis's atomicity. */
  private run<T>(op: () => T): Promise<T> {
    // A throw inside the executor (closed store, bad TTL) becomes the rejection.
    return new Promise((resolve) => {
      if (this.closed) throw new Error('Key-value store is closed');
      resolve(op());
    });
  }

  private live(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (slot && slot.expiresAt <= this.now()) {
      this.slots.delete(key);
      return undefined;
    }
    return slot;
  }

  private write(key: string, value: string, ttlMs: number): void {
    const ms = checkTtl(ttlMs);
    this.slots.set(key, { value, expiresAt: this.now() + ms });
    this.sweepStep();
  }

  /** Examine the next few keys in insertion order; start over at the end. */
  private sweepStep(): void {
    const now = this.now();
    this.cursor ??= this.slots.entries();
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = this.cursor.next();
      if (next.done === true) {
        this.cursor = undefined;
        return;
      }
      const [key, slot] = next.value;
      if (slot.expiresAt <= now) this.slots.delete(key);
    }
  }
}
