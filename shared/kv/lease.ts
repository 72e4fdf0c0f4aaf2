import type { KeyValueStore } from './port';

/**
 * Leases that survive a Redis stall without leaving a ghost behind.
 *
 * A `SET NX PX` or a release that times out on the client may still run on
 * the server once Redis resumes (the command sits in the socket buffer of a
 * paused server): the lease is then held by an invocation that has already
 * given up, and everyone waits out its TTL. The holder value is unique per
 * attempt, so deleting "our" value is always safe; when acquiring or releasing
 * fails, we keep trying to delete it in the background until Redis answers,
 * plus one more time shortly after, to catch a command that was still buffered.
 */
export interface LeaseRef {
  readonly key: string;
  readonly holder: string;
}

export interface CleanupOptions {
  /** Stop trying after this long: by then the key has expired on its own. */
  giveUpAfterMs: number;
  /** First pause between attempts; doubles up to `maxPauseMs`. */
  firstPauseMs?: number;
  maxPauseMs?: number;
  /** After the first answered attempt, one more this much later (a buffered command may land after it). */
  confirmAfterMs?: number;
  onGiveUp?: (error: unknown) => void;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    // Never keep a process alive for a cleanup.
    setTimeout(resolve, ms).unref();
  });

const pendingCleanups = new Set<Promise<void>>();

/** Cleanups still running (tests wait on them; the local host's shutdown may too). */
export function settleLeaseCleanups(): Promise<void> {
  return Promise.all([...pendingCleanups]).then(() => undefined);
}

/** Delete the holder's value until Redis answers, then once more; never throws. */
export function releaseEventually(kv: Pick<KeyValueStore, 'deleteIfEquals'>, lease: LeaseRef, options: CleanupOptions): Promise<void> {
  const started = Date.now();
  const run = async (): Promise<void> => {
    let pause = options.firstPauseMs ?? 250;
    let lastError: unknown;
    while (Date.now() - started < options.giveUpAfterMs) {
      try {
        await kv.deleteIfEquals(lease.key, lease.holder);
        await sleep(options.confirmAfterMs ?? 1_000);
        await kv.deleteIfEquals(lease.key, lease.holder).catch(() => undefined);
        return;
      } catch (error) {
        lastError = error;
        await sleep(pause);
        pause = Math.min(pause * 2, options.maxPauseMs ?? 2_000);
      }
    }
    options.onGiveUp?.(lastError);
  };
  const p = run().finally(() => pendingCleanups.delete(p));
  pendingCleanups.add(p);
  return p;
}

/**
 * Take the lease: true when taken, false when someone else holds it. When
 * Redis fails, the SET may still land later: start a background cleanup of
 * our value, then rethrow so the caller takes its failure path.
 */
export async function acquireLease(kv: Pick<KeyValueStore, 'setIfAbsent' | 'deleteIfEquals'>, lease: LeaseRef, ttlMs: number): Promise<boolean> {
  try {
    return await kv.setIfAbsent(lease.key, lease.holder, ttlMs);
  } catch (error) {
    void releaseEventually(kv, lease, { giveUpAfterMs: ttlMs });
    throw error;
  }
}

/** Release the lease now, or keep trying in the background when Redis fails; never throws. */
export async function releaseLease(kv: Pick<KeyValueStore, 'deleteIfEquals'>, lease: LeaseRef, ttlMs: number, onError?: (error: unknown) => void): Promise<void> {
  try {
    await kv.deleteIfEquals(lease.key, lease.holder);
  } catch (error) {
    onError?.(error);
    void releaseEventually(kv, lease, { giveUpAfterMs: ttlMs });
  }
}
