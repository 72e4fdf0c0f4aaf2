/**
 * The lease guard on credential writes (Key Vault has no If-Match): a refresh
 * that outlives its lock, or meets a version written meanwhile, never
 * overwrites newer credentials; a token request never outlives the lease.
 * Real Redis (random prefix), encrypted local store, local OAuth server.
 */
import { credentialLockKey } from '../../shared/credentials/lock';
import { RateLimitedError } from '../../shared/errors';
import type { Integration } from '../../shared/domain/types';
import { credentialsHarness, recordingLocalStore, waitUntil, type Harness, type RecordingStore } from '../helpers/credentials-harness';
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
const storedEnvelope = async (x: Harness, i: Integration): Promise<{ generation: number; credentials: OAuthCreds }> =>
  JSON.parse((await x.store.get(i.credentialsSecret))?.value ?? '{}') as { generation: number; credentials: OAuthCreds };

async function withExpired(x: Harness, expiresAt = Date.now() - 60_000): Promise<{ integration: Integration; creds: OAuthCreds }> {
  const integration = await x.integration();
  const creds = asOAuth(x.oauthCredentials(expiresAt));
  await x.plant(integration, { kind: 'oauth', credentials: creds, createdAt: new Date().toISOString() }, 1);
  return { integration, creds };
}

describe('a refresh that outlives its lock', () => {
  // Short enough to wait out, long enough that the token request itself never runs into it on a busy machine.
  const shortLease = { lock: { ttlMs: 2500, writeReserveMs: 500, marginMs: 100 } };

  async function stalledRefresh(): Promise<{ release: () => void; stalled: Promise<void> }> {
    let release = (): void => undefined;
    let entered = (): void => undefined;
    const stalled = new Promise<void>((resolve) => { entered = resolve; });
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const { createFakeOAuthProvider } = await import('../helpers/fake-oauth-provider');
    h = await credentialsHarness({
      store: recorder.store,
      options: shortLease,
      provider: createFakeOAuthProvider({ afterRefreshResponse: () => { entered(); return gate; } }),
    });
    return { release, stalled };
  }

  it('never overwrites credentials stored after its lease ran out; it yields to them', async () => {
    const { release, stalled } = await stalledRefresh();
    const { integration } = await withExpired(h);
    const lockKey = credentialLockKey(integration.credentialsSecret);

    const slow = h.module.service.getAccessCredentials(integration);
    await stalled; // the token endpoint answered; the holder is stuck before writing
    await waitUntil(async () => (await h.kv.get(lockKey)) === undefined, 5000, 'lease expiry');

    // Another instance takes the now-free lock and stores newer credentials (an admin reconnect).
    const b = await credentialsHarness({ store: recorder.store, redisPrefix: h.redisPrefix, oauthServer: h.server });
    extra.push(b);
    await b.integration(integration.id);
    const newer = asOAuth(h.oauthCredentials(Date.now() + HOUR));
    await b.module.service.replace(integration, { kind: 'oauth', credentials: newer, createdAt: new Date().toISOString() });

    release();
    const result = await slow;
    expect(asOAuth(result.credentials).accessToken).toBe(newer.accessToken);
    const envelope = await storedEnvelope(h, integration);
    expect(envelope.generation).toBe(2);
    expect(envelope.credentials.accessToken).toBe(newer.accessToken);
    expect(recorder.store.sets).toHaveLength(2); // the plant and the reconnect; the stale refresh wrote nothing
    expect(h.logs.some((l) => l.message.includes('discarded') && l.fields.reason === 'lease-lost')).toBe(true);
  });

  it('never overwrites a version written outside the lease while it held it', async () => {
    const { release, stalled } = await stalledRefresh();
    const { integration } = await withExpired(h);
    const slow = h.module.service.getAccessCredentials(integration);
    await stalled;
    // An old-style writer (raw provider JSON, no lease) stores credentials meanwhile.
    const legacy = asOAuth(h.oauthCredentials(Date.now() + HOUR));
    await recorder.store.set(integration.credentialsSecret, JSON.stringify(legacy));
    release();
    expect(asOAuth((await slow).credentials).accessToken).toBe(legacy.accessToken);
    expect(JSON.parse((await h.store.get(integration.credentialsSecret))?.value ?? '{}')).toEqual(legacy);
    expect(h.logs.some((l) => l.message.includes('discarded') && l.fields.reason === 'superseded')).toBe(true);
  });

  it('gives up a token request that would run past the lease, and writes nothing', async () => {
    h = await credentialsHarness({ store: recorder.store, options: { lock: { ttlMs: 1000, writeReserveMs: 400, marginMs: 100 } } });
    const { integration } = await withExpired(h);
    h.server.behaviour.delayMs = 1500;
    const error: unknown = await h.module.service.getAccessCredentials(integration).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as Error).message).toMatch(/token endpoint unreachable/); // aborted by the lease, not answered
    expect(recorder.store.sets).toHaveLength(1);
    await waitUntil(() => h.server.tokenRequests.length === 1, 5000, 'server finishing the slow request');
  });
});
