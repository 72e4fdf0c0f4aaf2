/**
 * One SyncInboundWorker invocation in its own process, for the kill test:
 * the compiled pull sync over a Cosmos-protocol store, real Redis and the
 * local secret store, all shared with the parent. Argv: a JSON config.
 */
const https = require('node:https');
const { createCosmosClient, CosmosDocumentStore } = require('../../dist/shared/storage/cosmos');
const { RedisKeyValueStore, createRedisClient } = require('../../dist/shared/kv/redis');
const { LocalSecretStore } = require('../../dist/shared/credentials/local');
const { buildServices } = require('../../dist/shared/composition');
const { loadSettings } = require('../../dist/shared/config/settings');
const { silentLogger } = require('../../dist/shared/observability/logger');
const { ORDER_FIELDS } = require('../../dist/shared/adapters');
const { runPullSync } = require('../../dist/shared/sync/pull');

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const agent = new https.Agent({ rejectUnauthorized: false });
  const store = new CosmosDocumentStore(createCosmosClient({ endpoint: cfg.cosmos.endpoint, key: cfg.cosmos.key, agent }), { databaseId: cfg.cosmos.database, orderFields: ORDER_FIELDS });
  const kv = new RedisKeyValueStore(createRedisClient('redis://127.0.0.1:6379'), cfg.redisPrefix);
  const secrets = new LocalSecretStore({ dir: cfg.secretsDir, key: Buffer.from(cfg.secretsKey, 'base64') });
  const services = await buildServices(loadSettings({ LOCAL_DATA_DIR: cfg.secretsDir, ADMIN_API_KEY: 'kill-test-admin-key-000', EGRESS_ALLOW_LOCAL: 'sandbox' }), { logger: silentLogger, adapters: { store, kv, secrets } });
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
