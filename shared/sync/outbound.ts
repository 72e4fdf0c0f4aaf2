import type { SecretCache } from '../credentials/cache';
import type { CredentialService } from '../credentials/service';
import { limitedFetch, signalRecorder } from '../ratelimit/admit';
import type { RateLimiter } from '../ratelimit/types';
import type { Integration, SyncRecord } from '../domain/types';
import { AuthError, describeError, RateLimitedError, UnrecoverableError } from '../errors';
import type { KeyValueStore } from '../kv/port';
import { QUEUES } from '../messaging/names';
import { describeIssues, outboundJobSchema, type OutboundJob } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import { PushConflictError } from '../providers/push-conflict';
import type { ProviderDefinition, ProviderRegistry, PushOperation, PushResult } from '../providers/types';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { backoffDelay } from './backoff';
import { parkMessage } from './deadletters';
import type { MessageInfo } from './deps';
import { followUpId } from './followup';
import { fenceUnwrittenChange, type FoundRecord } from './outbound-fence';
import { shardFor as shardOf } from './page';
import { settlePushConflict } from './push-conflict';
import { preparePush } from './push-operation';
import { canPush } from './push-support';
import { deferPush, PULL_WAIT_MS, requestPrePushPull, type WaitOutcome } from './push-wait';
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
  /** The provider already held these values: nothing was written (never reported as pushed). */
  | { kind: 'unchanged'; externalId: string; reason: string }
  | { kind: 'duplicate'; externalId: string }
  | { kind: 'superseded'; reason: string }
  | { kind: 'rescheduled'; at: string; reason: string }
  | { kind: 'parked'; reason: string };

type Park = (tenantId: string | undefined, reason: string, description: string) => Promise<OutboundOutcome>;

/** A push done once stays done for a week: a redelivered message is recognised and not pushed again. */
const DONE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
const doneKey = (integrationId: string, key: string): string => `push:{${integrationId}}:${key}`;
/** Conflicts settled in favour of the local change are pushed again at once, this many times, before waiting for a pull. */
const IN_PROCESS_CONFLICT_RETRIES = 1;

/**
 * Push one local change to the provider, idempotently, and only as a patch
 * conditional on the provider version we saw: a provider change made since is
 * settled by the integration's conflict strategy, never overwritten. Waits
 * (rate limits, a pull) are deferrals bounded by time; failures back off
 * three times then park; auth failures mark the integration needs_reauth.
 * Nothing is dropped silently.
 */
export async function handleOutbound(deps: OutboundDeps, body: unknown, message: MessageInfo): Promise<OutboundOutcome> {
  const park: Park = async (tenantId, reason, description) => {
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
  if (!provider?.push || !canPush(provider, integration, job.entityType)) {
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
  const local = found?.record.local;
  // A provider without conditional writes cannot refuse a version we have not seen: a pull must look first.
  if (job.op !== 'create' && local && !provider.push.conditional && !(integration.lastSyncAt !== undefined && integration.lastSyncAt > local.updatedAt)) {
    await requestPrePushPull(deps, integration);
    return waited(park, job, await deferPush(deps, job, PULL_WAIT_MS, 'waiting for a pull to check the provider for newer changes', false));
  }
  return pushAndRecord(deps, integration, provider, job, found, park);
}

async function pushAndRecord(deps: OutboundDeps, integration: Stored<Integration>, provider: ProviderDefinition, job: OutboundJob, start: FoundRecord | undefined, park: Park): Promise<OutboundOutcome> {
  const used: { version?: string } = {};
  let found = start;
  for (let conflicts = 0; ; conflicts++) {
    const prepared = preparePush(provider, integration, job, found?.record);
    if (!prepared.ok) return park(job.tenantId, 'NotWritable', prepared.reason);
    let result: PushResult;
    try {
      result = await push(deps, integration, provider, job, prepared.operation, used);
    } catch (error) {
      if (!(error instanceof PushConflictError) || !found) return settle(deps, job, integration, error, park, used);
      deps.logger.info('outbound push met a newer provider version', { integrationId: integration.id, recordId: found.record.id, reason: error.message });
      const settled = conflicts < IN_PROCESS_CONFLICT_RETRIES ? await settlePushConflict(deps.repos, integration, found, error.remote, deps.now()) : { kind: 'needs-pull' as const };
      if (settled.kind === 'settled') return { kind: 'superseded', reason: settled.reason };
      if (settled.kind === 'push-again') {
        found = { record: settled.record, shard: found.shard };
        continue;
      }
      await requestPrePushPull(deps, integration);
      return waited(park, job, await deferPush(deps, job, PULL_WAIT_MS, 'the provider changed the record since it was last seen; a pull settles it by the conflict strategy', false));
    }
    // Bookkeeping first, then the done mark: a failure in between repeats the push (recognised by the provider's idempotency), never loses the record.
    await recordAfterPush(deps.repos, integration, job, found, result, deps.now());
    await deps.kv.set(doneKey(integration.id, job.idempotencyKey), result.externalId, DONE_TTL_MS);
    if (result.unchanged) return { kind: 'unchanged', externalId: result.externalId, reason: 'the provider already held these values; nothing was written' };
    return { kind: 'pushed', externalId: result.externalId };
  }
}

/** A deferral sent, or parked once the push has waited too long. */
async function waited(park: Park, job: OutboundJob, outcome: WaitOutcome): Promise<OutboundOutcome> {
  if (outcome.kind === 'too-long') return park(job.tenantId, 'DeferredTooLong', outcome.reason);
  return outcome;
}

async function push(
  deps: OutboundDeps,
  integration: Integration,
  provider: ProviderDefinition,
  job: OutboundJob,
  operation: PushOperation,
  used: { version?: string },
): Promise<PushResult> {
  const access = await deps.credentials.getAccessCredentials(integration);
  used.version = access.version;
  const credentials = provider.credentialsSchema.safeParse(access.credentials);
  if (!credentials.success) throw new AuthError('Stored credentials are missing or invalid');
  const config = provider.configSchema.safeParse(integration.config);
  if (!config.success) throw new UnrecoverableError('Integration config is invalid');
  if (!provider.push) throw new UnrecoverableError('push not supported');
  // A write refused by the limiter is not sent: RateLimitedError defers it with its idempotency key.
  const scope = { tenantId: integration.tenantId, integrationId: integration.id, provider: integration.provider };
  const write = limitedFetch(deps.fetch, deps.limiter, scope, job.op);
  // A push's reads (the re-read before a conditional write, a read-back) count as fetches: write budgets
  // (GitHub's ~80 content-creating requests a minute) are for writes.
  const read = limitedFetch(deps.fetch, deps.limiter, scope, 'fetch');
  const fetchByMethod: typeof fetch = (input, init) => ((init?.method ?? 'GET').toUpperCase() === 'GET' ? read(input, init) : write(input, init));
  return provider.push.apply(
    {
      baseUrl: integration.baseUrl,
      config: config.data,
      credentials: credentials.data,
      fetch: fetchByMethod,
      onRateLimit: signalRecorder(deps.limiter, scope),
    },
    operation,
  );
}

async function findRecord(repos: Repositories, integration: Integration, job: OutboundJob): Promise<{ record: Stored<SyncRecord>; shard: ReturnType<typeof shardOf> } | undefined> {
  const shard = shardOf(integration, job.entityType);
  const record = await repos.getRecord(integration.tenantId, job.recordId, shard);
  return record ? { record, shard } : undefined;
}

/**
 * A push that failed. A rate limit is a wait (a deferral at the provider's
 * retry time, bounded by time); anything transient is a failure (attempt,
 * 30 s / 2 min / 10 min, then parked `RetriesExhausted`).
 */
async function settle(deps: OutboundDeps, job: OutboundJob, integration: Integration, error: unknown, park: Park, used: { version?: string }): Promise<OutboundOutcome> {
  const reason = describeError(error);
  if (error instanceof RateLimitedError) return waited(park, job, await deferPush(deps, job, error.retryAfterMs, reason, true));
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
  delay ??= backoffDelay(attempt);
  if (delay === undefined) return park(job.tenantId, 'RetriesExhausted', `after ${attempt - 1} retries: ${reason}`);
  const at = new Date(deps.now().getTime() + delay);
  // Same idempotency key: a retried create is recognised by the provider or by the done-ledger.
  await deps.queue.send(QUEUES.syncOutbound, {
    messageId: followUpId(job.idempotencyKey, 'retry', attempt),
    body: { ...job, attempt },
    scheduledEnqueueTime: at,
    applicationProperties: { tenantId: job.tenantId, op: job.op },
  });
  deps.logger.warn('outbound push rescheduled', { integrationId: integration.id, attempt, at: at.toISOString(), reason });
  return { kind: 'rescheduled', at: at.toISOString(), reason };
}
