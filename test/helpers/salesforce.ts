/** Helpers for driving the Salesforce provider against its sandbox in tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SalesforceSandbox } from '../../local/sandbox/salesforce';
import type { SalesforceConfig, SalesforceCredentials } from '../../shared/providers/salesforce';
import type { Cursor, ProviderDefinition, PullContext, PullPage, RateLimitSignal, WebhookContext, WebhookScheme, WebhookVerdict } from '../../shared/providers/types';

export type SalesforceDefinition = ProviderDefinition<SalesforceConfig, SalesforceCredentials>;

export interface CtxOptions {
  cursor?: Cursor;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  signals?: RateLimitSignal[];
}

let objectSeq = 0;

/** A fresh custom object per test, so tests never see each other's rows. */
export function freshObject(sf: SalesforceSandbox, n: number, name = `Widget${++objectSeq}__c`): string {
  sf.defineObject({ name, keyPrefix: 'a01', fields: ['Name', 'Price__c', 'Castiel_Id__c'], required: ['Name'], externalIdFields: ['Castiel_Id__c'] });
  if (n > 0) sf.seed(name, n);
  return name;
}

export function configFor(objects: string[], extra: Partial<SalesforceConfig> = {}, objectExtra: Partial<SalesforceConfig['objects'][number]> = {}): SalesforceConfig {
  return {
    apiVersion: '62.0',
    overlapSeconds: 1,
    objects: objects.map((name) => ({ name, fields: ['Name', 'Price__c'], ...objectExtra })),
    ...extra,
  };
}

export function tokenCredentials(sf: SalesforceSandbox, token?: string): SalesforceCredentials {
  return { type: 'token', accessToken: token ?? sf.issueAccessToken(), instanceUrl: sf.instanceUrl };
}

export function pullContext(
  sf: SalesforceSandbox,
  config: SalesforceConfig,
  credentials: SalesforceCredentials,
  o: CtxOptions = {},
): PullContext<SalesforceConfig, SalesforceCredentials> {
  const c: PullContext<SalesforceConfig, SalesforceCredentials> = { baseUrl: sf.url, config, credentials, cursor: o.cursor, fetch: o.fetch ?? fetch };
  if (o.signal) c.signal = o.signal;
  const signals = o.signals;
  if (signals) c.onRateLimit = (s) => signals.push(s);
  return c;
}

export async function collect(provider: SalesforceDefinition, c: PullContext<SalesforceConfig, SalesforceCredentials>): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of provider.pull(c)) pages.push(page);
  return pages;
}

/** Runs the pull expecting it to throw; pages read before the failure land in `pages`. */
export async function pullError(provider: SalesforceDefinition, c: PullContext<SalesforceConfig, SalesforceCredentials>, pages: PullPage[] = []): Promise<unknown> {
  try {
    for await (const page of provider.pull(c)) pages.push(page);
  } catch (e) {
    return e;
  }
  throw new Error('expected the pull to fail');
}

export const ids = (pages: PullPage[]): string[] => pages.flatMap((p) => p.records.map((r) => r.externalId));

export async function failure(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

export function urlOf(input: string | URL | Request): URL {
  return new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
}

/** A fetch that records every request (URL, headers, body text) before sending it. */
export function recordingFetch(sent: { url: URL; headers: Headers; body: string | undefined }[]): typeof fetch {
  return (input, init) => {
    sent.push({ url: urlOf(input), headers: new Headers(init?.headers), body: typeof init?.body === 'string' ? init.body : undefined });
    return fetch(input, init);
  };
}

export interface Receiver {
  url: string;
  verdicts: WebhookVerdict[];
  close(): Promise<void>;
}

/** A minimal webhook endpoint: raw bytes in, the scheme's verdict out (202 on accept unless it has a reply). */
export async function startReceiver(scheme: WebhookScheme<SalesforceConfig>, ctx: () => WebhookContext<SalesforceConfig>): Promise<Receiver> {
  const verdicts: WebhookVerdict[] = [];
  let url = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const header = (n: string): string | undefined => {
        const v = req.headers[n.toLowerCase()];
        return Array.isArray(v) ? v[0] : v;
      };
      void Promise.resolve(scheme.verify({ rawBody: Buffer.concat(chunks), header, url }, ctx())).then((verdict) => {
        verdicts.push(verdict);
        if (verdict.kind === 'reject') res.writeHead(verdict.status).end(verdict.reason);
        else if (verdict.kind === 'accept' && !verdict.reply) res.writeHead(202).end();
        else {
          const reply = verdict.kind === 'accept' ? verdict.reply! : verdict.reply;
          res.writeHead(reply.status, { 'content-type': reply.contentType }).end(reply.body);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/webhooks/salesforce/int-1`;
  return {
    url,
    verdicts,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
