import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../local/sandbox/salesforce';
import { salesforceDemoSandbox } from '../../local/sandbox/salesforce/demo';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { createSalesforceProvider, salesforceProvider, type SalesforceConfig, type SalesforceCredentials } from '../../shared/providers/salesforce';
import type { CallContext, PullPage, PushOperation, RateLimitSignal } from '../../shared/providers/types';
import {
  collect,
  configFor,
  failure,
  freshObject,
  ids,
  pullContext,
  pullError,
  recordingFetch,
  startReceiver,
  tokenCredentials,
  type CtxOptions,
  type Receiver,
} from '../helpers/salesforce';

/** One clock for the sandbox and the provider (sessions, the deleted feed's window). */
let clock = Date.parse('2025-03-01T12:00:00Z');
const now = (): number => clock;
const provider = createSalesforceProvider({ now });
let sf: SalesforceSandbox;
let creds: SalesforceCredentials;

beforeAll(async () => {
  sf = await startSalesforceSandbox({ clockStart: '2025-03-01T00:00:00Z', now });
  creds = tokenCredentials(sf);
});
beforeEach(() => {
  creds = tokenCredentials(sf);
});
afterAll(async () => {
  await sf.close();
});

const ctx = (config: SalesforceConfig, o: CtxOptions & { credentials?: SalesforceCredentials } = {}) => pullContext(sf, config, o.credentials ?? creds, o);
const records = (pages: PullPage[]) => pages.flatMap((p) => p.records);

/** The first `n` pages of a run, then stop (as a worker that dies mid-run). */
async function firstPages(c: ReturnType<typeof ctx>, n: number): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of provider.pull(c)) {
    pages.push(page);
    if (pages.length === n) break;
  }
  return pages;
}

/** With a frozen clock the org's data clock runs ahead a second per write: catch up before timing-sensitive steps. */
function catchUp(): void {
  clock = Math.max(clock, sf.dataTime() + 60_000);
  // Sessions live two hours on the same clock.
  creds = tokenCredentials(sf);
}

describe('pull against the sandbox', () => {
  it('reads 2,500 rows in pages of 2,000 through queryAll on the instance URL, with the documented request', async () => {
    const T = freshObject(sf, 2500);
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const pages = await collect(provider, ctx(configFor([T]), { fetch: recordingFetch(sent) }));

    expect(pages.map((p) => [p.records.length, p.done])).toEqual([[2000, false], [500, true]]);
    expect(new Set(ids(pages)).size).toBe(2500);
    const stamps = records(pages).map((r) => r.updatedAt);
    expect([...stamps].sort()).toEqual(stamps);

    expect(sent.map((s) => s.url.origin)).toEqual([sf.instanceUrl, sf.instanceUrl]);
    expect(sent[0]!.url.pathname).toBe('/services/data/v62.0/queryAll/');
    expect(sent[0]!.url.searchParams.get('q')).toBe(`SELECT Id, SystemModstamp, IsDeleted, Name, Price__c FROM ${T} ORDER BY SystemModstamp ASC, Id ASC`);
    expect(sent[0]!.headers.get('authorization')).toBe(`Bearer ${creds.accessToken!}`);
    expect(sent[0]!.headers.get('sforce-query-options')).toBe('batchSize=2000');
    expect(sent[1]!.url.pathname).toMatch(/^\/services\/data\/v62\.0\/query\/01g[A-Za-z0-9]{15}-2000$/);

    const first = sf.get(T, pages[0]!.records[0]!.externalId)!;
    expect(pages[0]!.records[0]).toEqual({
      externalId: first.Id,
      entityType: T,
      updatedAt: new Date(Date.parse(first.SystemModstamp.replace('+0000', 'Z'))).toISOString(),
      deleted: false,
      data: { Id: first.Id, SystemModstamp: first.SystemModstamp, IsDeleted: false, Name: first.values.Name, Price__c: null },
    });
    expect(pages[0]!.cursor).toMatchObject({ run: { done: [], current: { object: T, phase: 'query', next: sent[1]!.url.pathname, high: stamps[1999] } } });
    expect(pages[1]!.cursor).toEqual({ objects: { [T]: { since: stamps[2499] } } });
  });

  it('resumes an interrupted run from its mid-run cursor with exactly the remaining rows', async () => {
    const T = freshObject(sf, 4100);
    const full = await collect(provider, ctx(configFor([T])));
    expect(full.map((p) => p.records.length)).toEqual([2000, 2000, 100]);
    // A run stopped after its first page (the worker died); its query locator is still open.
    const [first] = await firstPages(ctx(configFor([T])), 1);
    expect(ids([first!])).toEqual(ids(full.slice(0, 1)));
    const resumed = await collect(provider, ctx(configFor([T]), { cursor: first!.cursor }));
    expect(ids(resumed)).toEqual(ids(full.slice(1)));
    expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
    expect(sf.requests().at(-2)!.path).toBe(first!.cursor.run && (first!.cursor.run as { current: { next: string } }).current.next);
  });

  it('resuming with an expired query locator re-queries from the newest row read: nothing lost', async () => {
    const T = freshObject(sf, 4100);
    const full = await collect(provider, ctx(configFor([T])));
    await firstPages(ctx(configFor([T])), 1);
    sf.expireQueryLocators();
    const resumed = await collect(provider, ctx(configFor([T]), { cursor: full[0]!.cursor }));
    const after = ids(full.slice(1));
    // The boundary second is read again (overlapSeconds), then everything after it.
    expect(ids(resumed)).toEqual([full[0]!.records.at(-1)!.externalId, ...after]);
    expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
    expect(sf.requests().filter((r) => r.status === 400 && r.path.includes('/query/'))).not.toHaveLength(0);
  });

  it('an incremental run returns the changed row (and only the boundary second besides)', async () => {
    const T = freshObject(sf, 30);
    const cursor = (await collect(provider, ctx(configFor([T])))).at(-1)!.cursor;
    const since = (cursor.objects as Record<string, { since: string }>)[T]!.since;

    const quiet = await collect(provider, ctx(configFor([T]), { cursor }));
    expect(records(quiet).map((r) => r.updatedAt)).toEqual([since]);
    expect(quiet.at(-1)!.cursor).toEqual(cursor);

    const rows = records(await collect(provider, ctx(configFor([T]))));
    const target = rows[4]!.externalId;
    const changed = sf.update(T, target, { Name: 'Renamed', Price__c: 42 });
    const pages = await collect(provider, ctx(configFor([T]), { cursor }));
    const newer = records(pages).filter((r) => r.updatedAt > since);
    expect(newer.map((r) => r.externalId)).toEqual([target]);
    expect(newer[0]!.data).toMatchObject({ Name: 'Renamed', Price__c: 42 });
    expect(pages.at(-1)!.cursor).toEqual({ objects: { [T]: { since: newer[0]!.updatedAt } } });
    expect(changed.SystemModstamp.startsWith(newer[0]!.updatedAt.slice(0, 19))).toBe(true);
  });

  it('deletions: queryAll returns soft-deleted rows; the deleted feed catches purged ones', async () => {
    const T = freshObject(sf, 5);
    catchUp();
    const config = configFor([T], {}, { deletedFeed: true });
    const first = await collect(provider, ctx(config));
    const cursor = first.at(-1)!.cursor;
    // The first run starts following deletions from its own start; it reads no feed.
    expect(first).toHaveLength(1);
    expect((cursor.objects as Record<string, { deletedUntil?: string }>)[T]!.deletedUntil).toBe(new Date(clock).toISOString());
    const [soft, hard] = ids(first);

    clock += 10 * 60_000;
    sf.remove(T, soft!);
    sf.remove(T, hard!);
    sf.purge(T, hard!);
    clock += 5 * 60_000;
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const pages = await collect(provider, ctx(config, { cursor, fetch: recordingFetch(sent) }));

    expect(pages.map((p) => p.done)).toEqual([false, true]);
    const fromQuery = pages[0]!.records.filter((r) => r.deleted);
    expect(fromQuery.map((r) => r.externalId)).toEqual([soft]);
    expect(pages[1]!.records.map((r) => [r.externalId, r.deleted, r.entityType])).toEqual([[soft, true, T], [hard, true, T]]);
    const feed = sent[1]!.url;
    expect(feed.pathname).toBe(`/services/data/v62.0/sobjects/${T}/deleted/`);
    expect(Date.parse(feed.searchParams.get('end')!)).toBe(Math.floor(clock / 60_000) * 60_000);
    expect(pages[1]!.cursor).toMatchObject({ objects: { [T]: { deletedUntil: new Date(Math.floor(clock / 60_000) * 60_000).toISOString() } } });
  });

  it('a delete log purged past the window (INVALID_REPLICATION_DATE) drops the watermarks: the next run is full', async () => {
    const T = freshObject(sf, 3);
    catchUp();
    const config = configFor([T], {}, { deletedFeed: true });
    const cursor = (await collect(provider, ctx(config))).at(-1)!.cursor;
    clock += 5 * 60_000;
    sf.purgeDeleteLog(clock);
    clock += 5 * 60_000;
    const pages = await collect(provider, ctx(config, { cursor }));
    expect(pages.at(-1)!.cursor).toEqual({ objects: { [T]: {} } });
    expect(ids(await collect(provider, ctx(config, { cursor: pages.at(-1)!.cursor })))).toHaveLength(3);
  });

  it('several objects in turn; a cursor taken between them resumes with the next object only', async () => {
    const A = freshObject(sf, 2100);
    const B = freshObject(sf, 3);
    const full = await collect(provider, ctx(configFor([A, B])));
    expect(full.map((p) => [p.records[0]?.entityType, p.records.length, p.done])).toEqual([[A, 2000, false], [A, 100, false], [B, 3, true]]);
    expect(full[1]!.cursor).toMatchObject({ run: { done: [A] } });
    const resumed = await collect(provider, ctx(configFor([A, B]), { cursor: full[1]!.cursor }));
    expect(ids(resumed)).toEqual(ids([full[2]!]));
    expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
    expect(Object.keys(full.at(-1)!.cursor.objects as object)).toEqual([A, B]);
  });

  it('reports every response\'s Sforce-Limit-Info', async () => {
    const T = freshObject(sf, 4100);
    const signals: RateLimitSignal[] = [];
    await collect(provider, ctx(configFor([T]), { signals }));
    expect(signals).toHaveLength(3);
    expect(signals[0]!.limit).toBe(15000);
    expect(signals[1]!.remaining).toBe(signals[0]!.remaining! - 1);
  });
});

describe('pull failures map to typed errors', () => {
  it('an expired session (401 INVALID_SESSION_ID) → AuthError, token not in the message', async () => {
    const token = sf.issueAccessToken();
    sf.expireSession(token);
    const e = await pullError(provider, ctx(configFor([freshObject(sf, 1)]), { credentials: tokenCredentials(sf, token) }));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('INVALID_SESSION_ID');
    expect((e as Error).message).not.toContain(token);
  });

  it('the daily allocation spent (403 REQUEST_LIMIT_EXCEEDED) → RateLimitedError for an hour', async () => {
    const T = freshObject(sf, 1);
    const before = sf.apiUsage();
    sf.setApiUsage(before.max);
    try {
      const e = await pullError(provider, ctx(configFor([T])));
      expect(e).toBeInstanceOf(RateLimitedError);
      expect((e as RateLimitedError).retryAfterMs).toBe(3_600_000);
    } finally {
      sf.setApiUsage(before.used);
    }
  });

  it('allocation running out mid-run: pages so far are kept, and the run resumes from the last cursor', async () => {
    const T = freshObject(sf, 4100);
    const before = sf.apiUsage();
    sf.setApiUsage(before.max - 2);
    const pages: PullPage[] = [];
    try {
      expect(await pullError(provider, ctx(configFor([T])), pages)).toBeInstanceOf(RateLimitedError);
    } finally {
      sf.setApiUsage(before.used);
    }
    expect(pages.map((p) => p.records.length)).toEqual([2000, 2000]);
    const rest = await collect(provider, ctx(configFor([T]), { cursor: pages[1]!.cursor }));
    expect(new Set([...ids(pages), ...ids(rest)]).size).toBe(4100);
  });

  it('a 429 storm → RateLimitedError after Retry-After', async () => {
    sf.rateLimitStorm(1, 30);
    const e = await pullError(provider, ctx(configFor([freshObject(sf, 1)])));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(30_000);
  });

  it('a 5xx burst → RetryableError, and the retry after it succeeds', async () => {
    const T = freshObject(sf, 3);
    sf.failNext(2, 503);
    expect(await pullError(provider, ctx(configFor([T])))).toBeInstanceOf(RetryableError);
    expect(await pullError(provider, ctx(configFor([T])))).toBeInstanceOf(RetryableError);
    expect(ids(await collect(provider, ctx(configFor([T]))))).toHaveLength(3);
  });

  it('an object the org does not have (INVALID_TYPE) → UnrecoverableError', async () => {
    const e = await pullError(provider, ctx(configFor(['Nope__c'])));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).toContain('INVALID_TYPE');
  });

  it('a slow answer past the caller\'s deadline → RetryableError', async () => {
    const T = freshObject(sf, 1);
    sf.setLatency(500);
    try {
      expect(await pullError(provider, ctx(configFor([T]), { signal: AbortSignal.timeout(50) }))).toBeInstanceOf(RetryableError);
    } finally {
      sf.setLatency(0);
    }
  });
});

describe('push against the sandbox', () => {
  const push = provider.push!;
  const call = (config: SalesforceConfig): CallContext<SalesforceConfig, SalesforceCredentials> => ({ baseUrl: sf.url, config, credentials: creds, fetch });
  const op = (o: Partial<PushOperation> & Pick<PushOperation, 'op' | 'entityType'>): PushOperation => ({ payload: {}, idempotencyKey: 'k-1', ...o });

  it('create with an External ID field is an upsert on the idempotency key: a retried create finds its record', async () => {
    const T = freshObject(sf, 0);
    const config = configFor([T], {}, { externalIdField: 'Castiel_Id__c' });
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const ctxPush = { ...call(config), fetch: recordingFetch(sent) };
    const first = await push.apply(ctxPush, op({ op: 'create', entityType: T, payload: { Name: 'From Castiel', Price__c: 12, Id: 'ignored' }, idempotencyKey: 'rec-1' }));
    const again = await push.apply(ctxPush, op({ op: 'create', entityType: T, payload: { Name: 'From Castiel', Price__c: 12 }, idempotencyKey: 'rec-1' }));
    expect(again.externalId).toBe(first.externalId);
    // Each write is read back (a GET query) so the stored version is Salesforce's own SystemModstamp.
    expect(sent.filter((s) => s.body !== undefined).map((s) => [s.url.pathname, JSON.parse(s.body!) as unknown])).toEqual([
      [`/services/data/v62.0/sobjects/${T}/Castiel_Id__c/rec-1`, { Name: 'From Castiel', Price__c: 12 }],
      [`/services/data/v62.0/sobjects/${T}/Castiel_Id__c/rec-1`, { Name: 'From Castiel', Price__c: 12 }],
    ]);
    expect(sf.get(T, first.externalId)!.values).toMatchObject({ Name: 'From Castiel', Price__c: 12, Castiel_Id__c: 'rec-1' });
    expect(ids(await collect(provider, ctx(config)))).toEqual([first.externalId]);
  });

  it('an idempotency key unfit for a URL is hashed, the same way every time', async () => {
    const T = freshObject(sf, 0);
    const config = configFor([T], {}, { externalIdField: 'Castiel_Id__c' });
    const a = await push.apply(call(config), op({ op: 'create', entityType: T, payload: { Name: 'x' }, idempotencyKey: 'tenant/a b?c' }));
    const b = await push.apply(call(config), op({ op: 'create', entityType: T, payload: { Name: 'x' }, idempotencyKey: 'tenant/a b?c' }));
    expect(b.externalId).toBe(a.externalId);
    expect(sf.get(T, a.externalId)!.values.Castiel_Id__c).toMatch(/^[0-9a-f]{64}$/);
  });

  it('create without an External ID field POSTs; update PATCHes and moves SystemModstamp; delete is idempotent', async () => {
    const T = freshObject(sf, 0);
    const config = configFor([T]);
    const created = await push.apply(call(config), op({ op: 'create', entityType: T, payload: { Name: 'Plain' } }));
    expect(sf.get(T, created.externalId)!.values.Name).toBe('Plain');
    const stamp = sf.get(T, created.externalId)!.SystemModstamp;

    clock += 1000;
    expect(await push.apply(call(config), op({ op: 'update', entityType: T, externalId: created.externalId, payload: { Price__c: 9 } }))).toMatchObject({ externalId: created.externalId });
    const updated = sf.get(T, created.externalId)!;
    expect(updated.values).toMatchObject({ Name: 'Plain', Price__c: 9 });
    expect(updated.SystemModstamp > stamp).toBe(true);

    await push.apply(call(config), op({ op: 'delete', entityType: T, externalId: created.externalId }));
    expect(sf.get(T, created.externalId)!.IsDeleted).toBe(true);
    // A redelivered delete (ENTITY_IS_DELETED) and one for a record that never existed (NOT_FOUND) both succeed.
    await push.apply(call(config), op({ op: 'delete', entityType: T, externalId: created.externalId }));
    await push.apply(call(config), op({ op: 'delete', entityType: T, externalId: 'a015e0000999999AAA' }));
  });

  it('refusals are UnrecoverableErrors with the reason', async () => {
    const T = freshObject(sf, 0);
    const config = configFor([T]);
    const missing = await failure(() => push.apply(call(config), op({ op: 'create', entityType: T, payload: { Price__c: 1 } })));
    expect(missing).toBeInstanceOf(UnrecoverableError);
    expect((missing as Error).message).toContain('REQUIRED_FIELD_MISSING');
    expect(await failure(() => push.apply(call(config), op({ op: 'create', entityType: 'Account', payload: { Name: 'x' } })))).toBeInstanceOf(UnrecoverableError);
    expect(await failure(() => push.apply(call(config), op({ op: 'update', entityType: T, payload: { Name: 'x' } })))).toBeInstanceOf(UnrecoverableError);
    expect(await failure(() => push.apply(call(config), op({ op: 'create', entityType: T, payload: { 'Name; DELETE': 'x' } })))).toBeInstanceOf(UnrecoverableError);
  });
});

describe('sandbox deliveries verify with the Salesforce scheme', () => {
  const SECRET = `whsec_${Buffer.from('sandbox-callout-secret-32-bytes!').toString('base64')}`;
  let receiver: Receiver;
  let config: SalesforceConfig;
  let T: string;

  beforeAll(async () => {
    T = freshObject(sf, 3);
    config = configFor([T], { organizationId: sf.organizationId });
    receiver = await startReceiver(provider.webhook!, () => ({ config, secrets: [SECRET], now: new Date(), jwks: () => Promise.resolve([]) }));
  });
  afterAll(() => receiver.close());

  it('an Outbound Message of three records is acknowledged; each Notification Id is one event', async () => {
    const rows = ids(await collect(provider, ctx(configFor([T]))));
    const result = await sf.deliverOutboundMessage({ url: receiver.url, records: rows.map((id) => ({ type: T, id })), fields: ['Name'] });
    expect(result).toMatchObject({ status: 200, acked: true });
    expect(receiver.verdicts.at(-1)).toMatchObject({
      kind: 'accept',
      events: result.notificationIds.map((id) => ({ deliveryId: id, event: `outbound_message.${T}` })),
    });
    // Salesforce's retry carries the same Notification Ids: the same dedupe keys.
    const retry = await sf.deliverOutboundMessage({ url: receiver.url, records: rows.map((id) => ({ type: T, id })), notificationIds: result.notificationIds });
    expect(retry.acked).toBe(true);
    expect(receiver.verdicts.at(-1)).toMatchObject({ kind: 'accept', events: result.notificationIds.map((id) => ({ deliveryId: id })) });
  });

  it('refuses another org\'s message and one carrying a session id: not acknowledged', async () => {
    const id = ids(await collect(provider, ctx(configFor([T]))))[0]!;
    expect(await sf.deliverOutboundMessage({ url: receiver.url, records: [{ type: T, id }], organizationId: '00D5e000000Zzz9AAA' })).toMatchObject({ status: 401, acked: false });
    expect(await sf.deliverOutboundMessage({ url: receiver.url, records: [{ type: T, id }], sessionId: sf.issueAccessToken() })).toMatchObject({ status: 400, acked: false });
  });

  it('signed callouts: accepted, ping answered, wrong secret / stale timestamp refused, rotation honoured', async () => {
    const payload = readFileSync(join(__dirname, '..', 'fixtures', 'salesforce', 'callout.record-changed.json'), 'utf8');
    const ok = await sf.deliverCallout({ url: receiver.url, secret: SECRET, payload });
    expect(ok.status).toBe(202);
    expect(receiver.verdicts.at(-1)).toEqual({ kind: 'accept', events: [{ deliveryId: ok.id, event: 'callout.record.changed' }] });
    expect((await sf.deliverCallout({ url: receiver.url, secret: SECRET, payload: { type: 'ping' } })).status).toBe(200);
    expect((await sf.deliverCallout({ url: receiver.url, secret: 'whsec_d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc=', payload })).status).toBe(401);
    expect((await sf.deliverCallout({ url: receiver.url, secret: SECRET, payload, timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    const rotating = await sf.deliverCallout({ url: receiver.url, secret: ['whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=', SECRET], payload, id: 'msg_fixed' });
    expect(rotating.status).toBe(202);
    expect(receiver.verdicts.at(-1)).toMatchObject({ events: [{ deliveryId: 'msg_fixed' }] });
  });
});

describe('the npm start demo', () => {
  /** Runs a curl command line from demoWebhook with fetch, byte for byte. */
  async function replay(curl: string): Promise<number> {
    const unquote = (q: string): string => q.slice(1, -1).replace(/'\\''/g, "'");
    const headers = [...curl.matchAll(/-H ('(?:[^']|'\\'')*')/g)].map((m) => unquote(m[1]!));
    const body = unquote(/--data-binary ('(?:[^']|'\\'')*')$/.exec(curl)![1]!);
    const url = /curl -i -X POST (\S+)/.exec(curl)![1]!;
    const res = await fetch(url, { method: 'POST', body, headers: Object.fromEntries(headers.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 2)])) });
    return res.status;
  }

  it('seeds an integration that validates and pulls with a static token, and curls that verify (signed) and fail (tampered)', async () => {
    const demo = await salesforceDemoSandbox();
    try {
      const { integrationId, body } = demo.demoIntegration();
      expect(integrationId).toBe('demo-salesforce');
      const config = salesforceProvider.configSchema.parse(body.config);
      const credentials = salesforceProvider.credentialsSchema.parse(body.credentials);
      expect(credentials.type).toBe('token');
      const pages = await collect(salesforceProvider, { baseUrl: body.baseUrl, config, credentials, cursor: undefined, fetch });
      expect(pages.map((p) => [p.records[0]?.entityType, p.records.length])).toEqual([['Account', 60], ['Contact', 150]]);

      const hook = await startReceiver(salesforceProvider.webhook!, () => ({ config, secrets: [body.webhookSecret!], now: new Date(), jwks: () => Promise.resolve([]) }));
      try {
        const curl = demo.demoWebhook!(hook.url);
        expect(await replay(curl.signed)).toBe(202);
        expect(await replay(curl.tampered)).toBe(401);
      } finally {
        await hook.close();
      }
    } finally {
      await demo.close();
    }
  });
});
