/**
 * What the refresh path remembers across instances, in the key-value store:
 * - transient failures (5xx, timeouts): a cooldown with exponential backoff,
 *   and the distinct UTC days they happened on; only failures on
 *   ESCALATE_AFTER_DAYS separate days mark the integration;
 * - a refused credential version (invalid_grant / revoked): no instance asks
 *   the provider again with it.
 * Only the lease holder writes these, so read-modify-write is safe.
 */
import { z } from 'zod';
import type { KeyValueStore } from '../kv/port';

/** First cooldown after a transient failure; doubles per consecutive failure. */
export const COOLDOWN_BASE_MS = 60_000;
/** Backoff cap: a token that keeps failing is still retried hourly. */
export const COOLDOWN_MAX_MS = 60 * 60_000;
/** Failures on this many separate days (with no success between) mark the integration needs_reauth. */
export const ESCALATE_AFTER_DAYS = 4;
/** How long failure history and refusal markers are kept; every key in the store carries a TTL. */
const RECORD_TTL_MS = 30 * 24 * 60 * 60_000;

const recordSchema = z.object({
  consecutive: z.number().int().nonnegative(),
  days: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/)).max(64),
  nextAttemptAt: z.number(),
  escalated: z.boolean(),
});
export type FailureRecord = z.infer<typeof recordSchema>;

const failureKey = (name: string): string => `cred:fail:{${name.toLowerCase()}}`;
const refusedKey = (name: string): string => `cred:refused:{${name.toLowerCase()}}`;

export class RefreshFailures {
  constructor(private readonly kv: KeyValueStore) {}

  async read(name: string): Promise<FailureRecord | undefined> {
    const raw = await this.kv.get(failureKey(name));
    if (raw === undefined) return undefined;
    try {
      const parsed = recordSchema.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Milliseconds until the next attempt is allowed; 0 when not cooling down. */
  async cooldownMs(name: string, now: number): Promise<number> {
    const record = await this.read(name);
    return record ? Math.max(0, record.nextAttemptAt - now) : 0;
  }

  /** Count one more transient failure; the returned record says whether to escalate. */
  async record(name: string, now: number): Promise<FailureRecord & { escalate: boolean }> {
    const previous = (await this.read(name)) ?? { consecutive: 0, days: [], nextAttemptAt: 0, escalated: false };
    const consecutive = previous.consecutive + 1;
    const day = new Date(now).toISOString().slice(0, 10);
    const days = previous.days.includes(day) ? previous.days : [...previous.days, day].slice(-32);
    const backoff = Math.min(COOLDOWN_MAX_MS, COOLDOWN_BASE_MS * 2 ** Math.min(consecutive - 1, 20));
    const escalate = !previous.escalated && days.length >= ESCALATE_AFTER_DAYS;
    const next: FailureRecord = { consecutive, days, nextAttemptAt: now + backoff, escalated: previous.escalated || escalate };
    await this.kv.set(failureKey(name), JSON.stringify(next), RECORD_TTL_MS);
    return { ...next, escalate };
  }

  async clear(name: string): Promise<void> {
    await this.kv.delete(failureKey(name));
  }

  /** Remember that the provider refused this version; true when this call was the first to say so. */
  async markRefused(name: string, version: string): Promise<boolean> {
    const key = refusedKey(name);
    if (await this.kv.setIfAbsent(key, version, RECORD_TTL_MS)) return true;
    if ((await this.kv.get(key)) === version) return false;
    await this.kv.set(key, version, RECORD_TTL_MS);
    return true;
  }

  async isRefused(name: string, version: string): Promise<boolean> {
    return (await this.kv.get(refusedKey(name))) === version;
  }

  async clearRefused(name: string): Promise<void> {
    await this.kv.delete(refusedKey(name));
  }
}
