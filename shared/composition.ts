import { randomBytes } from 'node:crypto';
import type { AdminDeps } from './api/deps';
import type { HealthCheck } from './api/health';
import { SecretCache } from './credentials/cache';
import type { SecretStore } from './credentials/port';
import { loadSettings, type Settings } from './config/settings';
import type { KeyValueStore } from './kv/port';
import type { QueueReceiver, QueueSender } from './messaging/port';
import { consoleSink, createLogger, registerSecretValue, type Logger } from './observability/logger';
import { providerRegistry } from './providers/registry';
import type { JwksSource, ProviderRegistry } from './providers/types';
import type { DocumentStore } from './storage/port';
import { Repositories } from './storage/repositories';
import type { SyncDeps } from './sync/deps';
import type { OutboundDeps } from './sync/outbound';
import type { ScheduleDeps } from './sync/schedule';
import { createJwksSource } from './webhooks/jwks';
import { IntegrationLookup } from './webhooks/lookup';
import { buildCredentialModule, resolveStateKey, type CredentialModule } from './credentials/wiring';
import { LogNotificationSink } from './notifications/memory';
import { buildRateLimiting, type RateLimiting } from './ratelimit/factory';
import type { NotificationSink } from './notifications/port';
import type { WebhookDeps } from './webhooks/receive';
import { buildAdapters } from './adapters';
import { redisTokenAuthFor, type RedisTokenAuth } from './kv/entra-auth';
import { egressPolicy } from './http/egress-policy';
import { guardProviders } from './http/egress-providers';
import { createEgressTransport } from './http/egress-transport';

/** The ports, as chosen from config. */
export interface Adapters {
  store: DocumentStore;
  secrets: SecretStore;
  kv: KeyValueStore;
  queue: QueueSender;
  /** Present only with the embedded queue: the local host drives triggers from it. */
  receiver?: QueueReceiver;
  /** Which implementation each port got, for logs and health. */
  profile: Record<'store' | 'secrets' | 'kv' | 'queue', 'azure' | 'redis' | 'embedded'>;
}

export interface Services {
  settings: Settings;
  logger: Logger;
  adapters: Adapters;
  repos: Repositories;
  providers: ProviderRegistry;
  adminKey: string;
  webhookDeps: WebhookDeps;
  syncDeps: SyncDeps;
  adminDeps: AdminDeps;
  scheduleDeps: ScheduleDeps;
  outboundDeps: OutboundDeps;
  healthChecks: HealthCheck[];
  /** Credential storage, refresh, OAuth connect and rotation (one module per process). */
  credentials: CredentialModule;
  /** The multi-level limiter every provider call goes through, and custom limits. */
  rateLimiting: RateLimiting;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  adapters?: Partial<Adapters>;
  logger?: Logger;
  providers?: ProviderRegistry;
  fetch?: typeof fetch;
  jwks?: JwksSource;
  notifications?: NotificationSink;
  rateLimiting?: RateLimiting;
  now?: () => Date;
}

/** Wire everything from settings. Clients are built here, on first use of the services, never at import. */
export async function buildServices(settings: Settings, overrides: ServiceOverrides = {}): Promise<Services> {
  const logger = overrides.logger ?? createLogger(consoleSink, settings.LOG_LEVEL);
  const adapters = { ...(await buildAdapters(settings, overrides.adapters ?? {})) };
  const repos = new Repositories(adapters.store);
  // Every provider call is held to the egress policy: the registry guards each fetch it hands a provider
  // (https, documented hosts, same-origin redirects) and the transport checks the address it connects to.
  const egress = egressPolicy(settings.EGRESS_ALLOW_LOCAL === 'sandbox' ? 'sandbox' : 'strict');
  const providers = guardProviders(overrides.providers ?? providerRegistry, egress);
  const now = overrides.now ?? (() => new Date());
  // Embedded profile without a configured key: a fresh random one per start (the local host prints it).
  const adminKey = settings.ADMIN_API_KEY ?? randomBytes(24).toString('base64url');
  registerSecretValue(adminKey);
  const secrets = new SecretCache(adapters.secrets);
  const lookup = new IntegrationLookup(repos);
  const base = { repos, logger, now };
  const fetchFn = overrides.fetch ?? createEgressTransport(egress);
  const rateLimiting =
    overrides.rateLimiting ??
    buildRateLimiting({
      // Redis configured (and not replaced by a test double) → the Redis limiter; otherwise in-memory.
      ...(settings.REDIS_URL === undefined || overrides.adapters?.kv !== undefined ? {} : { redisUrl: settings.REDIS_URL }),
      // REDIS_AUTH=entra: the token source the key-value store's client shares (undefined otherwise).
      ...redisTokenAuthOption(settings, logger),
      keyPrefix: `${settings.REDIS_KEY_PREFIX}rl:`,
      logger,
    });
  const credentials = buildCredentialModule({
    secrets,
    store: adapters.secrets,
    kv: adapters.kv,
    repos,
    providers,
    logger,
    fetch: fetchFn,
    now,
    adminKey,
    stateKey: resolveStateKey(settings.OAUTH_STATE_KEY, adapters.profile.queue === 'embedded'),
    notifications: overrides.notifications ?? new LogNotificationSink(logger),
    onIntegrationChanged: (id) => {
      lookup.forget(id);
    },
  });
  return {
    settings,
    logger,
    adapters,
    repos,
    providers,
    adminKey,
    webhookDeps: {
      secrets,
      kv: adapters.kv,
      queue: adapters.queue,
      providers,
      logger,
      lookup,
      now,
      jwks: overrides.jwks ?? createJwksSource(fetchFn),
      saveIntegration: async (integration) => {
        await repos.putIntegration(integration);
      },
      maxBodyBytes: settings.WEBHOOK_MAX_BODY_BYTES,
      coalesceSeconds: settings.WEBHOOK_COALESCE_SECONDS,
      publicBaseUrl: settings.PUBLIC_BASE_URL,
    },
    syncDeps: { ...base, secrets, credentials: credentials.service, limiter: rateLimiting.limiter, kv: adapters.kv, queue: adapters.queue, providers, fetch: fetchFn, timeBudgetMs: settings.SYNC_TIME_BUDGET_SECONDS * 1000 },
    adminDeps: { ...base, secrets, secretStore: adapters.secrets, credentials: credentials.service, queue: adapters.queue, kv: adapters.kv, providers, lookup, adminKey, defaultScheduleMinutes: settings.SYNC_DEFAULT_SCHEDULE_MINUTES, limits: rateLimiting.limits },
    scheduleDeps: { ...base, queue: adapters.queue },
    outboundDeps: { ...base, providers, secrets, credentials: credentials.service, limiter: rateLimiting.limiter, kv: adapters.kv, queue: adapters.queue, fetch: fetchFn },
    credentials,
    rateLimiting,
    healthChecks: [
      { name: 'store', check: () => adapters.store.ping() },
      { name: 'secrets', check: () => adapters.secrets.ping() },
      { name: 'kv', check: () => adapters.kv.ping() },
      { name: 'queue', check: () => adapters.queue.ping() },
      rateLimiting.healthCheck,
    ],
    close: async () => {
      await Promise.allSettled([adapters.store.close(), adapters.secrets.close(), adapters.kv.close(), adapters.queue.close(), rateLimiting.close()]);
    },
  };
}

let current: Promise<Services> | undefined;

/** The process-wide services, built once (warm Functions instances reuse them). */
export function getServices(): Promise<Services> {
  current ??= buildServices(loadSettings()).catch((error: unknown) => {
    current = undefined; // let the next invocation try again
    throw error;
  });
  return current;
}

/** The local host and tests install services they built themselves. */
export function setServices(services: Services | undefined): void {
  current = services === undefined ? undefined : Promise.resolve(services);
}

function redisTokenAuthOption(settings: Settings, logger: Logger): { redisTokenAuth?: RedisTokenAuth } {
  const auth = redisTokenAuthFor(settings, (e) => {
    logger.warn('Redis Entra auth', { error: e.message });
  });
  return auth === undefined ? {} : { redisTokenAuth: auth };
}
