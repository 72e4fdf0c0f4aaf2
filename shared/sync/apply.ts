import { randomUUID } from 'node:crypto';
import { runIdForMessage } from '../domain/ids';
import { QUEUES } from '../messaging/names';
import type { ApplyRecordsJob } from '../messaging/messages';
import type { MessageInfo, SyncDeps } from './deps';
import { applyStagedDeletes, processPage } from './page';
import { lockKey, SYNC_LOCK_TTL_MS, type SyncOutcome } from './pull';
import { RunTracker } from './runs';

/** A batch of event records is small: when a pull holds the integration, try again soon rather than in 30 s. */
export const APPLY_BUSY_RETRY_MS = 2_000;

/**
 * Apply the records a webhook delivery carried (edits and deletes a pull
 * cannot see) as a small run of their own, through the same phases as a
 * pulled page: dedupe, shards, conflicts, ETag writes, soft deletes on
 * completion. Deterministic run id per message, so a redelivery changes nothing.
 */
export async function runApplyRecords(deps: SyncDeps, job: ApplyRecordsJob, message: MessageInfo): Promise<SyncOutcome> {
  const integration = await deps.repos.getIntegration(job.tenantId, job.integrationId);
  if (!integration) return { kind: 'skipped', reason: 'integration not found' };
  if (integration.status !== 'active') return { kind: 'skipped', reason: `integration is ${integration.status}` };
  const runId = runIdForMessage(message.messageId);
  const run = await RunTracker.open(deps.repos, { tenantId: job.tenantId, integrationId: job.integrationId, runId }, 'webhook', deps.now());
  if (run.finished) return { kind: 'skipped', reason: 'run already finished (redelivery)' };

  const lease = { key: lockKey(integration.id), holder: `${runId}:${randomUUID()}` };
  if (!(await deps.kv.setIfAbsent(lease.key, lease.holder, SYNC_LOCK_TTL_MS))) {
    const attempt = (job.attempt ?? 0) + 1;
    const at = new Date(deps.now().getTime() + APPLY_BUSY_RETRY_MS);
    await deps.queue.send(QUEUES.syncInbound, { messageId: `${message.messageId}:busy:${attempt}`, body: { ...job, attempt }, scheduledEnqueueTime: at });
    await run.requeue(`rescheduled for ${at.toISOString()}: another run holds this integration`);
    return { kind: 'rescheduled', runId, at: at.toISOString(), reason: 'another run holds this integration' };
  }
  try {
    await run.start(deps.now());
    await run.enter('fetching', deps.now());
    await processPage(deps.repos, integration, job.records, run, deps.now);
    await run.flush(true);
    await run.enter('completing', deps.now());
    await applyStagedDeletes(deps.repos, integration, run.stagedDeletes, run.id, deps.now());
    await run.succeed(deps.now());
    return { kind: 'succeeded', runId };
  } finally {
    await deps.kv.deleteIfEquals(lease.key, lease.holder).catch(() => undefined);
  }
}
