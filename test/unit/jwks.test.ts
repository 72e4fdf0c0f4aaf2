/**
 * The JWKS source: one fetch for concurrent misses, a refresh on an unknown
 * `kid` (Google rotated its keys) at most once a minute, and https only.
 */
import { createJwksSource, JWKS_REFRESH_INTERVAL_MS } from '../../shared/webhooks/jwks';

const URI = 'https://www.googleapis.com/oauth2/v3/certs';

function countingFetch(): { fetch: typeof fetch; calls: () => number; release: () => void } {
  let calls = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const fetchFn = (async () => {
    calls++;
    await gate;
    return new Response(JSON.stringify({ keys: [{ kty: 'RSA', kid: `k${calls}`, n: 'AQAB', e: 'AQAB' }] }), { status: 200 });
  }) as unknown as typeof fetch;
  return { fetch: fetchFn, calls: () => calls, release };
}

test('concurrent misses share one fetch', async () => {
  const f = countingFetch();
  const source = createJwksSource(f.fetch);
  const all = Promise.all(Array.from({ length: 50 }, () => source(URI)));
  f.release();
  const results = await all;
  expect(f.calls()).toBe(1);
  expect(new Set(results.map((keys) => keys[0]?.kid))).toEqual(new Set(['k1']));
});

test('a refresh after an unknown kid fetches again, but at most once per interval, and concurrent refreshes share it', async () => {
  let clock = 1_000_000;
  const f = countingFetch();
  f.release();
  const source = createJwksSource(f.fetch, 3_600_000, () => clock);
  expect((await source(URI))[0]?.kid).toBe('k1');
  // Within the interval, a stream of unknown kids triggers no fetch.
  for (let i = 0; i < 20; i++) expect((await source(URI, { refresh: true }))[0]?.kid).toBe('k1');
  expect(f.calls()).toBe(1);
  clock += JWKS_REFRESH_INTERVAL_MS;
  const refreshed = await Promise.all(Array.from({ length: 10 }, () => source(URI, { refresh: true })));
  expect(f.calls()).toBe(2);
  expect(new Set(refreshed.map((keys) => keys[0]?.kid))).toEqual(new Set(['k2']));
  expect((await source(URI))[0]?.kid).toBe('k2');
});

test('only https key sources are fetched', async () => {
  const f = countingFetch();
  f.release();
  await expect(createJwksSource(f.fetch)('http://www.googleapis.com/oauth2/v3/certs')).rejects.toThrow(/https/);
  expect(f.calls()).toBe(0);
});
