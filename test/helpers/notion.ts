/** Helpers for driving the Notion provider against its sandbox in tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { notionProvider, type NotionConfig, type NotionCredentials } from '../../shared/providers/notion';
import type { CallContext, Cursor, PullContext, PullPage, RateLimitSignal, WebhookVerdict } from '../../shared/providers/types';

export interface NotionCtxOptions {
  cursor?: Cursor;
  credentials?: NotionCredentials;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  signals?: RateLimitSignal[];
}

export function notionCtx(baseUrl: string, config: NotionConfig, token: string, o: NotionCtxOptions = {}): PullContext<NotionConfig, NotionCredentials> {
  const c: PullContext<NotionConfig, NotionCredentials> = {
    baseUrl,
    config,
    credentials: o.credentials ?? { type: 'internal', token },
    cursor: o.cursor,
    fetch: o.fetch ?? fetch,
  };
  if (o.signal) c.signal = o.signal;
  const signals = o.signals;
  if (signals) c.onRateLimit = (s) => signals.push(s);
  return c;
}

export function callCtx(baseUrl: string, config: NotionConfig, credentials: NotionCredentials): CallContext<NotionConfig, NotionCredentials> {
  return { baseUrl, config, credentials, fetch };
}

export async function collectNotion(c: PullContext<NotionConfig, NotionCredentials>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of notionProvider.pull(c)) pages.push(page);
  return pages;
}

/** Runs the pull expecting it to throw; pages read before the failure land in `pages`. */
export async function notionPullError(c: PullContext<NotionConfig, NotionCredentials>, pages: PullPage[] = []): Promise<unknown> {
  try {
    for await (const page of notionProvider.pull(c)) pages.push(page);
  } catch (e) {
    return e;
  }
  throw new Error('expected the pull to fail');
}

/** Expects the promise to reject and returns what it rejected with. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

export const recordIds = (pages: PullPage[]): string[] => pages.flatMap((p) => p.records.map((r) => r.externalId));

/** A fetch that records each request's URL, headers and JSON body before sending it. */
export function spyFetch(sent: { url: string; headers: Headers; body: unknown }[]): typeof fetch {
  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    sent.push({ url, headers: new Headers(init?.headers), body });
    return fetch(input, init);
  };
}

/**
 * A minimal webhook receiver in front of the Notion scheme: raw bytes in,
 * verdict out. It plays the core's part for the handshake (stores the secret
 * only while none is set) and can be told to fail the next attempts.
 */
export interface NotionReceiver {
  url: string;
  secrets: string[];
  verdicts: WebhookVerdict[];
  bodies: string[];
  failNext: number;
  close(): Promise<void>;
}

export async function startNotionReceiver(): Promise<NotionReceiver> {
  const state = { secrets: [] as string[], verdicts: [] as WebhookVerdict[], bodies: [] as string[], failNext: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      state.bodies.push(rawBody.toString('utf8'));
      if (state.failNext > 0) {
        state.failNext--;
        res.writeHead(503).end();
        return;
      }
      const header = (n: string): string | undefined => {
        const v = req.headers[n.toLowerCase()];
        return Array.isArray(v) ? v[0] : v;
      };
      void Promise.resolve(
        notionProvider.webhook!.verify(
          { rawBody, header, url: 'http://receiver.test/api/webhooks/notion/int-1' },
          { secrets: state.secrets, config: { dataSourceId: '00000000000040008000000000000000' }, now: new Date(), jwks: () => Promise.resolve([]) },
        ),
      ).then((verdict) => {
        state.verdicts.push(verdict);
        if (verdict.kind === 'store-secret') {
          if (state.secrets.length > 0) return res.writeHead(409).end();
          state.secrets.push(verdict.secret);
          return res.writeHead(verdict.reply.status).end(verdict.reply.body);
        }
        const status = verdict.kind === 'reject' ? verdict.status : verdict.kind === 'accept' ? 202 : verdict.reply.status;
        return res.writeHead(status).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/notion/int-1`;
  return Object.assign(state, {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}
