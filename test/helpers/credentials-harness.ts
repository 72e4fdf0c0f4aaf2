/**
 * One credentials stack for tests: real Redis (random key prefix), a secret
 * store (LocalSecretStore in a temp dir unless one is given), in-memory
 * documents, the fake OAuth provider against a local OAuth server, a
 * capturing logger and an in-memory notification sink.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Redis from 'ioredis';
import { SecretCache } from '../../shared/credentials/cache';
import { serializeCredential, credentialWriteOptions, type CredentialContent } from '../../shared/credentials/envelope';
import { LocalSecretStore } from '../../shared/credentials/local';
import type { SecretStore, SecretValue, SecretWrite } from '../../shared/credentials/port';
import { RetryableError } from '../../shared/errors';
import type { CredentialServiceOptions } from '../../shared/credentials/service';
import { buildCredentialModule, type CredentialModule } from '../../shared/credentials/wiring';
import { secretNameFor } from '../../shared/domain/ids';
import type { Integration } from '../../shared/domain/types';
import { createRedisClient, ensureRedisReady, RedisKeyValueStore } from '../../shared/kv/redis';
import { InMemoryNotificationSink } from '../../shared/notifications/memory';
import { createLogger, type LogFields, type LogLevel } from '../../shared/observability/logger';
import { egressPolicy } from '../../shared/http/egress-policy';
import { guardProviders } from '../../shared/http/egress-providers';
import type { ProviderDefinition } from '../../shared/providers/types';
import { InMemoryDocumentStore } from '../../shared/storage/memory';
import type { Stored } from '../../shared/storage/port';
import { Repositories } from '../../shared/storage/repositories';
import { createFakeOAuthProvider, fakeRegistry, FAKE_PROVIDER_KEY, type FakeConfig, type FakeCredentials } from './fake-oauth-provider';
import { startOAuthServer, type OAuthServerOptions, type OAuthTestServer } from './oauth-server';

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const CLIENT_ID = 'castiel-test-client';
export const CLIENT_SECRET = 'client-secret-0123456789';
export const ADMIN_KEY = 'credentials-admin-key-0123456789';

export interface CapturedLog {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

export interface HarnessOptions {
  store?: SecretStore;
  provider?: ProviderDefinition<FakeConfig, FakeCredentials>;
  server?: OAuthServerOptions;
  options?: Partial<CredentialServiceOptions>;
  /** Shared across processes: the multi-process test passes the same prefix and directory to each child. */
  redisPrefix?: string;
  secretsDir?: string;
  secretsKey?: Buffer;
  oauthServer?: OAuthTestServer;
  now?: () => Date;
}

export interface Harness {
  module: CredentialModule;
  repos: Repositories;
  store: SecretStore;
  cache: SecretCache;
  kv: RedisKeyValueStore;
  server: OAuthTestServer;
  notifications: InMemoryNotificationSink;
  logs: CapturedLog[];
  redisPrefix: string;
  redirectUri: string;
  /** A tenant's integration of the fake provider pointing at the OAuth server. */
  integration(id?: string, tenantId?: string): Promise<Stored<Integration>>;
  /** Store credentials as an envelope of `generation` (bypassing the service: test setup). */
  plant(integration: Integration, content: CredentialContent, generation?: number): Promise<void>;
  /** OAuth credentials from a fresh grant at the server, with the given access expiry. */
  oauthCredentials(expiresAt: number): FakeCredentials;
  close(): Promise<void>;
}

export async function credentialsHarness(o: HarnessOptions = {}): Promise<Harness> {
  const redisPrefix = o.redisPrefix ?? `test:cred:${randomUUID()}:`;
  const client = createRedisClient(REDIS_URL);
  await ensureRedisReady(client);
  const kv = new RedisKeyValueStore(client, redisPrefix);
  const ownDir = o.store === undefined && o.secretsDir === undefined ? await mkdtemp(path.join(tmpdir(), 'castiel-cred-')) : undefined;
  const store = o.store ?? new LocalSecretStore({ dir: o.secretsDir ?? ownDir ?? '', key: o.secretsKey ?? randomBytes(32), maxVersions: 100 });
  const cache = new SecretCache(store);
  const repos = new Repositories(new InMemoryDocumentStore());
  const server = o.oauthServer ?? (await startOAuthServer(o.server));
  const redirectUri = 'http://127.0.0.1:7071/api/oauth/fakeoauth/callback';
  server.addClient(CLIENT_ID, CLIENT_SECRET, redirectUri);
  const notifications = new InMemoryNotificationSink();
  const logs: CapturedLog[] = [];
  const logger = createLogger((level, message, fields) => logs.push({ level, message, fields }), 'debug');
  const clock = o.now;
  const provider = o.provider ?? createFakeOAuthProvider(clock ? { now: () => clock().getTime() } : {});
  const module = buildCredentialModule({
    secrets: cache,
    store,
    kv,
    repos,
    // As the composition root does: the registry carries the egress policy (loopback open for the test servers).
    providers: guardProviders(fakeRegistry(provider), egressPolicy('sandbox')),
    logger,
    fetch,
    now: o.now ?? (() => new Date()),
    adminKey: ADMIN_KEY,
    stateKey: randomBytes(32),
    notifications,
    ...(o.options ? { options: o.options } : {}),
  });
  const providerDef: ProviderDefinition = provider;

  return {
    module,
    repos,
    store,
    cache,
    kv,
    server,
    notifications,
    logs,
    redisPrefix,
    redirectUri,
    integration: async (id = `int-${randomBytes(4).toString('hex')}`, tenantId = 'acme') => {
      const now = new Date().toISOString();
      await repos.putTenant({ id: tenantId, tenantId, type: 'tenant', name: 'Acme', createdAt: now, updatedAt: now });
      await repos.putIntegrationIndex(id, tenantId, FAKE_PROVIDER_KEY);
      return repos.putIntegration(integrationDoc(id, tenantId, server.url));
    },
    plant: async (integration, content, generation = 1) => {
      await store.set(integration.credentialsSecret, serializeCredential(FAKE_PROVIDER_KEY, generation, content, new Date()), credentialWriteOptions(integration, providerDef, generation, content));
    },
    oauthCredentials: (expiresAt) => {
      const grant = server.issue(CLIENT_ID);
      return { type: 'oauth', accessToken: grant.accessToken, refreshToken: grant.refreshToken, expiresAt, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    },
    close: async () => {
      if (!o.oauthServer) await server.close();
      await deletePrefixed(client, redisPrefix);
      await kv.close();
      await store.close();
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
  };
}

/** An integration of the fake provider whose API (and token endpoint) is `baseUrl`. */
export function integrationDoc(id: string, tenantId: string, baseUrl: string): Integration {
  const now = new Date().toISOString();
  return {
    id,
    tenantId,
    type: 'integration',
    provider: FAKE_PROVIDER_KEY,
    baseUrl,
    config: { workspace: 'acme' },
    credentialsSecret: secretNameFor('cred', tenantId, id),
    scheduleMinutes: 60,
    status: 'active',
    conflictStrategy: 'provider-wins',
    createdAt: now,
    updatedAt: now,
  };
}

export async function deletePrefixed(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Wraps a store to record writes (and fail them on demand). */
export class RecordingStore implements SecretStore {
  readonly sets: { name: string; value: string; at: number }[] = [];
  failSets = false;
  private seq = 0;

  constructor(readonly inner: SecretStore) {}

  get(name: string): Promise<SecretValue | undefined> {
    return this.inner.get(name);
  }

  async set(name: string, value: string, options?: SecretWrite): Promise<SecretValue> {
    if (this.failSets) throw new RetryableError(`store unavailable for ${name}`);
    const written = await this.inner.set(name, value, options);
    this.sets.push({ name, value, at: this.seq++ });
    return written;
  }

  delete(name: string): Promise<boolean> {
    return this.inner.delete(name);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export async function waitUntil(probe: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} not met in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A test tmp dir with a LocalSecretStore and a RecordingStore over it. */
export async function recordingLocalStore(): Promise<{ store: RecordingStore; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'castiel-cred-'));
  const store = new RecordingStore(new LocalSecretStore({ dir, key: randomBytes(32), maxVersions: 100 }));
  return { store, dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
