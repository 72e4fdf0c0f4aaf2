/**
 * The limiter against the real Redis (REDIS_URL, default 127.0.0.1:6379):
 * - checks/s with all three levels counted, 1,000 concurrent callers, one Lua
 *   script per check;
 * - p50/p99 of sequential checks (one caller, so latency is the round trip);
 * - the same load through rate-limiter-flexible, one RateLimiterRedis per
 *   level (three round trips per check), when the package is installed.
 * Limits are raised so every check is admitted: the write path, where all
 * three windows are counted, is the expensive one.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { z } from 'zod';
import { createRateLimitRedisClient } from '../shared/ratelimit/client';
import { MAX_PER_MINUTE } from '../shared/ratelimit/defaults';
import { RedisRateLimiter } from '../shared/ratelimit/redis';
import { RedisLimitsStore } from '../shared/ratelimit/redis-limits';
import { RATE_LIMIT_OPERATIONS, type RateLimitOperation, type RateLimitScope } from '../shared/ratelimit/types';
import type { Figure } from './results';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CALLERS = 1_000;
const RUN_MS = 5_000;
const WARMUP_MS = 1_000;
const SEQUENTIAL = 5_000;
const TENANTS = 20;
const PROVIDERS = ['salesforce', 'notion', 'slack', 'github', 'google'];
/** The peer this bench compares against; the lead adds it as a devDependency. */
const PEER_PACKAGE = 'rate-limiter-flexible';

interface Call {
  scope: RateLimitScope;
  operation: RateLimitOperation;
}

/** 20 tenants × 5 integrations × 4 operations, visited round-robin. */
function workload(): Call[] {
  const calls: Call[] = [];
  for (let t = 0; t < TENANTS; t++) {
    for (const provider of PROVIDERS) {
      for (const operation of RATE_LIMIT_OPERATIONS) calls.push({ scope: { tenantId: `bench${t}`, integrationId: `${provider}${t}`, provider }, operation });
    }
  }
  return calls;
}

/** Run `check` from `callers` concurrent loops for `ms`; checks per second. */
async function throughput(check: (call: Call) => Promise<unknown>, calls: readonly Call[], callers: number, ms: number): Promise<number> {
  let done = 0;
  let next = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 1; performance.now() < until; i++) {
        const call = calls[next++ % calls.length];
        if (call) await check(call);
        done++;
        // Let timers and sockets run between bursts of already-settled promises.
        if (i % 64 === 0) await new Promise(setImmediate);
      }
    }),
  );
  return (done / (performance.now() - started)) * 1000;
}

async function sequentialLatency(check: (call: Call) => Promise<unknown>, calls: readonly Call[]): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const call = calls[i % calls.length];
    if (!call) continue;
    const t = performance.now();
    await check(call);
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * The Redis limiter itself, as the peer is measured: no fallback guard in
 * front. Under 1,000 concurrent callers on a shared 2-core machine the
 * guard's 150 ms deadline can trip, and its in-process answers would then
 * inflate the figure; the guard adds one timer per check and no round trip.
 */
async function ours(calls: readonly Call[], prefix: string, autoPipelining: boolean): Promise<{ rate: number; p50: number; p99: number }> {
  const client = createRateLimitRedisClient(REDIS_URL, { autoPipelining });
  const limiter = new RedisRateLimiter(client, { prefix });
  const limits = new RedisLimitsStore(client, prefix);
  try {
    const wide = { perMinute: MAX_PER_MINUTE, operations: { fetch: MAX_PER_MINUTE, create: MAX_PER_MINUTE, update: MAX_PER_MINUTE, delete: MAX_PER_MINUTE } };
    for (let t = 0; t < TENANTS; t++) {
      await limits.replace(`bench${t}`, { perMinute: MAX_PER_MINUTE, integrations: Object.fromEntries(PROVIDERS.map((p) => [`${p}${t}`, wide])) });
    }
    let refused = 0;
    const check = async (call: Call): Promise<void> => {
      if (!(await limiter.check(call.scope, call.operation)).allowed) refused++;
    };
    await throughput(check, calls, CALLERS, WARMUP_MS);
    const rate = await throughput(check, calls, CALLERS, RUN_MS);
    const { p50, p99 } = await sequentialLatency(check, calls);
    if (refused > 0) process.stderr.write(`ratelimit bench: ${refused} checks refused (expected none)\n`);
    return { rate, p50, p99 };
  } finally {
    await limiter.close();
  }
}

interface PeerLimiter {
  consume(key: string): Promise<unknown>;
}
type PeerConstructor = new (options: { storeClient: Redis; points: number; duration: number; keyPrefix: string }) => PeerLimiter;
const peerModuleSchema = z.object({ RateLimiterRedis: z.custom<PeerConstructor>((v) => typeof v === 'function', 'RateLimiterRedis is not a class') });

/** The same load through rate-limiter-flexible: three limiters, three round trips per check. */
async function peer(calls: readonly Call[], prefix: string): Promise<{ rate: number; p50: number; p99: number } | undefined> {
  let loaded: unknown;
  try {
    const name = PEER_PACKAGE; // a variable, so the build does not need the package
    loaded = await import(name);
  } catch {
    process.stderr.write(`ratelimit bench: ${PEER_PACKAGE} is not installed; skipping the side-by-side figure\n`);
    return undefined;
  }
  const { RateLimiterRedis } = peerModuleSchema.parse(loaded);
  // The same client settings as ours: no auto-pipelining.
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const make = (level: string): PeerLimiter => new RateLimiterRedis({ storeClient: client, points: MAX_PER_MINUTE, duration: 60, keyPrefix: `${prefix}peer:${level}` });
    const [tenant, integration, operation] = [make('t'), make('i'), make('o')];
    const check = async ({ scope, operation: op }: Call): Promise<void> => {
      try {
        await tenant.consume(scope.tenantId);
        await integration.consume(`${scope.tenantId}:${scope.integrationId}`);
        await operation.consume(`${scope.tenantId}:${scope.integrationId}:${op}`);
      } catch {
        // A refusal rejects; with these limits none is expected, and it still cost its round trips.
      }
    };
    await throughput(check, calls, CALLERS, WARMUP_MS);
    const rate = await throughput(check, calls, CALLERS, RUN_MS);
    return { rate, ...(await sequentialLatency(check, calls)) };
  } finally {
    await client.quit();
  }
}

async function cleanup(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await client.quit();
  }
}

export async function benchRatelimit(): Promise<Figure[]> {
  const prefix = `bench:rl:${randomUUID()}:`;
  const calls = workload();
  try {
    const plain = await ours(calls, `${prefix}plain:`, false);
    const piped = await ours(calls, `${prefix}piped:`, true);
    const theirs = await peer(calls, prefix);
    // The client's default (createRateLimitRedisClient): no auto-pipelining; the other mode is in the note.
    const figures: Figure[] = [
      {
        metric: 'ratelimit.checksPerSec',
        value: plain.rate,
        unit: 'checks/s',
        target: { op: '>=', value: 30_000 },
        note: `${CALLERS} callers, 3 levels, 1 round trip each (auto-pipelining: ${Math.round(piped.rate)}/s)`,
      },
      { metric: 'ratelimit.p50Ms', value: plain.p50, unit: 'ms', note: 'sequential checks' },
      { metric: 'ratelimit.p99Ms', value: plain.p99, unit: 'ms', target: { op: '<=', value: 1.5 }, note: `sequential checks (auto-pipelining: ${piped.p99.toFixed(2)} ms)` },
    ];
    if (theirs !== undefined) {
      figures.push(
        { metric: 'ratelimit.peerChecksPerSec', value: theirs.rate, unit: 'checks/s', note: `${PEER_PACKAGE}, same load, 3 round trips per check; ours is ${(plain.rate / theirs.rate).toFixed(1)}×` },
        { metric: 'ratelimit.peerP99Ms', value: theirs.p99, unit: 'ms', note: `${PEER_PACKAGE}, sequential (p50 ${theirs.p50.toFixed(2)} ms against our ${plain.p50.toFixed(2)} ms)` },
      );
    }
    return figures;
  } finally {
    await cleanup(prefix);
  }
}
