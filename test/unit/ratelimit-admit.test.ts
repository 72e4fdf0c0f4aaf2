import { RateLimitedError } from '../../shared/errors';
import { admit, isIdempotent, limitedFetch, signalRecorder } from '../../shared/ratelimit/admit';
import { InMemoryLimitsStore, InMemoryRateLimiter } from '../../shared/ratelimit/memory';
import type { RateLimitDecision, RateLimiter, RateLimitScope } from '../../shared/ratelimit/types';

const scope: RateLimitScope = { tenantId: 'acme', integrationId: 'gh1', provider: 'github' };

/** A limiter that answers from a script of decisions. */
function scripted(decisions: RateLimitDecision[]): RateLimiter & { calls: number } {
  const limiter = {
    calls: 0,
    check: () => {
      limiter.calls++;
      const d = decisions.shift();
      return d ? Promise.resolve(d) : Promise.reject(new Error('no more decisions'));
    },
    recordSignal: () => Promise.reject(new Error('redis down')),
    close: () => Promise.resolve(),
  };
  return limiter;
}

const allow: RateLimitDecision = { allowed: true, usage: [], degraded: false };
const refuse = (level: 'tenant' | 'integration' | 'operation', retryAfterMs: number): RateLimitDecision => ({ allowed: false, level, retryAfterMs, usage: [], degraded: false });

test('fetch is the only operation safe to repeat blindly', () => {
  expect(isIdempotent('fetch')).toBe(true);
  for (const op of ['create', 'update', 'delete'] as const) expect(isIdempotent(op)).toBe(false);
});

test('a refused write is a RateLimitedError carrying the retry time and the level, never sent', async () => {
  const limiter = scripted([refuse('operation', 1_234)]);
  const error: unknown = await admit(limiter, scope, 'create').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RateLimitedError);
  expect(error).toMatchObject({ retryAfterMs: 1_234, kind: 'rate_limited' });
  expect((error as Error).message).toBe('Rate limit reached for integration gh1 (create); retry in 1234 ms');
  expect(limiter.calls).toBe(1);
});

test('a short wait is absorbed in process when the caller allows it', async () => {
  const limiter = scripted([refuse('tenant', 5), refuse('tenant', 5), allow]);
  await expect(admit(limiter, scope, 'fetch', { maxWaitMs: 50 })).resolves.toBeUndefined();
  expect(limiter.calls).toBe(3);
  // A wait beyond the budget is handed back to the queue instead.
  const tooLong = scripted([refuse('tenant', 60_000)]);
  await expect(admit(tooLong, scope, 'fetch', { maxWaitMs: 50 })).rejects.toMatchObject({ retryAfterMs: 60_000 });
});

test('limitedFetch counts every request and never sends a refused one', async () => {
  const limits = new InMemoryLimitsStore();
  await limits.replace('acme', { integrations: { gh1: { perMinute: 2 } } });
  const limiter = new InMemoryRateLimiter({ limits });
  let sent = 0;
  const inner: typeof fetch = () => {
    sent++;
    return Promise.resolve(new Response('{}'));
  };
  const limited = limitedFetch(inner, limiter, scope, 'fetch');
  await limited('https://api.github.com/a');
  await limited('https://api.github.com/b');
  await expect(limited('https://api.github.com/c')).rejects.toBeInstanceOf(RateLimitedError);
  expect(sent).toBe(2);
});

test('signalRecorder hands the signal over without throwing, reporting failures to onError', async () => {
  const limiter = scripted([]);
  const errors: unknown[] = [];
  const record = signalRecorder(limiter, scope, (e) => errors.push(e));
  record({ retryAfterMs: 1000 });
  await new Promise((resolve) => setImmediate(resolve));
  expect(errors).toHaveLength(1);
});
