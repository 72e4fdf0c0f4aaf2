/**
 * Key-value port for locks and dedupe keys. Redis in production, in-memory
 * when embedded. Every key carries a TTL: nothing here is meant to live forever.
 */
export interface KeyValueStore {
  /** The value, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Set unconditionally with a TTL. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Set only when the key is absent (SET NX PX). True when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Delete only when the current value equals `expected` (lock release). True when deleted. */
  deleteIfEquals(key: string, expected: string): Promise<boolean>;
  /** Set a new TTL only when the current value equals `expected` (lock renewal). True when renewed. */
  expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean>;
  /** Add `by` to a counter; the counter expires `ttlMs` after it was created (a fixed window). Answers the new count. */
  increment(key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Add `member` (taking `size` bytes elsewhere) to the front of a bounded
   * index; evict from the back, oldest first, until at most `maxCount`
   * members and `maxBytes` in total remain. Answers the evicted members (the
   * caller deletes what they stand for). The index expires `ttlMs` after its last push.
   */
  pushBounded(key: string, member: string, size: number, bounds: { maxCount: number; maxBytes: number }, ttlMs: number): Promise<string[]>;
  /** Delete unconditionally. */
  delete(key: string): Promise<void>;
  /** Remaining TTL in ms, or undefined when the key is absent. */
  ttlMs(key: string): Promise<number | undefined>;
  /** Cheap liveness probe for /api/health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
