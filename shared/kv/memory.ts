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
