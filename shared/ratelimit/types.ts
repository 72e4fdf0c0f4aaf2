/**
 * The rate limiter's port. Every provider call is checked at three levels at
 * once — the tenant, the integration, and the operation within the
 * integration — and counted at all three only when all three admit it.
 *
 * Two implementations pass one contract suite: Redis (one Lua script, one
 * round trip, Redis `TIME` as the clock) and in-memory (embedded profile, and
 * the in-process fallback while Redis is unreachable).
 */
import type { PushOp, RateLimitSignal } from '../providers/types';

export type RateLimitOperation = 'fetch' | PushOp;
export const RATE_LIMIT_OPERATIONS: readonly RateLimitOperation[] = ['fetch', 'create', 'update', 'delete'];

/** The order levels are reported in, outermost first. */
export type RateLimitLevel = 'tenant' | 'integration' | 'operation';
export const RATE_LIMIT_LEVELS: readonly RateLimitLevel[] = ['tenant', 'integration', 'operation'];

/** Whose budget a call spends. `provider` picks the default limits. */
export interface RateLimitScope {
  tenantId: string;
  integrationId: string;
  provider: string;
}

/** One level's window after the decision: `count` includes this request when it was admitted. */
export interface LevelUsage {
  level: RateLimitLevel;
  count: number;
  /** The limit in force: configured, scaled down by adaptive signals, or the fallback share. */
  limit: number;
}

export type RateLimitDecision =
  | { allowed: true; usage: readonly LevelUsage[]; degraded: boolean }
  | {
      allowed: false;
      /** The level whose wait is longest: retrying before `retryAfterMs` is refused again. */
      level: RateLimitLevel;
      retryAfterMs: number;
      usage: readonly LevelUsage[];
      degraded: boolean;
    };

export interface RateLimiter {
  /** Check and, when every level admits it, count one request. A refusal counts nothing. */
  check(scope: RateLimitScope, operation: RateLimitOperation): Promise<RateLimitDecision>;
  /** Feed a provider's rate-limit signal into the integration's shared effective limit. */
  recordSignal(scope: RateLimitScope, signal: RateLimitSignal): Promise<void>;
  close(): Promise<void>;
}

/** Per-minute limits for one integration; absent fields use the provider defaults. */
export interface IntegrationLimits {
  perMinute?: number;
  operations?: Partial<Record<RateLimitOperation, number>>;
}

/** A tenant's custom limits, as the admin API sets them. */
export interface TenantLimits {
  perMinute?: number;
  integrations?: Record<string, IntegrationLimits>;
}

/** Where custom limits live: every instance reads them on its next check. */
export interface LimitsStore {
  get(tenantId: string): Promise<TenantLimits>;
  /** Replace the tenant's limits, integration entries included. */
  replace(tenantId: string, limits: TenantLimits): Promise<void>;
  /** Replace (or, with undefined, remove) one integration's entry. */
  setIntegration(tenantId: string, integrationId: string, limits: IntegrationLimits | undefined): Promise<void>;
}

/**
 * Sliding-window geometry. The window is a minute in production (limits are
 * per minute); tests shorten it. Requests are counted in buckets of
 * `bucketMs`; see window.ts for the error bound this buys.
 */
export interface WindowOptions {
  windowMs: number;
  bucketMs: number;
}

export const DEFAULT_WINDOW: WindowOptions = { windowMs: 60_000, bucketMs: 1_000 };

export type RateLimitAlert =
  | { kind: 'threshold'; level: RateLimitLevel; scope: RateLimitScope; operation: RateLimitOperation; count: number; limit: number }
  | { kind: 'refused'; level: RateLimitLevel; scope: RateLimitScope; operation: RateLimitOperation; retryAfterMs: number }
  | { kind: 'degraded'; reason: string }
  | { kind: 'recovered'; degradedForMs: number };

export type AlertListener = (alert: RateLimitAlert) => void;
