import type { SecretCache } from '../credentials/cache';
import type { CredentialService } from '../credentials/service';
import { limitedFetch, signalRecorder } from '../ratelimit/admit';
import type { RateLimiter } from '../ratelimit/types';
import type { Integration, SyncRecord } from '../domain/types';
import { AuthError, describeError, RateLimitedError, UnrecoverableError } from '../errors';
import type { KeyValueStore } from '../kv/port';
import { QUEUES } from '../messaging/names';
import { describeIssues, outboundJobSchema, type OutboundJob, type SyncJob } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { ProviderDefinition, ProviderRegistry, PushResult } from '../providers/types';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { backoffDelay } from './backoff';
import { parkMessage } from './deadletters';
import { fenceUnwrittenChange } from './outbound-fence';
import type { MessageInfo } from './deps';
import { shardFor as shardOf } from './page';
import { recordAfterPush } from './pushed';

export interface OutboundDeps {
  repos: Repositories;
  providers: ProviderRegistry;
  secrets: SecretCache;
  credentials: CredentialService;
  limiter: RateLimiter;
  kv: KeyValueStore;
  queue: QueueSender;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
}

export type OutboundOutcome =
  | { kind: 'pushed'; externalId: string }
  | { kind: 'duplicate'; externalId: string }
  | { kind: 'superseded'; reason: string }
  | { kind: 'rescheduled'; at: string; reason: string }
  | { kind: 'parked'; reason: string };

/** A push done once stays done for a week: a redelivered message is recognised and not pushed again. */
const DONE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const doneKey = (integrationId: string, key: string): string => `push:{${integrationId}}:${key}`;

/**
 * Push one local change to the provider, idempotently. Transient failures
 * reschedule with backoff; permanent ones are parked with a reason; auth
 * failures mark the integration needs_reauth. Nothing is dropped silently.
 */
export async function handleOutbound(deps: OutboundDeps, body: unknown, message: MessageInfo): Promise<OutboundOutcome> {
  const park = async (tenantId: string | undefined, reason: string, description: string): Promise<OutboundOutcome> => {
    await parkMessage(deps.repos, QUEUES.syncOutbound, message.messageId, body, tenantId, reason, description, deps.now());
    deps.logger.warn('outbound message parked', { messageId: message.messageId, reason });
    return { kind: 'parked', reason };
  };
  const parsed = outboundJobSchema.safeParse(body);
  if (!parsed.success) return park(undefined, 'InvalidMessage', describeIssues(parsed.error));
  const job = parsed.data;
  const integration = await deps.repos.getIntegration(job.tenantId, job.integrationId);
  if (!integration) return park(job.tenantId, 'IntegrationNotFound', `No integration ${job.integrationId}`);
  const provider = deps.providers.get(integration.provider);
  if (!provider?.push?.entityTypes.includes(job.entityType)) {
    return park(job.tenantId, 'PushNotSupported', `${integration.provider} cannot push ${job.entityType}`);
  }
  const done = await deps.kv.get(doneKey(integration.id, job.idempotencyKey));
  if (done !== undefined) return { kind: 'duplicate', externalId: done };

  let found = await findRecord(deps.repos, integration, job);
  if (job.op !== 'create' && !found) return park(job.tenantId, 'RecordNotFound', `No record ${job.recordId}`);
  // The local change was overridden (provider-wins, an admin resolution, a newer edit) or never written: nothing to push.
  if (found && found.record.local?.idempotencyKey !== job.idempotencyKey && job.op !== 'create') {
    // The API queues before it writes: fence off a write still in flight before dropping the push.
    found = await fenceUnwrittenChange(deps.repos, found, job);
    if (!found) return { kind: 'superseded', reason: 'the record no longer holds this local change' };
  }
  // The provider changed the record too and the strategy is manual: nothing goes out until an admin
  // resolves it (picking local or a merge queues a fresh push).
  if (found && (await deps.repos.getConflict(integration.tenantId, found.record.id))?.status === 'open') {
    return { kind: 'superseded', reason: 'an open conflict waits for an admin' };
  }
  const used: { version?: string } = {};
  const local = found?.record.local;
  if (job.op !== 'create' && local && (integration.lastSyncAt === undefined || integration.lastSyncAt <= local.updatedAt)) {
    return pullFirst(deps, job, park);
  }
  try {
    const result = await push(deps, integration, provider, job, found?.record, used);
    await deps.kv.set(doneKey(integration.id, job.idempotencyKey), result.externalId, DONE_TTL_MS);
    await recordAfterPush(deps.repos, integration, job, found, result, deps.now());
    return { kind: 'pushed', externalId: result.externalId };
  } catch (error) {
    return settle(deps, job, integration, error, park, used);
  }
}

/** How long a push waits for the pull it asked for, and how often, before it is parked. */
export const PULL_FIRST_DELAY_MS = 30_000;
export const MAX_PULL_FIRST_WAITS = 6;

/**
 * An update or delete goes out only once a pull has looked at the provider
 * after the local change was made: a remote change since then is a conflict
 * the integration's strategy settles (provider-wins supersedes this push,
 * manual holds it), instead of being overwritten blindly.
 */
async function pullFirst(
  deps: OutboundDeps,
  job: OutboundJob,
  park: (tenantId: string, reason: string, description: string) => Promise<OutboundOutcome>,
): Promise<OutboundOutcome> {
  const waits = (job.waits ?? 0) + 1;
  if (waits > MAX_PULL_FIRST_WAITS) {
    return park(job.tenantId, 'ProviderStateUnknown', `no completed pull after the local change in ${MAX_PULL_FIRST_WAITS} waits; check the integration's runs`);
  }
  const now = deps.now();
  const sync: SyncJob = { type: 'sync.pull', tenantId: job.tenantId, integrationId: job.integrationId, trigger: 'manual', requestedAt: now.toISOString() };
  // One pull per local change (and per wait): duplicates of this message ask for nothing new.
  await deps.queue.send(QUEUES.syncInbound, { messageId: `prepush:${job.idempotencyKey}:${waits}`, body: sync, applicationProperties: { trigger: 'prepush', tenantId: job.tenantId } });
  const at = new Date(now.getTime() + PULL_FIRST_DELAY_MS);
  await deps.queue.send(QUEUES.syncOutbound, {
    messageId: `${job.idempotencyKey}:wait:${waits}`,
    body: { ...job, waits },
    scheduledEnqueueTime: at,
    applicationProperties: { tenantId: job.tenantId, op: job.op },
  });
  return { kind: 'rescheduled', at: at.toISOString(), reason: 'waiting for a pull to check the provider for newer changes' };
}

async function push(
  deps: OutboundDeps,
  integration: Integration,
  provider: ProviderDefinition,
  job: OutboundJob,
  record: SyncRecord | undefined,
  used: { version?: string },
): Promise<PushResult> {
  const access = await deps.credentials.getAccessCredentials(integration);
  used.version = access.version;
  const credentials = provider.credentialsSchema.safeParse(access.credentials);
  if (!credentials.success) throw new AuthError('Stored credentials are missing or invalid');
  const config = provider.configSchema.safeParse(integration.config);
  if (!config.success) throw new UnrecoverableError('Integration config is invalid');
  if (!provider.push) throw new UnrecoverableError('push not supported');
  // A write refused by the limiter is not sent: RateLimitedError reschedules it with its idempotency key.
  const scope = { tenantId: integration.tenantId, integrationId: integration.id, provider: integration.provider };
  return provider.push.apply(
    {
      baseUrl: integration.baseUrl,
      config: config.data,
      credentials: credentials.data,
      fetch: limitedFetch(deps.fetch, deps.limiter, scope, job.op),
      onRateLimit: signalRecorder(deps.limiter, scope),
    },
    {
      op: job.op,
      entityType: job.entityType,
      ...(record ? { externalId: record.externalId } : {}),
      payload: { ...(record?.data ?? {}), ...job.payload },
      idempotencyKey: job.idempotencyKey,
    },
  );
}

async function findRecord(repos: Repositories, integration: Integration, job: OutboundJob): Promise<{ record: Stored<SyncRecord>; shard: ReturnType<typeof shardOf> } | undefined> {
  const shard = shardOf(integration, job.entityType);
  const record = await repos.getRecord(integration.tenantId, job.recordId, shard);
  return record ? { record, shard } : undefined;
}

async function settle(
  deps: OutboundDeps,
  job: OutboundJob,
  integration: Integration,
  error: unknown,
  park: (tenantId: string, reason: string, description: string) => Promise<OutboundOutcome>,
  used: { version?: string },
): Promise<OutboundOutcome> {
  const reason = describeError(error);
  let delay: number | undefined;
  if (error instanceof AuthError) {
    // Re-read or refresh once (another instance may have rotated the token); otherwise the integration needs re-authorisation.
    const outcome = used.version === undefined ? 'reauth_required' : await deps.credentials.onAuthFailure(integration, { version: used.version });
    if (outcome === 'reauth_required' || (job.attempt ?? 0) >= 3) {
      await deps.credentials.markNeedsReauth(integration, 'reauth_required', reason, `reauth:${integration.tenantId}:${integration.id}:${used.version ?? 'unreadable'}`);
      return park(job.tenantId, 'AuthFailed', reason);
    }
    delay = 0;
  }
  if (error instanceof UnrecoverableError) return park(job.tenantId, 'Unrecoverable', reason);
  const attempt = (job.attempt ?? 0) + 1;
  delay ??= error instanceof RateLimitedError ? error.retryAfterMs : backoffDelay(attempt);
  if (delay === undefined) return park(job.tenantId, 'RetriesExhausted', `after ${attempt - 1} retries: ${reason}`);
  const at = new Date(deps.now().getTime() + delay);
  // Same idempotency key: a retried create is recognised by the provider or by the done-ledger.
  await deps.queue.send(QUEUES.syncOutbound, {
    messageId: `${job.idempotencyKey}:retry:${attempt}`,
    body: { ...job, attempt },
    scheduledEnqueueTime: at,
    applicationProperties: { tenantId: job.tenantId, op: job.op },
  });
  deps.logger.warn('outbound push rescheduled', { integrationId: integration.id, attempt, at: at.toISOString(), reason });
  return { kind: 'rescheduled', at: at.toISOString(), reason };
}
