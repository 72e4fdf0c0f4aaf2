import { randomUUID } from 'node:crypto';
import type { LimitsStore, RateLimitDecision, RateLimiter, RateLimitOperation, RateLimitScope } from '../../shared/ratelimit/types';

/** Geometry every harness builds its limiter with: short, so real Redis can let a window pass. */
export const CONTRACT_WINDOW = { windowMs: 1_000, bucketMs: 100 };
export const CONTRACT_ADAPTIVE = { recoveryMs: 3_000 };

export interface RateLimiterHarness {
  limiter: RateLimiter;
  limits: LimitsStore;
  /** Let `ms` pass: a fake clock in memory, a real sleep against Redis. */
  advance(ms: number): Promise<void>;
  /** The limiter's clock (epoch ms), for signals that carry an absolute reset time. */
  clock(): number;
  dispose(): Promise<void>;
}

const uid = (): string => randomUUID().replaceAll('-', '').slice(0, 12);

export function newScope(provider = 'slack', tenantId = `t${uid()}`): RateLimitScope {
  return { tenantId, integrationId: `i${uid()}`, provider };
}

export async function run(limiter: RateLimiter, scope: RateLimitScope, op: RateLimitOperation, n: number): Promise<RateLimitDecision[]> {
  const out: RateLimitDecision[] = [];
  for (let i = 0; i < n; i++) out.push(await limiter.check(scope, op));
  return out;
}

const admitted = (ds: readonly RateLimitDecision[]): number => ds.filter((d) => d.allowed).length;
function usageOf(d: RateLimitDecision, level: string): { count: number; limit: number } | undefined {
  const u = d.usage.find((x) => x.level === level);
  return u && { count: u.count, limit: u.limit };
}

function refusal(d: RateLimitDecision | undefined): Extract<RateLimitDecision, { allowed: false }> {
  if (!d || d.allowed) throw new Error(`expected a refusal, got ${JSON.stringify(d)}`);
  return d;
}

/**
 * The RateLimiter + LimitsStore contract: Redis and in-memory pass it
 * unchanged, so the embedded limiter behaves like the shared one.
 */
export function describeRateLimiterContract(name: string, make: () => Promise<RateLimiterHarness>): void {
  describe(`RateLimiter contract: ${name}`, () => {
    let h: RateLimiterHarness;
    beforeEach(async () => { h = await make(); });
    afterEach(async () => { await h.dispose(); });

    it('admits up to the provider default, then refuses at the integration level with a retry within one window', async () => {
      const scope = newScope('slack');
      const ds = await run(h.limiter, scope, 'fetch', 62);
      expect(admitted(ds)).toBe(60);
      expect(usageOf(ds[59]!, 'integration')).toEqual({ count: 60, limit: 60 });
      const r = refusal(ds[60]);
      expect(r.level).toBe('integration');
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(CONTRACT_WINDOW.windowMs + CONTRACT_WINDOW.bucketMs);
      expect(usageOf(r, 'integration')).toEqual({ count: 60, limit: 60 });
    });

    it('a refusal counts nothing, at any level', async () => {
      const scope = newScope('slack');
      await run(h.limiter, scope, 'fetch', 60);
      await run(h.limiter, scope, 'fetch', 25);
      const sibling = { ...newScope('slack', scope.tenantId) };
      const d = await h.limiter.check(sibling, 'fetch');
      // 60 admitted for the first integration + this one; the 25 refusals left no trace on the tenant.
      expect(usageOf(d, 'tenant')).toEqual({ count: 61, limit: 5_000 });
    });

    it('a refusal at the tenant level consumes nothing at the integration level', async () => {
      const tenantId = `t${uid()}`;
      await h.limits.replace(tenantId, { perMinute: 5 });
      const a = newScope('github', tenantId);
      const b = newScope('github', tenantId);
      expect(admitted(await run(h.limiter, a, 'fetch', 5))).toBe(5);
      const refused = await run(h.limiter, b, 'create', 10);
      expect(refused.every((d) => !d.allowed && d.level === 'tenant')).toBe(true);
      await h.limits.replace(tenantId, { perMinute: 100 });
      const d = await h.limiter.check(b, 'create');
      expect(d.allowed).toBe(true);
      expect(usageOf(d, 'integration')).toEqual({ count: 1, limit: 360 });
      expect(usageOf(d, 'operation')).toEqual({ count: 1, limit: 80 });
      expect(usageOf(d, 'tenant')?.count).toBe(6);
    });

    it('operations have their own budgets within the integration (GitHub creates: 80 of 360)', async () => {
      const scope = newScope('github');
      const creates = await run(h.limiter, scope, 'create', 81);
      expect(admitted(creates)).toBe(80);
      expect(refusal(creates[80]).level).toBe('operation');
      const fetch = await h.limiter.check(scope, 'fetch');
      expect(fetch.allowed).toBe(true);
      expect(usageOf(fetch, 'integration')).toEqual({ count: 81, limit: 360 });
      expect(usageOf(fetch, 'operation')).toEqual({ count: 1, limit: 360 });
    });

    it('custom limits apply from the next check, per tenant, integration and operation', async () => {
      const scope = newScope('notion');
      expect(usageOf(await h.limiter.check(scope, 'update'), 'integration')?.limit).toBe(180);
      await h.limits.replace(scope.tenantId, { perMinute: 900, integrations: { [scope.integrationId]: { perMinute: 4, operations: { update: 2 } } } });
      const ds = await run(h.limiter, scope, 'update', 3);
      expect(ds.map((d) => d.allowed)).toEqual([true, false, false]);
      expect(usageOf(ds[0]!, 'tenant')?.limit).toBe(900);
      expect(refusal(ds[1]).level).toBe('operation');
      expect(usageOf(ds[1]!, 'operation')).toEqual({ count: 2, limit: 2 });
      await h.limits.setIntegration(scope.tenantId, scope.integrationId, { perMinute: 3 });
      const next = await run(h.limiter, scope, 'update', 2);
      expect(next[0]?.allowed).toBe(true);
      expect(refusal(next[1]).level).toBe('integration');
    });

    it('unknown providers get the cautious default', async () => {
      expect(usageOf(await h.limiter.check(newScope('gitlab'), 'fetch'), 'integration')?.limit).toBe(60);
    });

    it('the window slides: admitted again once the retry time has passed', async () => {
      const scope = newScope('slack');
      await h.limits.replace(scope.tenantId, { integrations: { [scope.integrationId]: { perMinute: 3 } } });
      await run(h.limiter, scope, 'fetch', 3);
      const r = refusal(await h.limiter.check(scope, 'fetch'));
      await h.advance(r.retryAfterMs + 20);
      const d = await h.limiter.check(scope, 'fetch');
      expect(d.allowed).toBe(true);
    });

    it('concurrent checks admit exactly the limit', async () => {
      const scope = newScope('slack');
      const ds = await Promise.all(Array.from({ length: 300 }, () => h.limiter.check(scope, 'delete')));
      expect(admitted(ds)).toBe(60);
    });

    it('a Retry-After pauses the integration alone, then halves it until it recovers, never above the configured limit', async () => {
      const scope = newScope('slack');
      const other = newScope('slack', scope.tenantId);
      await h.limiter.recordSignal(scope, { retryAfterMs: 300 });
      const r = refusal(await h.limiter.check(scope, 'fetch'));
      expect(r.level).toBe('integration');
      expect(r.retryAfterMs).toBeGreaterThan(100);
      expect(r.retryAfterMs).toBeLessThanOrEqual(300);
      expect((await h.limiter.check(other, 'fetch')).allowed).toBe(true);
      await h.advance(r.retryAfterMs + 10);
      const after = await h.limiter.check(scope, 'fetch');
      expect(after.allowed).toBe(true);
      expect(usageOf(after, 'integration')?.limit).toBeGreaterThanOrEqual(30);
      expect(usageOf(after, 'integration')?.limit).toBeLessThan(40);
      await h.advance(CONTRACT_ADAPTIVE.recoveryMs);
      expect(usageOf(await h.limiter.check(scope, 'fetch'), 'integration')?.limit).toBe(60);
    });

    it('remaining 0 with a reset time blocks until the reset, without slowing down after it', async () => {
      const scope = newScope('github');
      await h.limiter.recordSignal(scope, { limit: 5000, remaining: 0, resetAt: h.clock() + 400 });
      const r = refusal(await h.limiter.check(scope, 'fetch'));
      expect(r.level).toBe('integration');
      expect(r.retryAfterMs).toBeGreaterThan(200);
      expect(r.retryAfterMs).toBeLessThanOrEqual(400);
      await h.advance(r.retryAfterMs + 10);
      const d = await h.limiter.check(scope, 'fetch');
      expect(d.allowed).toBe(true);
      expect(usageOf(d, 'integration')?.limit).toBe(360);
    });

    it('usage near the allocation slows the integration, and a healthy reading lifts it', async () => {
      const scope = newScope('salesforce');
      await h.limiter.recordSignal(scope, { limit: 100_000, remaining: 10_000 });
      // 90% used: halfway from the 80% threshold to full use → factor 1 - 0.5 × 0.95 = 0.525,
      // climbing back by 1/3000 per ms since the signal (a few ms against real Redis).
      const slowed = usageOf(await h.limiter.check(scope, 'fetch'), 'integration')?.limit;
      expect(slowed).toBeGreaterThanOrEqual(157);
      expect(slowed).toBeLessThan(170);
      await h.limiter.recordSignal(scope, { limit: 100_000, remaining: 99_000 });
      expect(usageOf(await h.limiter.check(scope, 'fetch'), 'integration')?.limit).toBe(300);
    });

    it('a signal with nothing to act on changes nothing', async () => {
      const scope = newScope('github');
      await h.limiter.recordSignal(scope, {});
      await h.limiter.recordSignal(scope, { limit: 5000, remaining: 4000, resetAt: h.clock() + 60_000 });
      expect(usageOf(await h.limiter.check(scope, 'fetch'), 'integration')?.limit).toBe(360);
    });

    describe('LimitsStore', () => {
      it('reads back what was replaced, and {} for a tenant with no custom limits', async () => {
        const tenantId = `t${uid()}`;
        expect(await h.limits.get(tenantId)).toEqual({});
        const limits = { perMinute: 1000, integrations: { gh1: { perMinute: 50, operations: { create: 10, delete: 5 } }, sf2: { operations: { fetch: 7 } } } };
        await h.limits.replace(tenantId, limits);
        expect(await h.limits.get(tenantId)).toEqual(limits);
        await h.limits.replace(tenantId, {});
        expect(await h.limits.get(tenantId)).toEqual({});
      });

      it('setIntegration replaces one entry and leaves the others; undefined removes it', async () => {
        const tenantId = `t${uid()}`;
        await h.limits.replace(tenantId, { perMinute: 10, integrations: { a: { perMinute: 5, operations: { update: 2 } }, b: { perMinute: 6 } } });
        await h.limits.setIntegration(tenantId, 'a', { operations: { fetch: 3 } });
        expect(await h.limits.get(tenantId)).toEqual({ perMinute: 10, integrations: { a: { operations: { fetch: 3 } }, b: { perMinute: 6 } } });
        await h.limits.setIntegration(tenantId, 'a', undefined);
        await h.limits.setIntegration(tenantId, 'c', { perMinute: 9 });
        expect(await h.limits.get(tenantId)).toEqual({ perMinute: 10, integrations: { b: { perMinute: 6 }, c: { perMinute: 9 } } });
      });

      it('tenants do not see each other’s limits, even with an integration id like "constructor"', async () => {
        const [t1, t2] = [`t${uid()}`, `t${uid()}`];
        await h.limits.replace(t1, { integrations: { constructor: { perMinute: 4 } } });
        expect(await h.limits.get(t2)).toEqual({});
        expect(await h.limits.get(t1)).toEqual({ integrations: { constructor: { perMinute: 4 } } });
        const scope = { tenantId: t1, integrationId: 'constructor', provider: 'slack' };
        expect(usageOf(await h.limiter.check(scope, 'fetch'), 'integration')?.limit).toBe(4);
      });
    });
  });
}
