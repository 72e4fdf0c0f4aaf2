/** Helpers for driving the Slack provider against its sandbox in tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { slackProvider, type SlackConfig, type SlackCredentials } from '../../shared/providers/slack';
import type { CallContext, Cursor, PullContext, PullPage, RateLimitSignal, WebhookVerdict } from '../../shared/providers/types';

export interface SlackCtxOptions {
  cursor?: Cursor;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  signals?: RateLimitSignal[];
}

export function slackPullContext(
  baseUrl: string,
  config: SlackConfig,
  credentials: SlackCredentials,
  o: SlackCtxOptions = {},
): PullContext<SlackConfig, SlackCredentials> {
  const c: PullContext<SlackConfig, SlackCredentials> = { baseUrl, config, credentials, cursor: o.cursor, fetch: o.fetch ?? fetch };
  if (o.signal) c.signal = o.signal;
  const signals = o.signals;
  if (signals) c.onRateLimit = (s) => signals.push(s);
  return c;
}

export function slackCallContext(baseUrl: string, config: SlackConfig, credentials: SlackCredentials): CallContext<SlackConfig, SlackCredentials> {
  return { baseUrl, config, credentials, fetch };
}

export async function collectSlack(c: PullContext<SlackConfig, SlackCredentials>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of slackProvider.pull(c)) pages.push(page);
  return pages;
}

/** Runs the pull expecting it to throw; pages read before the failure land in `pages`. */
export async function slackPullError(c: PullContext<SlackConfig, SlackCredentials>, pages: PullPage[] = []): Promise<unknown> {
  try {
    for await (const page of slackProvider.pull(c)) pages.push(page);
  } catch (e) {
    return e;
  }
  throw new Error('expected the pull to fail');
}

/** Resolves with what `fn` rejects with; fails the test when it resolves. */
export async function rejectionOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

export const recordIds = (pages: PullPage[]): string[] => pages.flatMap((p) => p.records.map((r) => r.externalId));

export interface ReceivedDelivery {
  rawBody: Buffer;
  headers: Record<string, string>;
  verdict: WebhookVerdict;
  status: number;
}

export interface SlackReceiver {
  url: string;
  received: ReceivedDelivery[];
  /** The next `n` deliveries are answered `status` whatever the verdict (a failing app). */
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

/** A minimal webhook receiver: raw bytes in, the Slack scheme's verdict out (as the status). */
export async function startSlackReceiver(secrets: readonly string[], config: SlackConfig): Promise<SlackReceiver> {
  const received: ReceivedDelivery[] = [];
  let failures: number[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      void Promise.resolve(
        slackProvider.webhook!.verify(
          { rawBody, header: (n) => headers[n.toLowerCase()], url },
          { secrets, config, now: new Date(), jwks: () => Promise.resolve([]) },
        ),
      ).then((verdict) => {
        const forced = failures.shift();
        const status = forced ?? (verdict.kind === 'reject' ? verdict.status : verdict.kind === 'accept' ? 202 : verdict.kind === 'respond' ? verdict.reply.status : 200);
        received.push({ rawBody, headers, verdict, status });
        res.writeHead(status, { 'content-type': verdict.kind === 'respond' ? verdict.reply.contentType : 'application/json' });
        res.end(verdict.kind === 'respond' ? verdict.reply.body : '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/slack/int-1`;
  return {
    url,
    received,
    failNext: (n, status) => {
      failures = [...failures, ...Array.from({ length: n }, () => status)];
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
