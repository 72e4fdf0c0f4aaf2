/**
 * Entra ID token auth for Redis (shared/kv/entra-auth.ts), against a real redis-server of our own where
 * ACL users stand in for Azure Managed Redis's token auth: the user `app` is the identity's object id and
 * its passwords are the "tokens" a fake TokenCredential hands out. The default user is switched off, so a
 * connection that does not AUTH as `app` can do nothing. Rotating a token is `ACL SETUSER app >new`, then
 * `<old` once the client has renewed, as Entra tokens overlap until the old one expires.
 */
import type { AccessToken, TokenCredential } from '@azure/identity';
import Redis from 'ioredis';
import { loadSettings } from '../../shared/config/settings';
import { objectIdOf, RedisTokenAuth, redisTokenAuthFor } from '../../shared/kv/entra-auth';
import { createRedisClient, ensureRedisReady } from '../../shared/kv/redis';
import { createRateLimitRedisClient, whenReady } from '../../shared/ratelimit/client';
import { PrivateRedis } from '../helpers/private-redis';
import { until } from '../helpers/until';

/** Hands out `password` as the token; a test rotates it. */
class RotatingCredential implements TokenCredential {
  password = 'token-one';
  lifetimeMs = 60 * 60_000;
  failWith: Error | undefined;
  calls = 0;
  constructor(private readonly now: () => number = Date.now) {}
  getToken(): Promise<AccessToken> {
    this.calls += 1;
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve({ token: this.password, expiresOnTimestamp: this.now() + this.lifetimeMs, tokenType: 'Bearer' });
  }
}

let redis: PrivateRedis;
let admin: Redis;
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  redis = await PrivateRedis.start();
  admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
  await admin.call('ACL', 'SETUSER', 'admin', 'on', '>admin-pass', '~*', '&*', '+@all');
  await admin.auth('admin', 'admin-pass');
  await admin.call('ACL', 'SETUSER', 'default', 'off');
});

afterAll(async () => {
  admin.disconnect();
  await redis.kill();
});

beforeEach(async () => {
  // `app` starts with the first token only.
  await admin.call('ACL', 'SETUSER', 'app', 'reset', 'on', '>token-one', '~*', '&*', '+@all');
  await admin.config('RESETSTAT');
});

afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function tokenAuth(credential: TokenCredential, extra: Partial<ConstructorParameters<typeof RedisTokenAuth>[0]> = {}): RedisTokenAuth {
  const auth = new RedisTokenAuth({ credential, username: 'app', ...extra });
  closers.push(() => { auth.close(); });
  return auth;
}

function client(auth: RedisTokenAuth): Redis {
  const c = createRedisClient(redis.url, { tokenAuth: auth, commandTimeoutMs: 5_000 });
  closers.push(() => { c.disconnect(); });
  return c;
}

/** AUTH commands the server has run since RESETSTAT: [calls, failed]. */
async function authStats(): Promise<{ calls: number; failed: number }> {
  const info = await admin.info('commandstats');
  const line = /cmdstat_auth:calls=(\d+).*?failed_calls=(\d+)/.exec(info);
  return { calls: Number(line?.[1] ?? 0), failed: Number(line?.[2] ?? 0) };
}

async function clientId(c: Redis): Promise<number> {
  return await c.client('ID');
}

/** Close the client's connection from the server side and wait until the client is back. */
async function killAndAwaitReconnect(c: Redis): Promise<void> {
  const before = await clientId(c);
  await admin.client('KILL', 'ID', String(before));
  // CLIENT runs during ioredis's handshake, so wait for `ready` too (no offline queue: other commands need it).
  await until('the client to reconnect', async () => {
    try {
      return (await clientId(c)) !== before && c.status === 'ready' ? true : undefined;
    } catch {
      return undefined;
    }
  });
}

describe('Redis with Entra token auth (ACL users standing in for tokens)', () => {
  it('authenticates every connection as the identity with the current token', async () => {
    // The default user is off: a connection without the token can do nothing.
    const plain = new Redis(redis.port, '127.0.0.1', { enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    closers.push(() => { plain.disconnect(); });
    await expect(plain.ping()).rejects.toThrow(/NOAUTH/);

    const c = client(tokenAuth(new RotatingCredential()));
    await ensureRedisReady(c);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
  });

  it('sends a renewed token as AUTH on the live connection, behind in-flight commands, none failing', async () => {
    const credential = new RotatingCredential();
    const auth = tokenAuth(credential);
    const c = client(auth);
    await ensureRedisReady(c);
    const id = await clientId(c);
    const before = await authStats();

    await admin.call('ACL', 'SETUSER', 'app', '>token-two');
    credential.password = 'token-two';
    const first = Array.from({ length: 200 }, () => c.incr('counter'));
    const renewal = auth.renew();
    const second = Array.from({ length: 200 }, () => c.incr('counter'));
    const results = await Promise.all([...first, ...second]);
    await renewal;
    await admin.call('ACL', 'SETUSER', 'app', '<token-one');

    // Every command answered, in order, on the same connection; one more AUTH, and it succeeded.
    expect(results).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(await clientId(c)).toBe(id);
    expect(await authStats()).toEqual({ calls: before.calls + 1, failed: 0 });
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');

    // A reconnect uses the renewed token: the old one no longer exists.
    await killAndAwaitReconnect(c);
    expect(await c.incr('counter')).toBe(401);
    expect((await authStats()).failed).toBe(0);
  });

  it('uses the new token, not the old one, for the AUTH on the live connection', async () => {
    const credential = new RotatingCredential();
    const errors: Error[] = [];
    const auth = tokenAuth(credential, { onError: (e) => errors.push(e) });
    const c = client(auth);
    await ensureRedisReady(c);
    const before = await authStats();

    // The old token is gone before the renewal: an AUTH with it would fail.
    await admin.call('ACL', 'SETUSER', 'app', '>token-two', '<token-one');
    credential.password = 'token-two';
    await auth.renew();

    expect(await authStats()).toEqual({ calls: before.calls + 1, failed: 0 });
    expect(errors).toEqual([]);
  });

  it('renews by itself before the token expires', async () => {
    const credential = new RotatingCredential();
    // The first token is due for renewal shortly after it is issued (5-minute margin, 5 min + 300 ms life).
    credential.lifetimeMs = 5 * 60_000 + 300;
    const auth = tokenAuth(credential);
    const c = client(auth);
    await ensureRedisReady(c);
    const before = await authStats();
    credential.lifetimeMs = 60 * 60_000;
    await admin.call('ACL', 'SETUSER', 'app', '>token-two');
    credential.password = 'token-two';

    await until('the renewal AUTH', async () => ((await authStats()).calls > before.calls ? true : undefined));
    expect(credential.calls).toBe(2);
    expect((await authStats()).failed).toBe(0);
    await admin.call('ACL', 'SETUSER', 'app', '<token-one');
    await killAndAwaitReconnect(c);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
  });

  it('fetches a fresh token for a reconnect once the current one is due', async () => {
    let clock = Date.now();
    const credential = new RotatingCredential(() => clock);
    const auth = tokenAuth(credential, { now: () => clock });
    const c = client(auth);
    await ensureRedisReady(c);
    expect(credential.calls).toBe(1);

    // Time passes beyond the renewal point (the timer runs on real time, so only the reconnect sees it).
    clock += 60 * 60_000;
    await admin.call('ACL', 'SETUSER', 'app', '>token-two', '<token-one');
    credential.password = 'token-two';
    await killAndAwaitReconnect(c);
    expect(credential.calls).toBe(2);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
  });

  it('keeps the connection working when a renewal fails, and never puts a token in an error', async () => {
    const credential = new RotatingCredential();
    const errors: Error[] = [];
    const auth = tokenAuth(credential, { onError: (e) => errors.push(e) });
    const c = client(auth);
    await ensureRedisReady(c);

    credential.failWith = new Error('IMDS unavailable');
    await expect(auth.renew()).rejects.toThrow(/could not get an Entra token for Redis: IMDS unavailable/);
    expect(await c.incr('still-works')).toBe(1);

    // A token the server refuses: the AUTH fails, the error says so without the token, the connection stays.
    credential.failWith = undefined;
    credential.password = 'not-a-valid-token';
    await auth.renew();
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/^Redis AUTH with a renewed Entra token failed: WRONGPASS/)]);
    expect(errors.some((e) => e.message.includes('not-a-valid-token') || e.message.includes('token-one'))).toBe(false);
    expect(await c.incr('still-works')).toBe(2);
  });

  it('takes the username from the token oid claim when none is configured', async () => {
    const claims = Buffer.from(JSON.stringify({ oid: 'app', aud: 'https://redis.azure.com' })).toString('base64url');
    const jwt = `eyJhbGciOiJub25lIn0.${claims}.sig`;
    expect(objectIdOf(jwt)).toBe('app');
    expect(objectIdOf('not-a-jwt')).toBeUndefined();
    await admin.call('ACL', 'SETUSER', 'app', `>${jwt}`);
    const credential = new RotatingCredential();
    credential.password = jwt;
    const auth = new RedisTokenAuth({ credential });
    closers.push(() => { auth.close(); });
    const c = client(auth);
    await ensureRedisReady(c);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
  });

  it('authenticates the rate limiter client the same way', async () => {
    const auth = tokenAuth(new RotatingCredential());
    const c = createRateLimitRedisClient(redis.url, { tokenAuth: auth });
    closers.push(() => { c.disconnect(); });
    await whenReady(c);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
  });
});

describe('REDIS_AUTH settings', () => {
  const base = { REDIS_AUTH: 'entra', MANAGED_IDENTITY_CLIENT_ID: '00000000-0000-0000-0000-000000000001' };

  it('accept a rediss:// URL without credentials and build one shared token source', () => {
    const settings = loadSettings({ ...base, REDIS_URL: 'rediss://castiel.westeurope.redis.azure.net:10000', REDIS_ENTRA_USERNAME: 'object-id' });
    const auth = redisTokenAuthFor(settings);
    expect(auth).toBeInstanceOf(RedisTokenAuth);
    expect(redisTokenAuthFor(settings)).toBe(auth);
    expect(redisTokenAuthFor(loadSettings({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toBeUndefined();
  });

  it('refuse a plain redis:// URL or one carrying a password under Entra auth', () => {
    expect(() => loadSettings({ ...base, REDIS_URL: 'redis://host:10000' })).toThrow(/REDIS_URL: must be a rediss:\/\/ URL when REDIS_AUTH is entra/);
    expect(() => loadSettings({ ...base, REDIS_URL: 'rediss://:secret@host:10000' })).toThrow(/REDIS_URL: must not carry a user or password/);
    expect(() => loadSettings({ ...base })).toThrow(/REDIS_URL: must be a rediss:\/\/ URL/);
  });
});
