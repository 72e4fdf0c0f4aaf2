import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import { newRedisClient, type RedisTokenAuth } from './entra-auth';
import type { KeyValueStore } from './port';
import { closeRedisClient, runScript } from './redis-script';
import { checkTtl } from './ttl';

/**
 * Delete a key only while it still holds the caller's value, so a lock holder
 * whose TTL lapsed cannot release a lock someone else has since taken.
 * GET and DEL run atomically inside the script.
 *
 * KEYS[1]  the key
 * ARGV[1]  the expected value
 * Reply    integer 1 when the key was deleted, 0 when absent or holding another value
 */
export const DELETE_IF_EQUALS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

export const DELETE_IF_EQUALS_SHA = createHash('sha1').update(DELETE_IF_EQUALS_SCRIPT).digest('hex');

/**
 * Extend a key's TTL only while it still holds the caller's value: a lock
 * holder renews its lease without reviving one that lapsed and was taken.
 *
 * KEYS[1]  the key
 * ARGV[1]  the expected value
 * ARGV[2]  the new TTL in milliseconds
 * Reply    integer 1 when the TTL was set, 0 when absent or holding another value
 */
export const EXPIRE_IF_EQUALS_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

export const EXPIRE_IF_EQUALS_SHA = createHash('sha1').update(EXPIRE_IF_EQUALS_SCRIPT).digest('hex');

/**
 * A fixed-window counter: the first increment sets the TTL.
 *
 * KEYS[1]  the counter
 * ARGV[1]  the amount to add
 * ARGV[2]  the window in milliseconds
 * Reply    integer, the count after adding
 */
export const INCREMENT_SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return n
`;

export const INCREMENT_SHA = createHash('sha1').update(INCREMENT_SCRIPT).digest('hex');

/**
 * A bounded index: a list of "size|member" entries, newest first, and its
 * byte total, trimmed from the oldest end inside the script.
 *
 * KEYS[1]  the list
 * KEYS[2]  its byte total
 * ARGV[1]  the member
 * ARGV[2]  its size in bytes
 * ARGV[3]  max members
 * ARGV[4]  max bytes
 * ARGV[5]  TTL in milliseconds (both keys)
 * Reply    array of the evicted members, oldest first
 */
export const PUSH_BOUNDED_SCRIPT = `
redis.call('LPUSH', KEYS[1], ARGV[2] .. '|' .. ARGV[1])
local total = redis.call('INCRBY', KEYS[2], ARGV[2])
local evicted = {}
while redis.call('LLEN', KEYS[1]) > tonumber(ARGV[3]) or total > tonumber(ARGV[4]) do
  local item = redis.call('RPOP', KEYS[1])
  if not item then break end
  local sep = string.find(item, '|', 1, true)
  total = redis.call('DECRBY', KEYS[2], tonumber(string.sub(item, 1, sep - 1)))
  table.insert(evicted, string.sub(item, sep + 1))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return evicted
`;

export const PUSH_BOUNDED_SHA = createHash('sha1').update(PUSH_BOUNDED_SCRIPT).digest('hex');

/** What the store needs from ioredis: narrow, so tests can hand in a fake. */
export type RedisKvClient = RedisConnectable & Pick<Redis, 'get' | 'set' | 'del' | 'pttl' | 'evalsha' | 'eval' | 'ping' | 'quit' | 'disconnect'>;

export class RedisKeyValueStore implements KeyValueStore {
  /** `prefix` namespaces every key (tests use a random one per run). */
  constructor(
    private readonly client: RedisKvClient,
    private readonly prefix = '',
  ) {}

  async get(key: string): Promise<string | undefined> {
    await ensureRedisReady(this.client);
    return (await this.client.get(this.k(key))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const px = checkTtl(ttlMs);
    await ensureRedisReady(this.client);
    await this.client.set(this.k(key), value, 'PX', px);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const px = checkTtl(ttlMs);
    await ensureRedisReady(this.client);
    // One atomic SET NX PX: a separate SETNX + PEXPIRE could leave a key without a TTL.
    return (await this.client.set(this.k(key), value, 'PX', px, 'NX')) === 'OK';
  }

  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    return (await this.script(DELETE_IF_EQUALS_SCRIPT, DELETE_IF_EQUALS_SHA, key, [expected])) === 1;
  }

  async expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean> {
    const px = checkTtl(ttlMs);
    return (await this.script(EXPIRE_IF_EQUALS_SCRIPT, EXPIRE_IF_EQUALS_SHA, key, [expected, String(px)])) === 1;
  }

  async increment(key: string, by: number, ttlMs: number): Promise<number> {
    const px = checkTtl(ttlMs);
    return Number(await this.script(INCREMENT_SCRIPT, INCREMENT_SHA, key, [String(by), String(px)]));
  }

  async pushBounded(key: string, member: string, size: number, bounds: { maxCount: number; maxBytes: number }, ttlMs: number): Promise<string[]> {
    const px = checkTtl(ttlMs);
    // Both keys share the caller's hash tag, so they live in one cluster slot.
    const reply = await this.scriptKeys(PUSH_BOUNDED_SCRIPT, PUSH_BOUNDED_SHA, [key, `${key}:bytes`], [member, String(size), String(bounds.maxCount), String(bounds.maxBytes), String(px)]);
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  private script(text: string, sha: string, key: string, argv: string[]): Promise<unknown> {
    return this.scriptKeys(text, sha, [key], argv);
  }

  private async scriptKeys(text: string, sha: string, keys: string[], argv: string[]): Promise<unknown> {
    await ensureRedisReady(this.client);
    return runScript(this.client, { text, sha }, keys.map((k) => this.k(k)), argv);
  }

  async delete(key: string): Promise<void> {
    await ensureRedisReady(this.client);
    await this.client.del(this.k(key));
  }

  async ttlMs(key: string): Promise<number | undefined> {
    await ensureRedisReady(this.client);
    const ms = await this.client.pttl(this.k(key));
    // PTTL: -2 = no such key, -1 = no expiry (never written by this store, which always sets a TTL).
    if (ms === -2) return undefined;
    return ms === -1 ? Number.POSITIVE_INFINITY : ms;
  }

  async ping(): Promise<void> {
    await ensureRedisReady(this.client);
    await this.client.ping();
  }

  close(): Promise<void> {
    return closeRedisClient(this.client);
  }

  private k(key: string): string {
    return this.prefix + key;
  }
}

/** What ensureRedisReady needs from a client. */
export type RedisConnectable = Pick<Redis, 'status' | 'connect' | 'options'>;

const pendingConnects = new WeakMap<RedisConnectable, Promise<void>>();

/**
 * Await the client's first connection. With lazyConnect and no offline queue,
 * ioredis rejects any command sent before the first connection is up
 * ("Stream isn't writeable"), so the first caller starts the connection and
 * concurrent callers wait for the same one. Later outages fail fast per
 * command while ioredis reconnects underneath. The wait is bounded: a server
 * that accepts TCP but never answers holds connect() for several seconds
 * (ready-check timeout plus ioredis's fixed 2 s socket teardown).
 */
export async function ensureRedisReady(client: RedisConnectable): Promise<void> {
  let pending = pendingConnects.get(client);
  if (!pending && client.status === 'wait') {
    pending = client.connect().finally(() => pendingConnects.delete(client));
    pendingConnects.set(client, pending);
  }
  if (!pending) return;
  // TCP connect, then the INFO ready check, each under its own timeout.
  const boundMs = (client.options.connectTimeout ?? 10_000) + (client.options.commandTimeout ?? 10_000) + 100;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`Redis did not become ready within ${boundMs} ms`));
    }, boundMs);
  });
  try {
    await Promise.race([pending, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RedisClientOptions {
  /** TCP connect bound; default 1000 ms. */
  connectTimeoutMs?: number;
  /** Per-command reply bound; default 1000 ms. */
  commandTimeoutMs?: number;
  /** Connection-level errors (each failing command rejects on its own too). */
  onError?: (error: Error) => void;
  /** Entra ID auth (Azure Managed Redis): every connection authenticates with the current token. */
  tokenAuth?: RedisTokenAuth;
}

/**
 * An ioredis client that fails fast instead of hanging. ioredis's defaults
 * queue commands while disconnected and retry each up to 20 times, so a call
 * sits ~10 s when Redis is down; a webhook or health probe must not. Nothing
 * connects until the first command (Functions app load must stay cheap).
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const client = newRedisClient(
    url,
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      connectTimeout: options.connectTimeoutMs ?? 1000,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      maxRetriesPerRequest: 1,
    },
    options.tokenAuth,
  );
  // Without a listener ioredis prints "Unhandled error event" for every
  // reconnect attempt; callers still see each failure as a rejected command.
  client.on('error', options.onError ?? (() => undefined));
  return client;
}
