import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type Redis from 'ioredis';
import { InMemoryKeyValueStore } from '../../shared/kv/memory';
import {
  DELETE_IF_EQUALS_SCRIPT,
  INCREMENT_SCRIPT,
  INCREMENT_SHA,
  PUSH_BOUNDED_SCRIPT,
  PUSH_BOUNDED_SHA,
  EXPIRE_IF_EQUALS_SCRIPT,
  EXPIRE_IF_EQUALS_SHA,
  DELETE_IF_EQUALS_SHA,
  RedisKeyValueStore,
  createRedisClient,
  ensureRedisReady,
  type RedisKvClient,
} from '../../shared/kv/redis';
import { describeKvContract } from '../contract/kv.contract';

const REDIS_URL = 'redis://127.0.0.1:6379';
// One random prefix per run: runs never see each other's keys, and cleanup is one SCAN.
const PREFIX = `test:kv:${randomUUID()}:`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let admin: Redis;

beforeAll(async () => {
  admin = createRedisClient(REDIS_URL);
  await ensureRedisReady(admin);
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

describeKvContract('in-memory', () => {
  let now = 1_700_000_000_000;
  const store = new InMemoryKeyValueStore({ now: () => now });
  return Promise.resolve({
    store,
    advance: (ms) => {
      now += ms;
      return Promise.resolve();
    },
    dispose: () => store.close(),
  });
});

describeKvContract('redis', () => {
  const store = new RedisKeyValueStore(createRedisClient(REDIS_URL), PREFIX);
  return Promise.resolve({
    store,
    advance: sleep,
    dispose: async () => {
      await store.close();
      await deletePrefixed();
    },
  });
});

describe('InMemoryKeyValueStore', () => {
  it('forgets expired keys, so dedupe keys do not pile up', async () => {
    let now = 0;
    const store = new InMemoryKeyValueStore({ now: () => now });
    for (let i = 0; i < 50; i++) await store.set(`k${i}`, 'v', 1000);
    expect(store.size()).toBe(50);
    now += 1000;
    // Never read again: later writes reclaim them a few at a time, with no full scan.
    for (let i = 0; i < 50; i++) await store.set(`fresh${i}`, 'v', 60_000);
    expect(store.size()).toBe(50);
    expect(await store.get('k0')).toBeUndefined();
    expect(await store.get('fresh49')).toBe('v');
  });
});

describe('RedisKeyValueStore on real Redis', () => {
  let store: RedisKeyValueStore;

  beforeEach(() => {
    store = new RedisKeyValueStore(createRedisClient(REDIS_URL), PREFIX);
  });

  afterEach(async () => {
    await store.close();
    await deletePrefixed();
  });

  it('writes under the prefix, always with a TTL', async () => {
    await store.set('plain', 'v', 30_000);
    await store.setIfAbsent('nx', 'v', 30_000);
    for (const key of ['plain', 'nx']) {
      expect(await admin.get(PREFIX + key)).toBe('v');
      const pttl = await admin.pttl(PREFIX + key);
      expect(pttl).toBeGreaterThan(25_000);
      expect(pttl).toBeLessThanOrEqual(30_000);
    }
  });

  it('the expire-if-equals script loads into Redis under the SHA we compute, and replies 1 or 0', async () => {
    expect(await admin.script('LOAD', EXPIRE_IF_EQUALS_SCRIPT)).toBe(EXPIRE_IF_EQUALS_SHA);
    const key = `${PREFIX}renew`;
    await admin.set(key, 'mine', 'PX', 1_000);
    expect(await admin.evalsha(EXPIRE_IF_EQUALS_SHA, 1, key, 'theirs', '60000')).toBe(0);
    expect(await admin.evalsha(EXPIRE_IF_EQUALS_SHA, 1, key, 'mine', '60000')).toBe(1);
    expect(await admin.pttl(key)).toBeGreaterThan(50_000);
    await admin.del(key);
    expect(await admin.evalsha(EXPIRE_IF_EQUALS_SHA, 1, key, 'mine', '60000')).toBe(0);
  });

  it('the increment and bounded-index scripts load into Redis under the SHAs we compute', async () => {
    expect(await admin.script('LOAD', INCREMENT_SCRIPT)).toBe(INCREMENT_SHA);
    expect(await admin.script('LOAD', PUSH_BOUNDED_SCRIPT)).toBe(PUSH_BOUNDED_SHA);
  });

  it('the delete-if-equals script loads into Redis under the SHA we compute, and replies 1 or 0', async () => {
    expect(await admin.script('LOAD', DELETE_IF_EQUALS_SCRIPT)).toBe(DELETE_IF_EQUALS_SHA);
    const key = `${PREFIX}script`;
    await admin.set(key, 'mine', 'PX', 10_000);
    expect(await admin.evalsha(DELETE_IF_EQUALS_SHA, 1, key, 'theirs')).toBe(0);
    expect(await admin.exists(key)).toBe(1);
    expect(await admin.evalsha(DELETE_IF_EQUALS_SHA, 1, key, 'mine')).toBe(1);
    expect(await admin.exists(key)).toBe(0);
    expect(await admin.evalsha(DELETE_IF_EQUALS_SHA, 1, key, 'mine')).toBe(0);
  });

  it('a fresh lazy client serves concurrent first commands (no "Stream isn\'t writeable")', async () => {
    const client = createRedisClient(REDIS_URL);
    expect(client.status).toBe('wait'); // nothing connected at creation
    const fresh = new RedisKeyValueStore(client, PREFIX);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fresh.setIfAbsent(`first-${i % 2}`, `v${i}`, 10_000)));
      expect(results.filter(Boolean)).toHaveLength(2);
    } finally {
      await fresh.close();
    }
  });
});

describe('RedisKeyValueStore fails fast when Redis is unreachable', () => {
  /** Time a call that must reject, returning the elapsed ms. */
  async function elapsedRejecting(call: () => Promise<unknown>): Promise<number> {
    const started = Date.now();
    await expect(call()).rejects.toThrow();
    return Date.now() - started;
  }

  async function listen(server: net.Server): Promise<number> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  it('rejects within 1 s against a closed port, first call and later ones', async () => {
    const server = net.createServer();
    const port = await listen(server); // take a free port, then free it: nothing listens there
    await new Promise((resolve) => server.close(resolve));
    const store = new RedisKeyValueStore(createRedisClient(`redis://127.0.0.1:${port}`), PREFIX);
    try {
      expect(await elapsedRejecting(() => store.get('k'))).toBeLessThan(1000);
      expect(await elapsedRejecting(() => store.setIfAbsent('k', 'v', 1000))).toBeLessThan(1000);
      expect(await elapsedRejecting(() => store.ping())).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  });

  it('rejects within 1 s against a server that accepts but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => sockets.add(socket));
    const port = await listen(server);
    const store = new RedisKeyValueStore(createRedisClient(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 200, commandTimeoutMs: 200 }), PREFIX);
    try {
      expect(await elapsedRejecting(() => store.get('k'))).toBeLessThan(1000);
      expect(await elapsedRejecting(() => store.get('k'))).toBeLessThan(1000);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('RedisKeyValueStore script cache miss', () => {
  function fakeClient(evalsha: () => Promise<unknown>, evalScript: () => Promise<unknown>): RedisKvClient {
    const notUsed = (): never => {
      throw new Error('not used in this test');
    };
    return {
      status: 'ready',
      options: {},
      connect: notUsed,
      get: notUsed,
      set: notUsed,
      del: notUsed,
      pttl: notUsed,
      ping: notUsed,
      quit: notUsed,
      disconnect: notUsed,
      evalsha: jest.fn(evalsha),
      eval: jest.fn(evalScript),
    } as unknown as RedisKvClient;
  }

  it('falls back to EVAL when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH)', async () => {
    const client = fakeClient(
      () => Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.')),
      () => Promise.resolve(1),
    );
    const store = new RedisKeyValueStore(client, 'p:');
    expect(await store.deleteIfEquals('lock', 'me')).toBe(true);
    expect(client.eval).toHaveBeenCalledWith(DELETE_IF_EQUALS_SCRIPT, 1, 'p:lock', 'me');
  });

  it('does not mask other errors behind the fallback', async () => {
    const client = fakeClient(
      () => Promise.reject(new Error('Command timed out')),
      () => Promise.resolve(1),
    );
    const store = new RedisKeyValueStore(client, 'p:');
    await expect(store.deleteIfEquals('lock', 'me')).rejects.toThrow('Command timed out');
    expect(client.eval).not.toHaveBeenCalled();
  });
});
