/**
 * The clock, randomness and sleep the Google provider uses, injectable so
 * tests drive backoff and token expiry without waiting or mocking modules.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface GoogleRuntime {
  now: () => number;
  /** Uniform in [0, 1): the backoff jitter. */
  random: () => number;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * In-process retries of a 429 / rate-limit 403 / 5xx before the error goes
   * to the worker (which reschedules or redelivers the job). Google's client
   * libraries retry the same set of statuses.
   */
  maxRetries: number;
}

/** Three retries wait about 1 + 2 + 4 s: short enough for one function invocation. */
export const DEFAULT_MAX_RETRIES = 3;

export const defaultGoogleRuntime: GoogleRuntime = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal ? { signal } : {});
  },
  maxRetries: DEFAULT_MAX_RETRIES,
};

export function googleRuntime(overrides: Partial<GoogleRuntime> = {}): GoogleRuntime {
  return { ...defaultGoogleRuntime, ...overrides };
}
