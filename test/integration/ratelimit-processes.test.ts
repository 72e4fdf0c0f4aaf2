/**
 * Several app instances against one Redis: separate Node processes, each
 * with its own connection (test/helpers/ratelimit-child.js).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Redis from 'ioredis';
import { z } from 'zod';
import { createRateLimitRedisClient } from '../../shared/ratelimit/client';
import { RedisLimitsStore } from '../../shared/ratelimit/redis-limits';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `test:rlproc:${randomUUID()}:`;
const CHILD = path.join(__dirname, '..', 'helpers', 'ratelimit-child.js');

const readySchema = z.object({ ready: z.literal(true), now: z.number() });
const doneSchema = z.object({ admitted: z.number(), refused: z.number(), errors: z.array(z.string()), now: z.number() });

interface Instance {
  child: ChildProcess;
  /** The child's Date.now when it connected. */
  clock: number;
  go(): Promise<z.infer<typeof doneSchema>>;
}

const children: ChildProcess[] = [];

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => { reject(new Error(`child exited with ${code ?? 'a signal'} before answering`)); };
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m);
    });
  });
}

async function instance(env: Record<string, string>): Promise<Instance> {
  const child = fork(CHILD, [], { env: { ...process.env, REDIS_URL, PREFIX, ...env }, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const ready = readySchema.parse(await nextMessage(child));
  return {
    child,
    clock: ready.now,
    go: async () => {
      const done = nextMessage(child);
      child.send({ go: true });
      return doneSchema.parse(await done);
    },
  };
}

let admin: Redis;
let limitsClient: Redis;
let limits: RedisLimitsStore;

beforeAll(() => {
  admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  limitsClient = createRateLimitRedisClient(REDIS_URL);
  limits = new RedisLimitsStore(limitsClient, PREFIX);
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
    if (keys.length > 0) await admin.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await admin.quit();
  await limitsClient.quit();
});

test('4 processes × 500 concurrent checks against a limit of 100 admit exactly 100', async () => {
  const tenant = `t${randomUUID().slice(0, 8)}`;
  await limits.replace(tenant, { integrations: { gh: { perMinute: 100 } } });
  const env = { TENANT: tenant, INTEGRATION: 'gh', PROVIDER: 'github', COUNT: '500' };
  const instances = await Promise.all(Array.from({ length: 4 }, () => instance(env)));
  const results = await Promise.all(instances.map((i) => i.go()));
  expect(results.flatMap((r) => r.errors)).toEqual([]);
  expect(results.reduce((sum, r) => sum + r.admitted, 0)).toBe(100);
  expect(results.reduce((sum, r) => sum + r.refused, 0)).toBe(1_900);
}, 60_000);

test('two processes whose clocks are 30 s apart still admit no more than the limit', async () => {
  const tenant = `t${randomUUID().slice(0, 8)}`;
  await limits.replace(tenant, { integrations: { sl: { perMinute: 50 } } });
  const env = { TENANT: tenant, INTEGRATION: 'sl', PROVIDER: 'slack', COUNT: '80' };
  const [behind, ahead] = await Promise.all([instance({ ...env, SKEW_MS: '0' }), instance({ ...env, SKEW_MS: '30000' })]);
  // The skew is real: the children's own clocks disagree by 30 s.
  expect(ahead.clock - behind.clock).toBeGreaterThan(29_000);
  expect(ahead.clock - behind.clock).toBeLessThan(31_000);

  // The instance ahead fills the window first. Had windows followed the app
  // clocks, its requests would sit 30 s in the other's future, and the
  // instance behind would find an empty window and admit 50 more.
  const first = await ahead.go();
  const second = await behind.go();
  expect([...first.errors, ...second.errors]).toEqual([]);
  expect(first.admitted).toBe(50);
  expect(second.admitted).toBe(0);
}, 60_000);

test('with skewed clocks racing at once, the total is still exactly the limit', async () => {
  const tenant = `t${randomUUID().slice(0, 8)}`;
  await limits.replace(tenant, { integrations: { sl: { perMinute: 50 } } });
  const env = { TENANT: tenant, INTEGRATION: 'sl', PROVIDER: 'slack', COUNT: '200' };
  const pair = await Promise.all([instance({ ...env, SKEW_MS: '-15000' }), instance({ ...env, SKEW_MS: '15000' })]);
  const results = await Promise.all(pair.map((i) => i.go()));
  expect(results.reduce((sum, r) => sum + r.admitted, 0)).toBe(50);
}, 60_000);
