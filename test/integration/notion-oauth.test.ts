import { AuthError, UnrecoverableError } from '../../shared/errors';
import { pkcePair } from '../../shared/providers/oauth';
import { notionProvider, type NotionCredentials } from '../../shared/providers/notion';
import type { OAuthClient } from '../../shared/providers/types';
import { startNotionSandbox, type NotionSandbox } from '../../local/sandbox/notion';
import { collectNotion, notionCtx, notionPullError, rejection, spyFetch } from '../helpers/notion';

const CLIENT: OAuthClient = { clientId: 'c0ffee00-1111-4222-8333-444455556666', clientSecret: 'secret_client_0123456789abcdef', redirectUri: 'https://castiel.test/oauth/notion/callback' };
const auth = notionProvider.auth!;
const oauth = auth.oauth!;
let notion: NotionSandbox;
let dataSourceId: string;

beforeAll(async () => {
  notion = await startNotionSandbox();
  notion.registerOAuthClient({ clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, redirectUris: [CLIENT.redirectUri] });
  dataSourceId = notion.createDataSource().id;
  notion.seedPages(dataSourceId, 3);
});
afterAll(async () => {
  await notion.close();
});

const ctx = { get baseUrl() { return notion.url; }, config: { dataSourceId: '' }, fetch };

/** The browser leg: follow the authorize URL to the redirect and read the code and state off it. */
async function consent(challenge: string, state = 'st-1'): Promise<{ code: string; state: string }> {
  const url = oauth.authorizeUrl(notion.url, { dataSourceId }, CLIENT, { state, codeChallenge: challenge });
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.origin + location.pathname).toBe(CLIENT.redirectUri);
  return { code: location.searchParams.get('code')!, state: location.searchParams.get('state')! };
}

async function connect(): Promise<Extract<NotionCredentials, { type: 'oauth' }>> {
  const { verifier, challenge } = pkcePair();
  const { code } = await consent(challenge);
  const credentials = await oauth.exchangeCode(ctx, CLIENT, { code, codeVerifier: verifier });
  if (credentials.type !== 'oauth') throw new Error('expected OAuth credentials');
  return credentials;
}

const pullWith = (credentials: NotionCredentials) => notionCtx(notion.url, { dataSourceId }, '', { credentials });

describe('OAuth connect (authorization code with PKCE S256)', () => {
  it('builds Notion\'s authorize URL', () => {
    const url = new URL(oauth.authorizeUrl('https://api.notion.com', { dataSourceId }, CLIENT, { state: 'xyz', codeChallenge: 'abc' }));
    expect(url.origin + url.pathname).toBe('https://api.notion.com/v1/oauth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: CLIENT.clientId, response_type: 'code', owner: 'user', redirect_uri: CLIENT.redirectUri,
      state: 'xyz', code_challenge: 'abc', code_challenge_method: 'S256',
    });
  });

  it('exchanges the code (Basic auth, JSON, Notion-Version) for working credentials', async () => {
    const { verifier, challenge } = pkcePair();
    const { code, state } = await consent(challenge, 'state-42');
    expect(state).toBe('state-42');
    const sent: { url: string; headers: Headers; body: unknown }[] = [];
    const credentials = await oauth.exchangeCode({ ...ctx, fetch: spyFetch(sent) }, CLIENT, { code, codeVerifier: verifier });

    expect(sent[0]!.url).toBe(`${notion.url}/v1/oauth/token`);
    expect(sent[0]!.headers.get('authorization')).toBe(`Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`);
    expect(sent[0]!.headers.get('content-type')).toBe('application/json');
    expect(sent[0]!.headers.get('notion-version')).toBe('2025-09-03');
    expect(sent[0]!.body).toEqual({ grant_type: 'authorization_code', code, redirect_uri: CLIENT.redirectUri, code_verifier: verifier });

    expect(credentials).toMatchObject({ type: 'oauth', clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, workspaceName: 'Sandbox workspace' });
    expect(credentials.type === 'oauth' && credentials.refreshToken).toMatch(/^nrt_/);
    expect(auth.expiresAt(credentials)).toBeUndefined();
    expect(notionProvider.credentialsSchema.safeParse(credentials).success).toBe(true);
    expect((await collectNotion(pullWith(credentials))).flatMap((p) => p.records)).toHaveLength(3);
  });

  it('a wrong code_verifier, a reused code and a wrong client secret are AuthErrors', async () => {
    const { verifier, challenge } = pkcePair();
    const { code } = await consent(challenge);
    expect(await rejection(oauth.exchangeCode(ctx, CLIENT, { code, codeVerifier: pkcePair().verifier }))).toBeInstanceOf(AuthError);

    const first = await connect();
    const { verifier: v2, challenge: c2 } = pkcePair();
    const second = await consent(c2);
    await oauth.exchangeCode(ctx, CLIENT, { code: second.code, codeVerifier: v2 });
    expect(await rejection(oauth.exchangeCode(ctx, CLIENT, { code: second.code, codeVerifier: v2 }))).toBeInstanceOf(AuthError);
    // The reuse revoked what that code granted, not other connections.
    expect((await collectNotion(pullWith(first))).length).toBeGreaterThan(0);

    const bad = await rejection(oauth.exchangeCode(ctx, { ...CLIENT, clientSecret: 'wrong' }, { code, codeVerifier: verifier }));
    expect(bad).toBeInstanceOf(AuthError);
    expect((bad as Error).message).not.toContain(CLIENT.clientSecret);
  });

  it('refuses an unregistered redirect URI with an error page, not a redirect', async () => {
    const url = oauth.authorizeUrl(notion.url, { dataSourceId }, { ...CLIENT, redirectUri: 'https://evil.test/cb' }, { state: 's', codeChallenge: pkcePair().challenge });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('refresh with rotation', () => {
  it('returns a new pair; the old access token stops working, the new one works', async () => {
    const original = await connect();
    const refreshed = await auth.refresh!(ctx, original);
    if (refreshed.type !== 'oauth') throw new Error('expected OAuth credentials');
    expect(refreshed.accessToken).not.toBe(original.accessToken);
    expect(refreshed.refreshToken).not.toBe(original.refreshToken);
    expect(refreshed).toMatchObject({ clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, workspaceId: original.workspaceId });
    expect(await notionPullError(pullWith(original))).toBeInstanceOf(AuthError);
    expect((await collectNotion(pullWith(refreshed))).length).toBeGreaterThan(0);
    // Rotation again, from the rotated token.
    const again = await auth.refresh!(ctx, refreshed);
    expect(again.type === 'oauth' && again.refreshToken).not.toBe(refreshed.refreshToken);
  });

  it('reusing a rotated refresh token → AuthError (invalid_grant), and the whole family is revoked', async () => {
    const original = await connect();
    const refreshed = await auth.refresh!(ctx, original);
    const reuse = await rejection(auth.refresh!(ctx, original));
    expect(reuse).toBeInstanceOf(AuthError);
    expect((reuse as Error).message).toContain('invalid_grant');
    expect((reuse as Error).message).not.toContain(original.refreshToken!);
    // The legitimate holder is cut off too: the family is dead.
    expect(await notionPullError(pullWith(refreshed))).toBeInstanceOf(AuthError);
    expect(await rejection(auth.refresh!(ctx, refreshed))).toBeInstanceOf(AuthError);
  });

  it('an answer without a refresh token keeps the stored one', async () => {
    const original = await connect();
    const stripping: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const { refresh_token: _dropped, ...rest } = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(rest), { status: res.status, headers: { 'content-type': 'application/json' } });
    };
    const refreshed = await auth.refresh!({ ...ctx, fetch: stripping }, original);
    expect(refreshed).toMatchObject({ type: 'oauth', refreshToken: original.refreshToken });
    expect(refreshed.type === 'oauth' && refreshed.accessToken).not.toBe(original.accessToken);
  });

  it('revoking a connection kills every token of it', async () => {
    const credentials = await connect();
    notion.revokeToken(credentials.accessToken);
    expect(await notionPullError(pullWith(credentials))).toBeInstanceOf(AuthError);
    expect(await rejection(auth.refresh!(ctx, credentials))).toBeInstanceOf(AuthError);
  });

  it('the token endpoint requires Notion-Version; such a Notion-shaped refusal is unrecoverable, with its code', async () => {
    const res = await fetch(`${notion.url}/v1/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'missing_version' });
    const stripVersion: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete('notion-version');
      return fetch(input, { ...init, headers });
    };
    // Strip the header below the provider's token fetch (which adds it) to get the refusal through the provider.
    const e = await rejection(auth.refresh!({ ...ctx, fetch: stripVersion }, await connect()));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(e).not.toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('missing_version');
  });
});
