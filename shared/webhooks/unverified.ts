import type { KeyValueStore } from '../kv/port';
import { DELIVERY_TTL_MS } from './deliveries';

/**
 * Deliveries a scheme cannot authenticate (Salesforce Outbound Messages carry
 * only the org id, which anyone who learns it can copy) must not let a sender
 * fill Redis: 30 forged 1 MiB messages once grew it by 50 MB for five days.
 * Per integration they are rate-limited, and everything they make us keep
 * (dedupe marks and raw bodies) sits in one bounded index: past the bounds
 * the oldest entries are dropped (their deliveries can no longer be replayed
 * or recognised as duplicates — harmless, the work is idempotent).
 *
 * Sized for real traffic: Salesforce batches up to 100 notifications a
 * message and retries with backoff for 24 h; two messages a second per
 * integration is far above what a workflow rule sends.
 */
export const UNVERIFIED_PER_MINUTE = 120;
export const UNVERIFIED_BOUNDS = { maxCount: 2_000, maxBytes: 8 * 1024 * 1024 } as const;

const rateKey = (integrationId: string, minute: number): string => `whu:{${integrationId}}:rate:${minute}`;
const indexKey = (integrationId: string): string => `whu:{${integrationId}}:kept`;

/** Whether one more unverified delivery is admitted this minute. */
export async function admitUnverified(kv: KeyValueStore, integrationId: string, now: Date): Promise<boolean> {
  const minute = Math.floor(now.getTime() / 60_000);
  return (await kv.increment(rateKey(integrationId, minute), 1, 60_000)) <= UNVERIFIED_PER_MINUTE;
}

/** Account for what an unverified delivery stored; drop the oldest kept entries past the bounds. Answers how many were dropped. */
export async function boundUnverified(kv: KeyValueStore, integrationId: string, kept: readonly { key: string; size: number }[]): Promise<number> {
  let dropped = 0;
  for (const { key, size } of kept) {
    const evicted = await kv.pushBounded(indexKey(integrationId), key, size, UNVERIFIED_BOUNDS, DELIVERY_TTL_MS);
    await Promise.all(evicted.map((k) => kv.delete(k)));
    dropped += evicted.length;
  }
  return dropped;
}
