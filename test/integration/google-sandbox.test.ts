import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { createGoogleProvider, googleProvider, type GoogleConfig, type GoogleCredentials } from '../../shared/providers/google';
import { eventIdFor } from '../../shared/providers/google/push';
import type { CallContext, PullPage, RateLimitSignal } from '../../shared/providers/types';
import { startGoogleSandbox, type GoogleSandbox } from '../../local/sandbox/google';
import { BOTH, CALENDAR, collect, DRIVE, ids, noRetry, oauth, pullContext, pullError, recordingRuntime, records, rejection, TOKEN, urlOf, type CtxOptions } from '../helpers/google';

let g: GoogleSandbox;
beforeEach(async () => {
  // A fresh Google per test (pages capped at 50 so small seeds span pages).
  g = await startGoogleSandbox({ maxPageSize: 50 });
  g.addAccessToken(TOKEN);
});
afterEach(async () => {
  await g.close();
});
const ctx = (config: GoogleConfig, o: CtxOptions = {}) => pullContext(g.url, config, o);

describe('provider definition', () => {
  it('validates config and credentials', () => {
    const { configSchema, credentialsSchema } = googleProvider;
    expect(googleProvider.key).toBe('google');
    expect(configSchema.safeParse({ drive: {}, calendar: { calendarId: 'team@group.calendar.google.com' }, channelToken: 'x'.repeat(16) }).success).toBe(true);
    for (const bad of [{}, { calendar: { calendarId: 'a/b' } }, { drive: { driveId: '../x' } }, { drive: {}, channelToken: 'short' }, { drive: {}, extra: 1 }]) {
      expect(configSchema.safeParse(bad).success).toBe(false);
    }
    expect(credentialsSchema.safeParse(oauth()).success).toBe(true);
    expect(credentialsSchema.safeParse({ type: 'service_account', client_email: 'a@b.iam.gserviceaccount.com', private_key: 'not a key' }).success).toBe(false);
    expect(credentialsSchema.safeParse({ type: 'token', token: 'x' }).success).toBe(false);
  });
});

describe('Drive pull', () => {
  it('first sync: start token, every file by files.list, then changes from the start token', async () => {
    g.seedFiles(120);
    const sent: URL[] = [];
    const spy: typeof fetch = (input, init) => {
      sent.push(urlOf(input));
      return fetch(input, init);
    };
    const pages = await collect(ctx(DRIVE, { fetch: spy }));
    expect(pages.map((p) => p.records.length)).toEqual([50, 50, 20, 0]);
    expect(pages.map((p) => p.done)).toEqual([false, false, false, true]);
    expect(sent.map((u) => u.pathname)).toEqual(['/drive/v3/changes/startPageToken', '/drive/v3/files', '/drive/v3/files', '/drive/v3/files', '/drive/v3/changes']);
    expect(sent[1]!.searchParams.get('fields')).toContain('files(id,name,mimeType,trashed');
    expect(new Set(ids(pages)).size).toBe(120);

    const file = g.getFile(ids(pages)[7]!)!;
    expect(records(pages)[7]).toEqual({
      externalId: file.id,
      entityType: 'file',
      updatedAt: file.modifiedTime,
      deleted: false,
      data: {
        name: file.name, mimeType: file.mimeType, parents: file.parents, trashed: false, createdTime: file.createdTime, modifiedTime: file.modifiedTime,
        size: file.size ?? null, version: file.version, md5Checksum: file.md5Checksum ?? null, webViewLink: file.webViewLink, driveId: null, owners: ['ada@example.com'],
      },
    });
    expect(pages.at(-1)!.cursor).toEqual({ drive: { mode: 'changes', driveId: null, pageToken: '1120' } });
    expect(pages[0]!.cursor).toMatchObject({ active: 'drive', drive: { mode: 'list', startPageToken: '1120', pageToken: expect.any(String) as unknown } });
  });

  it('incremental: changed, new, trashed and deleted files from the changes feed', async () => {
    const seeded = g.seedFiles(10);
    const cursor = (await collect(ctx(DRIVE))).at(-1)!.cursor;
    const renamed = g.updateFile(seeded[1]!.id, { name: 'Renamed.pdf' });
    g.updateFile(seeded[2]!.id, { trashed: true });
    g.deleteFile(seeded[3]!.id);
    const created = g.createFile({ name: 'notes.txt', content: 'hello' });
    g.updateFile(seeded[1]!.id, { content: 'v3' }); // a second change to one file: reported once, current state

    const pages = await collect(ctx(DRIVE, { cursor }));
    const byId = new Map(records(pages).map((r) => [r.externalId, r]));
    expect(records(pages)).toHaveLength(4);
    expect(byId.get(renamed.id)).toMatchObject({ deleted: false, data: { name: 'Renamed.pdf', version: '3' } });
    expect(byId.get(seeded[2]!.id)).toMatchObject({ deleted: true, data: { trashed: true } });
    expect(byId.get(seeded[3]!.id)).toEqual({ externalId: seeded[3]!.id, entityType: 'file', updatedAt: expect.any(String) as unknown, deleted: true, data: { removed: true } });
    expect(byId.get(created.id)).toMatchObject({ deleted: false, data: { name: 'notes.txt', size: '5' } });
    expect(pages.at(-1)!.cursor).toEqual({ drive: { mode: 'changes', driveId: null, pageToken: '1015' } });
    // Nothing new: one empty page, the same token.
    const quiet = await collect(ctx(DRIVE, { cursor: pages.at(-1)!.cursor }));
    expect(quiet.map((p) => p.records.length)).toEqual([0]);
    expect(quiet[0]!.cursor).toEqual(pages.at(-1)!.cursor);
  });

  it('follows nextPageToken through a long changes feed', async () => {
    const cursor = (await collect(ctx(DRIVE))).at(-1)!.cursor;
    g.seedFiles(75);
    const pages = await collect(ctx(DRIVE, { cursor }));
    expect(pages.map((p) => p.records.length)).toEqual([50, 25]);
    expect(pages[0]!.cursor).toEqual({ active: 'drive', drive: { mode: 'changes', driveId: null, pageToken: '1050' } });
  });
});

describe('Calendar pull', () => {
  it('full sync pages to a sync token; incremental returns changes and cancellations', async () => {
    const events = g.seedEvents('primary', 120);
    const full = await collect(ctx(CALENDAR));
    expect(full.map((p) => p.records.length)).toEqual([50, 50, 20]);
    expect(new Set(ids(full))).toEqual(new Set(events.map((e) => e.id)));
    const e0 = events[0]!;
    expect(records(full).find((r) => r.externalId === e0.id)).toEqual({
      externalId: e0.id, entityType: 'event', updatedAt: e0.updated, deleted: false,
      data: {
        calendarId: 'primary', status: 'confirmed', summary: e0.summary, description: null, location: null, start: e0.start, end: e0.end,
        htmlLink: e0.htmlLink, iCalUID: e0.iCalUID, recurringEventId: null, organizer: 'ada@example.com', attendees: [], created: e0.created, updated: e0.updated, etag: e0.etag,
      },
    });
    const cursor = full.at(-1)!.cursor;
    expect(cursor).toEqual({ calendar: { calendarId: 'primary', syncToken: expect.any(String) as unknown } });

    g.updateEvent('primary', events[5]!.id, { summary: 'Moved' });
    g.deleteEvent('primary', events[6]!.id);
    const inc = await collect(ctx(CALENDAR, { cursor }));
    expect(records(inc).map((r) => [r.externalId, r.deleted])).toEqual([[events[5]!.id, false], [events[6]!.id, true]]);
    expect(records(inc)[0]!.data.summary).toBe('Moved');
    // The cancelled item carries only id and status: its time is the collection's `updated`.
    expect(records(inc)[1]!.updatedAt).toBe(g.getEvent('primary', events[6]!.id)!.updated);
    expect(inc.at(-1)!.cursor).not.toEqual(cursor);
  });

  it('410 GONE on a stale sync token: drops it and resyncs everything in the same run', async () => {
    const events = g.seedEvents('primary', 60);
    const cursor = (await collect(ctx(CALENDAR))).at(-1)!.cursor;
    g.deleteEvent('primary', events[0]!.id);
    g.expireSyncTokens('primary');
    const pages = await collect(ctx(CALENDAR, { cursor }));
    expect(new Set(ids(pages))).toEqual(new Set(events.slice(1).map((e) => e.id)));
    const log = g.requests().slice(-3);
    expect(log[0]).toMatchObject({ status: 410 });
    expect(log[0]!.path).toContain('syncToken=');
    expect(log[1]!.path).not.toContain('syncToken=');
    expect(pages.at(-1)!.done).toBe(true);
  });

  it('410 on a stale page token mid-run restarts the full sync', async () => {
    g.seedEvents('primary', 120);
    const first = (await collect(ctx(CALENDAR)))[0]!;
    g.expireSyncTokens('primary');
    const pages = await collect(ctx(CALENDAR, { cursor: first.cursor }));
    expect(ids(pages)).toHaveLength(120);
  });
});

describe('one run over Drive and Calendar', () => {
  it('Drive first, then Calendar; resumes from any mid-run cursor with exactly the remaining records', async () => {
    g.seedFiles(70);
    g.seedEvents('primary', 70);
    const full = await collect(ctx(BOTH));
    expect(full.map((p) => [p.records.length, p.records[0]?.entityType ?? null, p.done])).toEqual([
      [50, 'file', false], [20, 'file', false], [0, null, false], [50, 'event', false], [20, 'event', true],
    ]);
    expect(full[2]!.cursor).toMatchObject({ active: 'calendar' });
    expect(full.at(-1)!.cursor).not.toHaveProperty('active');
    for (const k of [0, 2, 3]) {
      const resumed = await collect(ctx(BOTH, { cursor: full[k]!.cursor }));
      expect(ids(resumed)).toEqual(ids(full.slice(k + 1)));
      expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
    }
  });

  it('a cursor for another calendar is dropped (full sync there); a garbage cursor starts over', async () => {
    g.seedEvents('primary', 5);
    g.createCalendar('team');
    g.seedEvents('team', 3);
    const primary = (await collect(ctx(CALENDAR))).at(-1)!.cursor;
    const team = await collect(ctx({ calendar: { calendarId: 'team' } }, { cursor: primary }));
    expect(ids(team)).toHaveLength(3);
    expect(ids(await collect(ctx(CALENDAR, { cursor: { drive: 'nonsense' } })))).toHaveLength(5);
  });
});

describe('push: Calendar events', () => {
  const call = (): CallContext<GoogleConfig, GoogleCredentials> => ({ baseUrl: g.url, config: CALENDAR, credentials: oauth(), fetch });
  const push = noRetry.push!;

  it('create is idempotent (id from the key; the retry meets 409), then update and delete', async () => {
    const payload = { summary: 'Kickoff', start: { dateTime: '2024-05-01T09:00:00Z' }, end: { dateTime: '2024-05-01T10:00:00Z' }, attendees: [{ email: 'grace@example.com' }] };
    const created = await push.apply(call(), { op: 'create', entityType: 'event', payload, idempotencyKey: 'outbox-17' });
    expect(created.externalId).toBe(eventIdFor('outbox-17'));
    expect(created.externalId).toMatch(/^[a-v0-9]{52}$/);
    expect(g.getEvent('primary', created.externalId)).toMatchObject({ summary: 'Kickoff', attendees: [{ email: 'grace@example.com' }] });
    const again = await push.apply(call(), { op: 'create', entityType: 'event', payload, idempotencyKey: 'outbox-17' });
    expect(again).toEqual(created);
    expect(g.requests().filter((r) => r.method === 'POST').map((r) => r.status)).toEqual([200, 409]);

    const updated = await push.apply(call(), { op: 'update', entityType: 'event', externalId: created.externalId, payload: { summary: 'Kickoff (moved)' }, idempotencyKey: 'outbox-18' });
    expect(updated.version).not.toBe(created.version);
    expect(g.getEvent('primary', created.externalId)).toMatchObject({ summary: 'Kickoff (moved)', start: payload.start });

    expect(await push.apply(call(), { op: 'delete', entityType: 'event', externalId: created.externalId, payload: {}, idempotencyKey: 'outbox-19' })).toEqual({ externalId: created.externalId });
    expect(g.getEvent('primary', created.externalId)!.status).toBe('cancelled');
    // Deleting again (410 deleted) or deleting what never existed (404) is done, not an error.
    await push.apply(call(), { op: 'delete', entityType: 'event', externalId: created.externalId, payload: {}, idempotencyKey: 'outbox-19' });
    await push.apply(call(), { op: 'delete', entityType: 'event', externalId: 'neverexisted1', payload: {}, idempotencyKey: 'outbox-20' });
  });

  it('refuses bad payloads, read-only entity types and missing ids before calling Google', async () => {
    const before = g.requests().length;
    for (const op of [
      { op: 'create' as const, entityType: 'event', payload: { summary: 'no times' }, idempotencyKey: 'k1' },
      { op: 'create' as const, entityType: 'event', payload: { start: { date: '2024-05-01', dateTime: '2024-05-01T09:00:00Z' }, end: { date: '2024-05-02' } }, idempotencyKey: 'k2' },
      { op: 'update' as const, entityType: 'event', externalId: 'abcde', payload: { organizer: { email: 'x@y.z' } }, idempotencyKey: 'k3' },
      { op: 'update' as const, entityType: 'event', payload: { summary: 'x' }, idempotencyKey: 'k4' },
      { op: 'create' as const, entityType: 'file', payload: {}, idempotencyKey: 'k5' },
    ]) {
      expect(await rejection(push.apply(call(), op))).toBeInstanceOf(UnrecoverableError);
    }
    expect(g.requests()).toHaveLength(before);
  });
});

describe('failures map to typed errors', () => {
  it('unknown or revoked token → AuthError, the token never in the message', async () => {
    const e = await pullError(ctx(CALENDAR, { credentials: oauth('ya29.unknown-token-123') }));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('401 [authError]');
    expect((e as Error).message).not.toContain('ya29.unknown-token-123');
    g.revokeToken(TOKEN);
    expect(await pullError(ctx(DRIVE))).toBeInstanceOf(AuthError);
  });

  it.each([403, 429] as const)('a %i rate-limit storm → RateLimitedError at the 32 s backoff step', async (status) => {
    g.rateLimitStorm(1, status);
    const e = await pullError(ctx(DRIVE));
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBeGreaterThanOrEqual(32_000);
    expect((e as RateLimitedError).retryAfterMs).toBeLessThan(33_000);
  });

  it('short storms are ridden out in process with 1 s, 2 s (+ jitter) backoff', async () => {
    g.seedEvents('primary', 3);
    g.rateLimitStorm(2, 429);
    const sleeps: number[] = [];
    const signals: RateLimitSignal[] = [];
    const pages = await collect(ctx(CALENDAR, { signals }), createGoogleProvider(recordingRuntime(sleeps)));
    expect(ids(pages)).toHaveLength(3);
    expect(sleeps).toEqual([1000, 2000]);
    expect(signals.filter((s) => s.remaining === 0)).toHaveLength(2);
  });

  it('per-user quota running out mid-run (403 userRateLimitExceeded): pages so far kept, the run resumes', async () => {
    g.seedFiles(120);
    g.setRateLimit(3);
    const pages: PullPage[] = [];
    expect(await pullError(ctx(DRIVE), pages)).toBeInstanceOf(RateLimitedError);
    expect(pages.map((p) => p.records.length)).toEqual([50, 50]);
    g.setRateLimit(undefined);
    const rest = await collect(ctx(DRIVE, { cursor: pages.at(-1)!.cursor }));
    expect(new Set([...ids(pages), ...ids(rest)]).size).toBe(120);
  });

  it('5xx → RetryableError without retries; the default provider retries it away', async () => {
    g.seedEvents('primary', 2);
    g.failNext(1, 503);
    expect(await pullError(ctx(CALENDAR))).toBeInstanceOf(RetryableError);
    g.failNext(2, 500);
    const sleeps: number[] = [];
    expect(ids(await collect(ctx(CALENDAR), createGoogleProvider(recordingRuntime(sleeps))))).toHaveLength(2);
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('missing scope (403 insufficientPermissions) and unknown calendar (404) → UnrecoverableError', async () => {
    g.addAccessToken('ya29.drive-only', { scopes: ['https://www.googleapis.com/auth/drive.readonly'] });
    const e = await pullError(ctx(CALENDAR, { credentials: oauth('ya29.drive-only') }));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).toContain('insufficientPermissions');
    expect(await pullError(ctx({ calendar: { calendarId: 'nope' } }))).toBeInstanceOf(UnrecoverableError);
  });

  it('a slow answer past the caller\'s deadline → RetryableError', async () => {
    g.setLatency(500);
    expect(await pullError(ctx(DRIVE, { signal: AbortSignal.timeout(50) }))).toBeInstanceOf(RetryableError);
  });
});
