/** Helpers for driving the Google provider against its sandbox in tests. */
import { createGoogleProvider, type GoogleConfig, type GoogleCredentials } from '../../shared/providers/google';
import type { GoogleRuntime } from '../../shared/providers/google';
import type { Cursor, ProviderDefinition, PullContext, PullPage, RateLimitSignal } from '../../shared/providers/types';

export const TOKEN = 'ya29.sandbox-test-token';
export const DRIVE: GoogleConfig = { drive: {} };
export const CALENDAR: GoogleConfig = { calendar: { calendarId: 'primary' } };
export const BOTH: GoogleConfig = { drive: {}, calendar: { calendarId: 'primary' } };

/** No in-process retries and no waiting: every failure surfaces at once. */
export const noRetry = createGoogleProvider({ maxRetries: 0, sleep: () => Promise.resolve() });

export function oauth(token = TOKEN): GoogleCredentials {
  return { type: 'oauth', clientId: 'client', clientSecret: 'secret', accessToken: token };
}

export interface CtxOptions {
  cursor?: Cursor;
  credentials?: GoogleCredentials;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  signals?: RateLimitSignal[];
}

export function pullContext(baseUrl: string, config: GoogleConfig, o: CtxOptions = {}): PullContext<GoogleConfig, GoogleCredentials> {
  const c: PullContext<GoogleConfig, GoogleCredentials> = { baseUrl, config, credentials: o.credentials ?? oauth(), cursor: o.cursor, fetch: o.fetch ?? fetch };
  if (o.signal) c.signal = o.signal;
  const signals = o.signals;
  if (signals) c.onRateLimit = (s) => signals.push(s);
  return c;
}

type Provider = ProviderDefinition<GoogleConfig, GoogleCredentials>;

export async function collect(c: PullContext<GoogleConfig, GoogleCredentials>, provider: Provider = noRetry): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of provider.pull(c)) pages.push(page);
  return pages;
}

/** Runs the pull expecting it to throw; pages read before the failure land in `pages`. */
export async function pullError(c: PullContext<GoogleConfig, GoogleCredentials>, pages: PullPage[] = [], provider: Provider = noRetry): Promise<unknown> {
  try {
    for await (const page of provider.pull(c)) pages.push(page);
  } catch (e) {
    return e;
  }
  throw new Error('expected the pull to fail');
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

export const ids = (pages: PullPage[]): string[] => pages.flatMap((p) => p.records.map((r) => r.externalId));
export const records = (pages: PullPage[]) => pages.flatMap((p) => p.records);

/** A runtime whose sleeps are recorded, not waited. */
export function recordingRuntime(sleeps: number[], overrides: Partial<GoogleRuntime> = {}): Partial<GoogleRuntime> {
  return {
    random: () => 0,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...overrides,
  };
}

export function urlOf(input: string | URL | Request): URL {
  return new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
}
