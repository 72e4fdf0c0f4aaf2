/**
 * Degradation against a Redis this test owns (a second redis-server on a free
 * port; the shared one on 6379 is never touched): killed and restarted, then
 * paused, while callers keep checking. Decisions stay within the issue's
 * bounds (50 ms when Redis refuses, 250 ms when it stalls), nothing throws,
 * and counting resumes in Redis once it is back.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { createRateLimitRedisClient } from '../../shared/ratelimit/client';
import { buildRateLimiting, RateLimiterDegradedError, type RateLimiting } from '../../shared/ratelimit/factory';
import { checkKeys } from '../../shared/ratelimit/keys';
import type { RateLimitAlert, RateLimitScope } from '../../shared/ratelimit/types';
import { PrivateRedis } from '../helpers/private-redis';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let redis: PrivateRedis;
let port: number;

interface Sample {
  at: number;
  ms: number;
  degraded: boolean;
}

/** Callers checking continuously until stopped; every decision's latency is kept. */
function load(rl: RateLimiting, scope: RateLimitScope, callers: number): { samples: Sample[]; errors: unknown[]; stop(): Promise<void> } {
  const samples: Sample[] = [];
  const errors: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      const started = performance.now();
      try {
        const d = await rl.limiter.check(scope, 'fetch');
        samples.push({ at: started, ms: performance.now() - started, degraded: d.degraded });
      } catch (error) {
        errors.push(error);
      }
      await sleep(2);
    }
  });
  return {
    samples,
    errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function until(what: string, condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const maxMs = (samples: readonly Sample[], from: number, to = Number.POSITIVE_INFINITY): number =>
  Math.max(0, ...samples.filter((s) => s.at >= from && s.at < to).map((s) => s.ms));

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  redis = await PrivateRedis.start();
  port = redis.port;
}, 30_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await redis.kill();
});

test('killed, restarted and paused under load: bounded decisions, alerts, health, and counting resumes', async () => {
  const alerts: RateLimitAlert[] = [];
  const prefix = `test:rlout:${randomUUID()}:`;
  const rl = buildRateLimiting({ client: createRateLimitRedisClient(`redis://127.0.0.1:${port}`), keyPrefix: prefix, onAlert: (a) => alerts.push(a), alertDebounceMs: 0 });
  const scope: RateLimitScope = { tenantId: 'acme', integrationId: 'busy', provider: 'github' };
  const traffic = load(rl, scope, 10);
  try {
    // Healthy: decisions come from Redis.
    await until('shared decisions', () => traffic.samples.some((s) => !s.degraded), 5_000);
    await expect(rl.healthCheck.check()).resolves.toBeUndefined();

    // Killed: Redis refuses connections.
    const killedAt = performance.now();
    await redis.kill();
    await until('the fallback to take over', () => traffic.samples.some((s) => s.at > killedAt && s.degraded), 5_000);
    await sleep(1_000);
    expect(maxMs(traffic.samples, killedAt)).toBeLessThanOrEqual(50);
    expect(alerts.some((a) => a.kind === 'degraded')).toBe(true);
    await expect(rl.healthCheck.check()).rejects.toBeInstanceOf(RateLimiterDegradedError);

    // Restarted: back on Redis, and counting there again.
    const restartedAt = performance.now();
    await redis.restart();
    await until('shared decisions after the restart', () => traffic.samples.some((s) => s.at > restartedAt && !s.degraded), 10_000);
    expect(alerts.some((a) => a.kind === 'recovered')).toBe(true);
    await expect(rl.healthCheck.check()).resolves.toBeUndefined();
    const fresh: RateLimitScope = { tenantId: 'acme', integrationId: 'quiet', provider: 'github' };
    for (let i = 0; i < 5; i++) expect((await rl.limiter.check(fresh, 'create')).degraded).toBe(false);
    const direct = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0 });
    try {
      const [, windows] = checkKeys(prefix, fresh);
      expect(await direct.hget(windows, 'i:quiet|n')).toBe('5');

      // Paused: Redis holds every command without answering.
      const alertsBefore = alerts.length;
      const pausedAt = performance.now();
      await direct.call('CLIENT', 'PAUSE', '1500', 'ALL');
      await until('the fallback during the pause', () => traffic.samples.some((s) => s.at > pausedAt && s.degraded), 2_000);
      const resumedAt = pausedAt + 1_500;
      await until('shared decisions after the pause', () => traffic.samples.some((s) => s.at > resumedAt && !s.degraded), 10_000);
      expect(maxMs(traffic.samples, pausedAt, resumedAt)).toBeLessThanOrEqual(250);
      expect(alerts.slice(alertsBefore).map((a) => a.kind)).toEqual(expect.arrayContaining(['degraded', 'recovered']));
    } finally {
      direct.disconnect();
    }
  } finally {
    await traffic.stop();
    await rl.close();
  }
  expect(traffic.errors).toEqual([]);
  expect(unhandled).toEqual([]);
}, 60_000);
