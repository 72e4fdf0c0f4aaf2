/**
 * The credentials module over the Key Vault adapter, against the local HTTPS
 * server speaking the Key Vault REST API: one secret per credential, a new
 * version per write with tags and content type, 404 as "no credentials",
 * 409 on a deleted-but-recoverable name, transient failures retried within
 * the lease, and writes refused once the lease is over.
 */
import { SecretClient } from '@azure/keyvault-secrets';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { createKeyVaultStore, type KeyVaultClientOptions } from '../../shared/credentials/keyvault';
import type { SecretStore } from '../../shared/credentials/port';
import { AuthError, RetryableError } from '../../shared/errors';
import type { Integration } from '../../shared/domain/types';
import { credentialsHarness, type Harness } from '../helpers/credentials-harness';
import { startKeyVaultServer, type KeyVaultTestServer } from '../helpers/keyvault-server';

const TOKEN = 'kv-test-token';
const credential: TokenCredential = { getToken: (): Promise<AccessToken> => Promise.resolve({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };

let server: KeyVaultTestServer;
let store: SecretStore;
let raw: SecretClient;
let h: Harness;
let clock = Date.parse('2026-01-01T00:00:00Z');

beforeAll(async () => {
  server = await startKeyVaultServer({ token: TOKEN, now: () => (clock += 1000) });
  const client: KeyVaultClientOptions = { disableChallengeResourceVerification: true, tlsOptions: { ca: server.cert }, retryOptions: { maxRetries: 0 } };
  store = createKeyVaultStore(server.url, credential, { pollIntervalMs: 5, client });
  raw = new SecretClient(server.url, credential, client);
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  h = await credentialsHarness({ store });
});
afterEach(async () => {
  await h.close();
});

async function versions(name: string): Promise<{ tags: Record<string, string>; contentType?: string; expiresOn?: Date; createdOn?: Date }[]> {
  const out = [];
  for await (const p of raw.listPropertiesOfSecretVersions(name)) out.push({ tags: p.tags ?? {}, ...(p.contentType ? { contentType: p.contentType } : {}), ...(p.expiresOn ? { expiresOn: p.expiresOn } : {}), ...(p.createdOn ? { createdOn: p.createdOn } : {}) });
  return out.sort((a, b) => (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0));
}

const connect = (integration: Integration, expiresAt: number) =>
  h.module.service.replace(integration, { kind: 'oauth', credentials: h.oauthCredentials(expiresAt), createdAt: new Date().toISOString() });

test('one secret per credential; every write a new version carrying tags, content type and generation', async () => {
  const integration = await h.integration();
  await connect(integration, Date.now() - 1000);
  await h.module.service.getAccessCredentials(integration); // expired → refreshed
  await h.module.service.replace(integration, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'kv-api-key-01' }, createdAt: new Date().toISOString(), expiresAt: '2030-01-01T00:00:00Z' });

  const all = await versions(integration.credentialsSecret);
  expect(all.map((v) => v.tags)).toEqual([
    { tenant: 'acme', integration: integration.id, provider: 'fakeoauth', kind: 'oauth', generation: '1' },
    { tenant: 'acme', integration: integration.id, provider: 'fakeoauth', kind: 'oauth', generation: '2' },
    { tenant: 'acme', integration: integration.id, provider: 'fakeoauth', kind: 'api-key', generation: '3' },
  ]);
  expect(all.every((v) => v.contentType === 'application/json')).toBe(true);
  expect(all.map((v) => v.expiresOn?.toISOString())).toEqual([undefined, undefined, '2030-01-01T00:00:00.000Z']);
  expect(h.server.tokenRequests).toHaveLength(1);
});

test('a missing secret (404) means no credentials: an AuthError, not a store failure', async () => {
  const integration = await h.integration();
  const from = server.requests.length;
  await expect(h.module.service.getAccessCredentials(integration)).rejects.toBeInstanceOf(AuthError);
  expect(server.requests.slice(from).filter((r) => r.authorized).map((r) => `${r.method} ${r.status}`)).toEqual(['GET 404']);
});

test('a deleted-but-recoverable credential name (409) is recovered, then the new generation written', async () => {
  const integration = await h.integration();
  await connect(integration, Date.now() + 3_600_000);
  await store.delete(integration.credentialsSecret);
  h.cache.invalidate(integration.credentialsSecret);
  const from = server.requests.length;
  const written = await connect(integration, Date.now() + 3_600_000);
  const calls = server.requests.slice(from).filter((r) => r.authorized).map((r) => `${r.method} ${r.path} ${r.status}`);
  const name = integration.credentialsSecret;
  expect(calls).toEqual(expect.arrayContaining([`PUT /secrets/${name} 409`, `POST /deletedsecrets/${name}/recover 200`, `PUT /secrets/${name} 200`]));
  expect(written.generation).toBe(2);
  expect((await versions(name)).map((v) => v.tags.generation)).toEqual(['1', '2']);
});

test('a transient Key Vault failure on the write is retried within the lease; the tokens are stored once', async () => {
  const integration = await h.integration();
  await connect(integration, Date.now() - 1000);
  server.failNext({ method: 'PUT', pathPrefix: `/secrets/${integration.credentialsSecret}` }, 503);
  const from = server.requests.length;
  const got = await h.module.service.getAccessCredentials(integration);
  expect(got.generation).toBe(2);
  const puts = server.requests.slice(from).filter((r) => r.authorized && r.method === 'PUT').map((r) => r.status);
  expect(puts).toEqual([503, 200]);
  expect(h.server.tokenRequests).toHaveLength(1);
});

test('a write whose lease is already over is never sent', async () => {
  const from = server.requests.length;
  const error: unknown = await store.set('cred-aborted', 'value', { abortSignal: AbortSignal.abort() }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RetryableError);
  expect(server.requests.slice(from).filter((r) => r.method === 'PUT' && r.authorized)).toEqual([]);
  await expect(store.get('cred-aborted')).resolves.toBeUndefined();
});
