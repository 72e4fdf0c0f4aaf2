import { AlertingRateLimiter } from '../../shared/ratelimit/alerts';
import { InMemoryLimitsStore, InMemoryRateLimiter } from '../../shared/ratelimit/memory';
import type { RateLimitAlert, RateLimitScope } from '../../shared/ratelimit/types';

const scope: RateLimitScope = { tenantId: 'acme', integrationId: 'sl1', provider: 'slack' };

async function setup(debounceMs = 60_000) {
  let now = 0;
  const limits = new InMemoryLimitsStore();
  await limits.replace('acme', { integrations: { sl1: { perMinute: 10 }, sl2: { perMinute: 10 } } });
  const alerts: RateLimitAlert[] = [];
  const limiter = new AlertingRateLimiter(new InMemoryRateLimiter({ limits, now: () => now, window: { windowMs: 1_000, bucketMs: 100 } }), {
    onAlert: (a) => alerts.push(a),
    debounceMs,
    now: () => now,
  });
  return { limiter, alerts, advance: (ms: number) => { now += ms; } };
}

test('crossing 80% of a level alerts once per level, naming who and how close', async () => {
  const { limiter, alerts } = await setup();
  for (let i = 0; i < 7; i++) await limiter.check(scope, 'fetch');
  expect(alerts).toEqual([]);
  await limiter.check(scope, 'fetch');
  expect(alerts).toEqual([
    { kind: 'threshold', level: 'integration', scope, operation: 'fetch', count: 8, limit: 10 },
    { kind: 'threshold', level: 'operation', scope, operation: 'fetch', count: 8, limit: 10 },
  ]);
  // Staying above the threshold raises nothing more.
  await limiter.check(scope, 'fetch');
  expect(alerts).toHaveLength(2);
});

test('a refusal alerts, debounced per level and budget: one noisy integration cannot flood the channel', async () => {
  const { limiter, alerts, advance } = await setup(60_000);
  for (let i = 0; i < 50; i++) await limiter.check(scope, 'fetch');
  const refused = alerts.filter((a) => a.kind === 'refused');
  expect(refused).toEqual([{ kind: 'refused', level: 'integration', scope, operation: 'fetch', retryAfterMs: expect.any(Number) as unknown }]);
  // Another integration's refusal is its own key.
  const other = { ...scope, integrationId: 'sl2' };
  for (let i = 0; i < 11; i++) await limiter.check(other, 'fetch');
  expect(alerts.filter((a) => a.kind === 'refused')).toHaveLength(2);
  // After the debounce period the noisy one may alert again.
  advance(60_000);
  for (let i = 0; i < 11; i++) await limiter.check(scope, 'fetch');
  expect(alerts.filter((a) => a.kind === 'refused' && a.scope.integrationId === 'sl1')).toHaveLength(2);
});

test('a level that drops below and crosses again alerts again once the debounce allows', async () => {
  const { limiter, alerts, advance } = await setup(500);
  for (let i = 0; i < 8; i++) await limiter.check(scope, 'update');
  expect(alerts.filter((a) => a.kind === 'threshold')).toHaveLength(2);
  advance(1_200); // the window empties
  for (let i = 0; i < 8; i++) await limiter.check(scope, 'update');
  expect(alerts.filter((a) => a.kind === 'threshold')).toHaveLength(4);
});

test('a listener that throws never affects the decision', async () => {
  const limiter = new AlertingRateLimiter(new InMemoryRateLimiter(), {
    onAlert: () => {
      throw new Error('channel down');
    },
    threshold: 0.01,
  });
  await expect(limiter.check(scope, 'fetch')).resolves.toMatchObject({ allowed: true });
});

test('rejects a threshold outside (0, 1]', () => {
  expect(() => new AlertingRateLimiter(new InMemoryRateLimiter(), { onAlert: () => undefined, threshold: 0 })).toThrow(RangeError);
  expect(() => new AlertingRateLimiter(new InMemoryRateLimiter(), { onAlert: () => undefined, threshold: 1.2 })).toThrow(RangeError);
});
