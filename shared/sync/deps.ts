import type { SecretCache } from '../credentials/cache';
import type { CredentialService } from '../credentials/service';
import type { RateLimiter } from '../ratelimit/types';
import type { KeyValueStore } from '../kv/port';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry } from '../providers/types';
import type { Repositories } from '../storage/repositories';

export interface SyncDeps {
  repos: Repositories;
  secrets: SecretCache;
  /** Reads (and refreshes) integration credentials; decides what an auth failure means. */
  credentials: CredentialService;
  /** Every provider request is admitted here first (tenant, integration and operation levels). */
  limiter: RateLimiter;
  kv: KeyValueStore;
  queue: QueueSender;
  providers: ProviderRegistry;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
  /** A run stops at the first page boundary after this long and queues its continuation. */
  timeBudgetMs: number;
}

/** What the queue trigger knows about the message it is handling. */
export interface MessageInfo {
  messageId: string;
  deliveryCount: number;
}
