/**
 * Admin API for credentials: write-only secrets of every kind, OAuth client
 * registration, webhook secret rotation with an overlap window in which the
 * old and the new secret both verify.
 */
import { getCredentials, postWebhookSecretRotation, putCredentials, putOAuthClient } from '../../shared/api/credentials';
import type { ApiResponse } from '../../shared/api/http';
import { setIntegrationStatus } from '../../shared/credentials/status';
import { webhookSecrets } from '../../shared/webhooks/secrets';
import { apiRequest } from '../helpers/api';
import { ADMIN_KEY, CLIENT_ID, credentialsHarness, type Harness } from '../helpers/credentials-harness';

let h: Harness;
let clock: number;
beforeEach(async () => {
  clock = Date.parse('2026-03-02T09:00:00Z');
  h = await credentialsHarness({ now: () => new Date(clock) });
  await h.integration('adm-1');
});
afterEach(async () => {
  await h.close();
});

const params = { tenantId: 'acme', integrationId: 'adm-1' };
const put = (body: unknown, key: string | null = ADMIN_KEY, p: Record<string, string> = params): Promise<ApiResponse> =>
  putCredentials(h.module.admin, apiRequest({ method: 'PUT', params: p, body, key }));
const get = (): Promise<ApiResponse> => getCredentials(h.module.admin, apiRequest({ params, key: ADMIN_KEY }));
const rotate = (body: unknown): Promise<ApiResponse> => postWebhookSecretRotation(h.module.admin, apiRequest({ method: 'POST', params, body, key: ADMIN_KEY }));
const reason = (res: ApiResponse): string => (res.jsonBody as { reason?: string }).reason ?? '';

describe('PUT credentials', () => {
  const kinds = [
    { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'secret-api-key-001' } },
    { kind: 'bot-token', credentials: { type: 'bot', botToken: 'secret-bot-token-002' } },
    { kind: 'service-account', credentials: { type: 'service_account', clientEmail: 'svc@example.test', privateKey: 'secret-private-key-003' } },
    { kind: 'internal-token', credentials: { type: 'internal', token: 'secret-internal-004' } },
  ] as const;

  it.each(kinds)('stores a $kind as a new generation and never answers with it', async (body) => {
    const res = await put(body);
    expect(res.status).toBe(200);
    expect(res.jsonBody).toMatchObject({ integrationId: 'adm-1', provider: 'fakeoauth', credentials: { present: true, kind: body.kind, generation: 1 } });
    expect(JSON.stringify(res.jsonBody)).not.toMatch(/secret-/);
    const again = await put(body);
    expect((again.jsonBody as { credentials: { generation: number } }).credentials.generation).toBe(2);
    const stored = await h.store.get((await h.repos.getIntegration('acme', 'adm-1'))?.credentialsSecret ?? '');
    expect(stored?.value).toContain(Object.values(body.credentials).at(-1));
    expect(stored?.tags).toMatchObject({ tenant: 'acme', integration: 'adm-1', provider: 'fakeoauth', kind: body.kind, generation: '2' });
    const shown = await get();
    expect(JSON.stringify(shown.jsonBody)).not.toMatch(/secret-/);
    expect(shown.jsonBody).toMatchObject({ credentials: { present: true, kind: body.kind, generation: 2 } });
  });

  it('reports the rotation policy and the stated end of life, and puts the latter on the Key Vault secret', async () => {
    const res = await put({ kind: 'api-key', credentials: { type: 'api_key', apiKey: 'secret-api-key-005' }, expiresAt: '2026-05-01T00:00:00Z' });
    expect(res.jsonBody).toMatchObject({
      credentials: { expiresAt: '2026-05-01T00:00:00.000Z', rotation: { state: 'ok', maxAgeDays: 90, rotateBy: '2026-05-31T09:00:00.000Z' } },
    });
    const secret = await h.store.get((await h.repos.getIntegration('acme', 'adm-1'))?.credentialsSecret ?? '');
    expect(secret?.expiresOn?.toISOString()).toBe('2026-05-01T00:00:00.000Z');
  });

  it('re-activates an integration that needed re-authorisation, but not one an admin disabled', async () => {
    await setIntegrationStatus(h.repos, { tenantId: 'acme', integrationId: 'adm-1' }, 'needs_reauth', new Date());
    await put(kinds[0]);
    expect((await h.repos.getIntegration('acme', 'adm-1'))?.status).toBe('active');
    await setIntegrationStatus(h.repos, { tenantId: 'acme', integrationId: 'adm-1' }, 'disabled', new Date());
    await put(kinds[0]);
    expect((await h.repos.getIntegration('acme', 'adm-1'))?.status).toBe('disabled');
  });

  it('refuses bad input with a reason that never repeats the value', async () => {
    const wrongShape = await put({ kind: 'api-key', credentials: { type: 'api_key', apiKey: 12345, note: 'secret-in-note-006' } });
    expect(wrongShape.status).toBe(400);
    expect(reason(wrongShape)).toMatch(/credentials: apiKey/);
    const unknownKind = await put({ kind: 'secret-kind-007', credentials: {} });
    expect(unknownKind.status).toBe(400);
    const extra = await put({ kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k' }, 'secret-key-008': 1 });
    expect(extra.status).toBe(400);
    const past = await put({ kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k' }, expiresAt: '2020-01-01T00:00:00Z' });
    expect(reason(past)).toMatch(/future/);
    for (const r of [wrongShape, unknownKind, extra, past]) expect(JSON.stringify(r.jsonBody)).not.toMatch(/secret-in-note|12345/);
    expect((await put(kinds[0], null)).status).toBe(401);
    expect((await put(kinds[0], ADMIN_KEY, { tenantId: 'acme', integrationId: 'nope' })).status).toBe(404);
    expect(await h.store.get((await h.repos.getIntegration('acme', 'adm-1'))?.credentialsSecret ?? '')).toBeUndefined();
  });

  it('shows an absent credential as absent', async () => {
    expect((await get()).jsonBody).toMatchObject({ credentials: { present: false }, oauthClient: { present: false } });
  });
});

describe('PUT oauth-client', () => {
  const client = (over: Record<string, unknown> = {}): Promise<ApiResponse> =>
    putOAuthClient(h.module.admin, apiRequest({ method: 'PUT', params, key: ADMIN_KEY, body: { clientId: CLIENT_ID, clientSecret: 'secret-client-009', redirectUri: h.redirectUri, ...over } }));

  it('is write-only: the client id and redirect URI show, the secret never does', async () => {
    const res = await client({ clientSecretExpiresAt: '2027-01-01T00:00:00Z' });
    expect(res.status).toBe(200);
    expect(res.jsonBody).toMatchObject({ oauthClient: { present: true, clientId: CLIENT_ID, redirectUri: h.redirectUri, hasClientSecret: true, expiresAt: '2027-01-01T00:00:00Z' } });
    const shown = await get();
    expect(shown.jsonBody).toMatchObject({ oauthClient: { clientId: CLIENT_ID, rotation: { state: 'ok', maxAgeDays: 180 } } });
    for (const r of [res, shown]) expect(JSON.stringify(r.jsonBody)).not.toContain('secret-client');
  });

  it('refuses a redirect URI that is not this provider\'s callback', async () => {
    const res = await client({ redirectUri: 'https://app.example.test/api/oauth/github/callback' });
    expect(res.status).toBe(400);
    expect(reason(res)).toMatch(/\/api\/oauth\/fakeoauth\/callback/);
  });
});

describe('POST webhook-secret/rotate', () => {
  const secretsNow = async (at = clock): Promise<string[]> => {
    const integration = await h.repos.getIntegration('acme', 'adm-1');
    if (!integration) throw new Error('integration missing');
    return webhookSecrets(h.cache, integration, new Date(at));
  };

  it('old and new both verify during the overlap window, only the new one after it', async () => {
    const first = await rotate({ secret: 'whsec-first-0000001' });
    expect(first.status).toBe(200);
    expect(first.jsonBody).toMatchObject({ rotated: true, previousValidUntil: null, webhookPath: '/api/webhooks/fakeoauth/adm-1' });
    expect(await secretsNow()).toEqual(['whsec-first-0000001']);

    const second = await rotate({ secret: 'whsec-second-000002', overlapHours: 24 });
    expect(second.jsonBody).toMatchObject({ previousValidUntil: '2026-03-03T09:00:00.000Z' });
    expect(JSON.stringify([first.jsonBody, second.jsonBody])).not.toContain('whsec-');
    expect(await secretsNow()).toEqual(['whsec-second-000002', 'whsec-first-0000001']);
    expect(await secretsNow(clock + 24 * 3_600_000 - 1)).toEqual(['whsec-second-000002', 'whsec-first-0000001']);
    expect(await secretsNow(clock + 24 * 3_600_000)).toEqual(['whsec-second-000002']);
    expect(h.notifications.ofKind('webhook_secret_rotated')).toHaveLength(2);
  });

  it('a rotation during the overlap drops the oldest secret and deletes it', async () => {
    await rotate({ secret: 'whsec-first-0000001' });
    const firstName = (await h.repos.getIntegration('acme', 'adm-1'))?.webhookSecretName ?? '';
    await rotate({ secret: 'whsec-second-000002' });
    await rotate({ secret: 'whsec-third-0000003', overlapHours: 2 });
    expect(await secretsNow()).toEqual(['whsec-third-0000003', 'whsec-second-000002']);
    expect(await h.store.get(firstName)).toBeUndefined();
  });

  it('refuses a short secret or an overlap past 30 days', async () => {
    expect((await rotate({ secret: 'short' })).status).toBe(400);
    expect((await rotate({ secret: 'whsec-long-enough-01', overlapHours: 721 })).status).toBe(400);
    expect((await h.repos.getIntegration('acme', 'adm-1'))?.webhookSecretName).toBeUndefined();
  });
});
