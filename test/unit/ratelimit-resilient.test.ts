import { RateLimiterUnavailableError } from '../../shared/ratelimit/client';
import { ResilientRateLimiter, withDeadline, DeadlineError, type PrimaryLimiter } from '../../shared/ratelimit/resilient';
import type { RateLimitAlert, RateLimitDecision, RateLimitScope } from '../../shared/ratelimit/types';

const scope: RateLimitScope = { tenantId: 'acme', integrationId: 'gh1', provider: 'github' };

/** A primary whose behaviour the test switches: answering, refusing connections, or never answering. */
class FakePrimary implements PrimaryLimiter {
  mode: 'ok' | 'refuse' | 'stall' = 'ok';
  checks = 0;
  signals = 0;
  blockedMs = 0;
  integrationLimit = 100;

  check(): Promise<RateLimitDecision & { blockedMs: number }> {
    this.checks++;
    return this.answer({
      allowed: true,
      degraded: false,
      blockedMs: this.blockedMs,
      usage: [
        { level: 'tenant', count: 1, limit: 5000 },
        { level: 'integration', count: 1, limit: this.integrationLimit },
        { level: 'operation', count: 1, limit: this.integrationLimit },
      ],
    });
  }

  recordSignal(): Promise<void> {
    this.signals++;
    return this.answer(undefined);
  }

  ping(): Promise<void> {
    return this.answer(undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private answer<T>(value: T): Promise<T> {
    if (this.mode === 'refuse') return Promise.reject(new RateLimiterUnavailableError('Redis connection is reconnecting'));
    if (this.mode === 'stall') return new Promise<T>(() => undefined);
    return Promise.resolve(value);
  }
}

function setup(options: { startupGraceMs?: number } = {}) {
  let now = 1_000_000;
  const primary = new FakePrimary();
  const alerts: RateLimitAlert[] = [];
  const limiter = new ResilientRateLimiter(primary, {
    now: () => now,
    stallTimeoutMs: 20,
    probeTimeoutMs: 20,
    probeIntervalMs: 1_000,
    fallbackShare: 0.25,
    startupGraceMs: options.startupGraceMs ?? 0,
    alertDebounceMs: 0,
    onAlert: (a) => alerts.push(a),
  });
  return { limiter, primary, alerts, advance: (ms: number) => { now += ms; } };
}

test('answers from Redis while it answers', async () => {
  const { limiter, primary, alerts } = setup();
  const d = await limiter.check(scope, 'fetch');
  expect(d).toMatchObject({ allowed: true, degraded: false });
  expect(primary.checks).toBe(1);
  expect(await limiter.health()).toEqual({ mode: 'normal' });
  expect(alerts).toEqual([]);
});

test('refused connections: the fallback decides, alerts once, and stops asking Redis until a probe is due', async () => {
  const { limiter, primary, alerts } = setup();
  await limiter.check(scope, 'fetch');
  primary.mode = 'refuse';
  const d = await limiter.check(scope, 'fetch');
  expect(d.degraded).toBe(true);
  for (let i = 0; i < 5; i++) await limiter.check(scope, 'fetch');
  expect(primary.checks).toBe(2);
  expect(alerts.map((a) => a.kind)).toEqual(['degraded']);
  expect(alerts[0]).toEqual({ kind: 'degraded', reason: 'Redis connection is reconnecting' });
  const health = await limiter.health();
  expect(health).toMatchObject({ mode: 'fallback', reason: 'Redis connection is reconnecting' });
  expect(health.since).toEqual(expect.any(String));
});

test('the fallback admits its share of the limits last seen from Redis', async () => {
  const { limiter, primary } = setup();
  primary.integrationLimit = 40;
  await limiter.check(scope, 'create');
  primary.mode = 'refuse';
  const ds: RateLimitDecision[] = [];
  for (let i = 0; i < 12; i++) ds.push(await limiter.check(scope, 'create'));
  // 25% of 40 = 10 in the window.
  expect(ds.filter((d) => d.allowed)).toHaveLength(10);
  expect(ds[10]).toMatchObject({ allowed: false, level: 'integration', degraded: true });
});

test('a provider block known from Redis still holds in the fallback', async () => {
  const { limiter, primary, advance } = setup();
  primary.blockedMs = 30_000;
  await limiter.check(scope, 'fetch');
  primary.mode = 'refuse';
  const d = await limiter.check(scope, 'fetch');
  expect(d).toMatchObject({ allowed: false, level: 'integration', degraded: true, retryAfterMs: 30_000 });
  advance(30_001);
  expect((await limiter.check(scope, 'fetch')).allowed).toBe(true);
});

test('a stalled Redis is given up on after the stall timeout, and its late answer is never an unhandled rejection', async () => {
  const { limiter, primary } = setup();
  await limiter.check(scope, 'fetch');
  primary.mode = 'stall';
  const d = await limiter.check(scope, 'fetch');
  expect(d.degraded).toBe(true);
  await expect(withDeadline(new Promise((_, reject) => setTimeout(() => { reject(new Error('late')); }, 30)), 5)).rejects.toBeInstanceOf(DeadlineError);
  // The late rejection above lands with a handler attached; jest fails the test on an unhandled one.
  await new Promise((resolve) => setTimeout(resolve, 50));
});

test('returns to Redis once a probe answers, with a recovered alert', async () => {
  const { limiter, primary, alerts, advance } = setup();
  await limiter.check(scope, 'fetch');
  primary.mode = 'refuse';
  await limiter.check(scope, 'fetch');
  primary.mode = 'ok';
  // No probe before the interval: still on the fallback.
  expect((await limiter.check(scope, 'fetch')).degraded).toBe(true);
  advance(1_000);
  expect(await limiter.health()).toEqual({ mode: 'normal' });
  expect((await limiter.check(scope, 'fetch')).degraded).toBe(false);
  expect(alerts.map((a) => a.kind)).toEqual(['degraded', 'recovered']);
  expect(alerts[1]).toEqual({ kind: 'recovered', degradedForMs: 1_000 });
});

test('a cold instance that cannot reach Redis yet uses the fallback without declaring an outage, until the grace ends', async () => {
  const { limiter, primary, alerts, advance } = setup({ startupGraceMs: 5_000 });
  primary.mode = 'refuse';
  expect((await limiter.check(scope, 'fetch')).degraded).toBe(true);
  expect(alerts).toEqual([]);
  expect(await limiter.health()).toEqual({ mode: 'normal' });
  advance(5_000);
  await limiter.check(scope, 'fetch');
  expect(alerts.map((a) => a.kind)).toEqual(['degraded']);
});

test('signals while degraded apply to the fallback', async () => {
  const { limiter, primary } = setup();
  await limiter.check(scope, 'fetch');
  primary.mode = 'refuse';
  await limiter.recordSignal(scope, { retryAfterMs: 20_000 });
  const d = await limiter.check(scope, 'fetch');
  expect(d).toMatchObject({ allowed: false, level: 'integration', degraded: true });
  if (!d.allowed) expect(d.retryAfterMs).toBe(20_000);
});

test('rejects a fallback share outside (0, 1]', () => {
  expect(() => new ResilientRateLimiter(new FakePrimary(), { fallbackShare: 0 })).toThrow(RangeError);
  expect(() => new ResilientRateLimiter(new FakePrimary(), { fallbackShare: 1.5 })).toThrow(RangeError);
});
