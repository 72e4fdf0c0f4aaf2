import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, UnrecoverableError } from '../../shared/errors';
import { notionProvider } from '../../shared/providers/notion';
import { describeNotionError } from '../../shared/providers/notion/api';
import { refreshNotionToken } from '../../shared/providers/notion/auth';
import { pageToRecord } from '../../shared/providers/notion/normalize';
import { floorToMinute, queryBody } from '../../shared/providers/notion/pull';
import { notionListSchema, notionPageSchema, notionTokenResponseSchema, type NotionCredentials } from '../../shared/providers/notion/schemas';
import { rejection } from '../helpers/notion';

const json = (name: string): unknown => JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'notion', 'api', name), 'utf8'));

describe('documented API shapes parse', () => {
  it('the page object becomes a deleted record (it is in the trash) with plain property values', () => {
    const page = notionPageSchema.parse(json('page.json'));
    expect(pageToRecord(page)).toEqual({
      externalId: 'be633bf1-dfa0-436d-b259-571129a590e5',
      entityType: 'page',
      updatedAt: '2023-03-08T18:25:00.000Z',
      deleted: true,
      data: {
        title: 'Bug bash',
        url: 'https://www.notion.so/Bug-bash-be633bf1dfa0436db259571129a590e5',
        created_time: '2022-10-24T22:54:00.000Z',
        last_edited_time: '2023-03-08T18:25:00.000Z',
        properties: { 'Due date': { start: '2023-02-23', end: null, time_zone: null }, Status: 'Not started', Title: 'Bug bash' },
      },
    });
  });

  it('a live page is not deleted; `archived` alone (the older name) still is', () => {
    const page = notionPageSchema.parse({ ...(json('page.json') as object), in_trash: false, archived: false });
    expect(pageToRecord(page).deleted).toBe(false);
    expect(pageToRecord({ ...page, archived: true }).deleted).toBe(true);
  });

  it('the query response envelope', () => {
    const list = notionListSchema.parse(json('query-data-source.json'));
    expect(list).toMatchObject({ object: 'list', has_more: false, next_cursor: null });
    expect(list.results).toHaveLength(1);
  });

  it('error bodies are described by code and message', () => {
    expect(describeNotionError(json('error-unauthorized.json'))).toBe('unauthorized: API token is invalid.');
    expect(describeNotionError({ message: 'no code' })).toBeUndefined();
    expect(describeNotionError('<html>')).toBeUndefined();
  });

  it('the refresh answer (a new refresh token, no expires_in)', () => {
    const token = notionTokenResponseSchema.parse(json('oauth-refresh-token.json'));
    expect(token.refresh_token).toBe('ntn_1202e8c9-0920-412f-055f-8f872ba1df26c');
    expect(token.expires_in).toBeUndefined();
  });
});

describe('config and credentials', () => {
  const config = notionProvider.configSchema;
  const credentials = notionProvider.credentialsSchema;

  it('takes data source ids with or without dashes, and nothing that walks a path', () => {
    expect(config.safeParse({ dataSourceId: 'a1d8501e-1ac1-43e9-a6bd-ea9fe6c8822b' }).success).toBe(true);
    expect(config.safeParse({ dataSourceId: 'a1d8501e1ac143e9a6bdea9fe6c8822b', idempotencyProperty: 'External ID' }).success).toBe(true);
    for (const bad of [{}, { dataSourceId: '../pages' }, { dataSourceId: 'a1d8501e-1ac1-43e9-a6bd' }, { dataSourceId: 'x'.repeat(32) }]) {
      expect(config.safeParse(bad).success).toBe(false);
    }
  });

  it('is a union on type: internal token or OAuth with its client', () => {
    expect(credentials.safeParse({ type: 'internal', token: 'ntn_x' }).success).toBe(true);
    expect(credentials.safeParse({ type: 'oauth', accessToken: 'a', refreshToken: 'r', clientId: 'c', clientSecret: 's' }).success).toBe(true);
    expect(credentials.safeParse({ type: 'oauth', accessToken: 'a' }).success).toBe(false);
    expect(credentials.safeParse({ type: 'token', token: 'x' }).success).toBe(false);
  });

  it('reports no expiry for either (Notion sends no expires_in) unless one was recorded', () => {
    const auth = notionProvider.auth!;
    expect(auth.expiresAt({ type: 'internal', token: 't' })).toBeUndefined();
    expect(auth.expiresAt({ type: 'oauth', accessToken: 'a', clientId: 'c', clientSecret: 's' })).toBeUndefined();
    expect(auth.expiresAt({ type: 'oauth', accessToken: 'a', clientId: 'c', clientSecret: 's', expiresAt: 123 })).toBe(123);
  });
});

describe('query body', () => {
  it('first run: everything, ascending by last_edited_time, 100 a page', () => {
    expect(queryBody(undefined, 'live', undefined)).toEqual({ sorts: [{ timestamp: 'last_edited_time', direction: 'ascending' }], page_size: 100 });
  });

  it('incremental, trash phase, resumed', () => {
    expect(queryBody('2025-01-01T10:00:00.000Z', 'trash', 'cur-1')).toEqual({
      sorts: [{ timestamp: 'last_edited_time', direction: 'ascending' }],
      page_size: 100,
      filter: { timestamp: 'last_edited_time', last_edited_time: { on_or_after: '2025-01-01T10:00:00.000Z' } },
      in_trash: true,
      start_cursor: 'cur-1',
    });
  });

  it('floors to the minute, Notion\'s resolution', () => {
    expect(floorToMinute('2025-01-01T10:42:37.120Z')).toBe('2025-01-01T10:42:00.000Z');
    expect(floorToMinute('2025-01-01T10:42:00.000Z')).toBe('2025-01-01T10:42:00.000Z');
    expect(floorToMinute('2025-01-01T12:42:37+02:00')).toBe('2025-01-01T10:42:00.000Z');
  });
});

describe('token endpoint errors (stubbed)', () => {
  const oauth: NotionCredentials = { type: 'oauth', accessToken: 'a', refreshToken: 'nrt_old', clientId: 'cid', clientSecret: 'csecret' };
  const answering = (status: number, body: unknown): typeof fetch => () => Promise.resolve(new Response(JSON.stringify(body), { status }));

  it.each([
    ['the OAuth shape', { error: 'invalid_grant', error_description: 'Invalid refresh token.' }],
    ['Notion\'s error shape', { object: 'error', status: 400, code: 'invalid_grant', message: 'Invalid code: this code has been revoked.' }],
  ])('invalid_grant in %s → AuthError', async (_name, body) => {
    const e = await rejection(refreshNotionToken({ baseUrl: 'https://api.notion.example', fetch: answering(400, body) }, oauth));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('invalid_grant');
    expect((e as Error).message).not.toContain('nrt_old');
  });

  it('another 400 (missing_version) stays unrecoverable', async () => {
    const body = { object: 'error', status: 400, code: 'missing_version', message: 'Notion-Version header failed validation' };
    const e = await rejection(refreshNotionToken({ baseUrl: 'https://api.notion.example', fetch: answering(400, body) }, oauth));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).toContain('missing_version');
  });

  it('internal tokens and OAuth without a refresh token cannot be refreshed', async () => {
    const ctx = { baseUrl: 'https://api.notion.example', fetch: answering(200, {}) };
    expect(await rejection(refreshNotionToken(ctx, { type: 'internal', token: 't' }))).toBeInstanceOf(AuthError);
    expect(await rejection(refreshNotionToken(ctx, { type: 'oauth', accessToken: 'a', clientId: 'c', clientSecret: 's' }))).toBeInstanceOf(AuthError);
  });
});
