/**
 * OAuth connect end to end against the local authorization server: start
 * (302 with PKCE S256 and a signed state, flow cookie), the provider's
 * redirect back, the callback (code exchange, tokens stored, integration
 * active) — and every way a callback must be refused.
 */
import { putOAuthClient } from '../../shared/api/credentials';
import type { ApiResponse } from '../../shared/api/http';
import { oauthCallback, oauthStart } from '../../shared/api/oauth';
import { setIntegrationStatus } from '../../shared/credentials/status';
import type { Integration } from '../../shared/domain/types';
import { apiRequest } from '../helpers/api';
import { ADMIN_KEY, CLIENT_ID, CLIENT_SECRET, credentialsHarness, type Harness } from '../helpers/credentials-harness';

let h: Harness;
let clock: number;
let integration: Integration;

beforeEach(async () => {
  clock = Date.now();
  h = await credentialsHarness({ now: () => new Date(clock) });
  integration = await h.integration('conn-1');
  // Not connected yet: created, waiting for its first authorisation.
  await setIntegrationStatus(h.repos, { tenantId: 'acme', integrationId: 'conn-1' }, 'needs_reauth', new Date());
});
afterEach(async () => {
  await h.close();
});

const registerClient = async (): Promise<ApiResponse> =>
  putOAuthClient(
    h.module.admin,
    apiRequest({
      method: 'PUT',
      params: { tenantId: 'acme', integrationId: 'conn-1' },
      body: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: h.redirectUri, scopes: ['read', 'write'] },
      key: ADMIN_KEY,
    }),
  );

const start = (query: Record<string, string> = { tenantId: 'acme', integrationId: 'conn-1' }, key: string | null = ADMIN_KEY, provider = 'fakeoauth'): Promise<ApiResponse> =>
  oauthStart(h.module.oauth, apiRequest({ params: { provider }, query, key }));

interface Started {
  location: URL;
  cookie: string;
  setCookie: string;
}

async function started(): Promise<Started> {
  const res = await start();
  expect(res.status).toBe(302);
  const setCookie = res.headers?.['set-cookie'] ?? '';
  return { location: new URL(res.headers?.location ?? ''), cookie: setCookie.split(';')[0] ?? '', setCookie };
}

/** The browser at the provider: it consents and is sent back with code and state. */
async function consent(location: URL): Promise<URLSearchParams> {
  const res = await fetch(location, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') ?? '').searchParams;
}

const callback = (query: URLSearchParams | Record<string, string>, cookie?: string): Promise<ApiResponse> =>
  oauthCallback(
    h.module.oauth,
    apiRequest({ params: { provider: 'fakeoauth' }, query: Object.fromEntries(new URLSearchParams(query)), key: null, ...(cookie === undefined ? {} : { headers: { cookie } }) }),
  );

const reason = (res: ApiResponse): string => (res.jsonBody as { reason?: string }).reason ?? '';

test('connects: 302 to the provider with PKCE and signed state, callback stores tokens and activates the integration', async () => {
  const registered = await registerClient();
  expect(registered.status).toBe(200);
  expect(JSON.stringify(registered.jsonBody)).not.toContain(CLIENT_SECRET);

  const { location, cookie, setCookie } = await started();
  expect(`${location.origin}${location.pathname}`).toBe(`${h.server.url}/oauth/authorize`);
  expect(location.searchParams.get('client_id')).toBe(CLIENT_ID);
  expect(location.searchParams.get('redirect_uri')).toBe(h.redirectUri);
  expect(location.searchParams.get('code_challenge_method')).toBe('S256');
  expect(location.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(location.searchParams.get('scope')).toBe('read write');
  expect(setCookie).toMatch(/^castiel_oauth_[A-Za-z0-9_-]{22}=[A-Za-z0-9_-]{43}; Path=\/api\/oauth\/fakeoauth\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/);

  const back = await consent(location);
  const res = await callback(back, cookie);
  expect(res.status).toBe(200);
  expect(res.jsonBody).toEqual({ connected: true, tenantId: 'acme', integrationId: 'conn-1', provider: 'fakeoauth', status: 'active', generation: 1 });
  expect(res.headers?.['set-cookie']).toMatch(/Max-Age=0/);
  expect(res.headers?.['cache-control']).toBe('no-store');

  expect((await h.repos.getIntegration('acme', 'conn-1'))?.status).toBe('active');
  const stored = await h.store.get(integration.credentialsSecret);
  expect(stored?.tags).toMatchObject({ kind: 'oauth', generation: '1' });
  const access = await h.module.service.getAccessCredentials(integration);
  expect(h.server.isLive((access.credentials as { accessToken: string }).accessToken)).toBe(true);
  expect(h.server.tokenRequests).toEqual([{ grant: 'authorization_code', status: 200 }]);
  expect(h.notifications.ofKind('connected')).toHaveLength(1);

  // The same callback again (a reload, or an attacker replaying it) is refused and changes nothing.
  const replay = await callback(back, cookie);
  expect(replay.status).toBe(400);
  expect(reason(replay)).toMatch(/already used/);
  expect(h.server.tokenRequests).toHaveLength(1);
});

test('a tampered state is refused (400) and does not use up the genuine flow', async () => {
  await registerClient();
  const { location, cookie } = await started();
  const back = await consent(location);
  const state = back.get('state') ?? '';
  const [payload = '', signature = ''] = state.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()) as object, i: 'someone-else' })).toString('base64url');
  for (const bad of [`${forgedPayload}.${signature}`, `${payload}.${signature.slice(0, -2)}AA`, 'garbage']) {
    const res = await callback({ code: back.get('code') ?? '', state: bad }, cookie);
    expect(res.status).toBe(400);
    expect(reason(res)).toMatch(/Invalid OAuth state/);
  }
  expect(h.server.tokenRequests).toHaveLength(0);
  expect((await callback(back, cookie)).status).toBe(200);
});

test('an expired state is refused (400)', async () => {
  await registerClient();
  const { location, cookie } = await started();
  const back = await consent(location);
  clock += 10 * 60_000 + 1;
  const res = await callback(back, cookie);
  expect(res.status).toBe(400);
  expect(reason(res)).toMatch(/expired/);
  expect(h.server.tokenRequests).toHaveLength(0);
});

test('a callback from another browser (no or wrong flow cookie) is refused', async () => {
  await registerClient();
  const { location, cookie } = await started();
  const back = await consent(location);
  const [name] = cookie.split('=');
  for (const other of [undefined, `${name ?? ''}=not-the-binding`, 'unrelated=1']) {
    const res = await callback(back, other);
    expect(res.status).toBe(400);
    expect(reason(res)).toMatch(/browser that started it/);
  }
  expect((await callback(back, cookie)).status).toBe(200);
});

test('the provider checks our PKCE verifier: a different one fails the exchange', async () => {
  await registerClient();
  const { location, cookie } = await started();
  const back = await consent(location);
  const nonce = /^castiel_oauth_([^=]+)=/.exec(cookie)?.[1] ?? '';
  const key = `oauth:flow:{${nonce}}`;
  const flow = JSON.parse((await h.kv.get(key)) ?? '{}') as { verifier: string; binding: string };
  await h.kv.set(key, JSON.stringify({ ...flow, verifier: 'x'.repeat(43) }), 60_000);
  const res = await callback(back, cookie);
  expect(res.status).toBe(400);
  expect(reason(res)).toMatch(/refused the authorization code/);
  expect(h.server.tokenRequests).toEqual([{ grant: 'authorization_code', status: 400, error: 'invalid_grant' }]);
  expect((await h.repos.getIntegration('acme', 'conn-1'))?.status).toBe('needs_reauth');
});

test('a denied consent is reported without echoing arbitrary text, and uses up the state', async () => {
  await registerClient();
  const { location, cookie } = await started();
  const state = location.searchParams.get('state') ?? '';
  const denied = await callback({ error: 'access_denied', error_description: '<script>x</script>', state }, cookie);
  expect(denied.status).toBe(400);
  expect(reason(denied)).toMatch(/access_denied/);
  expect(JSON.stringify(denied.jsonBody)).not.toContain('script');
  const odd = await callback({ error: '<b>bad</b>', state }, cookie);
  expect(reason(odd)).toMatch(/already used/);
});

test('start needs the admin key (header or code), a known OAuth provider, the integration and its client', async () => {
  expect((await start(undefined, null)).status).toBe(401);
  expect((await start(undefined, 'wrong-key-wrong-key-wrong')).status).toBe(401);
  expect((await start()).status).toBe(409); // no client registered yet
  await registerClient();
  expect((await start({ tenantId: 'acme', integrationId: 'conn-1', code: ADMIN_KEY }, null)).status).toBe(302);
  expect((await start({ tenantId: 'acme', integrationId: 'missing' })).status).toBe(404);
  expect((await start({ tenantId: 'acme', integrationId: '../x' })).status).toBe(400);
  expect((await start(undefined, ADMIN_KEY, 'nope')).status).toBe(404);
});

test('without a state key the flow answers 503 instead of running unsigned', async () => {
  await registerClient();
  const res = await oauthStart({ ...h.module.oauth, stateKey: undefined }, apiRequest({ params: { provider: 'fakeoauth' }, query: { tenantId: 'acme', integrationId: 'conn-1' }, key: ADMIN_KEY }));
  expect(res.status).toBe(503);
  expect(res.jsonBody).toMatchObject({ error: 'not_configured' });
});
