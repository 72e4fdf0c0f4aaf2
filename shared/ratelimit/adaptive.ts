/**
 * Adaptive limits: what a provider's rate-limit signal does to the
 * integration's effective limit. Shared by both implementations; the Redis
 * side runs the same arithmetic inside the signal and check scripts.
 *
 * - A pause (429 / 403 with Retry-After, or GitHub's remaining 0 on an error)
 *   blocks the integration until it ends, and halves its push-back factor.
 * - `remaining: 0` with a reset time blocks until the reset.
 * - Usage near the allocation (e.g. Salesforce `api-usage=USED/MAX` above 80%)
 *   scales the limit down, linearly to the minimum factor at 100%.
 * - Factors climb back to 1 linearly over `recoveryMs` once the provider stops
 *   pushing back; the effective limit never exceeds the configured one.
 */
import type { RateLimitSignal } from '../providers/types';

export interface AdaptiveOptions {
  /** How long a factor takes to climb from 0 back to 1. */
  recoveryMs: number;
  /** Push-back factor multiplier per pause (multiplicative decrease). */
  backoff: number;
  /** Floor of every factor: the limit never drops below this share (nor below 1 request). */
  minFactor: number;
  /** Share of the provider's allocation used before slowing down. */
  slowdownAt: number;
  /**
   * Longest block accepted from one signal. GitHub's primary window resets
   * within the hour (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api);
   * a further reset is more likely a bad header, and the provider's next 429 renews a real one.
   */
  maxBlockMs: number;
}

export const DEFAULT_ADAPTIVE: AdaptiveOptions = {
  recoveryMs: 5 * 60_000,
  backoff: 0.5,
  minFactor: 0.05,
  slowdownAt: 0.8,
  maxBlockMs: 60 * 60_000,
};

/** What a signal asks of the shared state; undefined fields change nothing. */
export interface SignalEffect {
  pauseMs?: number;
  blockUntil?: number;
  usageFactor?: number;
}

/**
 * Translate a provider signal. `slowed` says whether this integration was
 * last seen near its allocation: only then is a healthy usage reading worth
 * a round trip (to lift the slowdown at once rather than by recovery).
 */
export function signalEffect(signal: RateLimitSignal, options: AdaptiveOptions, slowed: boolean): SignalEffect {
  // Allocation spent with a known reset: block until then. The reset restores
  // the whole allocation, so this is no push-back and the factors stay as they are.
  if (signal.remaining === 0 && signal.resetAt !== undefined) return { blockUntil: signal.resetAt };
  const effect: SignalEffect = {};
  if (signal.retryAfterMs !== undefined && signal.retryAfterMs > 0) effect.pauseMs = Math.ceil(signal.retryAfterMs);
  const factor = usageFactor(signal, options);
  if (factor !== undefined && (factor < 1 || slowed)) effect.usageFactor = factor;
  return effect;
}

export function isEmptyEffect(e: SignalEffect): boolean {
  return e.pauseMs === undefined && e.blockUntil === undefined && e.usageFactor === undefined;
}

/** 1 below the slowdown threshold, then linear down to `minFactor` at full use. */
export function usageFactor(signal: RateLimitSignal, options: AdaptiveOptions): number | undefined {
  const { remaining, limit } = signal;
  if (remaining === undefined || limit === undefined || limit <= 0) return undefined;
  const used = Math.min(1, Math.max(0, 1 - remaining / limit));
  if (used < options.slowdownAt) return 1;
  const over = (used - options.slowdownAt) / (1 - options.slowdownAt);
  return Math.max(options.minFactor, 1 - over * (1 - options.minFactor));
}

/** A factor set at `since`, climbed back toward 1 by `now`. */
export function recovered(factor: number, since: number, now: number, recoveryMs: number): number {
  if (now <= since) return factor;
  return Math.min(1, factor + (now - since) / recoveryMs);
}

/** The adaptive state of one integration (the Redis hash's fields). */
export interface AdaptiveState {
  blockedUntil: number;
  pushback: number;
  pushbackSince: number;
  usage: number;
  usageSince: number;
}

export const freshAdaptiveState = (): AdaptiveState => ({ blockedUntil: 0, pushback: 1, pushbackSince: 0, usage: 1, usageSince: 0 });

/** SIGNAL_SCRIPT, in process. */
export function applyEffect(s: AdaptiveState, e: SignalEffect, now: number, o: AdaptiveOptions): AdaptiveState {
  const next = { ...s };
  if (e.pauseMs !== undefined) {
    if (next.blockedUntil <= now) next.pushback = Math.max(o.minFactor, recovered(next.pushback, next.pushbackSince, now, o.recoveryMs) * o.backoff);
    next.blockedUntil = Math.max(next.blockedUntil, now + Math.min(e.pauseMs, o.maxBlockMs));
    next.pushbackSince = next.blockedUntil;
  }
  if (e.blockUntil !== undefined) next.blockedUntil = Math.max(next.blockedUntil, Math.min(e.blockUntil, now + o.maxBlockMs));
  if (e.usageFactor !== undefined) {
    next.usage = Math.max(o.minFactor, Math.min(1, e.usageFactor));
    next.usageSince = now;
  }
  return next;
}

/** The factor the check applies to the integration's configured limit. */
export function effectiveFactor(s: AdaptiveState, now: number, recoveryMs: number): number {
  return Math.min(recovered(s.pushback, s.pushbackSince, now, recoveryMs), recovered(s.usage, s.usageSince, now, recoveryMs));
}

/** True once the state no longer changes anything: it can be forgotten. */
export function isSettled(s: AdaptiveState, now: number, recoveryMs: number): boolean {
  return s.blockedUntil <= now && effectiveFactor(s, now, recoveryMs) >= 1;
}
