import type { JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import type { JwksSource } from '../providers/types';

const jwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

/** Google rotates its signing keys about weekly and publishes them a while ahead; an hour's cache is safe. */
const DEFAULT_TTL_MS = 60 * 60 * 1000;

/**
 * Fetches and caches a JWKS document by URI. Only https URIs are fetched
 * (a key source over plain HTTP would let anyone on the path mint tokens).
 */
export function createJwksSource(fetchFn: typeof fetch, ttlMs = DEFAULT_TTL_MS, now: () => number = Date.now): JwksSource {
  const cache = new Map<string, { keys: readonly JsonWebKey[]; expiresAt: number }>();
  return async (uri) => {
    const hit = cache.get(uri);
    if (hit && hit.expiresAt > now()) return hit.keys;
    if (!uri.startsWith('https://')) throw new Error('JWKS URI must be https');
    const res = await fetchFn(uri, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`JWKS fetch failed with ${res.status}`);
    const parsed = jwksSchema.parse(await res.json());
    const keys = parsed.keys as JsonWebKey[];
    cache.set(uri, { keys, expiresAt: now() + ttlMs });
    return keys;
  };
}
