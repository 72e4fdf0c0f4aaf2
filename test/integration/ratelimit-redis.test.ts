import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { checkKeys, configKey, integrationArg } from '../../shared/ratelimit/keys';
import { createRateLimitRedisClient } from '../../shared/ratelimit/client';
import { RedisRateLimiter } from '../../shared/ratelimit/redis';
import { RedisLimitsStore } from '../../shared/ratelimit/redis-limits';
import {
  CHECK_SCRIPT,
  CHECK_SHA,
  checkBatchReplySchema,
  checkReplySchema,
  fieldsWrittenReplySchema,
  REPLACE_LIMITS_SCRIPT,
  REPLACE_LIMITS_SHA,
  SET_INTEGRATION_LIMITS_SCRIPT,
  SET_INTEGRATION_LIMITS_SHA,
  SIGNAL_SCRIPT,
  SIGNAL_SHA,
  signalReplySchema,
} from '../../shared/ratelimit/scripts';
import { CONTRACT_ADAPTIVE, CONTRACT_WINDOW, describeRateLimiterContract, newScope } from '../contract/ratelimit.contract';

const REDIS_URL = 'redis://127.0.0.1:6379';
// One random prefix per run: runs never see each other's keys, and cleanup is one SCAN.
const PREFIX = `test:rl:${randomUUID()}:`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let admin: Redis;

beforeAll(() => {
  admin = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  await deletePrefixed();
  await admin.quit();
});

async function deletePrefixed(): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

describeRateLimiterContract('redis', () => {
  const client = createRateLimitRedisClient(REDIS_URL);
  const limiter = new RedisRateLimiter(client, { prefix: PREFIX, window: CONTRACT_WINDOW, adaptive: CONTRACT_ADAPTIVE });
  return Promise.resolve({
    limiter,
    limits: new RedisLimitsStore(client, PREFIX),
    clock: () => Date.now(),
    advance: sleep,
    dispose: () => limiter.close(),
  });
});

/** CRC16/XMODEM, Redis Cluster's key hash (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#key-distribution-model). */
function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function slot(key: string): number {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const tagged = open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
  return crc16(Buffer.from(tagged)) % 16384;
}

describe('Redis key layout', () => {
  it('our slot function matches the cluster spec’s known answers', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(slot('foo')).toBe(12182);
    expect(slot('{user1000}.following')).toBe(slot('{user1000}.followers'));
  });

  it('every key of one tenant lands in one cluster slot, whatever the integration', () => {
    const keys = [
      ...checkKeys('castiel:', { tenantId: 'acme', integrationId: 'gh1', provider: 'github' }),
      ...checkKeys('castiel:', { tenantId: 'acme', integrationId: 'sf-2', provider: 'salesforce' }),
      configKey('castiel:', 'acme'),
    ];
    expect(new Set(keys)).toEqual(new Set(['castiel:rl:{acme}:cfg', 'castiel:rl:{acme}:w']));
    expect(new Set(keys.map(slot))).toEqual(new Set([slot('acme')]));
  });

  it('refuses ids and prefixes that would break the grouping', async () => {
    expect(() => checkKeys('', { tenantId: 'a}b', integrationId: 'x', provider: 'slack' })).toThrow(RangeError);
    expect(() => integrationArg({ tenantId: 'a', integrationId: 'x:y', provider: 'slack' })).toThrow(RangeError);
    expect(() => new RedisRateLimiter(createRateLimitRedisClient(REDIS_URL), { prefix: 'p{x}:' })).toThrow(RangeError);
    const limiter = new RedisRateLimiter(createRateLimitRedisClient(REDIS_URL), { prefix: PREFIX });
    await expect(limiter.check({ tenantId: 'a', integrationId: 'x|1', provider: 'slack' }, 'fetch')).rejects.toThrow(RangeError);
    await limiter.close();
  });
});

describe('Lua scripts on the real Redis', () => {
  const base = (): string => `${PREFIX}lua:${randomUUID()}:`;

  it('each script loads under the SHA we compute', async () => {
    for (const [script, sha] of [
      [CHECK_SCRIPT, CHECK_SHA],
      [SIGNAL_SCRIPT, SIGNAL_SHA],
      [REPLACE_LIMITS_SCRIPT, REPLACE_LIMITS_SHA],
      [SET_INTEGRATION_LIMITS_SCRIPT, SET_INTEGRATION_LIMITS_SHA],
    ] as const) {
      expect(await admin.script('LOAD', script)).toBe(sha);
    }
  });

  it('the check script replies 10 integers per check: admitted, then refused with level and retry', async () => {
    const k = base();
    const keys = [`${k}cfg`, `${k}w`];
    const head = [60_000, 1_000, 300_000, 100];
    const one = ['x', 'fetch', 2, ''];
    const first = checkReplySchema.parse(await admin.evalsha(CHECK_SHA, 2, ...keys, ...head, ...one));
    expect(first).toEqual([1, 0, 0, 1, 100, 1, 2, 1, 2, 0]);
    // A batch of two: checked in order, the second sees the first's count.
    const pair = checkBatchReplySchema.parse(await admin.evalsha(CHECK_SHA, 2, ...keys, ...head, ...one, ...one));
    expect(pair).toHaveLength(20);
    expect(checkReplySchema.parse(pair.slice(0, 10))).toEqual([1, 0, 0, 2, 100, 2, 2, 2, 2, 0]);
    const third = checkReplySchema.parse(pair.slice(10));
    expect(third.slice(0, 2)).toEqual([0, 2]);
    expect(third[2]).toBeGreaterThan(0);
    expect(third[2]).toBeLessThanOrEqual(61_000);
    expect(third.slice(3)).toEqual([2, 100, 2, 2, 2, 2, 0]);
    // The windows carry a TTL just over one window: nothing outlives its use.
    const ttl = await admin.pttl(`${k}w`);
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(62_000);
    expect(await admin.pttl(`${k}cfg`)).toBe(-2);
  });

  it('the signal script replies [blocked ms, push-back ‰, usage ‰]; the check drops the state once settled', async () => {
    const k = base();
    const signal = (...args: (string | number)[]): Promise<unknown> => admin.evalsha(SIGNAL_SHA, 1, `${k}cfg`, 'x', ...args, 300_000, 0.5, 0.05, 3_600_000);
    const paused = signalReplySchema.parse(await signal(5_000, '', ''));
    expect(paused[0]).toBeGreaterThan(4_900);
    expect(paused.slice(1)).toEqual([500, 1000]);
    // A second 429 during the same pause halves nothing.
    expect(signalReplySchema.parse(await signal(1_000, '', ''))[1]).toBe(500);
    expect(signalReplySchema.parse(await signal('', '', 0.25))[2]).toBe(250);
    expect(await admin.hget(`${k}cfg`, 'a:x')).toMatch(/^\d+ 0\.5 \d+ 0\.25 \d+$/);
    // Recovery 1 ms, no block left: the next check sees a settled state and removes it.
    await admin.evalsha(SIGNAL_SHA, 1, `${k}cfg`, 'y', '', '', 0.5, 1, 0.5, 0.05, 3_600_000);
    await sleep(5);
    const check = checkReplySchema.parse(await admin.evalsha(CHECK_SHA, 2, `${k}cfg`, `${k}w`, 60_000, 1_000, 1, 100, 'y', 'fetch', 10, ''));
    expect(check[6]).toBe(10);
    expect(await admin.hexists(`${k}cfg`, 'a:y')).toBe(0);
  });

  it('the limits scripts reply with the number of fields written, and keep adaptive state', async () => {
    const key = `${base()}cfg`;
    await admin.hset(key, 'a:z', '0 0.5 0 1 0');
    expect(fieldsWrittenReplySchema.parse(await admin.evalsha(REPLACE_LIMITS_SHA, 1, key, 't', 10, 'i:a', 5))).toBe(2);
    expect(await admin.hgetall(key)).toEqual({ t: '10', 'i:a': '5', 'a:z': '0 0.5 0 1 0' });
    expect(fieldsWrittenReplySchema.parse(await admin.evalsha(SET_INTEGRATION_LIMITS_SHA, 1, key, 'i:a', 'o:a:fetch', 'o:a:create', 'o:a:update', 'o:a:delete', 'o:a:create', 3))).toBe(1);
    expect(await admin.hgetall(key)).toEqual({ t: '10', 'o:a:create': '3', 'a:z': '0 0.5 0 1 0' });
    expect(fieldsWrittenReplySchema.parse(await admin.evalsha(REPLACE_LIMITS_SHA, 1, key))).toBe(0);
    expect(await admin.hgetall(key)).toEqual({ 'a:z': '0 0.5 0 1 0' });
  });

  it('uses Redis TIME, not the caller’s clock: buckets are indexed by the server’s time', async () => {
    const scope = newScope('slack');
    const limiter = new RedisRateLimiter(createRateLimitRedisClient(REDIS_URL), { prefix: PREFIX });
    try {
      const [seconds] = await admin.time();
      await limiter.check(scope, 'fetch');
      const [, windows] = checkKeys(PREFIX, scope);
      const buckets = Object.keys(await admin.hgetall(windows)).flatMap((f) => /^t\|(\d+)$/.exec(f)?.[1] ?? []).map(Number);
      expect(buckets).toHaveLength(1);
      expect(Math.abs(buckets[0]! - Number(seconds))).toBeLessThanOrEqual(1);
    } finally {
      await limiter.close();
    }
  });
});
