/**
 * Queueing semantics, for the workers. A refused call is never sent: the
 * caller gets a RateLimitedError carrying the retry time, and
 * - the inbound worker reschedules the pull job as a delayed message at that
 *   time (shared/sync/pull.ts already maps RateLimitedError to a reschedule),
 *   so a refused `fetch` delays the work rather than failing it;
 * - the outbound worker reschedules a non-idempotent write with its
 *   idempotency key, so the write happens once, later.
 * A short wait (`maxWaitMs`) may be absorbed in process instead: cheaper than
 * a round trip through the queue when the window frees up within moments.
 */
import { RateLimitedError } from '../errors';
import type { RateLimitSignal } from '../providers/types';
import type { RateLimitDecision, RateLimiter, RateLimitOperation, RateLimitScope } from './types';

export type Refusal = Extract<RateLimitDecision, { allowed: false }>;

/** Only reads are safe to repeat blindly; writes go out once, with their idempotency key. */
export function isIdempotent(operation: RateLimitOperation): boolean {
  return operation === 'fetch';
}

export function rateLimitedError(refusal: Refusal, scope: RateLimitScope, operation: RateLimitOperation): RateLimitedError {
  const where = refusal.level === 'tenant' ? `tenant ${scope.tenantId}` : `integration ${scope.integrationId}${refusal.level === 'operation' ? ` (${operation})` : ''}`;
  return new RateLimitedError(`Rate limit reached for ${where}; retry in ${refusal.retryAfterMs} ms`, refusal.retryAfterMs);
}

export interface AdmitOptions {
  /** Total time this call may spend waiting in process before giving up; default 0 (never wait). */
  maxWaitMs?: number;
  signal?: AbortSignal;
}

/** Resolve once admitted (counted at every level), or throw RateLimitedError. */
export async function admit(limiter: RateLimiter, scope: RateLimitScope, operation: RateLimitOperation, options: AdmitOptions = {}): Promise<void> {
  const budget = options.maxWaitMs ?? 0;
  let waited = 0;
  for (;;) {
    const decision = await limiter.check(scope, operation);
    if (decision.allowed) return;
    if (waited + decision.retryAfterMs > budget || options.signal?.aborted) throw rateLimitedError(decision, scope, operation);
    await sleep(decision.retryAfterMs, options.signal);
    waited += decision.retryAfterMs;
  }
}

/**
 * A `fetch` that asks the limiter before every request. Pass it as the
 * provider context's `fetch`: every HTTP call the provider makes (pages,
 * look-ups before a write) is then checked and counted as `operation`.
 */
export function limitedFetch(inner: typeof fetch, limiter: RateLimiter, scope: RateLimitScope, operation: RateLimitOperation, options: AdmitOptions = {}): typeof fetch {
  return async (input, init) => {
    await admit(limiter, scope, operation, options);
    return inner(input, init);
  };
}

/**
 * The provider context's `onRateLimit`: hands each response's signal to the
 * limiter without making the provider call wait for it. A failure is passed
 * to `onError` (the limiter already falls back on its own).
 */
export function signalRecorder(limiter: RateLimiter, scope: RateLimitScope, onError: (error: unknown) => void = () => undefined): (signal: RateLimitSignal) => void {
  return (signal) => {
    limiter.recordSignal(scope, signal).catch(onError);
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
