/**
 * Builds the credentials module from the app's services, once per Services
 * object (a warm instance reuses it). Until the composition root builds it
 * itself, functions/ reach it through `credentialModuleFor(services)`.
 */
import { randomBytes } from 'node:crypto';
import type { Services } from '../composition';
import type { KeyValueStore } from '../kv/port';
import type { NotificationSink } from '../notifications/port';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry } from '../providers/types';
import type { Repositories } from '../storage/repositories';
import type { SecretCache } from './cache';
import type { OAuthFlowDeps } from './oauth-flow';
import { parseStateKey } from './oauth-state';
import type { SecretStore } from './port';
import type { TokenRefresherDeps } from './refresher';
import { CredentialService, type CredentialServiceOptions } from './service';
import type { WebhookRotationDeps } from './webhook-rotation';

/** Setting holding the OAuth `state` HMAC key: base64 of at least 32 random bytes. */
export const OAUTH_STATE_KEY_SETTING = 'OAUTH_STATE_KEY';

export interface CredentialModuleInput {
  secrets: SecretCache;
  store: SecretStore;
  kv: KeyValueStore;
  repos: Repositories;
  providers: ProviderRegistry;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
  adminKey: string;
  stateKey: Buffer | undefined;
  notifications: NotificationSink;
  onIntegrationChanged?: (integrationId: string) => void;
  options?: Partial<CredentialServiceOptions>;
}

/** Dependencies of the admin credential handlers (shared/api/credentials.ts). */
export interface CredentialAdminDeps {
  adminKey: string;
  logger: Logger;
  repos: Repositories;
  providers: ProviderRegistry;
  credentials: CredentialService;
  secrets: SecretCache;
  webhookRotation: WebhookRotationDeps;
  now: () => Date;
}

export type OAuthRouteDeps = OAuthFlowDeps & { adminKey: string };

export interface CredentialModule {
  service: CredentialService;
  admin: CredentialAdminDeps;
  oauth: OAuthRouteDeps;
  refresher: TokenRefresherDeps;
}

export function buildCredentialModule(input: CredentialModuleInput): CredentialModule {
  const { secrets, store, kv, repos, providers, logger, fetch, now } = input;
  const service = new CredentialService({
    secrets,
    kv,
    repos,
    providers,
    notifications: input.notifications,
    logger,
    fetch,
    now,
    ...(input.onIntegrationChanged ? { onIntegrationChanged: input.onIntegrationChanged } : {}),
    ...(input.options ? { options: input.options } : {}),
  });
  const webhookRotation: WebhookRotationDeps = {
    repos,
    secrets,
    store,
    providers,
    logger,
    now,
    notice: service.noticeDeps(),
    ...(input.onIntegrationChanged ? { onIntegrationChanged: input.onIntegrationChanged } : {}),
  };
  return {
    service,
    admin: { adminKey: input.adminKey, logger, repos, providers, credentials: service, secrets, webhookRotation, now },
    oauth: { adminKey: input.adminKey, repos, providers, kv, secrets, credentials: service, stateKey: input.stateKey, logger, fetch, now },
    refresher: { repos, credentials: service, providers, webhookRotation, secrets, logger, now },
  };
}

/**
 * The OAuth state key from settings; on the embedded profile a random one per
 * process (one process runs everything locally); in Azure the settings schema
 * requires it, so flows survive a scale-out.
 */
export function resolveStateKey(setting: string | undefined, embedded: boolean): Buffer | undefined {
  return parseStateKey(setting) ?? (embedded ? randomBytes(32) : undefined);
}

/** The module the composition root built for these services. */
export function credentialModuleFor(services: Services): CredentialModule {
  return services.credentials;
}
