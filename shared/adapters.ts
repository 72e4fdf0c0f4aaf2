import type { TokenCredential } from '@azure/identity';
import type { Adapters } from './composition';
import type { Settings } from './config/settings';
import { loadOrCreateDevKey } from './credentials/dev-key';
import { LocalSecretStore } from './credentials/local';
import { InMemoryKeyValueStore } from './kv/memory';
import { EmbeddedQueue } from './messaging/embedded';
import { InMemoryDocumentStore } from './storage/memory';
import { CONTAINERS } from './storage/names';

/**
 * Per port: its Azure setting present → the Azure adapter, else the embedded
 * one. Azure SDKs are imported only when used, keeping cold start cheap.
 */
export async function buildAdapters(settings: Settings, overrides: Partial<Adapters>): Promise<Adapters> {
  let credential: TokenCredential | undefined;
  const azureCredential = async (): Promise<TokenCredential> => {
    if (credential) return credential;
    const { DefaultAzureCredential } = await import('@azure/identity');
    credential = new DefaultAzureCredential(
      settings.MANAGED_IDENTITY_CLIENT_ID === undefined ? {} : { managedIdentityClientId: settings.MANAGED_IDENTITY_CLIENT_ID },
    );
    return credential;
  };
  const profile: Adapters['profile'] = { store: 'embedded', secrets: 'embedded', kv: 'embedded', queue: 'embedded' };

  let store = overrides.store;
  if (!store && settings.COSMOS_ENDPOINT !== undefined) {
    const { CosmosDocumentStore, createCosmosClient } = await import('./storage/cosmos');
    const client = createCosmosClient({
      endpoint: settings.COSMOS_ENDPOINT,
      ...(settings.COSMOS_KEY === undefined ? { credential: await azureCredential() } : { key: settings.COSMOS_KEY }),
    });
    store = new CosmosDocumentStore(client, { databaseId: settings.COSMOS_DATABASE, orderFields: ORDER_FIELDS });
    profile.store = 'azure';
  }

  let secrets = overrides.secrets;
  if (!secrets && settings.KEY_VAULT_URL !== undefined) {
    const { createKeyVaultStore } = await import('./credentials/keyvault');
    secrets = createKeyVaultStore(settings.KEY_VAULT_URL, await azureCredential());
    profile.secrets = 'azure';
  }

  let kv = overrides.kv;
  if (!kv && settings.REDIS_URL !== undefined) {
    const { RedisKeyValueStore, createRedisClient } = await import('./kv/redis');
    const { redisTokenAuthFor } = await import('./kv/entra-auth');
    // REDIS_AUTH=entra (Azure Managed Redis): the same token source as the rate limiter's client.
    const tokenAuth = redisTokenAuthFor(settings);
    kv = new RedisKeyValueStore(createRedisClient(settings.REDIS_URL, tokenAuth ? { tokenAuth } : {}), settings.REDIS_KEY_PREFIX);
    profile.kv = 'redis';
  }

  let queue = overrides.queue;
  let receiver = overrides.receiver;
  if (!queue && settings.ServiceBusConnection__fullyQualifiedNamespace !== undefined) {
    const { createServiceBusQueueSender } = await import('./messaging/servicebus');
    queue = createServiceBusQueueSender(settings.ServiceBusConnection__fullyQualifiedNamespace, await azureCredential());
    profile.queue = 'azure';
  }
  if (!queue) {
    const embedded = new EmbeddedQueue();
    queue = embedded;
    receiver ??= embedded;
  }

  return {
    store: store ?? new InMemoryDocumentStore(),
    secrets: secrets ?? new LocalSecretStore({ dir: settings.LOCAL_DATA_DIR, key: await loadOrCreateDevKey(settings.LOCAL_DATA_DIR, settings.LOCAL_SECRETS_KEY) }),
    kv: kv ?? new InMemoryKeyValueStore(),
    queue,
    ...(receiver ? { receiver } : {}),
    profile,
  };
}

/** Fields the repositories order by; Cosmos needs composite indexes for them (mirrored in infra/). */
export const ORDER_FIELDS = {
  [CONTAINERS.runs]: ['queuedAt'],
  [CONTAINERS.records]: ['updatedAt'],
  [CONTAINERS.recordsActivity]: ['updatedAt'],
  [CONTAINERS.recordsContent]: ['updatedAt'],
  [CONTAINERS.conflicts]: ['createdAt'],
  [CONTAINERS.deadLetters]: ['parkedAt'],
} as const;
