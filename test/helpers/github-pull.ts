/** Helpers for driving the GitHub provider's pull against a sandbox in tests. */
import { githubProvider, type GithubConfig, type GithubCredentials } from '../../shared/providers/github';
import type { Cursor, PullContext, PullPage, RateLimitSignal } from '../../shared/providers/types';

export interface CtxOptions {
  cursor?: Cursor;
  token?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  signals?: RateLimitSignal[];
}

export function pullContext(
  baseUrl: string,
  config: GithubConfig,
  token: string,
  o: CtxOptions = {},
): PullContext<GithubConfig, GithubCredentials> {
  const c: PullContext<GithubConfig, GithubCredentials> = {
    baseUrl,
    config,
    credentials: { type: 'token', token: o.token ?? token },
    cursor: o.cursor,
    fetch: o.fetch ?? fetch,
  };
  if (o.signal) c.signal = o.signal;
  const signals = o.signals;
  if (signals) c.onRateLimit = (s) => signals.push(s);
  return c;
}

export async function collect(c: PullContext<GithubConfig, GithubCredentials>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of githubProvider.pull(c)) pages.push(page);
  return pages;
}

/** Runs the pull expecting it to throw; pages read before the failure land in `pages`. */
export async function pullError(c: PullContext<GithubConfig, GithubCredentials>, pages: PullPage[] = []): Promise<unknown> {
  try {
    for await (const page of githubProvider.pull(c)) pages.push(page);
  } catch (e) {
    return e;
  }
  throw new Error('expected the pull to fail');
}

export const ids = (pages: PullPage[]): string[] => pages.flatMap((p) => p.records.map((r) => r.externalId));

export function urlOf(input: string | URL | Request): URL {
  return new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
}
