/**
 * Every key carries a TTL. Redis rejects PX 0, negatives and non-integers, and
 * a key without a TTL would live forever, so both stores apply this one rule:
 * a positive, finite TTL, rounded up to whole milliseconds.
 */
export function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}
