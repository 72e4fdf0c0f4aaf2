/**
 * The egress guard: a `fetch` wrapper that checks every URL a provider asks
 * for against the policy and the provider's hosts before anything is sent,
 * and follows redirects itself — same origin only — so a 302/307 cannot
 * carry a request (or a token) somewhere the policy would have refused, nor
 * around a provider's own URL rules (GitHub's `Link` next-page origin check).
 * The resolved address is checked underneath, at connect time
 * (egress-transport.ts).
 */
import { assertEgress, EgressRefusedError, type EgressPolicy } from './egress-policy';

/** Same-origin hops followed before giving up (fetch's own limit is 20; providers need one or two). */
export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export function guardFetch(inner: typeof fetch, policy: EgressPolicy, hosts: readonly string[], label: string): typeof fetch {
  return async (input, init) => {
    let target: string | URL | Request = input;
    let request: RequestInit = { ...init, redirect: 'manual' };
    for (let hop = 0; ; hop++) {
      const url = new URL(typeof target === 'string' || target instanceof URL ? target : target.url);
      assertEgress(policy, url, hosts, label);
      const response = await inner(target, request);
      const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
      if (location === null) return response;
      await response.body?.cancel().catch(() => undefined);
      const next = parseLocation(location, url, label);
      if (next.origin !== url.origin) {
        throw new EgressRefusedError('redirect', `${label}: egress refused (redirect): ${url.origin} redirected to another origin (${next.origin})`);
      }
      if (hop + 1 >= MAX_REDIRECTS) throw new EgressRefusedError('redirect', `${label}: egress refused (redirect): more than ${MAX_REDIRECTS} redirects`);
      request = redirectedInit(target, request, response.status, label);
      target = next;
    }
  };
}

function parseLocation(location: string, base: URL, label: string): URL {
  try {
    return new URL(location, base);
  } catch {
    throw new EgressRefusedError('redirect', `${label}: egress refused (redirect): the Location header is not a URL`);
  }
}

/**
 * The request for the next hop, as fetch would build it: 303 (and 301/302
 * after a POST) turns into a GET without a body; 307/308 repeat the method
 * and body, which must then be replayable.
 */
function redirectedInit(target: string | URL | Request, init: RequestInit, status: number, label: string): RequestInit {
  const refuse = (why: string): never => {
    throw new EgressRefusedError('redirect', `${label}: egress refused (redirect): ${why}`);
  };
  if (typeof target !== 'string' && !(target instanceof URL)) refuse('a Request object is not re-sent to a redirect');
  const method = (init.method ?? 'GET').toUpperCase();
  if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
    const headers = new Headers(init.headers);
    headers.delete('content-type');
    headers.delete('content-length');
    return { ...init, method: 'GET', body: null, headers };
  }
  if (init.body instanceof ReadableStream) refuse('a streamed body cannot be re-sent');
  return init;
}
