/**
 * A canary planted in every kind of credential — API key, bot token,
 * service-account key, internal token, legacy credentials, OAuth client
 * secret, webhook secrets, and the access and refresh tokens the OAuth server
 * issues — must never appear in a log line, an error or an API response.
 * Everything runs through the real function definitions on the local host
 * (HTTP) and the TokenRefresher timer handler, on the embedded services.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import type { Timer } from '@azure/functions';
import '../../functions/AdminTenants';
import '../../functions/AdminIntegrations';
import '../../functions/AdminCredentials';
import '../../functions/OAuthStart';
import '../../functions/OAuthCallback';
import '../../functions/TokenRefresher';
import { definitions } from '../../functions/definitions';
import { createInvocation } from '../../local/host/context';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { setServices } from '../../shared/composition';
import { oauthClientSecretName } from '../../shared/credentials/envelope';
import { credentialModuleFor } from '../../shared/credentials/wiring';
import { createFakeOAuthProvider, fakeRegistry } from '../helpers/fake-oauth-provider';
import { startOAuthServer, type OAuthTestServer } from '../helpers/oauth-server';
import { embeddedServices, TEST_ADMIN_KEY, type TestServices } from '../helpers/services';

const CANARY = `CANARY${randomBytes(8).toString('hex')}`;
const CLIENT = 'canary-client';

let t: TestServices;
let host: LocalHost;
let oauth: OAuthTestServer;
const seen: string[] = [];
const errors: unknown[] = [];

beforeAll(async () => {
  // Tokens are 10-minute ones, so the TokenRefresher (15-minute window) refreshes them at once.
  oauth = await startOAuthServer({ tokenPrefix: `${CANARY}-`, accessTtlSeconds: 600 });
  t = await embeddedServices({}, { providers: fakeRegistry(createFakeOAuthProvider()) });
  setServices(t.services);
  const http = definitions.filter((d) => d.kind === 'http');
  host = await startLocalHost({ definitions: http, logger: t.services.logger, port: 0 });
  oauth.addClient(CLIENT, `${CANARY}-client-secret`, `${host.url}/api/oauth/fakeoauth/callback`);
});

afterAll(async () => {
  await host.stop();
  await oauth.close();
  await t.cleanup();
  setServices(undefined);
});

/** Every response, headers and body, is kept for the final check. */
async function call(path: string, init: RequestInit & { key?: string | null; cookie?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.key !== null) headers.set('x-functions-key', init.key ?? TEST_ADMIN_KEY);
  if (init.cookie !== undefined) headers.set('cookie', init.cookie);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(path.startsWith('http') ? path : `${host.url}/api${path}`, { ...init, headers, redirect: 'manual' });
  const text = await res.clone().text();
  seen.push(`${res.status} ${JSON.stringify([...res.headers.entries()])} ${text}`);
  return res;
}

const json = (body: unknown): RequestInit => ({ method: 'PUT', body: JSON.stringify(body) });
const base = (i: string): string => `/admin/tenants/acme/integrations/${i}`;

async function runTokenRefresher(): Promise<void> {
  const def = definitions.find((d) => d.name === 'TokenRefresher');
  if (def?.kind !== 'timer') throw new Error('TokenRefresher is not registered');
  const { context } = createInvocation({ functionName: 'TokenRefresher', trigger: { type: 'timerTrigger', name: 'timer' }, logger: t.services.logger });
  const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };
  await def.handler(timer, context);
}

test('the canary is stored in every credential kind and never leaves the vault', async () => {
  expect((await call('/admin/tenants/acme', json({ name: 'Acme' }))).status).toBe(201);

  // Legacy credentials and the first webhook secret through the integration API.
  const created = await call(base('canary-1'), json({
    provider: 'fakeoauth',
    baseUrl: oauth.url,
    config: { workspace: 'acme' },
    credentials: { type: 'api_key', apiKey: `${CANARY}-legacy` },
    webhookSecret: `${CANARY}-whsec-0`,
  }));
  expect(created.status).toBe(201);

  // Every static kind through the credentials API, then read back.
  for (const body of [
    { kind: 'api-key', credentials: { type: 'api_key', apiKey: `${CANARY}-api-key` } },
    { kind: 'bot-token', credentials: { type: 'bot', botToken: `${CANARY}-bot` } },
    { kind: 'service-account', credentials: { type: 'service_account', clientEmail: 'svc@example.test', privateKey: `-----BEGIN PRIVATE KEY-----${CANARY}` } },
    { kind: 'internal-token', credentials: { type: 'internal', token: `${CANARY}-internal` } },
  ]) {
    expect((await call(`${base('canary-1')}/credentials`, json(body))).status).toBe(200);
  }
  expect((await call(`${base('canary-1')}/credentials`)).status).toBe(200);
  // Bad input carrying the canary: refused without echoing it.
  expect((await call(`${base('canary-1')}/credentials`, json({ kind: 'api-key', credentials: { type: 'bot', apiKey: `${CANARY}-misplaced` } }))).status).toBe(400);
  expect((await call(`${base('canary-1')}/credentials`, json({ kind: CANARY, credentials: {} }))).status).toBe(400);

  // Webhook secret rotations.
  for (const secret of [`${CANARY}-whsec-1`, `${CANARY}-whsec-2`]) {
    expect((await call(`${base('canary-1')}/webhook-secret/rotate`, { method: 'POST', body: JSON.stringify({ secret }) })).status).toBe(200);
  }
  expect((await call(`${base('canary-1')}/webhook-secret/rotate`, { method: 'POST', body: JSON.stringify({ secret: CANARY.slice(0, 8) }) })).status).toBe(400);

  // OAuth: client registration, start (key as `code`, as a browser would send it), consent, callback.
  expect((await call(`${base('canary-1')}/oauth-client`, json({ clientId: CLIENT, clientSecret: `${CANARY}-client-secret`, redirectUri: `${host.url}/api/oauth/fakeoauth/callback` }))).status).toBe(200);
  const start = await call(`/oauth/fakeoauth/start?tenantId=acme&integrationId=canary-1&code=${TEST_ADMIN_KEY}`, { key: null });
  expect(start.status).toBe(302);
  const cookie = (start.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const consent = await fetch(start.headers.get('location') ?? '', { redirect: 'manual' });
  const back = consent.headers.get('location') ?? '';
  expect((await call(`${back}&error_description=${CANARY}`, { key: null })).status).toBe(400); // no cookie: refused
  const done = await call(back, { key: null, cookie });
  expect(done.status).toBe(200);
  expect((await call(back, { key: null, cookie })).status).toBe(400); // replay

  // The refresher refreshes the 10-minute token, then meets a revoked grant, then a transient failure.
  await runTokenRefresher();
  expect(oauth.tokenRequests.filter((r) => r.grant === 'refresh_token' && r.status === 200)).toHaveLength(1);
  oauth.behaviour.refuseRefresh = true;
  await runTokenRefresher();
  const module = credentialModuleFor(t.services);
  const integration = await t.services.repos.getIntegration('acme', 'canary-1');
  if (!integration) throw new Error('integration missing');
  expect(integration.status).toBe('needs_reauth');
  // The refused grant, asked again: refused at once, with an error to inspect.
  errors.push(await module.service.refreshIfDue(integration, 24 * 3_600_000).catch((e: unknown) => e));
  oauth.behaviour.refuseRefresh = false;
  oauth.behaviour.failNext = { status: 503, count: 5 };
  await call(`${base('canary-1')}/credentials`, json({ kind: 'oauth', credentials: { type: 'oauth', accessToken: `${CANARY}-at`, refreshToken: `${CANARY}-rt`, expiresAt: Date.now() - 1000, clientId: CLIENT, clientSecret: `${CANARY}-client-secret` } }));
  const refreshed = await t.services.repos.getIntegration('acme', 'canary-1');
  if (refreshed) errors.push(await module.service.getAccessCredentials(refreshed).catch((e: unknown) => e));
  await runTokenRefresher();
  expect(errors.map((e) => (e instanceof Error ? e.name : 'no error'))).toEqual(['AuthError', 'RateLimitedError']);

  // Positive control: the canary really is in the vault, in every kind.
  const secrets = t.services.adapters.secrets;
  const names = [integration.credentialsSecret, oauthClientSecretName('acme', 'canary-1'), integration.webhookSecretName ?? '', integration.previousWebhookSecretName ?? ''];
  for (const name of names) expect((await secrets.get(name))?.value).toContain(CANARY);

  // …and nowhere else.
  const logs = t.logs.map((l) => JSON.stringify(l));
  expect(logs.length).toBeGreaterThan(10);
  expect(logs.filter((l) => l.includes(CANARY))).toEqual([]);
  expect(seen.filter((s) => s.includes(CANARY))).toEqual([]);
  expect(errors.map((e) => inspect(e, { depth: 10 })).filter((e) => e.includes(CANARY))).toEqual([]);
});
