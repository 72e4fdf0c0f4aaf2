/**
 * The docs' payloads (test/fixtures/google) through the provider's real code
 * paths: a fake fetch answers each request with a recorded body.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError } from '../../shared/errors';
import { createGoogleProvider, type GoogleConfig, type GoogleCredentials } from '../../shared/providers/google';
import type { PullPage } from '../../shared/providers/types';

const DIR = join(__dirname, '..', 'fixtures', 'google');
const body = (name: string): string => readFileSync(join(DIR, name), 'utf8');
const NOW = Date.parse('2024-06-01T00:00:00Z');
const provider = createGoogleProvider({ now: () => NOW, maxRetries: 0 });
const OAUTH: GoogleCredentials = { type: 'oauth', clientId: 'c', clientSecret: 's', accessToken: 'ya29.x', refreshToken: '1//old' };

/** The request body as sent (every body here is a string). */
function sent(init: RequestInit | undefined): string {
  if (typeof init?.body !== 'string') throw new Error('expected a string body');
  return init.body;
}

/** Serves the named fixtures in order and records what was asked. */
function replay(...answers: (string | { status: number; file: string })[]) {
  const asked: { url: URL; init: RequestInit | undefined }[] = [];
  const fetchFn: typeof fetch = (input, init) => {
    asked.push({ url: new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url), init });
    const a = answers[asked.length - 1];
    if (a === undefined) return Promise.reject(new Error('unexpected request'));
    const { status, file } = typeof a === 'string' ? { status: 200, file: a } : a;
    return Promise.resolve(new Response(body(file), { status, headers: { 'content-type': 'application/json' } }));
  };
  return { fetchFn, asked };
}

async function pull(config: GoogleConfig, cursor: Record<string, unknown>, fetchFn: typeof fetch): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const p of provider.pull({ baseUrl: 'https://www.googleapis.com', config, credentials: OAUTH, cursor, fetch: fetchFn })) pages.push(p);
  return pages;
}

describe('Drive changes.list answers', () => {
  it('a file change, a removal, a shared-drive change (skipped), a trashed file; newStartPageToken is the next cursor', async () => {
    const { fetchFn, asked } = replay('drive-changes-list.json', 'drive-changes-last-page.json');
    const pages = await pull({ drive: {} }, { drive: { mode: 'changes', driveId: null, pageToken: '1234' } }, fetchFn);
    expect(asked.map((a) => a.url.searchParams.get('pageToken'))).toEqual(['1234', '1236']);
    expect(asked[0]!.url.href.startsWith('https://www.googleapis.com/drive/v3/changes?')).toBe(true);
    expect(pages.map((p) => p.records.map((r) => [r.externalId, r.deleted, r.updatedAt]))).toEqual([
      [['1Hb3bJ7qPfVY0hbe6QOZS4r9Xg7cQpPgA', false, '2024-03-05T10:15:27.123Z'], ['1xYoDeletedFileIdAbCdEfGhIjKlMnOp', true, '2024-03-05T10:16:02.456Z']],
      [['1TrashedFileIdAbCdEfGhIjKlMnOpQrS', true, '2024-03-05T10:20:00.000Z']],
    ]);
    expect(pages[0]!.records[0]!.data).toMatchObject({ name: 'Quarterly report.pdf', size: '104857', owners: ['ada@example.com'] });
    expect(pages.at(-1)!.cursor).toEqual({ drive: { mode: 'changes', driveId: null, pageToken: '1240' } });
  });

  it('the start token and a files.list page with v3 default fields (no times: the run time stands in)', async () => {
    const { fetchFn, asked } = replay('drive-start-page-token.json', 'drive-files-list.json');
    const pages: PullPage[] = [];
    const gen = provider.pull({ baseUrl: 'https://www.googleapis.com', config: { drive: {} }, credentials: OAUTH, cursor: undefined, fetch: fetchFn });
    for await (const p of gen) {
      pages.push(p);
      break; // the first page is enough: the listing continues from the recorded nextPageToken
    }
    expect(asked.map((a) => a.url.pathname)).toEqual(['/drive/v3/changes/startPageToken', '/drive/v3/files']);
    expect(pages[0]!.records.map((r) => [r.externalId, r.updatedAt])).toEqual([
      ['1Hb3bJ7qPfVY0hbe6QOZS4r9Xg7cQpPgA', new Date(NOW).toISOString()],
      ['1aBcDeFgHiJkLmNoPqRsTuVwXyZ012345', new Date(NOW).toISOString()],
    ]);
    expect(pages[0]!.cursor).toEqual({ active: 'drive', drive: { mode: 'list', driveId: null, startPageToken: '1234', pageToken: '~!!~AI9FV7Tq4kEXAMPLEpageTokenZG9jcw' } });
  });
});

describe('Calendar events.list answers', () => {
  it('pages with the same sync token, keeps nextSyncToken, maps cancelled items to deletions', async () => {
    const { fetchFn, asked } = replay('calendar-events-page.json', 'calendar-events-incremental.json');
    const pages = await pull({ calendar: { calendarId: 'ada@example.com' } }, { calendar: { calendarId: 'ada@example.com', syncToken: 'CPDAlvWDx70CEPDAlvWDx70CGAU=' } }, fetchFn);
    expect(asked[0]!.url.pathname).toBe('/calendar/v3/calendars/ada%40example.com/events');
    expect(asked.map((a) => [a.url.searchParams.get('syncToken'), a.url.searchParams.get('pageToken')])).toEqual([
      ['CPDAlvWDx70CEPDAlvWDx70CGAU=', null],
      ['CPDAlvWDx70CEPDAlvWDx70CGAU=', 'CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA'],
    ]);
    expect(pages.flatMap((p) => p.records.map((r) => [r.externalId, r.deleted, r.updatedAt]))).toEqual([
      ['4eahs9ghkhrvkld72hogu9ph3e', false, '2020-05-19T09:13:46.356Z'],
      ['4eahs9ghkhrvkld72hogu9ph3e', false, '2020-05-20T07:59:00.000Z'],
      ['7cbh8rpc10lrc0ckih9tafss99', true, '2020-05-20T08:00:01.123Z'],
    ]);
    expect(pages[0]!.records[0]!.data).toMatchObject({ start: { date: '2020-05-22' }, summary: 'All-hands' });
    expect(pages.at(-1)!.cursor).toEqual({ calendar: { calendarId: 'ada@example.com', syncToken: 'CPDAlvWDx70CEPDAlvWDx70CGAU=' } });
  });

  it('the documented 410 fullSyncRequired body restarts without the token', async () => {
    const { fetchFn, asked } = replay({ status: 410, file: 'errors/410-full-sync-required.json' }, 'calendar-events-incremental.json');
    const pages = await pull({ calendar: { calendarId: 'primary' } }, { calendar: { calendarId: 'primary', syncToken: 'stale' } }, fetchFn);
    expect(asked.map((a) => a.url.searchParams.get('syncToken'))).toEqual(['stale', null]);
    expect(pages).toHaveLength(1);
  });
});

describe('push and token answers', () => {
  const ctx = (fetchFn: typeof fetch) => ({ baseUrl: 'https://www.googleapis.com', config: { calendar: { calendarId: 'primary' } }, credentials: OAUTH, fetch: fetchFn });

  it('an insert answered with the documented event resource; a 409 duplicate reads the event back', async () => {
    const op = { op: 'create' as const, entityType: 'event', payload: { start: { date: '2020-05-19' }, end: { date: '2020-05-20' } }, idempotencyKey: 'k' };
    const expected = { externalId: '4eahs9ghkhrvkld72hogu9ph3e', version: '"3181161784712000"', updatedAt: '2020-05-19T09:13:46.356Z' };
    const once = replay('calendar-event.json');
    expect(await provider.push!.apply(ctx(once.fetchFn), op)).toMatchObject({ ...expected, record: { externalId: expected.externalId } });
    expect(JSON.parse(sent(once.asked[0]!.init))).toMatchObject({ id: expect.stringMatching(/^[a-v0-9]{52}$/) as unknown, start: { date: '2020-05-19' } });
    const retried = replay({ status: 409, file: 'errors/409-duplicate.json' }, 'calendar-event.json');
    expect(await provider.push!.apply(ctx(retried.fetchFn), op)).toMatchObject({ ...expected, record: { externalId: expected.externalId } });
    expect(retried.asked.map((a) => a.init?.method)).toEqual(['POST', 'GET']);
  });

  it('token answers: code exchange, refresh without a refresh token (kept), JWT bearer, invalid_grant', async () => {
    const auth = provider.auth!;
    const cfg = { baseUrl: 'https://www.googleapis.com', config: { drive: {} } };
    const client = { clientId: 'c', clientSecret: 's', redirectUri: 'https://app.example/cb' };
    const code = replay('tokens/authorization-code.json');
    expect(await auth.oauth!.exchangeCode({ ...cfg, fetch: code.fetchFn }, client, { code: '4/0x', codeVerifier: 'v' })).toEqual({
      type: 'oauth', clientId: 'c', clientSecret: 's', accessToken: '1/fFAGRNJru1FTz70BzhT3Zg', refreshToken: '1//xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI',
      expiresAt: NOW + 3_920_000, scope: 'https://www.googleapis.com/auth/drive.metadata.readonly https://www.googleapis.com/auth/calendar.readonly',
    });
    expect(code.asked[0]!.url.href).toBe('https://oauth2.googleapis.com/token');
    expect(Object.fromEntries(new URLSearchParams(sent(code.asked[0]!.init)))).toMatchObject({ grant_type: 'authorization_code', code_verifier: 'v', redirect_uri: 'https://app.example/cb' });

    const refresh = replay('tokens/refresh.json');
    expect(await auth.refresh!({ ...cfg, fetch: refresh.fetchFn }, OAUTH)).toMatchObject({ accessToken: '1/fFAGRNJru1FTz70BzhT3Zg', refreshToken: '1//old', expiresAt: NOW + 3_920_000 });

    const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const sa = provider.credentialsSchema.parse({ type: 'service_account', client_email: 'x@y.iam.gserviceaccount.com', private_key: key });
    const jwt = replay('tokens/service-account.json');
    expect(await auth.refresh!({ ...cfg, fetch: jwt.fetchFn }, sa)).toMatchObject({ accessToken: '1/8xbJqaOZXSUZbHLl5EOtu1pxz3fmmetKx9W8CV4t79M', expiresAt: NOW + 3_600_000 });
    const assertion = new URLSearchParams(sent(jwt.asked[0]!.init)).get('assertion')!;
    const claims = JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toEqual({ iss: 'x@y.iam.gserviceaccount.com', scope: 'https://www.googleapis.com/auth/drive.metadata.readonly', aud: 'https://oauth2.googleapis.com/token', iat: NOW / 1000, exp: NOW / 1000 + 3600 });

    const revoked = replay({ status: 400, file: 'tokens/invalid-grant.json' });
    const e = await auth.refresh!({ ...cfg, fetch: revoked.fetchFn }, OAUTH).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).not.toContain('1//old');
  });
});
