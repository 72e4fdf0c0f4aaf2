/**
 * One SyncInboundWorker invocation in its own process, for the kill test: the
 * pull sync over a Cosmos-protocol store, real Redis and the local secret
 * store, all shared with the parent. The provider is the fake one, its change
 * log read from the file the parent writes (so every page can carry
 * deletions). The TypeScript sources are loaded through swc (no build step).
 * Argv: a JSON config. Stdout: `ready` once loaded and connected (the parent
 * times its kill from there), then the outcome as JSON.
 */
'use strict';
require('./ratelimit-swc-register');

const fs = require('node:fs');
const https = require('node:https');
const { createCosmosClient, CosmosDocumentStore } = require('../../shared/storage/cosmos.ts');
const { RedisKeyValueStore, createRedisClient } = require('../../shared/kv/redis.ts');
const { LocalSecretStore } = require('../../shared/credentials/local.ts');
const { buildServices } = require('../../shared/composition.ts');
const { loadSettings } = require('../../shared/config/settings.ts');
const { silentLogger } = require('../../shared/observability/logger.ts');
const { ORDER_FIELDS } = require('../../shared/adapters.ts');
const { runPullSync } = require('../../shared/sync/pull.ts');
const { dataset, registryWithFake } = require('./fake-provider.ts');

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const d = dataset(cfg.dataset.name, JSON.parse(fs.readFileSync(cfg.dataset.file, 'utf8')), cfg.dataset.pageSize);
  // A provider takes a while to answer each page: the run is long enough to be killed in the middle.
  d.onPage = () => new Promise((resolve) => setTimeout(resolve, cfg.dataset.pageLatencyMs));
  const agent = new https.Agent({ rejectUnauthorized: false });
  const store = new CosmosDocumentStore(createCosmosClient({ endpoint: cfg.cosmos.endpoint, key: cfg.cosmos.key, agent }), { databaseId: cfg.cosmos.database, orderFields: ORDER_FIELDS });
  const kv = new RedisKeyValueStore(createRedisClient('redis://127.0.0.1:6379'), cfg.redisPrefix);
  const secrets = new LocalSecretStore({ dir: cfg.secretsDir, key: Buffer.from(cfg.secretsKey, 'base64') });
  const settings = loadSettings({ LOCAL_DATA_DIR: cfg.secretsDir, ADMIN_API_KEY: 'kill-test-admin-key-000', EGRESS_ALLOW_LOCAL: 'sandbox' });
  const services = await buildServices(settings, { logger: silentLogger, providers: registryWithFake, adapters: { store, kv, secrets } });
  await services.adapters.store.ping();
  process.stdout.write('ready\n');
  const outcome = await runPullSync(services.syncDeps, cfg.job, cfg.message);
  process.stdout.write(`${JSON.stringify(outcome)}\n`);
  await services.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${e && e.stack ? e.stack : String(e)}\n`);
    process.exit(2);
  },
);
