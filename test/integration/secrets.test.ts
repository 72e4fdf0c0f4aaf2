import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { SecretClient } from '@azure/keyvault-secrets';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { createKeyVaultStore, KeyVaultSecretStore } from '../../shared/credentials/keyvault';
import type { KeyVaultClientOptions } from '../../shared/credentials/keyvault';
import { LOCAL_SECRETS_FILE, LocalSecretStore } from '../../shared/credentials/local';
import { DEV_KEY_FILE, loadOrCreateDevKey } from '../../shared/credentials/dev-key';
import { RetryableError, UnrecoverableError } from '../../shared/errors';
import { describeSecretsContract } from '../contract/secrets.contract';
import { startKeyVaultServer } from '../helpers/keyvault-server';
import type { KeyVaultTestServer } from '../helpers/keyvault-server';

const TOKEN = 'castiel-test-token';
const TENANT = '11111111-2222-3333-4444-555555555555';

/** Hands out a fixed token and records what the SDK asked for. */
class StaticCredential implements TokenCredential {
  readonly requests: { scopes: string[]; tenantId: string | undefined }[] = [];
  constructor(private readonly token = TOKEN) {}
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    this.requests.push({ scopes: ([] as string[]).concat(scopes), tenantId: options?.tenantId });
    return Promise.resolve({ token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 });
  }
}

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'castiel-secrets-'));
  tempDirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => fsp.rm(d, { recursive: true, force: true })));
});

// ---- Key Vault adapter against the local HTTPS Key Vault --------------------------------

let server: KeyVaultTestServer;
let clock = Date.parse('2026-01-01T00:00:00Z');
beforeAll(async () => {
  // Every server timestamp is a second apart, so version order by `created` is unambiguous.
  server = await startKeyVaultServer({ token: TOKEN, tenantId: TENANT, now: () => (clock += 1000) });
});
afterAll(async () => {
  await server.close();
});

/** Trust exactly this server's certificate for this client; no global TLS switch. */
const clientOptions = (): KeyVaultClientOptions => ({
  disableChallengeResourceVerification: true,
  tlsOptions: { ca: server.cert },
  retryOptions: { maxRetries: 0 },
});

describeSecretsContract('KeyVaultSecretStore (local HTTPS Key Vault)', () =>
  Promise.resolve({
    store: createKeyVaultStore(server.url, new StaticCredential(), { pollIntervalMs: 5, client: clientOptions() }),
    ioCount: () => server.requests.length,
  }),
);

describe('KeyVaultSecretStore specifics', () => {
  it('answers the 401 challenge with a token for the challenged resource and tenant', async () => {
    const credential = new StaticCredential();
    const store = createKeyVaultStore(server.url, credential, { client: clientOptions() });
    const from = server.requests.length;
    await store.set('challenge-check', 'v');
    const seen = server.requests.slice(from);
    expect(seen[0]).toMatchObject({ method: 'PUT', status: 401, authorized: false });
    expect(seen[1]).toMatchObject({ method: 'PUT', path: '/secrets/challenge-check', status: 200, authorized: true });
    expect(credential.requests[0]).toEqual({ scopes: ['https://vault.azure.net/.default'], tenantId: TENANT });
    await store.get('challenge-check');
    expect(server.requests.slice(from + 2).every((r) => r.authorized)).toBe(true);
  });

  it('recovers a deleted-but-recoverable name, then writes the new version', async () => {
    const store = createKeyVaultStore(server.url, new StaticCredential(), { pollIntervalMs: 5, client: clientOptions() });
    await store.set('soft-deleted', 'old');
    await store.delete('soft-deleted');
    const from = server.requests.length;
    const written = await store.set('soft-deleted', 'new');
    const calls = server.requests.slice(from).filter((r) => r.authorized).map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(calls).toEqual(
      expect.arrayContaining([
        'PUT /secrets/soft-deleted 409',
        'POST /deletedsecrets/soft-deleted/recover 200',
        'PUT /secrets/soft-deleted 200',
      ]),
    );
    expect(calls.indexOf('PUT /secrets/soft-deleted 200')).toBeGreaterThan(calls.indexOf('POST /deletedsecrets/soft-deleted/recover 200'));
    await expect(store.get('soft-deleted')).resolves.toMatchObject({ value: 'new', version: written.version });
  });

  it('reads the newest enabled version when the current one is disabled', async () => {
    const raw = new SecretClient(server.url, new StaticCredential(), clientOptions());
    const store = new KeyVaultSecretStore(raw, { pollIntervalMs: 5 });
    const v1 = await store.set('disabled-current', 'one');
    const v2 = await store.set('disabled-current', 'two');
    await raw.updateSecretProperties('disabled-current', v2.version, { enabled: false });
    await expect(store.get('disabled-current')).resolves.toMatchObject({ value: 'one', version: v1.version });
  });

  it('keeps the value out of errors the service returns (rejected token)', async () => {
    const store = createKeyVaultStore(server.url, new StaticCredential('wrong-token'), { client: clientOptions() });
    const marker = `VALUE-${randomBytes(8).toString('hex')}`;
    const err = await store.set('rejected', marker).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toMatch(/401/);
    expect(inspect(err, { depth: 10 })).not.toContain(marker);
    expect(JSON.stringify(err)).not.toContain(marker);
  });

  it('trusts the test certificate only where it is passed (no global TLS switch)', async () => {
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    const { tlsOptions: _omitted, ...untrusted } = clientOptions();
    const store = createKeyVaultStore(server.url, new StaticCredential(), { client: untrusted });
    await expect(store.get('anything')).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('reports an unreachable vault as retryable, without the value', async () => {
    const store = createKeyVaultStore('https://127.0.0.1:1', new StaticCredential(), { client: clientOptions() });
    const marker = `VALUE-${randomBytes(8).toString('hex')}`;
    const err = await store.set('unreachable', marker).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect(inspect(err, { depth: 10 })).not.toContain(marker);
  });
});

// ---- Local store, encrypted at rest --------------------------------------------------------

/** Counts the file-system calls the store makes, for the "no I/O on a bad name" check. */
function countFsCalls(): { count: () => number; restore: () => void } {
  const spies = (['readFile', 'open', 'mkdir', 'rename'] as const).map((m) => jest.spyOn(fsp, m));
  return {
    count: () => spies.reduce((n, s) => n + s.mock.calls.length, 0),
    restore: () => {
      for (const s of spies) s.mockRestore();
    },
  };
}

describeSecretsContract('LocalSecretStore (encrypted file)', async () => {
  const store = new LocalSecretStore({ dir: await tempDir(), key: randomBytes(32) });
  const io = countFsCalls();
  const cleanup = (): Promise<void> => {
    io.restore();
    return Promise.resolve();
  };
  return { store, ioCount: io.count, cleanup };
});

describe('LocalSecretStore specifics', () => {
  it('never writes the plaintext to disk, and keeps the file private', async () => {
    const dir = await tempDir();
    const store = new LocalSecretStore({ dir, key: randomBytes(32) });
    const marker = `PLAINTEXT-${randomBytes(8).toString('hex')}`;
    await store.set('private', marker, { tags: { kind: 'oauth' } });
    await store.set('private', `${marker}-v2`);
    const file = path.join(dir, LOCAL_SECRETS_FILE);
    const raw = await fsp.readFile(file, 'utf8');
    expect(raw).not.toContain(marker);
    expect(raw).not.toContain(Buffer.from(marker).toString('base64').slice(0, 16));
    expect(raw).toContain('oauth'); // tags stay readable, as in Key Vault
    expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('survives a restart with the same key', async () => {
    const dir = await tempDir();
    const key = randomBytes(32);
    const written = await new LocalSecretStore({ dir, key }).set('restart', 'kept');
    await expect(new LocalSecretStore({ dir, key }).get('restart')).resolves.toEqual(written);
  });

  it('refuses a wrong key with a clear error and leaves the file untouched', async () => {
    const dir = await tempDir();
    await new LocalSecretStore({ dir, key: randomBytes(32) }).set('locked', 'value');
    const before = await fsp.readFile(path.join(dir, LOCAL_SECRETS_FILE), 'utf8');
    const wrong = new LocalSecretStore({ dir, key: randomBytes(32) });
    await expect(wrong.get('locked')).rejects.toThrow(/encrypted with a different key.*LOCAL_SECRETS_KEY/);
    await expect(wrong.set('other', 'x')).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(wrong.ping()).rejects.toThrow(/different key/);
    expect(await fsp.readFile(path.join(dir, LOCAL_SECRETS_FILE), 'utf8')).toBe(before);
  });

  it('detects a tampered value instead of returning garbage', async () => {
    const dir = await tempDir();
    const key = randomBytes(32);
    const store = new LocalSecretStore({ dir, key });
    await store.set('tampered', 'original');
    const file = path.join(dir, LOCAL_SECRETS_FILE);
    const doc = JSON.parse(await fsp.readFile(file, 'utf8')) as { secrets: Record<string, { versions: { sealed: { data: string } }[] }> };
    const sealed = doc.secrets.tampered!.versions[0]!.sealed;
    const bytes = Buffer.from(sealed.data, 'base64');
    bytes[0] = bytes[0]! ^ 0xff;
    sealed.data = bytes.toString('base64');
    await fsp.writeFile(file, JSON.stringify(doc));
    await expect(store.get('tampered')).rejects.toThrow(/failed authentication/);
  });

  it('reports a corrupt file clearly', async () => {
    const dir = await tempDir();
    await fsp.writeFile(path.join(dir, LOCAL_SECRETS_FILE), '{"not":"ours"');
    await expect(new LocalSecretStore({ dir, key: randomBytes(32) }).get('x')).rejects.toThrow(/not a valid/);
  });

  it('lands every concurrent set, across two instances on the same directory', async () => {
    const dir = await tempDir();
    const key = randomBytes(32);
    const a = new LocalSecretStore({ dir, key, maxVersions: 100 });
    const b = new LocalSecretStore({ dir, key, maxVersions: 100 });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => [(i % 2 ? a : b).set(`n-${i}`, `v-${i}`), (i % 2 ? b : a).set('hot', `h-${i}`)]).flat(),
    );
    for (let i = 0; i < 40; i++) expect((await a.get(`n-${i}`))?.value).toBe(`v-${i}`);
    const doc = JSON.parse(await fsp.readFile(path.join(dir, LOCAL_SECRETS_FILE), 'utf8')) as { secrets: Record<string, { versions: unknown[] }> };
    expect(doc.secrets.hot?.versions).toHaveLength(40);
  });

  it('prunes old versions beyond maxVersions', async () => {
    const dir = await tempDir();
    const store = new LocalSecretStore({ dir, key: randomBytes(32), maxVersions: 3 });
    for (let i = 0; i < 5; i++) await store.set('pruned', `v${i}`);
    const doc = JSON.parse(await fsp.readFile(path.join(dir, LOCAL_SECRETS_FILE), 'utf8')) as { secrets: Record<string, { versions: unknown[] }> };
    expect(doc.secrets.pruned?.versions).toHaveLength(3);
    expect((await store.get('pruned'))?.value).toBe('v4');
  });

  it('rejects a key that is not 32 bytes', () => {
    expect(() => new LocalSecretStore({ dir: os.tmpdir(), key: randomBytes(16) })).toThrow(/32 bytes/);
  });
});

describe('loadOrCreateDevKey', () => {
  it('creates a 32-byte key file with mode 0600 once, then reuses it', async () => {
    const dir = path.join(await tempDir(), 'nested', '.data');
    const [k1, k2] = await Promise.all([loadOrCreateDevKey(dir), loadOrCreateDevKey(dir)]);
    expect(k1).toHaveLength(32);
    expect(k2.equals(k1)).toBe(true);
    const file = path.join(dir, DEV_KEY_FILE);
    expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateDevKey(dir)).equals(k1)).toBe(true);
    expect((await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('lets LOCAL_SECRETS_KEY win and creates no file', async () => {
    const dir = await tempDir();
    const configured = randomBytes(32);
    expect((await loadOrCreateDevKey(dir, configured.toString('base64'))).equals(configured)).toBe(true);
    await expect(fsp.access(path.join(dir, DEV_KEY_FILE))).rejects.toThrow();
  });

  it('refuses a key of the wrong size', async () => {
    const dir = await tempDir();
    await expect(loadOrCreateDevKey(dir, randomBytes(16).toString('base64'))).rejects.toThrow(/32 bytes/);
    await fsp.writeFile(path.join(dir, DEV_KEY_FILE), 'c2hvcnQ=');
    await expect(loadOrCreateDevKey(dir)).rejects.toThrow(/32 bytes/);
  });
});
