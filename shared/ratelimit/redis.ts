/**
 * The Redis limiter: one EVALSHA per check, whatever the number of levels
 * (and one per batch of a tenant's concurrent checks).
 * Custom limits and adaptive state are read inside the same script, so a
 * limit changed through the admin API applies to every instance's next check.
 */
import type Redis from 'ioredis';
import type { RateLimitSignal } from '../providers/types';
import { DEFAULT_ADAPTIVE, isEmptyEffect, signalEffect, type AdaptiveOptions } from './adaptive';
import { DEFAULT_TENANT_PER_MINUTE, providerDefaults } from './defaults';
import { whenReady } from './client';
import { checkKeys, checkPrefix, integrationArg } from './keys';
import { closeRedisClient, runScript, type ScriptClient } from '../kv/redis-script';
import { CHECK_REPLY_LENGTH, CHECK_SCRIPT, CHECK_SHA, checkBatchReplySchema, checkReplySchema, SIGNAL_SCRIPT, SIGNAL_SHA, signalReplySchema, type CheckReply } from './scripts';
import { DEFAULT_WINDOW, type LevelUsage, type RateLimitDecision, type RateLimitLevel, type RateLimiter, type RateLimitOperation, type RateLimitScope, type WindowOptions } from './types';
import { checkWindow } from './window';

/** What the limiter needs from ioredis. */
export type RateLimitRedisClient = ScriptClient & Pick<Redis, 'status' | 'connect' | 'ping' | 'quit' | 'disconnect'>;

export interface RedisRateLimiterOptions {
  /** Prepended to every key (tests use a random one). Must not contain braces. */
  prefix?: string;
  window?: WindowOptions;
  adaptive?: Partial<AdaptiveOptions>;
}

const CHECK = { text: CHECK_SCRIPT, sha: CHECK_SHA };
/** Checks per EVALSHA: bounds the script's arguments (4 per check) and one batch's share of Redis time. */
const MAX_BATCH = 64;

interface Waiting {
  args: readonly [string, string, number, number | ''];
  resolve(decision: RedisDecision): void;
  reject(error: unknown): void;
}

interface Batch {
  keys: [string, string];
  waiting: Waiting[];
}
const SIGNAL = { text: SIGNAL_SCRIPT, sha: SIGNAL_SHA };
/** Remembered "near its allocation" integrations; bounded, as each is one small string. */
const MAX_SLOWED = 10_000;

export { RateLimiterUnavailableError } from './client';

export class RedisRateLimiter implements RateLimiter {
  private readonly prefix: string;
  private readonly window: WindowOptions;
  private readonly adaptive: AdaptiveOptions;
  private readonly slowed = new Set<string>();
  /** Checks waiting for the end of the tick, by the tenant's windows key. */
  private readonly queued = new Map<string, Batch>();
  private flushing = false;

  constructor(
    private readonly client: RateLimitRedisClient,
    options: RedisRateLimiterOptions = {},
  ) {
    this.prefix = checkPrefix(options.prefix ?? '');
    this.window = checkWindow(options.window ?? DEFAULT_WINDOW);
    this.adaptive = { ...DEFAULT_ADAPTIVE, ...options.adaptive };
  }

  /**
   * Checks of one tenant made in the same tick travel together: one EVALSHA
   * for the batch, each check still atomic and in order. Under load this
   * divides the client's per-command cost by the batch size; alone, a check
   * waits for nothing but the end of the current tick.
   */
  check(scope: RateLimitScope, operation: RateLimitOperation): Promise<RedisDecision> {
    // Built inside the executor: a bad id rejects the promise rather than throwing.
    return new Promise<RedisDecision>((resolve, reject) => {
      const keys = checkKeys(this.prefix, scope);
      const defaults = providerDefaults(scope.provider);
      const args = [integrationArg(scope), operation, defaults.perMinute, defaults.operations?.[operation] ?? ''] as const;
      let batch = this.queued.get(keys[1]);
      if (!batch) {
        batch = { keys, waiting: [] };
        this.queued.set(keys[1], batch);
      }
      batch.waiting.push({ args, resolve, reject });
      if (batch.waiting.length >= MAX_BATCH) {
        this.queued.delete(keys[1]);
        void this.send(batch);
      } else if (!this.flushing) {
        this.flushing = true;
        process.nextTick(() => { this.flush(); });
      }
    });
  }

  async recordSignal(scope: RateLimitScope, signal: RateLimitSignal): Promise<void> {
    const slowedKey = `${scope.tenantId}/${scope.integrationId}`;
    const effect = signalEffect(signal, this.adaptive, this.slowed.has(slowedKey));
    if (isEmptyEffect(effect)) return;
    if (effect.usageFactor !== undefined) this.remember(slowedKey, effect.usageFactor < 1);
    const a = this.adaptive;
    const args = [integrationArg(scope), effect.pauseMs ?? '', effect.blockUntil ?? '', effect.usageFactor ?? '', a.recoveryMs, a.backoff, a.minFactor, a.maxBlockMs];
    const [config] = checkKeys(this.prefix, scope);
    await this.ready();
    signalReplySchema.parse(await runScript(this.client, SIGNAL, [config], args));
  }

  /** Liveness for the fallback's recovery probe and the health check. */
  async ping(): Promise<void> {
    await this.ready();
    await this.client.ping();
  }

  close(): Promise<void> {
    return closeRedisClient(this.client);
  }

  private flush(): void {
    this.flushing = false;
    const batches = [...this.queued.values()];
    this.queued.clear();
    for (const batch of batches) void this.send(batch);
  }

  /** Never rejects: every waiting check settles with its decision or the batch's error. */
  private async send(batch: Batch): Promise<void> {
    try {
      const w = this.window;
      const args = [w.windowMs, w.bucketMs, this.adaptive.recoveryMs, DEFAULT_TENANT_PER_MINUTE, ...batch.waiting.flatMap((c) => c.args)];
      await this.ready();
      const reply = checkBatchReplySchema.parse(await runScript(this.client, CHECK, batch.keys, args));
      if (reply.length !== batch.waiting.length * CHECK_REPLY_LENGTH) throw new Error(`check script replied ${reply.length} integers for ${batch.waiting.length} checks`);
      batch.waiting.forEach((c, i) => {
        c.resolve(decisionFromReply(checkReplySchema.parse(reply.slice(i * CHECK_REPLY_LENGTH, (i + 1) * CHECK_REPLY_LENGTH))));
      });
    } catch (error) {
      for (const c of batch.waiting) c.reject(error);
    }
  }

  private ready(): Promise<void> {
    return whenReady(this.client);
  }

  private remember(key: string, slowed: boolean): void {
    if (!slowed) {
      this.slowed.delete(key);
      return;
    }
    if (this.slowed.size >= MAX_SLOWED) this.slowed.clear();
    this.slowed.add(key);
  }
}

const LEVEL_BY_INDEX: Readonly<Record<1 | 2 | 3, RateLimitLevel>> = { 1: 'tenant', 2: 'integration', 3: 'operation' };

/** A decision plus how long the provider keeps the integration blocked (for the fallback's memory). */
export type RedisDecision = RateLimitDecision & { blockedMs: number };

export function decisionFromReply(reply: CheckReply): RedisDecision {
  const [admitted, level, retryAfterMs, tCount, tLimit, iCount, iLimit, oCount, oLimit, blockedMs] = reply;
  const usage: LevelUsage[] = [
    { level: 'tenant', count: tCount, limit: tLimit },
    { level: 'integration', count: iCount, limit: iLimit },
    { level: 'operation', count: oCount, limit: oLimit },
  ];
  if (admitted === 1 || level === 0) return { allowed: true, usage, degraded: false, blockedMs };
  return { allowed: false, level: LEVEL_BY_INDEX[level], retryAfterMs: Math.max(1, retryAfterMs), usage, degraded: false, blockedMs };
}
