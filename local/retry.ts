import type { Logger } from '../shared/observability/logger';
import { describeError } from './host/context';

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Wait before the second try; doubles after each failure, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
}

/**
 * Start-up steps that talk to Redis: a stall makes each try fail after the
 * client's ~2 s ready timeout, so eight tries with waits of 0.25 s doubling to
 * 5 s ride out roughly half a minute of outage before giving up.
 */
export const START_UP_RETRY: RetryPolicy = { attempts: 8, firstDelayMs: 250, maxDelayMs: 5_000 };

/** A failure that retrying cannot fix (e.g. a 4xx from a handler): thrown at once. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Run `fn` until it succeeds, with bounded exponential backoff; each failure is logged with what happens next. */
export async function withRetries<T>(what: string, fn: () => Promise<T>, logger: Logger, policy: RetryPolicy = START_UP_RETRY): Promise<T> {
  let delay = policy.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof PermanentError || attempt >= policy.attempts) throw error;
      logger.warn(`${what} failed (attempt ${attempt} of ${policy.attempts}); retrying in ${delay} ms`, { error: describeError(error).error });
      await sleep(delay);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}
