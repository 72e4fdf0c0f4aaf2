import { applyEffect, DEFAULT_ADAPTIVE, effectiveFactor, freshAdaptiveState, signalEffect, usageFactor } from '../../shared/ratelimit/adaptive';
import { DEFAULT_TENANT_PER_MINUTE, MAX_PER_MINUTE, PROVIDER_LIMITS, providerDefaults, resolveLimits, UNKNOWN_PROVIDER_LIMITS } from '../../shared/ratelimit/defaults';
import { integrationLimitsSchema, MAX_INTEGRATION_ENTRIES, tenantLimitsSchema } from '../../shared/ratelimit/schemas';

describe('defaults', () => {
  it('carries the issue’s per-minute defaults, keyed by provider', () => {
    expect(Object.fromEntries(Object.entries(PROVIDER_LIMITS).map(([k, v]) => [k, v.perMinute]))).toEqual({
      salesforce: 300,
      notion: 180,
      slack: 60,
      github: 360,
      google: 240,
    });
    expect(DEFAULT_TENANT_PER_MINUTE).toBe(5_000);
  });

  it('an unknown key (even one on Object’s prototype) gets the cautious row', () => {
    expect(providerDefaults('gitlab')).toBe(UNKNOWN_PROVIDER_LIMITS);
    expect(providerDefaults('constructor')).toBe(UNKNOWN_PROVIDER_LIMITS);
  });

  it('resolves custom over default per level; an operation without its own limit shares the integration’s', () => {
    const scope = { tenantId: 't', integrationId: 'gh', provider: 'github' };
    expect(resolveLimits(undefined, scope, 'create')).toEqual({ tenant: 5_000, integration: 360, operation: 80 });
    expect(resolveLimits(undefined, scope, 'fetch')).toEqual({ tenant: 5_000, integration: 360, operation: 360 });
    const custom = { perMinute: 900, integrations: { gh: { perMinute: 1_000, operations: { update: 7 } } } };
    expect(resolveLimits(custom, scope, 'fetch')).toEqual({ tenant: 900, integration: 1_000, operation: 1_000 });
    expect(resolveLimits(custom, scope, 'update')).toEqual({ tenant: 900, integration: 1_000, operation: 7 });
    // GitHub's content-creation ceiling stays when only the integration is raised.
    expect(resolveLimits(custom, scope, 'create').operation).toBe(80);
  });
});

describe('limit schemas', () => {
  it('accept whole positive per-minute limits up to the bound', () => {
    expect(integrationLimitsSchema.parse({ perMinute: 100, operations: { create: 10, fetch: 100 } })).toEqual({ perMinute: 100, operations: { create: 10, fetch: 100 } });
    expect(tenantLimitsSchema.parse({ perMinute: MAX_PER_MINUTE, integrations: { 'gh-1': { operations: { delete: 1 } } } })).toBeDefined();
    expect(tenantLimitsSchema.parse({})).toEqual({});
  });

  it.each([
    ['zero', { perMinute: 0 }],
    ['negative', { perMinute: -5 }],
    ['fraction', { perMinute: 1.5 }],
    ['above the bound', { perMinute: MAX_PER_MINUTE + 1 }],
    ['a string', { perMinute: '60' }],
    ['an unknown operation', { operations: { patch: 3 } }],
    ['an unknown field', { perMinute: 5, burst: 10 }],
    ['an operation above its integration', { perMinute: 10, operations: { create: 11 } }],
    ['a zero operation', { operations: { fetch: 0 } }],
  ])('reject %s', (_, body) => {
    expect(integrationLimitsSchema.safeParse(body).success).toBe(false);
  });

  it('reject bad integration ids and too many entries', () => {
    expect(tenantLimitsSchema.safeParse({ integrations: { '../x': { perMinute: 1 } } }).success).toBe(false);
    const many = Object.fromEntries(Array.from({ length: MAX_INTEGRATION_ENTRIES + 1 }, (_, i) => [`i${i}`, { perMinute: 1 }]));
    expect(tenantLimitsSchema.safeParse({ integrations: many }).success).toBe(false);
  });
});

describe('adaptive arithmetic', () => {
  const o = DEFAULT_ADAPTIVE;

  it('usage slows down only past the threshold, linearly to the floor at full use', () => {
    expect(usageFactor({ limit: 100, remaining: 21 }, o)).toBe(1);
    expect(usageFactor({ limit: 100, remaining: 10 }, o)).toBeCloseTo(0.525, 10);
    expect(usageFactor({ limit: 100, remaining: 0 }, o)).toBeCloseTo(o.minFactor, 10);
    expect(usageFactor({ limit: 0, remaining: 0 }, o)).toBeUndefined();
    expect(usageFactor({ remaining: 5 }, o)).toBeUndefined();
  });

  it('translates signals: an exhausted allocation with a reset blocks without push-back; Retry-After pauses', () => {
    expect(signalEffect({ limit: 5000, remaining: 0, resetAt: 123, retryAfterMs: 60_000 }, o, false)).toEqual({ blockUntil: 123 });
    expect(signalEffect({ retryAfterMs: 2_500.2 }, o, false)).toEqual({ pauseMs: 2_501 });
    expect(signalEffect({ limit: 5000, remaining: 4000 }, o, false)).toEqual({});
    // A healthy reading is sent only to lift a slowdown this instance applied.
    expect(signalEffect({ limit: 5000, remaining: 4000 }, o, true)).toEqual({ usageFactor: 1 });
  });

  it('a pause halves the push-back factor once per pause and recovers linearly after it, never above 1', () => {
    const now = 1_000_000;
    let s = applyEffect(freshAdaptiveState(), { pauseMs: 10_000 }, now, o);
    expect(s.blockedUntil).toBe(now + 10_000);
    expect(s.pushback).toBe(0.5);
    s = applyEffect(s, { pauseMs: 20_000 }, now + 1, o);
    expect(s.pushback).toBe(0.5);
    expect(s.blockedUntil).toBe(now + 20_001);
    expect(effectiveFactor(s, now + 20_001, o.recoveryMs)).toBe(0.5);
    expect(effectiveFactor(s, now + 20_001 + o.recoveryMs / 4, o.recoveryMs)).toBeCloseTo(0.75, 10);
    expect(effectiveFactor(s, now + 20_001 + o.recoveryMs * 3, o.recoveryMs)).toBe(1);
  });

  it('a block never reaches past the longest accepted', () => {
    const s = applyEffect(freshAdaptiveState(), { blockUntil: 10 ** 15 }, 0, o);
    expect(s.blockedUntil).toBe(o.maxBlockMs);
  });
});
