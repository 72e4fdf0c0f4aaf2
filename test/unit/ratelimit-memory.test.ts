import fc from 'fast-check';
import { InMemoryLimitsStore, InMemoryRateLimiter } from '../../shared/ratelimit/memory';
import { CONTRACT_ADAPTIVE, CONTRACT_WINDOW, describeRateLimiterContract, newScope } from '../contract/ratelimit.contract';

describeRateLimiterContract('in-memory', () => {
  let now = 1_700_000_000_000;
  const limits = new InMemoryLimitsStore();
  const limiter = new InMemoryRateLimiter({ limits, now: () => now, window: CONTRACT_WINDOW, adaptive: CONTRACT_ADAPTIVE });
  return Promise.resolve({
    limiter,
    limits,
    clock: () => now,
    advance: (ms) => {
      now += ms;
      return Promise.resolve();
    },
    dispose: () => limiter.close(),
  });
});

describe('InMemoryRateLimiter sliding window', () => {
  const W = { windowMs: 1_000, bucketMs: 100 };

  // Request arrival times: ascending offsets within a few windows.
  const arrivals = fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 300 }).map((gaps) => {
    let t = 0;
    return gaps.map((g) => (t += g));
  });

  it('never admits more than the limit in any window of windowMs (the error is on the safe side)', async () => {
    await fc.assert(
      fc.asyncProperty(arrivals, fc.integer({ min: 1, max: 20 }), async (times, limit) => {
        let now = 0;
        const limits = new InMemoryLimitsStore();
        const limiter = new InMemoryRateLimiter({ limits, now: () => now, window: W });
        const scope = newScope('slack');
        await limits.replace(scope.tenantId, { integrations: { [scope.integrationId]: { perMinute: limit } } });
        const admittedAt: number[] = [];
        for (const t of times) {
          now = t;
          if ((await limiter.check(scope, 'fetch')).allowed) admittedAt.push(t);
        }
        for (const t of admittedAt) {
          const inWindow = admittedAt.filter((u) => u > t - W.windowMs && u <= t).length;
          expect(inWindow).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses only when the limit is reached within windowMs + bucketMs (the bound of the approximation)', async () => {
    await fc.assert(
      fc.asyncProperty(arrivals, fc.integer({ min: 1, max: 20 }), async (times, limit) => {
        let now = 0;
        const limits = new InMemoryLimitsStore();
        const limiter = new InMemoryRateLimiter({ limits, now: () => now, window: W });
        const scope = newScope('slack');
        await limits.replace(scope.tenantId, { integrations: { [scope.integrationId]: { perMinute: limit } } });
        const admittedAt: number[] = [];
        for (const t of times) {
          now = t;
          const d = await limiter.check(scope, 'fetch');
          if (d.allowed) admittedAt.push(t);
          else expect(admittedAt.filter((u) => u > t - W.windowMs - W.bucketMs).length).toBeGreaterThanOrEqual(limit);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a refusal’s retry time is exact: one ms earlier is refused, at it the check is admitted', async () => {
    let now = 5_000_037;
    const limiter = new InMemoryRateLimiter({ now: () => now, window: W });
    const scope = newScope('slack');
    for (let i = 0; i < 60; i++) {
      now += 7;
      await limiter.check(scope, 'fetch');
    }
    const refused = await limiter.check(scope, 'fetch');
    if (refused.allowed) throw new Error('expected a refusal');
    const at = now + refused.retryAfterMs;
    now = at - 1;
    expect((await limiter.check(scope, 'fetch')).allowed).toBe(false);
    now = at;
    expect((await limiter.check(scope, 'fetch')).allowed).toBe(true);
  });

  it('forgets idle windows and settled adaptive states, so memory stays bounded', async () => {
    let now = 0;
    const limiter = new InMemoryRateLimiter({ now: () => now, window: W, adaptive: { recoveryMs: 1_000 } });
    for (let i = 0; i < 50; i++) {
      const scope = newScope('slack');
      await limiter.check(scope, 'fetch');
      await limiter.recordSignal(scope, { retryAfterMs: 100 });
    }
    expect(limiter.size()).toBe(50 * 3 + 50);
    now += 10_000;
    const busy = newScope('slack');
    for (let i = 0; i < 200; i++) await limiter.check(busy, 'fetch');
    // Only the busy scope's three windows are left.
    expect(limiter.size()).toBe(3);
  });

  it('rejects checks after close', async () => {
    const limiter = new InMemoryRateLimiter();
    await limiter.close();
    await expect(limiter.check(newScope(), 'fetch')).rejects.toThrow(/closed/);
  });
});
