/**
 * GitHub OAuth user tokens over real HTTP against the sandbox: the web flow
 * with PKCE, refresh with rotation, reuse detection, revocation and expiry.
 */
import { AuthError, RetryableError } from '../../shared/errors';
import { githubProvider, type GithubConfig, type GithubCredentials, type GithubOAuthCredentials } from '../../shared/providers/github';
import { pkcePair } from '../../shared/providers/oauth';
import type { OAuthClient, PullPage } from '../../shared/providers/types';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { urlOf } from '../helpers/github-pull';

const HOUR_MS = 3_600_000;
const CALLBACK = 'http://localhost:7071/api/oauth/github/callback';
const client: OAuthClient = { clientId: 'Iv1.castielsandbox', clientSecret: 'sandbox-client-secret-1', redirectUri: CALLBACK };
const config: GithubConfig = { owner: 'octo', repo: 'oauth' };
const auth = githubProvider.auth!;
const oauth = auth.oauth!;

let gh: GithubSandbox;
let clock = Date.now();

beforeAll(async () => {
  gh = await startGithubSandbox({ now: () => clock, oauthApps: [{ clientId: client.clientId, clientSecret: client.clientSecret, callbackUrl: CALLBACK }] });
  gh.seedIssues(config.owner, config.repo, 3);
});
afterAll(async () => {
  await gh.close();
});

const authCtx = (fetchImpl: typeof fetch = fetch) => ({ baseUrl: gh.url, config, fetch: fetchImpl });

/** Runs the browser leg: the authorize URL the provider builds, answered by the sandbox with a redirect. */
async function authorize(challenge: string, state = 'state-123', c: OAuthClient = client): Promise<URL> {
  const res = await fetch(oauth.authorizeUrl(gh.url, config, c, { state, codeChallenge: challenge }), { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

async function connect(): Promise<GithubOAuthCredentials> {
  const { verifier, challenge } = pkcePair();
  const code = (await authorize(challenge)).searchParams.get('code')!;
  const credentials = await oauth.exchangeCode(authCtx(), client, { code, codeVerifier: verifier });
  if (credentials.type !== 'oauth') throw new Error('expected expiring OAuth credentials');
  return credentials;
}

async function pullAll(credentials: GithubCredentials): Promise<PullPage[]> {
  const pages: PullPage[] = [];
  for await (const page of githubProvider.pull({ baseUrl: gh.url, config, credentials, cursor: undefined, fetch })) pages.push(page);
  return pages;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('authorization code flow with PKCE', () => {
  it('builds GitHub\'s authorize URL on the sandbox origin, which redirects back with a code and the state', async () => {
    const { challenge } = pkcePair();
    const url = new URL(oauth.authorizeUrl(gh.url, config, client, { state: 'st-1', codeChallenge: challenge }));
    expect(url.origin + url.pathname).toBe(`${gh.url}/login/oauth/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: client.clientId, redirect_uri: CALLBACK, scope: 'repo', state: 'st-1', code_challenge: challenge, code_challenge_method: 'S256',
    });
    const back = await authorize(challenge, 'st-1');
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('state')).toBe('st-1');
    expect(back.searchParams.get('code')).toMatch(/^[0-9a-f]{20}$/);
  });

  it('exchanges the code and its verifier for expiring credentials that pull', async () => {
    const before = Date.now();
    const credentials = await connect();
    const after = Date.now();
    expect(credentials).toMatchObject({ type: 'oauth', clientId: client.clientId, clientSecret: client.clientSecret });
    expect(credentials.accessToken).toMatch(/^ghu_/);
    expect(credentials.refreshToken).toMatch(/^ghr_/);
    // 8 h access token, 184-day refresh token, counted from the request.
    expect(auth.expiresAt(credentials)).toBeGreaterThanOrEqual(before + 8 * HOUR_MS);
    expect(auth.expiresAt(credentials)).toBeLessThanOrEqual(after + 8 * HOUR_MS);
    expect(Date.parse(credentials.refreshTokenExpiresAt!)).toBeGreaterThanOrEqual(before + 184 * 24 * HOUR_MS);
    expect(githubProvider.credentialsSchema.parse(credentials)).toEqual(credentials);
    expect((await pullAll(credentials)).flatMap((p) => p.records)).toHaveLength(3);
  });

  it('refuses a wrong or missing verifier with AuthError, then still honours the right one', async () => {
    const { verifier, challenge } = pkcePair();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    for (const codeVerifier of [pkcePair().verifier, '']) {
      const e = await failure(oauth.exchangeCode(authCtx(), client, { code, codeVerifier }));
      expect(e).toBeInstanceOf(AuthError);
      expect((e as Error).message).toContain('bad_verification_code');
    }
    expect((await oauth.exchangeCode(authCtx(), client, { code, codeVerifier: verifier })).type).toBe('oauth');
  });

  it('a code works once: the second exchange is refused and revokes what the first one minted', async () => {
    const { verifier, challenge } = pkcePair();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    const first = await oauth.exchangeCode(authCtx(), client, { code, codeVerifier: verifier });
    expect(await failure(oauth.exchangeCode(authCtx(), client, { code, codeVerifier: verifier }))).toBeInstanceOf(AuthError);
    expect(await failure(pullAll(first))).toBeInstanceOf(AuthError);
  });

  it('wrong client secret → AuthError; a redirect_uri outside the callback is sent back with an error', async () => {
    const { verifier, challenge } = pkcePair();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    const e = await failure(oauth.exchangeCode(authCtx(), { ...client, clientSecret: 'not-the-secret' }, { code, codeVerifier: verifier }));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('incorrect_client_credentials');
    expect((e as Error).message).not.toContain('not-the-secret');

    const back = await authorize(challenge, 's-2', { ...client, redirectUri: 'http://evil.example/cb' });
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('error')).toBe('redirect_uri_mismatch');
    expect(back.searchParams.get('code')).toBeNull();
  });

  it('answers token errors with HTTP 200, form-encoded unless JSON is asked for', async () => {
    const post = (accept?: string): Promise<Response> =>
      fetch(`${gh.url}/login/oauth/access_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(accept ? { accept } : {}) },
        body: new URLSearchParams({ client_id: client.clientId, client_secret: client.clientSecret, code: 'deadbeef' }).toString(),
      });
    const json = await post('application/json');
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ error: 'bad_verification_code' });
    const form = await post();
    expect(form.status).toBe(200);
    expect(new URLSearchParams(await form.text()).get('error')).toBe('bad_verification_code');
  });

  it('a 5xx from the token endpoint is retryable', async () => {
    const { verifier, challenge } = pkcePair();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    gh.failNext(1, 502);
    expect(await failure(oauth.exchangeCode(authCtx(), client, { code, codeVerifier: verifier }))).toBeInstanceOf(RetryableError);
  });

  it('an app whose tokens never expire yields token credentials, which refresh leaves alone', async () => {
    const app = { clientId: 'Ov23.classic', clientSecret: 'classic-secret', callbackUrl: CALLBACK };
    gh.registerOAuthApp({ ...app, expiringTokens: false });
    const classic: OAuthClient = { clientId: app.clientId, clientSecret: app.clientSecret, redirectUri: CALLBACK, scopes: ['repo', 'read:org'] };
    const { verifier, challenge } = pkcePair();
    const back = await authorize(challenge, 's', classic);
    const credentials = await oauth.exchangeCode(authCtx(), classic, { code: back.searchParams.get('code')!, codeVerifier: verifier });
    expect(credentials).toEqual({ type: 'token', token: expect.stringMatching(/^gho_/) as unknown });
    expect(auth.expiresAt(credentials)).toBeUndefined();
    expect(await auth.refresh!(authCtx(), credentials)).toEqual(credentials);
    expect((await pullAll(credentials)).flatMap((p) => p.records)).toHaveLength(3);
  });
});

describe('refresh with rotation', () => {
  it('returns a new pair; the old access and refresh tokens stop working', async () => {
    const first = await connect();
    const second = (await auth.refresh!(authCtx(), first)) as GithubOAuthCredentials;
    expect(second.type).toBe('oauth');
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second).toMatchObject({ clientId: first.clientId, clientSecret: first.clientSecret });
    expect((await pullAll(second)).flatMap((p) => p.records)).toHaveLength(3);
    const e = await failure(pullAll(first));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).not.toContain(first.accessToken);
    expect(await failure(auth.refresh!(authCtx(), first))).toBeInstanceOf(AuthError);
  });

  it('reusing a rotated refresh token → AuthError, and the whole family is revoked', async () => {
    const first = await connect();
    const second = (await auth.refresh!(authCtx(), first)) as GithubOAuthCredentials;
    const reuse = await failure(auth.refresh!(authCtx(), first));
    expect(reuse).toBeInstanceOf(AuthError);
    expect((reuse as Error).message).toContain('bad_refresh_token');
    expect((reuse as Error).message).not.toContain(first.refreshToken);
    // The legitimate holder's current pair dies too.
    expect(gh.isTokenFamilyRevoked(second.accessToken)).toBe(true);
    expect(await failure(pullAll(second))).toBeInstanceOf(AuthError);
    expect(await failure(auth.refresh!(authCtx(), second))).toBeInstanceOf(AuthError);
    // Other authorizations are untouched.
    const other = await connect();
    expect(gh.isTokenFamilyRevoked(other.accessToken)).toBe(false);
    expect((await pullAll(other)).flatMap((p) => p.records)).toHaveLength(3);
  });

  it('an expired access token → AuthError on pull; a refresh brings the integration back', async () => {
    const credentials = await connect();
    clock += 8 * HOUR_MS + 1000;
    try {
      expect(await failure(pullAll(credentials))).toBeInstanceOf(AuthError);
      const refreshed = await auth.refresh!(authCtx(), credentials);
      expect((await pullAll(refreshed)).flatMap((p) => p.records)).toHaveLength(3);
    } finally {
      clock -= 8 * HOUR_MS + 1000;
    }
  });

  it('a refresh token past its expiry is refused without a request', async () => {
    const credentials = await connect();
    const calls: string[] = [];
    const spy: typeof fetch = (input, init) => {
      calls.push(urlOf(input).href);
      return fetch(input, init);
    };
    const stale = { ...credentials, refreshTokenExpiresAt: new Date(Date.now() - 1000).toISOString() };
    expect(await failure(auth.refresh!(authCtx(spy), stale))).toBeInstanceOf(AuthError);
    expect(calls).toEqual([]);
  });
});

describe('revoked tokens', () => {
  it('a revoked access token → AuthError on pull and push; a revoked refresh token → AuthError on refresh', async () => {
    const credentials = await connect();
    expect(gh.revokeToken(credentials.accessToken)).toBe(true);
    expect(await failure(pullAll(credentials))).toBeInstanceOf(AuthError);
    const push = githubProvider.push!.apply(
      { baseUrl: gh.url, config, credentials, fetch },
      { op: 'create', entityType: 'issue', payload: { title: 'never' }, idempotencyKey: 'revoked-1' },
    );
    expect(await failure(push)).toBeInstanceOf(AuthError);

    expect(gh.revokeToken(credentials.refreshToken)).toBe(true);
    expect(await failure(auth.refresh!(authCtx(), credentials))).toBeInstanceOf(AuthError);
    expect(gh.revokeToken('ghu_never_issued')).toBe(false);
  });
});
