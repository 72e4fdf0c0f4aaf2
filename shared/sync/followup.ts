/**
 * Follow-up messages of a job: retries after failures (attempt, the backoff
 * in backoff.ts) and deferrals while it waits (a busy integration, a rate
 * limit), counted apart so that waiting never uses up the retries.
 */

/** A job that has waited this long in total is parked instead of waiting again. */
export const MAX_DEFERRAL_MS = 24 * 60 * 60 * 1000;

/**
 * Delay before deferral `n` (1-based): `baseMs` doubling up to `capMs`, ±20 %
 * jitter. While a lease is held the waiters back off instead of polling it
 * every few seconds (a stalled holder once produced thousands of reschedules a minute).
 */
export function deferralDelay(n: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(n - 1, 0), 30));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/** Message id of a follow-up: built from the job's stable base, so ids never grow with each requeue (Service Bus caps them at 128). */
export function followUpId(base: string, kind: 'retry' | 'defer' | 'cont', n: number): string {
  return `${base}:${kind}:${n}`;
}

export interface Deferrable {
  deferrals?: number | undefined;
  deferredSince?: string | undefined;
}

/** The job's next deferral, or undefined when it has waited longer than MAX_DEFERRAL_MS. */
export function nextDeferral<J extends Deferrable>(job: J, now: Date, maxMs = MAX_DEFERRAL_MS): (J & { deferrals: number; deferredSince: string }) | undefined {
  const since = job.deferredSince ?? now.toISOString();
  if (now.getTime() - Date.parse(since) > maxMs) return undefined;
  return { ...job, deferrals: (job.deferrals ?? 0) + 1, deferredSince: since };
}
