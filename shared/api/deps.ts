import type { SecretCache } from '../credentials/cache';
import type { SecretStore } from '../credentials/port';
import type { CredentialService } from '../credentials/service';
import type { KeyValueStore } from '../kv/port';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry } from '../providers/types';
import type { LimitsStore } from '../ratelimit/types';
import type { Repositories } from '../storage/repositories';
import type { IntegrationLookup } from '../webhooks/lookup';

export interface AdminDeps {
  repos: Repositories;
  secrets: SecretCache;
  /** The store behind `secrets`, for deleting webhook secrets an integration PUT/PATCH replaced. */
  secretStore: Pick<SecretStore, 'delete'>;
  /** Writes credentials as kind-tagged, versioned envelopes under the credential lease. */
  credentials: CredentialService;
  queue: QueueSender;
  /** Run cancellation flags, read by the workers. */
  kv: KeyValueStore;
  providers: ProviderRegistry;
  lookup: IntegrationLookup;
  logger: Logger;
  adminKey: string;
  defaultScheduleMinutes: number;
  /** Custom rate limits (an integration's `limits` field lands here). */
  limits: LimitsStore;
  now: () => Date;
}
