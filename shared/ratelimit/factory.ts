/**
 * Composition of the limiter: Redis (one script per check) behind the
 * in-process fallback, behind alerts; or, with no Redis configured (embedded
 * profile), the in-memory limiter behind alerts. One per process.
 */
import type { HealthCheck } from '../api/health';
import type { Logger } from '../observability/logger';
import type { AdaptiveOptions } from './adaptive';
import { AlertingRateLimiter } from './alerts';
import type { RedisTokenAuth } from '../kv/entra-auth';
import { createRateLimitRedisClient } from './client';
import { InMemoryLimitsStore, InMemoryRateLimiter } from './memory';
import { RedisRateLimiter, type RateLimitRedisClient } from './redis';
import { RedisLimitsStore, type LimitsRedisClient } from './redis-limits';
import { ResilientRateLimiter, type RateLimiterHealth, type ResilientOptions } from './resilient';
import type { AlertListener, LimitsStore, RateLimitAlert, RateLimiter, WindowOptions } from './types';

export interface RateLimiting {
  /** Check every provider call here (see admit.ts for the helpers). */
  limiter: RateLimiter;
  /** Custom limits, for the admin API. */
  limits: LimitsStore;
  health(): Promise<RateLimiterHealth>;
  /** For /api/health: fails while the in-process fallback decides. */
  healthCheck: HealthCheck;
  close(): Promise<void>;
}

export interface RateLimitingOptions {
  /** Redis URL; absent → the in-memory limiter (embedded profile). */
  redisUrl?: string;
  /** Entra ID auth for the client built from `redisUrl` (Azure Managed Redis). */
  redisTokenAuth?: RedisTokenAuth;
  /** A client to use instead of one built from `redisUrl` (tests). */
  client?: RateLimitRedisClient & LimitsRedisClient;
  keyPrefix?: string;
  logger?: Logger;
  /** Alert listener; by default alerts are logged as warnings. */
  onAlert?: AlertListener;
  alertThreshold?: number;
  alertDebounceMs?: number;
  resilience?: Pick<ResilientOptions, 'stallTimeoutMs' | 'probeIntervalMs' | 'probeTimeoutMs' | 'fallbackShare' | 'startupGraceMs'>;
  window?: WindowOptions;
  adaptive?: Partial<AdaptiveOptions>;
}

export class RateLimiterDegradedError extends Error {
  constructor(readonly health: RateLimiterHealth) {
    super(`rate limiter on its in-process fallback since ${health.since ?? '?'}: ${health.reason ?? 'Redis unavailable'}`);
    this.name = 'RateLimiterDegradedError';
  }
}

export function buildRateLimiting(options: RateLimitingOptions): RateLimiting {
  const onAlert = options.onAlert ?? logAlerts(options.logger);
  const shape = { ...(options.window ? { window: options.window } : {}), ...(options.adaptive ? { adaptive: options.adaptive } : {}) };
  const alerting = (inner: RateLimiter): RateLimiter =>
    new AlertingRateLimiter(inner, {
      onAlert,
      ...(options.alertThreshold === undefined ? {} : { threshold: options.alertThreshold }),
      ...(options.alertDebounceMs === undefined ? {} : { debounceMs: options.alertDebounceMs }),
    });

  const client = options.client ?? (options.redisUrl === undefined ? undefined : createRateLimitRedisClient(options.redisUrl, options.redisTokenAuth ? { tokenAuth: options.redisTokenAuth } : {}));
  if (!client) {
    const limits = new InMemoryLimitsStore();
    const limiter = alerting(new InMemoryRateLimiter({ limits, ...shape }));
    const health = (): Promise<RateLimiterHealth> => Promise.resolve({ mode: 'normal' });
    return { limiter, limits, health, healthCheck: healthCheckOf(health), close: () => limiter.close() };
  }

  const prefix = options.keyPrefix ?? '';
  const resilient = new ResilientRateLimiter(new RedisRateLimiter(client, { prefix, ...shape }), {
    ...options.resilience,
    ...shape,
    onAlert,
    ...(options.alertDebounceMs === undefined ? {} : { alertDebounceMs: options.alertDebounceMs }),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const limiter = alerting(resilient);
  const health = (): Promise<RateLimiterHealth> => resilient.health();
  return { limiter, limits: new RedisLimitsStore(client, prefix), health, healthCheck: healthCheckOf(health), close: () => limiter.close() };
}

function healthCheckOf(health: () => Promise<RateLimiterHealth>): HealthCheck {
  return {
    name: 'ratelimit',
    check: async () => {
      const h = await health();
      if (h.mode === 'fallback') throw new RateLimiterDegradedError(h);
    },
  };
}

function logAlerts(logger: Logger | undefined): AlertListener {
  return (alert: RateLimitAlert) => {
    logger?.warn(`rate limit alert: ${alert.kind}`, { alert });
  };
}

/** The process's rate limiting, as the composition root built it. */
export function rateLimitingFor(services: { rateLimiting: RateLimiting }): RateLimiting {
  return services.rateLimiting;
}
