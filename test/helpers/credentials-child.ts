/**
 * One "instance" for the multi-process refresh test: its own process, its own
 * credentials module and in-process state, sharing only Redis (prefix) and
 * the encrypted secret store directory with its siblings. Waits for `go`,
 * runs CALLERS concurrent getAccessCredentials, reports, exits.
 */
import { createHash } from 'node:crypto';
import { SecretCache } from '../../shared/credentials/cache';
import { LocalSecretStore } from '../../shared/credentials/local';
import { buildCredentialModule } from '../../shared/credentials/wiring';
import { createRedisClient, RedisKeyValueStore } from '../../shared/kv/redis';
import { InMemoryNotificationSink } from '../../shared/notifications/memory';
import { silentLogger } from '../../shared/observability/logger';
import { InMemoryDocumentStore } from '../../shared/storage/memory';
import { Repositories } from '../../shared/storage/repositories';
import { REDIS_URL, integrationDoc } from './credentials-harness';
import { createFakeOAuthProvider, fakeRegistry, FAKE_PROVIDER_KEY } from './fake-oauth-provider';

export interface ChildReport {
  pid: number;
  ok: number;
  errors: string[];
  /** sha256 of each access token received (the tokens themselves stay in the child). */
  tokens: string[];
}

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const kv = new RedisKeyValueStore(createRedisClient(REDIS_URL), env('CRED_REDIS_PREFIX'));
  const store = new LocalSecretStore({ dir: env('CRED_SECRETS_DIR'), key: Buffer.from(env('CRED_SECRETS_KEY'), 'base64'), maxVersions: 100 });
  const repos = new Repositories(new InMemoryDocumentStore());
  const integration = integrationDoc(env('CRED_INTEGRATION_ID'), 'acme', env('CRED_OAUTH_URL'));
  await repos.putIntegrationIndex(integration.id, 'acme', FAKE_PROVIDER_KEY);
  await repos.putIntegration(integration);
  const module = buildCredentialModule({
    secrets: new SecretCache(store),
    store,
    kv,
    repos,
    providers: fakeRegistry(createFakeOAuthProvider()),
    logger: silentLogger,
    fetch,
    now: () => new Date(),
    adminKey: 'unused-in-this-child-000000',
    stateKey: undefined,
    notifications: new InMemoryNotificationSink(),
    options: { timings: { waitMs: 20_000, pollMs: 50 } },
  });
  await kv.ping();

  await new Promise<void>((resolve) => {
    process.on('message', (m) => {
      if (m === 'go') resolve();
    });
    process.send?.('ready');
  });
  const callers = Number(env('CRED_CALLERS'));
  const results = await Promise.allSettled(Array.from({ length: callers }, () => module.service.getAccessCredentials(integration)));
  const report: ChildReport = { pid: process.pid, ok: 0, errors: [], tokens: [] };
  for (const r of results) {
    if (r.status === 'rejected') {
      report.errors.push(r.reason instanceof Error ? `${r.reason.name}: ${r.reason.message}` : 'error');
      continue;
    }
    report.ok++;
    const creds = r.value.credentials as { accessToken?: string };
    report.tokens.push(createHash('sha256').update(creds.accessToken ?? '').digest('hex'));
  }
  await kv.close();
  await store.close();
  process.send?.({ report }, () => {
    process.disconnect();
  });
}

main().catch((error: unknown) => {
  process.send?.({ fatal: error instanceof Error ? `${error.name}: ${error.message}` : 'error' });
  process.exitCode = 1;
});
