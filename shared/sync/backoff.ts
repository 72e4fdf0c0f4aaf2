/**
 * Backoff for transient failures: a new scheduled message instead of the
 * host's immediate redelivery. 30 s, 2 min, 10 min, each ±20 % jitter so a
 * burst of failures does not come back as a burst; after that the message is
 * dead-lettered with its reason.
 */
export const BACKOFF_STEPS_MS = [30_000, 120_000, 600_000] as const;

/** Delay before retry `attempt` (1-based), or undefined when retries are exhausted. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number | undefined {
  const base = BACKOFF_STEPS_MS[attempt - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (0.8 + 0.4 * random()));
}
