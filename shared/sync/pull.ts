import { runIdForMessage } from '../domain/ids';
import type { Integration } from '../domain/types';
import { AuthError, describeError, isSyncError, RateLimitedError, UnrecoverableError } from '../errors';
import { MAX_DELIVERY_COUNT, QUEUES } from '../messaging/names';
import type { SyncJob } from '../messaging/messages';
import type { ProviderDefinition } from '../providers/types';
import type { Stored } from '../storage/port';
import type { MessageInfo, SyncDeps } from './deps';
import { persistPage } from './persist';
import { RunTracker } from './runs';
import { saveCursor } from './checkpoint';
import { readAhead } from './concurrency';

export type SyncOutcome =
  | { kind: 'succeeded'; runId: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'rescheduled'; runId: string; at: string; reason: string }
  | { kind: 'failed'; runId: string; reason: string };

/** One run per integration at a time; the lease outlives a stuck worker by at most this long. */
export const SYNC_LOCK_TTL_MS = 15 * 60 * 1000;
/** How long a job waits before retrying when another run holds the integration. */
export const BUSY_RETRY_MS = 30_000;

const lockKey = (integrationId: string): string => `lock:sync:{${integrationId}}`;

/**
 * Runs one pull sync. Returns an outcome for settled cases; throws a
 * RetryableError (or any unexpected error) when the message should be
 * redelivered — the run then continues from its last checkpoint.
 */
export async function runPullSync(deps: SyncDeps, job: SyncJob, message: MessageInfo): Promise<SyncOutcome> {
  const integration = await deps.repos.getIntegration(job.tenantId, job.integrationId);
  if (!integration) return { kind: 'skipped', reason: 'integration not found' };
  const provider = deps.providers.get(integration.provider);
  if (!provider) return { kind: 'skipped', reason: `provider '${integration.provider}' is not registered` };
  if (integration.status !== 'active') return { kind: 'skipped', reason: `integration is ${integration.status}` };

  const runId = job.runId ?? runIdForMessage(message.messageId);
  const run = await RunTracker.open(deps.repos, { tenantId: job.tenantId, integrationId: job.integrationId, runId }, job.trigger, deps.now());
  if (run.finished) return { kind: 'skipped', reason: 'run already finished (redelivery)' };

  const key = lockKey(integration.id);
  const held = (await deps.kv.setIfAbsent(key, runId, SYNC_LOCK_TTL_MS)) || (await deps.kv.get(key)) === runId;
  if (!held) return reschedule(deps, job, run, BUSY_RETRY_MS, 'another run holds this integration');

  const log = deps.logger.child({ tenantId: job.tenantId, integrationId: integration.id, runId });
  try {
    await run.start(deps.now());
    await pullPages(deps, integration, provider, run);
    await run.succeed(deps.now());
    log.info('sync succeeded', { counts: run.counts });
    return { kind: 'succeeded', runId };
  } catch (error) {
    return await settleFailure(deps, job, message, integration, run, error);
  } finally {
    await deps.kv.deleteIfEquals(key, runId).catch((e: unknown) => { log.warn('lock release failed', { error: e }); });
  }
}

async function pullPages(deps: SyncDeps, start: Stored<Integration>, provider: ProviderDefinition, run: RunTracker): Promise<void> {
  const secret = await deps.secrets.get(start.credentialsSecret);
  const credentials = provider.credentialsSchema.safeParse(secret ? JSON.parse(secret.value) : undefined);
  if (!credentials.success) throw new AuthError('Stored credentials are missing or invalid');
  const config = provider.configSchema.safeParse(start.config);
  if (!config.success) throw new UnrecoverableError('Integration config is invalid');

  let integration = start;
  const pages = provider.pull({
    baseUrl: integration.baseUrl,
    config: config.data,
    credentials: credentials.data,
    cursor: integration.cursor,
    fetch: deps.fetch,
  });
  // The next page downloads while this one is persisted; checkpoints still follow persistence.
  for await (const page of readAhead(pages)) {
    const counts = await persistPage(deps.repos, integration, page.records, run.id, deps.now());
    // The cursor moves only once the page is stored: a crash here replays the page, which changes nothing.
    integration = await saveCursor(deps.repos, integration, page.cursor, page.done ? deps.now() : undefined);
    await run.addCounts({ fetched: page.records.length, ...counts });
  }
}

async function settleFailure(
  deps: SyncDeps,
  job: SyncJob,
  message: MessageInfo,
  integration: Stored<Integration>,
  run: RunTracker,
  error: unknown,
): Promise<SyncOutcome> {
  const reason = describeError(error);
  const log = deps.logger.child({ tenantId: job.tenantId, integrationId: integration.id, runId: run.id });
  if (error instanceof RateLimitedError) return reschedule(deps, { ...job, runId: run.id }, run, error.retryAfterMs, reason);
  if (error instanceof AuthError) {
    deps.secrets.invalidate(integration.credentialsSecret);
    const fresh = await deps.repos.getIntegration(integration.tenantId, integration.id);
    if (fresh) await deps.repos.putIntegration({ ...stripEtag(fresh), status: 'needs_reauth', updatedAt: deps.now().toISOString() });
    await run.fail(deps.now(), reason);
    log.warn('sync needs re-authorisation', { reason });
    return { kind: 'failed', runId: run.id, reason };
  }
  if (error instanceof UnrecoverableError || (isSyncError(error) && error.kind === 'input')) {
    await run.fail(deps.now(), reason);
    log.error('sync failed', { reason });
    return { kind: 'failed', runId: run.id, reason };
  }
  // Retryable or unexpected: redelivery resumes from the last checkpoint.
  if (message.deliveryCount >= MAX_DELIVERY_COUNT) await run.fail(deps.now(), `gave up after ${message.deliveryCount} deliveries: ${reason}`);
  else await run.note(`attempt ${message.deliveryCount} failed: ${reason}`);
  log.warn('sync attempt failed; will be redelivered', { reason, deliveryCount: message.deliveryCount });
  throw error;
}

async function reschedule(deps: SyncDeps, job: SyncJob, run: RunTracker, delayMs: number, reason: string): Promise<SyncOutcome> {
  const attempt = (job.attempt ?? 0) + 1;
  const at = new Date(deps.now().getTime() + delayMs);
  const next: SyncJob = { ...job, runId: run.id, attempt };
  await deps.queue.send(QUEUES.syncInbound, {
    messageId: `${run.id}:retry:${attempt}`,
    body: next,
    scheduledEnqueueTime: at,
    applicationProperties: { trigger: job.trigger, tenantId: job.tenantId },
  });
  await run.requeue(`rescheduled for ${at.toISOString()}: ${reason}`);
  return { kind: 'rescheduled', runId: run.id, at: at.toISOString(), reason };
}

function stripEtag<T extends { etag: string }>(doc: T): Omit<T, 'etag'> {
  const { etag: _etag, ...rest } = doc;
  return rest;
}
