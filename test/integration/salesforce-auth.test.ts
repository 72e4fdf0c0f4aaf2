import { generateKeyPairSync, verify } from 'node:crypto';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../local/sandbox/salesforce';
import { AuthError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { pkcePair } from '../../shared/providers/oauth';
import { createSalesforceProvider, type SalesforceConfig, type SalesforceCredentials } from '../../shared/providers/salesforce';
import type { OAuthClient } from '../../shared/providers/types';
import { collect, configFor, failure, freshObject, ids, pullContext, pullError, recordingFetch } from '../helpers/salesforce';

let clock = Date.parse('2025-03-01T12:00:00Z');
const now = (): number => clock;
const provider = createSalesforceProvider({ now });
const auth = provider.auth!;
const USER = 'integration@castiel.example';
const REDIRECT = 'https://castiel.example/api/oauth/callback';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_KEY = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_KEY = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();

const web: OAuthClient = { clientId: 'castiel-web', clientSecret: 'web-secret-1', redirectUri: REDIRECT };
const rotating: OAuthClient = { clientId: 'castiel-rotating', clientSecret: 'rotating-secret-1', redirectUri: REDIRECT };
const publicClient: OAuthClient = { clientId: 'castiel-public', clientSecret: '', redirectUri: REDIRECT };

let sf: SalesforceSandbox;
let T: string;
let config: SalesforceConfig;

beforeAll(async () => {
  sf = await startSalesforceSandbox({ clockStart: '2025-03-01T00:00:00Z', now, defaultUser: USER });
  sf.addConnectedApp({ clientId: web.clientId, clientSecret: web.clientSecret, redirectUris: [REDIRECT] });
  sf.addConnectedApp({ clientId: rotating.clientId, clientSecret: rotating.clientSecret, redirectUris: [REDIRECT], rotateRefreshTokens: true });
  sf.addConnectedApp({ clientId: publicClient.clientId, redirectUris: [REDIRECT] });
  sf.addConnectedApp({ clientId: 'castiel-jwt', certificate: PUBLIC_KEY, preauthorizedUsers: [USER] });
  sf.addConnectedApp({ clientId: 'castiel-cc', clientSecret: 'cc-secret-1', clientCredentialsUser: USER });
  T = freshObject(sf, 3);
  config = configFor([T]);
});
afterAll(async () => {
  await sf.close();
});

const grantCtx = (baseUrl = sf.url, f: typeof fetch = fetch) => ({ baseUrl, config, fetch: f });
const pull = (credentials: SalesforceCredentials, baseUrl = sf.url) => collect(provider, { ...pullContext(sf, config, credentials), baseUrl });

/** Browser leg of the web-server flow: the sandbox approves at once and redirects with the code. */
async function authorize(client: OAuthClient, challenge: string, state = 'state-123'): Promise<string> {
  const res = await fetch(auth.oauth!.authorizeUrl(sf.url, config, client, { state, codeChallenge: challenge }), { redirect: 'manual' });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe(state);
  return back.searchParams.get('code')!;
}

async function connect(client: OAuthClient): Promise<SalesforceCredentials> {
  const { verifier, challenge } = pkcePair();
  return auth.oauth!.exchangeCode(grantCtx(), client, { code: await authorize(client, challenge), codeVerifier: verifier });
}

describe('OAuth web-server flow with PKCE', () => {
  it('authorizeUrl asks the login URL for a code with an S256 challenge and the refresh_token scope', () => {
    const url = new URL(auth.oauth!.authorizeUrl('https://login.salesforce.com', config, web, { state: 's1', codeChallenge: 'c1' }));
    expect(url.origin + url.pathname).toBe('https://login.salesforce.com/services/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code', client_id: web.clientId, redirect_uri: REDIRECT, state: 's1', code_challenge: 'c1', code_challenge_method: 'S256', scope: 'api refresh_token',
    });
  });

  it('exchanges the code at the login URL; the credentials name the instance URL, and the API works there', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await authorize(web, challenge);
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const credentials = await auth.oauth!.exchangeCode(grantCtx(sf.url, recordingFetch(sent)), web, { code, codeVerifier: verifier });
    expect(credentials).toEqual({
      type: 'oauth', clientId: web.clientId, clientSecret: web.clientSecret, accessToken: expect.any(String) as unknown,
      refreshToken: expect.any(String) as unknown, instanceUrl: sf.instanceUrl, issuedAt: clock,
    });
    expect(sent[0]!.url.href).toBe(`${sf.url}/services/oauth2/token`);
    expect(Object.fromEntries(new URLSearchParams(sent[0]!.body))).toEqual({
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: web.clientId, client_secret: web.clientSecret,
    });
    expect(ids(await pull(credentials))).toHaveLength(3);
    expect(auth.expiresAt(credentials)).toBe(clock + 2 * 60 * 60 * 1000);
  });

  it('a wrong verifier or a reused code is refused with AuthError (invalid_grant)', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await authorize(web, challenge);
    expect(await failure(() => auth.oauth!.exchangeCode(grantCtx(), web, { code, codeVerifier: pkcePair().verifier }))).toBeInstanceOf(AuthError);
    // The code died on its first (failed) use.
    expect(await failure(() => auth.oauth!.exchangeCode(grantCtx(), web, { code, codeVerifier: verifier }))).toBeInstanceOf(AuthError);
  });

  it('a public client sends no secret and relies on PKCE', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await authorize(publicClient, challenge);
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const credentials = await auth.oauth!.exchangeCode(grantCtx(sf.url, recordingFetch(sent)), publicClient, { code, codeVerifier: verifier });
    expect(new URLSearchParams(sent[0]!.body).has('client_secret')).toBe(false);
    expect(credentials).not.toHaveProperty('clientSecret');
    expect(ids(await pull(credentials))).toHaveLength(3);
  });
});

describe('refresh', () => {
  it('rotation off: a new access token, the stored refresh token kept (the response has none) and reusable', async () => {
    const credentials = await connect(web);
    clock += 60_000;
    const refreshed = await auth.refresh!(grantCtx(), credentials);
    expect(refreshed).toMatchObject({ type: 'oauth', refreshToken: (credentials as { refreshToken: string }).refreshToken, issuedAt: clock, instanceUrl: sf.instanceUrl });
    expect(refreshed.accessToken).not.toBe(credentials.accessToken);
    expect(ids(await pull(refreshed))).toHaveLength(3);
    expect(ids(await pull(await auth.refresh!(grantCtx(), credentials)))).toHaveLength(3);
  });

  it('an expired session is an AuthError on pull; a refresh brings it back', async () => {
    const credentials = await connect(web);
    sf.expireSession(credentials.accessToken);
    expect(await pullError(provider, pullContext(sf, config, credentials))).toBeInstanceOf(AuthError);
    expect(ids(await pull(await auth.refresh!(grantCtx(), credentials)))).toHaveLength(3);
  });

  it('rotation on: each refresh returns a new refresh token; reusing an old one fails and revokes the whole family', async () => {
    const first = (await connect(rotating)) as Extract<SalesforceCredentials, { type: 'oauth' }>;
    const second = (await auth.refresh!(grantCtx(), first)) as typeof first;
    expect(second.refreshToken).toBeDefined();
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const third = (await auth.refresh!(grantCtx(), second)) as typeof first;
    expect(ids(await pull(third))).toHaveLength(3);

    const reuse = await failure(() => auth.refresh!(grantCtx(), first));
    expect(reuse).toBeInstanceOf(AuthError);
    expect((reuse as Error).message).toBe('token endpoint refused the grant (invalid_grant)');
    expect((reuse as Error).message).not.toContain(first.refreshToken!);
    // The theft response: the newest tokens of the family are dead too.
    expect(await failure(() => auth.refresh!(grantCtx(), third))).toBeInstanceOf(AuthError);
    expect(await pullError(provider, pullContext(sf, config, third))).toBeInstanceOf(AuthError);
  });

  it('a revoked refresh token → AuthError; a 5xx at the token endpoint → RetryableError', async () => {
    const credentials = (await connect(web)) as Extract<SalesforceCredentials, { type: 'oauth' }>;
    sf.failNext(1, 503);
    expect(await failure(() => auth.refresh!(grantCtx(), credentials))).toBeInstanceOf(RetryableError);
    expect(sf.revokeToken(credentials.refreshToken!)).toBe(true);
    expect(await failure(() => auth.refresh!(grantCtx(), credentials))).toBeInstanceOf(AuthError);
  });

  it('modes that cannot refresh say so with AuthError', async () => {
    const token: SalesforceCredentials = { type: 'token', accessToken: sf.issueAccessToken(), instanceUrl: sf.instanceUrl };
    expect(await failure(() => auth.refresh!(grantCtx(), token))).toBeInstanceOf(AuthError);
    expect(auth.expiresAt(token)).toBeUndefined();
    const noRefresh: SalesforceCredentials = { type: 'oauth', clientId: web.clientId, accessToken: 'x', instanceUrl: sf.instanceUrl };
    expect(await failure(() => auth.refresh!(grantCtx(), noRefresh))).toBeInstanceOf(AuthError);
  });
});

describe('JWT bearer flow', () => {
  const jwt = (o: Partial<Extract<SalesforceCredentials, { type: 'jwt' }>> = {}): SalesforceCredentials => ({ type: 'jwt', clientId: 'castiel-jwt', username: USER, privateKey: PRIVATE_KEY, ...o });

  it('refresh mints a token with an RS256 assertion: iss = client id, sub = user, aud = login URL, exp within 3 minutes', async () => {
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const minted = await auth.refresh!(grantCtx(sf.url, recordingFetch(sent)), jwt());
    expect(minted).toMatchObject({ type: 'jwt', instanceUrl: sf.instanceUrl, issuedAt: clock, accessToken: expect.any(String) as unknown });
    const form = new URLSearchParams(sent[0]!.body);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [h, p, s] = form.get('assertion')!.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toMatchObject({ alg: 'RS256' });
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iss: string; sub: string; aud: string; exp: number };
    expect(claims).toMatchObject({ iss: 'castiel-jwt', sub: USER, aud: sf.url });
    expect(claims.exp - clock / 1000).toBeGreaterThan(0);
    expect(claims.exp - clock / 1000).toBeLessThanOrEqual(180);
    expect(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), PUBLIC_KEY, Buffer.from(s, 'base64url'))).toBe(true);
    expect(auth.expiresAt(jwt())).toBe(0);
    expect(auth.expiresAt(minted)).toBe(clock + 2 * 60 * 60 * 1000);
  });

  it('a pull with no stored token mints one; a session that expires mid-run is minted again, not failed', async () => {
    const big = freshObject(sf, 2100);
    const sent: { url: URL; headers: Headers; body: string | undefined }[] = [];
    const c = { ...pullContext(sf, configFor([big]), jwt(), { fetch: recordingFetch(sent) }) };
    const pages = [];
    for await (const page of provider.pull(c)) {
      pages.push(page);
      // Every session of the org ends between the two pages.
      if (pages.length === 1) sf.expireSession();
    }
    expect(pages.map((p) => p.records.length)).toEqual([2000, 100]);
    expect(sent.filter((s) => s.url.pathname === '/services/oauth2/token')).toHaveLength(2);
  });

  it('a key the app does not know, or a user not pre-authorised → AuthError (invalid_grant)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(await failure(() => auth.refresh!(grantCtx(), jwt({ privateKey: other })))).toBeInstanceOf(AuthError);
    sf.addUser('someone@castiel.example');
    expect(await failure(() => auth.refresh!(grantCtx(), jwt({ username: 'someone@castiel.example' })))).toBeInstanceOf(AuthError);
  });

  it('a private key that cannot sign → UnrecoverableError without the key in the message', async () => {
    const broken = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n';
    const e = await failure(() => auth.refresh!(grantCtx(), jwt({ privateKey: broken })));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).not.toContain('bm90IGEga2V5');
  });
});

describe('client credentials flow', () => {
  const cc: SalesforceCredentials = { type: 'client_credentials', clientId: 'castiel-cc', clientSecret: 'cc-secret-1' };

  it('works against the My Domain (instance) and pulls', async () => {
    const minted = await auth.refresh!(grantCtx(sf.instanceUrl), cc);
    expect(minted).toMatchObject({ type: 'client_credentials', instanceUrl: sf.instanceUrl });
    expect(ids(await pull(cc, sf.instanceUrl))).toHaveLength(3);
  });

  it('is refused on the generic login URL, as Salesforce does', async () => {
    expect(await failure(() => auth.refresh!(grantCtx(sf.url), cc))).toBeInstanceOf(AuthError);
  });
});

describe('instance URLs from token responses', () => {
  const answering = (body: Record<string, unknown>): typeof fetch => () => Promise.resolve(new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }));
  const cc: SalesforceCredentials = { type: 'client_credentials', clientId: 'c', clientSecret: 's' };

  it('only HTTPS, or plain HTTP on loopback, becomes the API base', async () => {
    const ok = await auth.refresh!(grantCtx('https://acme.my.salesforce.com', answering({ access_token: 't', instance_url: 'https://acme.my.salesforce.com' })), cc);
    expect(ok).toMatchObject({ instanceUrl: 'https://acme.my.salesforce.com', accessToken: 't' });
    const e = await failure(() => auth.refresh!(grantCtx('https://acme.my.salesforce.com', answering({ access_token: 't', instance_url: 'http://evil.example' })), cc));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(await failure(() => auth.refresh!(grantCtx('https://acme.my.salesforce.com', answering({ access_token: 't' })), cc))).toBeInstanceOf(UnrecoverableError);
  });
});
