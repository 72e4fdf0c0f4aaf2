/**
 * Graceful degradation. Redis refusing connections or stalling must not stall
 * a webhook or a sync: with ioredis's defaults a dead Redis holds a call for
 * ~10 s, beyond Slack's 3 s webhook deadline. So:
 *
 * - A client that is not connected answers at once (RedisRateLimiter never
 *   waits for a reconnect): refused connections decide in well under 50 ms.
 * - A reply that does not come within `stallTimeoutMs` (150 ms, leaving a busy
 *   event loop margin under the 250 ms bound) is given up on.
 * - Either way the limiter switches to an in-process fallback that admits a
 *   conservative share of each limit last seen from Redis (or of the
 *   defaults), honours provider blocks it knew of, raises a `degraded` alert
 *   and reports itself in the health check. Until Redis answers again no
 *   check waits on it: a probe (PING, same deadline) runs at most every
 *   `probeIntervalMs`, and the first that answers switches back.
 *
 * A check that timed out may still be counted by Redis when it wakes: the
 * error is on the safe side.
 */
import type { Logger } from '../observability/logger';
import type { RateLimitSignal } from '../providers/types';
import { AlertDebouncer } from './alerts';
import type { AdaptiveOptions } from './adaptive';
import { resolveLimits, type ResolvedLimits } from './defaults';
import { InMemoryRateLimiter } from './memory';
import { RateLimiterUnavailableError } from './client';
import type { RedisDecision } from './redis';
import type { AlertListener, RateLimitDecision, RateLimiter, RateLimitOperation, RateLimitScope, WindowOptions } from './types';

/** The shared limiter as the fallback wraps it. */
export interface PrimaryLimiter extends RateLimiter {
  check(scope: RateLimitScope, operation: RateLimitOperation): Promise<RateLimitDecision & Partial<Pick<RedisDecision, 'blockedMs'>>>;
  ping(): Promise<void>;
}

export interface ResilientOptions {
  stallTimeoutMs?: number;
  probeIntervalMs?: number;
  /**
   * A recovery probe decides nothing, so it may wait longer than a check: a
   * busy event loop (the fallback answering a flood of checks) must not keep
   * failing the probe and hold the limiter on its fallback.
   */
  probeTimeoutMs?: number;
  /**
   * Share of each limit one instance admits on its own. Instances cannot see
   * each other's counts while Redis is away, so N instances admit up to N
   * times this share: 0.25 keeps four instances within the limit, and the
   * providers' own 429s (applied locally) slow any beyond.
   */
  fallbackShare?: number;
  /**
   * A cold instance's first connection (TLS, AUTH, ready check) can outlast
   * the stall timeout. Failures this soon after the first call, before Redis
   * ever answered, use the fallback for that call without declaring an outage.
   */
  startupGraceMs?: number;
  onAlert?: AlertListener;
  alertDebounceMs?: number;
  logger?: Logger;
  now?: () => number;
  window?: WindowOptions;
  adaptive?: Partial<AdaptiveOptions>;
}

export const DEFAULT_STALL_TIMEOUT_MS = 150;
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
export const DEFAULT_FALLBACK_SHARE = 0.25;
export const DEFAULT_STARTUP_GRACE_MS = 5_000;
/** Limits remembered per (tenant, integration, operation); the least recently used are forgotten. */
const MAX_REMEMBERED = 10_000;

export interface RateLimiterHealth {
  mode: 'normal' | 'fallback';
  /** ISO time the fallback took over. */
  since?: string;
  reason?: string;
}

interface Remembered {
  limits: ResolvedLimits;
  /** Local clock. */
  blockedUntil: number;
}

export class ResilientRateLimiter implements RateLimiter {
  private readonly stallTimeoutMs: number;
  private readonly probeIntervalMs: number;
  private readonly share: number;
  private readonly now: () => number;
  private readonly alerts: AlertDebouncer | undefined;
  private readonly fallback: InMemoryRateLimiter;
  private readonly remembered = new Map<string, Remembered>();
  private degraded: { since: number; reason: string } | undefined;
  private probing: Promise<void> | undefined;
  private lastProbeAt = Number.NEGATIVE_INFINITY;
  private firstCallAt: number | undefined;
  private answered = false;

  constructor(
    private readonly primary: PrimaryLimiter,
    private readonly options: ResilientOptions = {},
  ) {
    this.stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
    this.share = options.fallbackShare ?? DEFAULT_FALLBACK_SHARE;
    if (!(this.share > 0 && this.share <= 1)) throw new RangeError('fallbackShare must be in (0, 1]');
    this.now = options.now ?? Date.now;
    this.alerts = options.onAlert ? new AlertDebouncer(options.onAlert, options.alertDebounceMs, this.now) : undefined;
    this.fallback = new InMemoryRateLimiter({
      limits: { resolve: (scope, operation) => this.fallbackLimits(scope, operation) },
      now: this.now,
      degraded: true,
      ...(options.window ? { window: options.window } : {}),
      ...(options.adaptive ? { adaptive: options.adaptive } : {}),
    });
  }

  async check(scope: RateLimitScope, operation: RateLimitOperation): Promise<RateLimitDecision> {
    if (!this.degraded) {
      try {
        this.firstCallAt ??= this.now();
        const decision = await withDeadline(this.primary.check(scope, operation), this.stallTimeoutMs);
        this.answered = true;
        this.remember(scope, operation, decision);
        return decision;
      } catch (error) {
        this.degrade(error);
      }
    } else {
      this.probeSoon();
    }
    return this.local(scope, operation);
  }

  async recordSignal(scope: RateLimitScope, signal: RateLimitSignal): Promise<void> {
    // Always locally too: a block learnt just before an outage still holds during it.
    await this.fallback.recordSignal(scope, signal);
    if (this.degraded) {
      this.probeSoon();
      return;
    }
    try {
      await withDeadline(this.primary.recordSignal(scope, signal), this.stallTimeoutMs);
    } catch (error) {
      this.degrade(error);
    }
  }

  /** Current mode; while degraded, waits for one recovery probe first (bounded by the probe timeout). */
  async health(): Promise<RateLimiterHealth> {
    if (this.degraded) await this.probe();
    if (!this.degraded) return { mode: 'normal' };
    return { mode: 'fallback', since: new Date(this.degraded.since).toISOString(), reason: this.degraded.reason };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.fallback.close(), this.primary.close()]);
  }

  private local(scope: RateLimitScope, operation: RateLimitOperation): Promise<RateLimitDecision> {
    const known = this.remembered.get(rememberKey(scope, operation));
    const blockedMs = known ? known.blockedUntil - this.now() : 0;
    if (blockedMs > 0) return Promise.resolve({ allowed: false, level: 'integration', retryAfterMs: Math.ceil(blockedMs), usage: [], degraded: true });
    return this.fallback.check(scope, operation);
  }

  private fallbackLimits(scope: RateLimitScope, operation: RateLimitOperation): ResolvedLimits {
    const base = this.remembered.get(rememberKey(scope, operation))?.limits ?? resolveLimits(undefined, scope, operation);
    const part = (limit: number): number => Math.max(1, Math.floor(limit * this.share));
    return { tenant: part(base.tenant), integration: part(base.integration), operation: part(base.operation) };
  }

  private remember(scope: RateLimitScope, operation: RateLimitOperation, decision: RateLimitDecision & { blockedMs?: number }): void {
    const [tenant, integration, op] = decision.usage;
    if (!tenant || !integration || !op) return;
    const key = rememberKey(scope, operation);
    this.remembered.delete(key);
    if (this.remembered.size >= MAX_REMEMBERED) {
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.remembered.delete(oldest.value);
    }
    const limits = { tenant: tenant.limit, integration: integration.limit, operation: op.limit };
    this.remembered.set(key, { limits, blockedUntil: this.now() + (decision.blockedMs ?? 0) });
  }

  private degrade(error: unknown): void {
    if (this.degraded) return;
    const grace = this.options.startupGraceMs ?? DEFAULT_STARTUP_GRACE_MS;
    if (!this.answered && this.firstCallAt !== undefined && this.now() - this.firstCallAt < grace) return;
    const reason = describeFailure(error, this.stallTimeoutMs);
    this.degraded = { since: this.now(), reason };
    this.lastProbeAt = this.now();
    this.options.logger?.warn('rate limiter degraded: Redis unavailable, using the in-process fallback', { reason, share: this.share });
    this.alerts?.emit('degraded', { kind: 'degraded', reason });
  }

  private probeSoon(): void {
    if (this.now() - this.lastProbeAt < this.probeIntervalMs) return;
    void this.probe();
  }

  /** One probe at a time; never rejects. */
  private probe(): Promise<void> {
    this.probing ??= (async () => {
      this.lastProbeAt = this.now();
      try {
        await withDeadline(this.primary.ping(), this.options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
        this.recover();
      } catch {
        // Still down: the next probe is due after probeIntervalMs.
      } finally {
        this.probing = undefined;
      }
    })();
    return this.probing;
  }

  private recover(): void {
    if (!this.degraded) return;
    const degradedForMs = this.now() - this.degraded.since;
    this.degraded = undefined;
    this.options.logger?.info('rate limiter recovered: back on Redis', { degradedForMs });
    this.alerts?.emit('recovered', { kind: 'recovered', degradedForMs });
  }
}

function rememberKey(scope: RateLimitScope, operation: RateLimitOperation): string {
  return `${scope.tenantId}/${scope.integrationId}/${operation}`;
}

export class DeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`no reply within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/** Settle with `promise`, or reject after `ms`. The promise keeps a handler, so a late rejection is never unhandled. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new DeadlineError(ms)); }, ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (error: unknown) => { clearTimeout(timer); reject(error instanceof Error ? error : new Error(String(error))); },
    );
  });
}

/** A reason fit for logs and alerts: the failure's kind, never a connection string. */
function describeFailure(error: unknown, stallTimeoutMs: number): string {
  if (error instanceof DeadlineError) return `Redis did not answer within ${stallTimeoutMs} ms`;
  if (error instanceof RateLimiterUnavailableError) return error.message;
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${error.name} (${code})` : error.name;
  }
  return 'unknown error';
}
