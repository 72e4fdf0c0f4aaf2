/**
 * Alerts: a level crossing its threshold (default 80% of its limit), a
 * refusal, the fallback taking over and Redis coming back. Debounced per key
 * (level + whose budget), so one noisy integration cannot flood the channel.
 * A listener that throws never affects a decision.
 */
import type { RateLimitSignal } from '../providers/types';
import type { AlertListener, RateLimitAlert, RateLimitDecision, RateLimiter, RateLimitLevel, RateLimitOperation, RateLimitScope } from './types';

export const DEFAULT_ALERT_THRESHOLD = 0.8;
export const DEFAULT_ALERT_DEBOUNCE_MS = 5 * 60_000;
/** Keys remembered for debouncing; the oldest are forgotten first. */
const MAX_KEYS = 10_000;

interface KeyState {
  above: boolean;
  lastAlertAt: number;
}

/** Emits at most one alert per key per `debounceMs`. */
export class AlertDebouncer {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly listener: AlertListener,
    private readonly debounceMs: number = DEFAULT_ALERT_DEBOUNCE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Emit unless this key alerted within the debounce period. */
  emit(key: string, alert: RateLimitAlert): void {
    const state = this.keys.get(key);
    const now = this.now();
    if (state && now - state.lastAlertAt < this.debounceMs) return;
    this.touch(key, { above: state?.above ?? false, lastAlertAt: now });
    this.notify(alert);
  }

  /** Emit when `above` turns true (a crossing), debounced; staying above emits nothing more. */
  crossing(key: string, above: boolean, alert: () => RateLimitAlert): void {
    const state = this.keys.get(key);
    if (!above) {
      if (state) state.above = false;
      return;
    }
    if (state?.above) return;
    const now = this.now();
    if (state && now - state.lastAlertAt < this.debounceMs) {
      state.above = true;
      return;
    }
    this.touch(key, { above: true, lastAlertAt: now });
    this.notify(alert());
  }

  private notify(alert: RateLimitAlert): void {
    try {
      this.listener(alert);
    } catch {
      // An alert channel failing must not fail the request being limited.
    }
  }

  private touch(key: string, state: KeyState): void {
    this.keys.delete(key);
    if (this.keys.size >= MAX_KEYS) {
      const oldest = this.keys.keys().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
    this.keys.set(key, state);
  }
}

export interface AlertingOptions {
  onAlert: AlertListener;
  /** Share of a limit that counts as "close to it"; default 0.8. */
  threshold?: number;
  debounceMs?: number;
  now?: () => number;
}

/** Wraps a limiter and raises alerts from its decisions. */
export class AlertingRateLimiter implements RateLimiter {
  private readonly alerts: AlertDebouncer;
  private readonly threshold: number;

  constructor(
    private readonly inner: RateLimiter,
    options: AlertingOptions,
  ) {
    this.alerts = new AlertDebouncer(options.onAlert, options.debounceMs ?? DEFAULT_ALERT_DEBOUNCE_MS, options.now ?? Date.now);
    this.threshold = options.threshold ?? DEFAULT_ALERT_THRESHOLD;
    if (!(this.threshold > 0 && this.threshold <= 1)) throw new RangeError('alert threshold must be in (0, 1]');
  }

  async check(scope: RateLimitScope, operation: RateLimitOperation): Promise<RateLimitDecision> {
    const decision = await this.inner.check(scope, operation);
    for (const u of decision.usage) {
      this.alerts.crossing(`threshold|${levelKey(u.level, scope, operation)}`, u.count >= u.limit * this.threshold, () => ({
        kind: 'threshold',
        level: u.level,
        scope,
        operation,
        count: u.count,
        limit: u.limit,
      }));
    }
    if (!decision.allowed) {
      const { level, retryAfterMs } = decision;
      this.alerts.emit(`refused|${levelKey(level, scope, operation)}`, { kind: 'refused', level, scope, operation, retryAfterMs });
    }
    return decision;
  }

  recordSignal(scope: RateLimitScope, signal: RateLimitSignal): Promise<void> {
    return this.inner.recordSignal(scope, signal);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Whose budget a level spends: the debounce key. */
function levelKey(level: RateLimitLevel, scope: RateLimitScope, operation: RateLimitOperation): string {
  if (level === 'tenant') return `tenant|${scope.tenantId}`;
  if (level === 'integration') return `integration|${scope.tenantId}|${scope.integrationId}`;
  return `operation|${scope.tenantId}|${scope.integrationId}|${operation}`;
}
