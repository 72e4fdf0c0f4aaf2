import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { providerFetch, readJson, type ProviderFetchOptions } from '../../shared/http/provider-fetch';
import type { RateLimitSignal } from '../../shared/providers/types';

/** A provider that knows nothing: no rate-limit headers, error bodies `{"error": "..."}`. */
const options: ProviderFetchOptions = {
  parseRateLimit: (status, headers) => {
    const s: RateLimitSignal = {};
    const r = headers.get('x-remaining');
    if (r !== null) s.remaining = Number(r);
    const ra = headers.get('retry-after');
    if (ra !== null && (status === 429 || status === 403)) s.retryAfterMs = Number(ra) * 1000;
    return s;
  },
  describe: (body) =>
    typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string' ? body.error : undefined,
  operation: 'Acme list',
};

const answer = (status: number, body: string | null = null, headers: Record<string, string> = {}): typeof fetch =>
  () => Promise.resolve(new Response(body, { status, headers }));

async function failure(fetchImpl: typeof fetch, extra: Partial<ProviderFetchOptions> = {}, signal?: AbortSignal): Promise<unknown> {
  try {
    await providerFetch(signal ? { fetch: fetchImpl, signal } : { fetch: fetchImpl }, 'https://acme.test/x?token=q', {}, { ...options, ...extra });
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

/** A fetch that never answers, but honours its abort signal as undici does. */
const hanging: typeof fetch = (_url, init) =>
  new Promise((_resolve, reject) => {
    init?.signal?.addEventListener('abort', () => {
      reject(init.signal?.reason as Error);
    });
  });

describe('providerFetch', () => {
  it('returns 2xx responses and reports the signal on each one', async () => {
    const seen: RateLimitSignal[] = [];
    const res = await providerFetch(
      { fetch: answer(200, '{"ok":true}', { 'x-remaining': '7' }), onRateLimit: (s) => seen.push(s) },
      'https://acme.test/x',
      {},
      options,
    );
    expect(await readJson(res)).toEqual({ ok: true });
    expect(seen).toEqual([{ remaining: 7 }]);
  });

  it.each([500, 502, 503, 504, 408])('%i → RetryableError', async (status) => {
    expect(await failure(answer(status, '{"error":"boom"}'))).toBeInstanceOf(RetryableError);
  });

  it('401 → AuthError', async () => {
    expect(await failure(answer(401, '{"error":"invalid_token"}'))).toBeInstanceOf(AuthError);
  });

  it('429 → RateLimitedError, retry-after from the signal or 60 s', async () => {
    const withHeader = await failure(answer(429, null, { 'retry-after': '3' }));
    expect(withHeader).toBeInstanceOf(RateLimitedError);
    expect((withHeader as RateLimitedError).retryAfterMs).toBe(3000);
    expect(((await failure(answer(429))) as RateLimitedError).retryAfterMs).toBe(60_000);
  });

  it('403 is a rate limit only with a signal (or a message the provider recognises)', async () => {
    expect(await failure(answer(403, null, { 'x-remaining': '0' }))).toBeInstanceOf(RateLimitedError);
    expect(await failure(answer(403, '{"error":"slow down"}'))).toBeInstanceOf(UnrecoverableError);
    const recognised = await failure(answer(403, '{"error":"slow down"}'), { isRateLimitMessage: (m) => m.includes('slow') });
    expect(recognised).toBeInstanceOf(RateLimitedError);
  });

  it.each([400, 404, 409, 422])('%i → UnrecoverableError', async (status) => {
    expect(await failure(answer(status))).toBeInstanceOf(UnrecoverableError);
  });

  it('messages carry status and a short provider message, never the URL query', async () => {
    const e = (await failure(answer(404, JSON.stringify({ error: `not found ${'x'.repeat(500)}` })))) as Error;
    expect(e.message.startsWith('Acme list: HTTP 404 not found')).toBe(true);
    expect(e.message.length).toBeLessThan(260);
    expect(e.message).not.toContain('token=q');
    const html = (await failure(answer(502, '<html>\n<b>Bad gateway</b></html>'))) as Error;
    // A body the provider cannot describe (a proxy's HTML page) is not echoed.
    expect(html.message).toBe('Acme list: HTTP 502');
  });

  it('network failure → RetryableError naming the socket error', async () => {
    const refused: typeof fetch = () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }));
    const e = await failure(refused);
    expect(e).toBeInstanceOf(RetryableError);
    expect((e as Error).message).toBe('Acme list: network error (ECONNREFUSED)');
  });

  it('times out → RetryableError', async () => {
    const e = await failure(hanging, { timeoutMs: 20 });
    expect(e).toBeInstanceOf(RetryableError);
    expect((e as Error).message).toBe('Acme list: timed out');
  });

  it('the caller\'s signal is composed with the timeout', async () => {
    const controller = new AbortController();
    setTimeout(() => { controller.abort(); }, 10);
    const e = await failure(hanging, { timeoutMs: 60_000 }, controller.signal);
    expect(e).toBeInstanceOf(RetryableError);
    expect((e as Error).message).toBe('Acme list: aborted by the caller');
  });

  it('readJson: a 2xx body that is not JSON is retryable', async () => {
    await expect(readJson(new Response('<html>'), 'Acme list')).rejects.toBeInstanceOf(RetryableError);
  });
});
