import type { JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import type { JwksSource } from '../providers/types';

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/** Google rotates its signing keys about weekly and publishes them a while ahead; an hour's cache is safe. */
const DEFAULT_TTL_MS = 60 * 60 * 1000;
/**
 * A token signed with a key we have not seen makes us fetch again, at most
 * this often per URI: enough to pick up a rotation at once, too rare for a
 * stream of forged `kid`s to turn us into a fetch amplifier.
 */
export const JWKS_REFRESH_INTERVAL_MS = 60_000;

interface Entry {
  keys: readonly JsonWebKey[];
  fetchedAt: number;
}

/**
 * Fetches and caches a JWKS document by URI. Only https URIs are fetched (a
 * key source over plain HTTP would let anyone on the path mint tokens).
 * Concurrent misses share one fetch (single flight). A caller that met an
 * unknown `kid` asks for `{ refresh: true }`: the set is fetched again unless
 * it was fetched within JWKS_REFRESH_INTERVAL_MS.
 */
export function createJwksSource(fetchFn: typeof fetch, ttlMs = DEFAULT_TTL_MS, now: () => number = Date.now): JwksSource {
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<readonly JsonWebKey[]>>();

  const fetchKeys = (uri: string): Promise<readonly JsonWebKey[]> => {
    const pending = inFlight.get(uri);
    if (pending) return pending;
    const started = (async () => {
      if (!uri.startsWith('https://')) throw new Error('JWKS URI must be https');
      const res = await fetchFn(uri, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`JWKS fetch failed with ${res.status}`);
      const keys = jwksSchema.parse(await res.json()).keys as JsonWebKey[];
      cache.set(uri, { keys, fetchedAt: now() });
      return keys;
    })().finally(() => inFlight.delete(uri));
    inFlight.set(uri, started);
    return started;
  };

  return async (uri, options) => {
    const hit = cache.get(uri);
    if (hit && options?.refresh === true) {
      return now() - hit.fetchedAt < JWKS_REFRESH_INTERVAL_MS ? hit.keys : fetchKeys(uri);
    }
    if (hit && now() - hit.fetchedAt < ttlMs) return hit.keys;
    return fetchKeys(uri);
  };
}
