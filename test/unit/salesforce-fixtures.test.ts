/** The provider over Salesforce's documented payloads (test/fixtures/salesforce), served by a fake fetch. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError } from '../../shared/errors';
import { createSalesforceProvider, type SalesforceConfig, type SalesforceCredentials } from '../../shared/providers/salesforce';
import type { PullPage } from '../../shared/providers/types';

const FIXTURES = join(__dirname, '..', 'fixtures', 'salesforce');
const fixture = (file: string): string => readFileSync(join(FIXTURES, file), 'utf8');
const NOW = Date.parse('2013-05-08T22:05:30Z');
const provider = createSalesforceProvider({ now: () => NOW });
const INSTANCE = 'https://acme.my.salesforce.com';
const creds: SalesforceCredentials = { type: 'token', accessToken: '00Dxx0000001gPL!AR8AQ', instanceUrl: INSTANCE };

interface Seen {
  url: URL;
  method: string;
  body: string | undefined;
}

/** Answers requests in order with the given fixture files, recording what was asked. */
function serving(files: { file: string; status?: number }[], seen: Seen[]): typeof fetch {
  let i = 0;
  return (input, init) => {
    seen.push({ url: new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url), method: init?.method ?? 'GET', body: typeof init?.body === 'string' ? init.body : undefined });
    const next = files[i++];
    if (!next) return Promise.reject(new Error('unexpected request'));
    return Promise.resolve(new Response(fixture(next.file), { status: next.status ?? 200, headers: { 'content-type': 'application/json', 'sforce-limit-info': 'api-usage=10/15000' } }));
  };
}

const config = (extra: Partial<SalesforceConfig['objects'][number]> = {}): SalesforceConfig => ({
  apiVersion: '62.0',
  overlapSeconds: 1,
  objects: [{ name: 'Account', fields: ['Name', 'Owner.Name'], ...extra }],
});

describe('queryAll pages', () => {
  it('follow nextRecordsUrl, drop `attributes` at every level, and read IsDeleted as a deletion', async () => {
    const seen: Seen[] = [];
    const pages: PullPage[] = [];
    const fetch = serving([{ file: 'query-all.page1.json' }, { file: 'query-all.page2.json' }], seen);
    for await (const page of provider.pull({ baseUrl: 'https://login.salesforce.com', config: config(), credentials: creds, cursor: undefined, fetch })) pages.push(page);

    expect(seen.map((s) => s.url.origin + s.url.pathname)).toEqual([`${INSTANCE}/services/data/v62.0/queryAll/`, `${INSTANCE}/services/data/v62.0/query/01gD0000002HU6KIAW-2000`]);
    expect(seen[0]!.url.searchParams.get('q')).toBe('SELECT Id, SystemModstamp, IsDeleted, Name, Owner.Name FROM Account ORDER BY SystemModstamp ASC, Id ASC');
    expect(pages[0]!.records[0]).toEqual({
      externalId: '001D000000IRFmaIAH',
      entityType: 'Account',
      updatedAt: '2024-05-02T09:15:00.000Z',
      deleted: false,
      data: { Id: '001D000000IRFmaIAH', SystemModstamp: '2024-05-02T09:15:00.000+0000', IsDeleted: false, Name: 'Test 1', Owner: { Name: 'Admin User' } },
    });
    expect(pages[1]!.records.map((r) => [r.externalId, r.deleted])).toEqual([['001D000000IqhSLIAZ', true]]);
    expect(pages.map((p) => p.done)).toEqual([false, true]);
    expect(pages[1]!.cursor).toEqual({ objects: { Account: { since: '2024-05-03T17:40:12.000Z' } } });
  });
});

describe('sObject Get Deleted', () => {
  it('lists deletions in the window and moves the watermark to latestDateCovered', async () => {
    const seen: Seen[] = [];
    const fetch = serving([{ file: 'query-all.page2.json' }, { file: 'sobject-deleted.json' }], seen);
    const cursor = { objects: { Account: { since: '2013-05-01T00:00:00.000Z', deletedUntil: '2013-05-07T00:00:30.000Z' } } };
    const pages: PullPage[] = [];
    for await (const page of provider.pull({ baseUrl: 'https://login.salesforce.com', config: config({ deletedFeed: true }), credentials: creds, cursor, fetch })) pages.push(page);

    const feed = seen[1]!.url;
    expect(feed.pathname).toBe('/services/data/v62.0/sobjects/Account/deleted/');
    // Seconds are ignored by the API: both ends are whole minutes.
    expect(Object.fromEntries(feed.searchParams)).toEqual({ start: '2013-05-07T00:00:00.000Z', end: '2013-05-08T22:05:00.000Z' });
    expect(pages[1]!.records).toEqual([{ externalId: 'a00D0000008pQRAIA2', entityType: 'Account', updatedAt: '2013-05-07T22:07:19.000Z', deleted: true, data: { Id: 'a00D0000008pQRAIA2' } }]);
    expect(pages[1]!.cursor).toEqual({ objects: { Account: { since: '2024-05-03T17:40:12.000Z', deletedUntil: '2013-05-08T21:20:00.000Z' } } });
  });
});

describe('token responses', () => {
  const base = { baseUrl: 'https://login.salesforce.com', config: config() };

  it('web-server flow: access and refresh token, instance URL, issued_at', async () => {
    const seen: Seen[] = [];
    const credentials = await provider.auth!.oauth!.exchangeCode({ ...base, fetch: serving([{ file: 'token.web-server.json' }], seen) }, { clientId: 'cid', clientSecret: 'cs', redirectUri: 'https://castiel.example/cb' }, { code: 'aPrx', codeVerifier: 'v' });
    expect(credentials).toEqual({
      type: 'oauth', clientId: 'cid', clientSecret: 'cs',
      accessToken: '00DB0000000TfcR!AQQAQFhoK8vTMg_rKA.esrJ2bCs.OOIjJgl.9Cx6O7KqjZmHMLOyVb.U61BU9tm4xRusf7d3fD1P9oefzqS6i9sJMPWj48IK',
      refreshToken: '5Aep861KIwKdekr90I4iHdtDgWwRoG7O_6uHrgJ.yVtMS-UmGjRYyqTXJZ_6BWoNCZAF0K1SWJj1Ytss7TBCtYl',
      // Hosts are case-insensitive: the origin is stored lowercased.
      instanceUrl: 'https://yourinstance.salesforce.com', issuedAt: 1558553873237,
    });
    expect(seen[0]!.url.href).toBe('https://login.salesforce.com/services/oauth2/token');
  });

  it('refresh without rotation keeps the stored refresh token', async () => {
    const stored: SalesforceCredentials = { type: 'oauth', clientId: 'cid', clientSecret: 'cs', accessToken: 'old', refreshToken: 'keep-me', instanceUrl: 'https://MyDomainName.my.salesforce.com', issuedAt: 1 };
    const refreshed = await provider.auth!.refresh!({ ...base, fetch: serving([{ file: 'token.refresh.json' }], []) }, stored);
    expect(refreshed).toMatchObject({ refreshToken: 'keep-me', issuedAt: 1278448384422, instanceUrl: 'https://mydomainname.my.salesforce.com' });
    expect(refreshed.accessToken).toMatch(/^00DD0000000FH8l!/);
  });

  it('JWT bearer: no issued_at in the response → issued now; invalid_grant → AuthError', async () => {
    const jwt: SalesforceCredentials = { type: 'jwt', clientId: 'cid', username: 'u@example.com', privateKey: (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    expect(await provider.auth!.refresh!({ ...base, fetch: serving([{ file: 'token.jwt-bearer.json' }], []) }, jwt)).toMatchObject({ issuedAt: NOW, instanceUrl: 'https://mydomainname.my.salesforce.com' });
    await expect(provider.auth!.refresh!({ ...base, fetch: serving([{ file: 'token.invalid-grant.json', status: 400 }], []) }, jwt)).rejects.toBeInstanceOf(AuthError);
  });
});

describe('save results', () => {
  const push = provider.push!;
  const ctx = (files: { file: string; status?: number }[], seen: Seen[]) => ({ baseUrl: 'https://login.salesforce.com', config: config({ externalIdField: 'Castiel_Id__c' }), credentials: creds, fetch: serving(files, seen) });

  it.each([
    ['upsert.created.json', 201, '00190000001pPvHAAU'],
    ['upsert.updated.json', 200, '001D000000Kv3g5IAB'],
  ])('%s gives the record id', async (file, status, id) => {
    const seen: Seen[] = [];
    // The save, then the read-back that gives Salesforce's own SystemModstamp as the stored version.
    const result = await push.apply(ctx([{ file, status }, { file: 'query-all.page2.json' }], seen), { op: 'create', entityType: 'Account', payload: { Name: 'x', Castiel_Id__c: 'ignored' }, idempotencyKey: 'rec-9' });
    expect(result).toMatchObject({ externalId: id, version: expect.any(String) as unknown });
    expect(seen[0]).toMatchObject({ method: 'PATCH', body: '{"Name":"x"}' });
    expect(seen[0]!.url.pathname).toBe('/services/data/v62.0/sobjects/Account/Castiel_Id__c/rec-9');
    expect(seen[1]).toMatchObject({ method: 'GET' });
    expect(seen[1]!.url.searchParams.get('q')).toBe(`SELECT Id, SystemModstamp, IsDeleted, Name, Owner.Name FROM Account WHERE Id = '${id}'`);
  });

  it('create.json (POST without an External ID field)', async () => {
    const seen: Seen[] = [];
    const c = { ...ctx([{ file: 'create.json', status: 201 }, { file: 'query-all.page2.json' }], seen), config: config() };
    expect(await push.apply(c, { op: 'create', entityType: 'Account', payload: { Name: 'x' }, idempotencyKey: 'k' })).toMatchObject({ externalId: '001D000000IqhSLIAZ' });
    expect(seen[0]).toMatchObject({ method: 'POST' });
  });

  it('a delete answered ENTITY_IS_DELETED counts as done', async () => {
    const c = ctx([{ file: 'error.entity-is-deleted.json', status: 404 }], []);
    expect(await push.apply(c, { op: 'delete', entityType: 'Account', externalId: '001D000000IqhSLIAZ', payload: {}, idempotencyKey: 'k' })).toEqual({ externalId: '001D000000IqhSLIAZ' });
  });
});
