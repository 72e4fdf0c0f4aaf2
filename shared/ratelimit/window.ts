/**
 * The sliding window, in process: the same algorithm, step for step, as the
 * Redis check script (scripts.ts), so both implementations pass one contract.
 *
 * Approximation and its bound: requests are counted in buckets of `bucketMs`,
 * and a request stays counted while its bucket overlaps the window, i.e. for
 * between `windowMs` and `windowMs + bucketMs`. The counted set therefore
 * always contains every request of the last `windowMs`: no window of
 * `windowMs` ever holds more than the limit (the error is only ever on the
 * safe side). The cost is throughput: at worst a limit of L per minute admits
 * L per (60 s + 1 s), 1.6% less than exact, with the default 1 s buckets.
 */
import type { WindowOptions } from './types';

export interface WindowPosition {
  /** Index of the bucket holding `now`. */
  cur: number;
  /** Oldest bucket still counted. */
  first: number;
  /** Buckets per window. */
  span: number;
}

export function windowPosition(now: number, w: WindowOptions): WindowPosition {
  const span = Math.floor(w.windowMs / w.bucketMs);
  const cur = Math.floor(now / w.bucketMs);
  return { cur, first: cur - span, span };
}

export function checkWindow(w: WindowOptions): WindowOptions {
  if (!Number.isInteger(w.windowMs) || !Number.isInteger(w.bucketMs) || w.bucketMs < 1 || w.windowMs < w.bucketMs) {
    throw new RangeError('window: windowMs and bucketMs must be whole ms, with 1 <= bucketMs <= windowMs');
  }
  return w;
}

export class SlidingWindow {
  private total = 0;
  private oldest = 0;
  private readonly buckets = new Map<number, number>();

  /** Live count at `pos`, after dropping the buckets that slid out. */
  count(pos: WindowPosition): number {
    if (this.total === 0 || this.oldest >= pos.first) return this.total;
    if (pos.first - this.oldest > pos.span) {
      this.reset();
      return 0;
    }
    for (let i = this.oldest; i < pos.first; i++) {
      this.total -= this.buckets.get(i) ?? 0;
      this.buckets.delete(i);
    }
    if (this.total <= 0) this.reset();
    else this.oldest = pos.first;
    return this.total;
  }

  add(pos: WindowPosition): number {
    if (this.total === 0) this.oldest = pos.cur;
    this.buckets.set(pos.cur, (this.buckets.get(pos.cur) ?? 0) + 1);
    return ++this.total;
  }

  /** Ms until enough of the oldest requests slide out for one more under `limit`. */
  retryAfter(pos: WindowPosition, limit: number, now: number, bucketMs: number, windowMs: number): number {
    const excess = this.total - limit + 1;
    let acc = 0;
    for (let i = pos.first; i <= pos.cur; i++) {
      acc += this.buckets.get(i) ?? 0;
      if (acc >= excess) return (i + pos.span + 1) * bucketMs - now;
    }
    return windowMs;
  }

  /** True once nothing is counted: the owner may drop this window. */
  isEmpty(pos: WindowPosition): boolean {
    return this.count(pos) === 0;
  }

  private reset(): void {
    this.total = 0;
    this.buckets.clear();
  }
}
