/**
 * The in-process limiter: the embedded profile's limiter, and the fallback
 * while Redis is unreachable. Same window and adaptive arithmetic as the
 * Redis scripts (window.ts, adaptive.ts), checked by the same contract suite.
 * JavaScript runs one check at a time, so check-and-count is atomic here too.
 */
import type { RateLimitSignal } from '../providers/types';
import { applyEffect, DEFAULT_ADAPTIVE, effectiveFactor, freshAdaptiveState, isEmptyEffect, isSettled, signalEffect, type AdaptiveOptions, type AdaptiveState } from './adaptive';
import { resolveLimits, type ResolvedLimits } from './defaults';
import {
  DEFAULT_WINDOW,
  type IntegrationLimits,
  type LevelUsage,
  type LimitsStore,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimitLevel,
  type RateLimitOperation,
  type RateLimitScope,
  type TenantLimits,
  type WindowOptions,
} from './types';
import { checkWindow, SlidingWindow, windowPosition } from './window';

/** Where the in-process limiter reads the configured limits of a check. */
export interface LimitResolver {
  resolve(scope: RateLimitScope, operation: RateLimitOperation): ResolvedLimits;
}

export class InMemoryLimitsStore implements LimitsStore, LimitResolver {
  private readonly tenants = new Map<string, TenantLimits>();

  get(tenantId: string): Promise<TenantLimits> {
    return Promise.resolve(structuredClone(this.tenants.get(tenantId) ?? {}));
  }

  replace(tenantId: string, limits: TenantLimits): Promise<void> {
    this.tenants.set(tenantId, normalize(limits));
    return Promise.resolve();
  }

  setIntegration(tenantId: string, integrationId: string, limits: IntegrationLimits | undefined): Promise<void> {
    const current = this.tenants.get(tenantId) ?? {};
    const others = Object.entries(current.integrations ?? {}).filter(([id]) => id !== integrationId);
    const entries = limits === undefined ? others : [...others, [integrationId, limits] as const];
    this.tenants.set(tenantId, normalize({ ...current, integrations: Object.fromEntries(entries) }));
    return Promise.resolve();
  }

  resolve(scope: RateLimitScope, operation: RateLimitOperation): ResolvedLimits {
    return resolveLimits(this.tenants.get(scope.tenantId), scope, operation);
  }
}

/** What the Redis hash can hold: no empty entries. A copy, so callers cannot alter the stored limits. */
function normalize(limits: TenantLimits): TenantLimits {
  const out: TenantLimits = limits.perMinute === undefined ? {} : { perMinute: limits.perMinute };
  const integrations: Record<string, IntegrationLimits> = {};
  for (const [id, entry] of Object.entries(limits.integrations ?? {})) {
    const operations = { ...entry.operations };
    const kept: IntegrationLimits = {
      ...(entry.perMinute === undefined ? {} : { perMinute: entry.perMinute }),
      ...(Object.keys(operations).length > 0 ? { operations } : {}),
    };
    if (Object.keys(kept).length > 0) integrations[id] = kept;
  }
  if (Object.keys(integrations).length > 0) out.integrations = integrations;
  return out;
}

export interface InMemoryRateLimiterOptions {
  limits?: LimitResolver;
  /** Clock; tests inject a fake one. */
  now?: () => number;
  window?: WindowOptions;
  adaptive?: Partial<AdaptiveOptions>;
  /** Marks decisions as made by the fallback. */
  degraded?: boolean;
}

/** Idle windows and settled adaptive states examined per check: memory stays bounded without a full scan. */
const SWEEP_STEP = 2;

export class InMemoryRateLimiter implements RateLimiter {
  private readonly limits: LimitResolver;
  private readonly now: () => number;
  private readonly window: WindowOptions;
  private readonly adaptive: AdaptiveOptions;
  private readonly degraded: boolean;
  private readonly windows = new Map<string, SlidingWindow>();
  private readonly states = new Map<string, AdaptiveState>();
  private sweeper: Iterator<[string, SlidingWindow]> | undefined;
  private closed = false;

  constructor(options: InMemoryRateLimiterOptions = {}) {
    this.limits = options.limits ?? new InMemoryLimitsStore();
    this.now = options.now ?? (() => Date.now());
    this.window = checkWindow(options.window ?? DEFAULT_WINDOW);
    this.adaptive = { ...DEFAULT_ADAPTIVE, ...options.adaptive };
    this.degraded = options.degraded ?? false;
  }

  check(scope: RateLimitScope, operation: RateLimitOperation): Promise<RateLimitDecision> {
    if (this.closed) return Promise.reject(new Error('rate limiter is closed'));
    return Promise.resolve(this.decide(scope, operation));
  }

  recordSignal(scope: RateLimitScope, signal: RateLimitSignal): Promise<void> {
    if (this.closed) return Promise.reject(new Error('rate limiter is closed'));
    const key = integrationKey(scope);
    const current = this.states.get(key);
    const effect = signalEffect(signal, this.adaptive, current !== undefined && current.usage < 1);
    if (!isEmptyEffect(effect)) this.states.set(key, applyEffect(current ?? freshAdaptiveState(), effect, this.now(), this.adaptive));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    this.windows.clear();
    this.states.clear();
    return Promise.resolve();
  }

  /** Windows and adaptive states held (tests check that idle ones are reclaimed). */
  size(): number {
    return this.windows.size + this.states.size;
  }

  private decide(scope: RateLimitScope, operation: RateLimitOperation): RateLimitDecision {
    const now = this.now();
    const pos = windowPosition(now, this.window);
    const configured = this.limits.resolve(scope, operation);
    const akey = integrationKey(scope);
    const state = this.states.get(akey);
    const factor = state ? effectiveFactor(state, now, this.adaptive.recoveryMs) : 1;
    const blocked = state ? Math.max(0, state.blockedUntil - now) : 0;
    const limits = [configured.tenant, Math.max(1, Math.floor(configured.integration * factor)), configured.operation] as const;
    const keys = [`${scope.tenantId}/t`, akey, `${akey}/${operation}`] as const;
    const windows = keys.map((k) => this.windowFor(k));
    const totals = windows.map((w) => w.count(pos));

    let level = -1;
    let retry = 0;
    windows.forEach((w, n) => {
      const total = totals[n] ?? 0;
      const limit = limits[n] ?? 1;
      if (total < limit) return;
      const wait = w.retryAfter(pos, limit, now, this.window.bucketMs, this.window.windowMs);
      if (wait > retry) [level, retry] = [n, wait];
    });
    if (blocked > retry) [level, retry] = [1, blocked];

    if (level < 0) windows.forEach((w, n) => { totals[n] = w.add(pos); });
    const usage: LevelUsage[] = LEVELS.map((l, n) => ({ level: l, count: totals[n] ?? 0, limit: limits[n] ?? 1 }));
    this.sweep(pos, now);
    if (level < 0) return { allowed: true, usage, degraded: this.degraded };
    return { allowed: false, level: LEVELS[level] ?? 'integration', retryAfterMs: Math.max(1, retry), usage, degraded: this.degraded };
  }

  private windowFor(key: string): SlidingWindow {
    let w = this.windows.get(key);
    if (!w) {
      w = new SlidingWindow();
      this.windows.set(key, w);
    }
    return w;
  }

  private sweep(pos: ReturnType<typeof windowPosition>, now: number): void {
    for (let i = 0; i < SWEEP_STEP; i++) {
      this.sweeper ??= this.windows.entries();
      const next = this.sweeper.next();
      if (next.done) {
        this.sweeper = undefined;
        break;
      }
      const [key, w] = next.value;
      if (w.isEmpty(pos)) this.windows.delete(key);
    }
    // Adaptive states are few (one per integration that was pushed back): look at
    // the oldest per call, and rotate a live one to the back.
    const first = this.states.entries().next();
    if (first.done) return;
    const [key, state] = first.value;
    this.states.delete(key);
    if (!isSettled(state, now, this.adaptive.recoveryMs)) this.states.set(key, state);
  }
}

const LEVELS: readonly RateLimitLevel[] = ['tenant', 'integration', 'operation'];

function integrationKey(scope: RateLimitScope): string {
  return `${scope.tenantId}/i/${scope.integrationId}`;
}
