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
  /** Delete unconditionally. */
  delete(key: string): Promise<void>;
  /** Remaining TTL in ms, or undefined when the key is absent. */
  ttlMs(key: string): Promise<number | undefined>;
  /** Cheap liveness probe for /api/health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
