/**
 * Token refresh against the rotating, family-revoking OAuth server, with real
 * Redis (random prefix) for locks and failure records and the encrypted local
 * secret store: single flight, persist-before-use, rotation, invalid_grant,
 * transient backoff and re-reads across instances.
 */
import { credentialLockKey } from '../../shared/credentials/lock';
import { AuthError, RateLimitedError, RetryableError } from '../../shared/errors';
import type { Integration } from '../../shared/domain/types';
import { credentialsHarness, recordingLocalStore, type Harness, type RecordingStore } from '../helpers/credentials-harness';
import type { FakeCredentials } from '../helpers/fake-oauth-provider';

type OAuthCreds = Extract<FakeCredentials, { type: 'oauth' }>;
const HOUR = 3_600_000;

let h: Harness;
let recorder: { store: RecordingStore; cleanup: () => Promise<void> };
const extra: Harness[] = [];

beforeEach(async () => {
  recorder = await recordingLocalStore();
});
afterEach(async () => {
  for (const x of extra.splice(0)) await x.close();
  await h.close();
  await recorder.cleanup();
});

const asOAuth = (c: unknown): OAuthCreds => c as OAuthCreds;
const refreshRequests = (x: Harness): number => x.server.tokenRequests.filter((r) => r.grant === 'refresh_token').length;
const storedEnvelope = async (x: Harness, i: Integration): Promise<{ generation: number; credentials: OAuthCreds }> =>
  JSON.parse((await x.store.get(i.credentialsSecret))?.value ?? '{}') as { generation: number; credentials: OAuthCreds };

async function withExpired(x: Harness, expiresAt = Date.now() - 60_000): Promise<{ integration: Integration; creds: OAuthCreds }> {
  const integration = await x.integration();
  const creds = asOAuth(x.oauthCredentials(expiresAt));
  await x.plant(integration, { kind: 'oauth', credentials: creds, createdAt: new Date().toISOString() }, 1);
  return { integration, creds };
}

describe('refresh on use', () => {
  it('20 concurrent callers on an expired token: one token request, one new version, everyone gets the new token', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const { integration, creds } = await withExpired(h);
    const results = await Promise.all(Array.from({ length: 20 }, () => h.module.service.getAccessCredentials(integration)));

    expect(refreshRequests(h)).toBe(1);
    expect(h.server.revocations).toBe(0);
    const tokens = new Set(results.map((r) => asOAuth(r.credentials).accessToken));
    expect(tokens.size).toBe(1);
    const [token] = [...tokens];
    expect(token).not.toBe(creds.accessToken);
    expect(h.server.isLive(token ?? '')).toBe(true);

    const stored = await h.store.get(integration.credentialsSecret);
    expect(stored?.tags).toMatchObject({ tenant: 'acme', integration: integration.id, provider: 'fakeoauth', kind: 'oauth', generation: '2' });
    expect(stored?.contentType).toBe('application/json');
    expect(stored?.expiresOn).toBeUndefined(); // refreshable: the secret outlives its access token
    const envelope = await storedEnvelope(h, integration);
    expect(envelope.generation).toBe(2);
    expect(envelope.credentials.accessToken).toBe(token);
    expect(envelope.credentials.refreshToken).not.toBe(creds.refreshToken); // rotated, and the new one is what is stored
    expect(recorder.store.sets).toHaveLength(2); // the plant, then one refresh
  });

  it('persists rotated tokens before any caller receives them', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const { integration } = await withExpired(h);
    const setsWhenReceived: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const got = await h.module.service.getAccessCredentials(integration);
        const setIndex = recorder.store.sets.findIndex((s) => s.value.includes(asOAuth(got.credentials).accessToken));
        setsWhenReceived.push(setIndex);
      }),
    );
    // Every caller found its token already written when it received it.
    expect(setsWhenReceived.every((i) => i === 1)).toBe(true);
  });

  it('never hands out tokens it could not store', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const { integration } = await withExpired(h);
    recorder.store.failSets = true;
    await expect(h.module.service.getAccessCredentials(integration)).rejects.toBeInstanceOf(RetryableError);
    expect(refreshRequests(h)).toBe(1); // the provider did refresh…
    expect((await storedEnvelope(h, integration)).generation).toBe(1); // …but nothing new was stored or returned
  });

  it('keeps the old refresh token when the response has none', async () => {
    h = await credentialsHarness({ store: recorder.store });
    h.server.behaviour.omitRefreshToken = true;
    const { integration, creds } = await withExpired(h);
    const got = asOAuth((await h.module.service.getAccessCredentials(integration)).credentials);
    expect(got.accessToken).not.toBe(creds.accessToken);
    expect(got.refreshToken).toBe(creds.refreshToken);
    expect((await storedEnvelope(h, integration)).credentials.refreshToken).toBe(creds.refreshToken);
    // …and it still works: a forced refresh with it succeeds.
    expect(await h.module.service.onAuthFailure(integration, { version: (await h.store.get(integration.credentialsSecret))?.version ?? '' })).toBe('refreshed');
    expect(h.server.tokenRequests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('uses a still-valid token when the refresh ahead of expiry fails', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const { integration, creds } = await withExpired(h, Date.now() + 30_000); // within the 60 s skew
    h.server.behaviour.failNext = { status: 503, count: 1 };
    const got = await h.module.service.getAccessCredentials(integration);
    expect(asOAuth(got.credentials).accessToken).toBe(creds.accessToken);
    expect(refreshRequests(h)).toBe(1);
  });
});

describe('refused credentials', () => {
  it('invalid_grant: needs_reauth, one notification, and no instance asks the provider again', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const integration = await h.integration();
    const creds = asOAuth(h.oauthCredentials(Date.now() - 1000));
    await h.plant(integration, { kind: 'oauth', credentials: { ...creds, refreshToken: 'rt_revoked_elsewhere' }, createdAt: new Date().toISOString() });

    for (let i = 0; i < 4; i++) await expect(h.module.service.getAccessCredentials(integration)).rejects.toBeInstanceOf(AuthError);
    expect(refreshRequests(h)).toBe(1);
    expect((await h.repos.getIntegration('acme', integration.id))?.status).toBe('needs_reauth');
    const notices = h.notifications.ofKind('reauth_required');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ severity: 'critical', tenantId: 'acme', integrationId: integration.id, provider: 'fakeoauth' });

    // A second instance sharing Redis does not ask either.
    const other = await credentialsHarness({ store: recorder.store, redisPrefix: h.redisPrefix, oauthServer: h.server });
    extra.push(other);
    await other.integration(integration.id);
    await expect(other.module.service.getAccessCredentials(integration)).rejects.toBeInstanceOf(AuthError);
    expect(refreshRequests(h)).toBe(1);
  });

  it('rejected static credentials need re-authorisation without any token request', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const integration = await h.integration();
    await h.plant(integration, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'key-0123456789' }, createdAt: new Date().toISOString() });
    const used = await h.module.service.getAccessCredentials(integration);
    expect(await h.module.service.onAuthFailure(integration, used)).toBe('reauth_required');
    expect(h.server.tokenRequests).toHaveLength(0);
    expect((await h.repos.getIntegration('acme', integration.id))?.status).toBe('needs_reauth');
    expect(h.notifications.ofKind('reauth_required')).toHaveLength(1);
  });

  it('legacy static credentials the provider cannot renew: reauth_required, nothing rewritten', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const integration = await h.integration();
    // Raw provider JSON, as the integration API wrote it before envelopes.
    await recorder.store.set(integration.credentialsSecret, JSON.stringify({ type: 'api_key', apiKey: 'legacy-key-0123' }));
    const used = await h.module.service.getAccessCredentials(integration);
    expect(used.generation).toBe(0);
    expect(await h.module.service.onAuthFailure(integration, used)).toBe('reauth_required');
    expect(await h.module.service.onAuthFailure(integration, used)).toBe('reauth_required');
    expect(recorder.store.sets).toHaveLength(1);
    expect(h.server.tokenRequests).toHaveLength(0);
    expect(h.notifications.ofKind('reauth_required')).toHaveLength(1);
  });
});

describe('transient failures', () => {
  it('back off with a cooldown and mark the integration only on the 4th separate day', async () => {
    let clock = Date.parse('2026-03-02T09:00:00Z');
    h = await credentialsHarness({ store: recorder.store, now: () => new Date(clock) });
    const integration = await h.integration();
    await h.plant(integration, { kind: 'oauth', credentials: h.oauthCredentials(clock - 1000), createdAt: new Date(clock).toISOString() });
    h.server.behaviour.failNext = { status: 503, count: 1000 };
    const attempt = () => h.module.service.getAccessCredentials(integration);

    await expect(attempt()).rejects.toBeInstanceOf(RateLimitedError);
    await expect(attempt()).rejects.toThrow(/cooling down/);
    expect(refreshRequests(h)).toBe(1);
    clock += 2 * 60_000; // past the first (1 min) cooldown
    await expect(attempt()).rejects.toBeInstanceOf(RateLimitedError);
    expect(refreshRequests(h)).toBe(2);

    for (let day = 1; day <= 2; day++) {
      clock += 24 * HOUR;
      await expect(attempt()).rejects.toBeInstanceOf(RateLimitedError);
    }
    expect((await h.repos.getIntegration('acme', integration.id))?.status).toBe('active');
    expect(h.notifications.ofKind('refresh_failing')).toHaveLength(0);

    clock += 24 * HOUR; // the 4th separate day
    await expect(attempt()).rejects.toBeInstanceOf(RateLimitedError);
    expect((await h.repos.getIntegration('acme', integration.id))?.status).toBe('needs_reauth');
    expect(h.notifications.ofKind('refresh_failing')).toHaveLength(1);
    expect(refreshRequests(h)).toBe(5);
  });

  it('a success clears the failure history', async () => {
    let clock = Date.now();
    h = await credentialsHarness({ store: recorder.store, now: () => new Date(clock) });
    const integration = await h.integration();
    await h.plant(integration, { kind: 'oauth', credentials: h.oauthCredentials(clock - 1000), createdAt: new Date(clock).toISOString() });
    h.server.behaviour.failNext = { status: 502, count: 1 };
    await expect(h.module.service.getAccessCredentials(integration)).rejects.toBeInstanceOf(RateLimitedError);
    expect(await h.module.service.failures.read(integration.credentialsSecret)).toMatchObject({ consecutive: 1 });
    clock += 5 * 60_000;
    await h.module.service.getAccessCredentials(integration);
    expect(await h.module.service.failures.read(integration.credentialsSecret)).toBeUndefined();
  });
});

describe('across instances', () => {
  it('an auth failure re-reads first: newer credentials from another instance are used without a refresh', async () => {
    h = await credentialsHarness({ store: recorder.store });
    const b = await credentialsHarness({ store: recorder.store, redisPrefix: h.redisPrefix, oauthServer: h.server });
    extra.push(b);
    const integration = await h.integration();
    await b.integration(integration.id);
    await h.plant(integration, { kind: 'oauth', credentials: h.oauthCredentials(Date.now() + HOUR), createdAt: new Date().toISOString() });

    const seenByA = await h.module.service.getAccessCredentials(integration); // cached on A
    expect(await b.module.service.onAuthFailure(integration, seenByA)).toBe('refreshed'); // B refreshes: A's pair dies
    expect(refreshRequests(h)).toBe(1);
    expect(h.server.isLive(asOAuth(seenByA.credentials).accessToken)).toBe(false);

    expect(await h.module.service.onAuthFailure(integration, seenByA)).toBe('reread');
    const fresh = await h.module.service.getAccessCredentials(integration);
    expect(fresh.generation).toBe(2);
    expect(h.server.isLive(asOAuth(fresh.credentials).accessToken)).toBe(true);
    expect(refreshRequests(h)).toBe(1);
    expect(h.server.revocations).toBe(0);
  });

  it('waits for another holder of the lock and uses what it stored; gives up (retryable) when nothing comes', async () => {
    h = await credentialsHarness({ store: recorder.store, options: { timings: { waitMs: 1500, pollMs: 20 } } });
    const { integration } = await withExpired(h);
    await h.kv.set(credentialLockKey(integration.credentialsSecret), 'another-instance', 10_000);

    const waiting = h.module.service.getAccessCredentials(integration);
    const newer = asOAuth(h.oauthCredentials(Date.now() + HOUR));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await h.plant(integration, { kind: 'oauth', credentials: newer, createdAt: new Date().toISOString() }, 2);
    expect(asOAuth((await waiting).credentials).accessToken).toBe(newer.accessToken);
    expect(h.server.tokenRequests).toHaveLength(0);

    const stuck = await withExpired(h);
    await h.kv.set(credentialLockKey(stuck.integration.credentialsSecret), 'another-instance', 10_000);
    await expect(h.module.service.getAccessCredentials(stuck.integration)).rejects.toBeInstanceOf(RetryableError);
    expect(h.server.tokenRequests).toHaveLength(0);
  });
});
