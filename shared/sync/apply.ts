import { randomUUID } from 'node:crypto';
import { runIdForMessage } from '../domain/ids';
import { acquireLease, releaseLease } from '../kv/lease';
import { QUEUES } from '../messaging/names';
import type { ApplyRecordsJob } from '../messaging/messages';
import { backoffDelay } from './backoff';
import { parkMessage } from './deadletters';
import type { MessageInfo, SyncDeps } from './deps';
import { deferralDelay, followUpId, MAX_DEFERRAL_MS, nextDeferral } from './followup';
import { applyDeletes } from './deletions';
import { processPage } from './page';
import { lockKey, SYNC_LOCK_TTL_MS, type SyncOutcome } from './pull';
import { RunTracker } from './runs';
import { describeError } from '../errors';

/** A batch of event records is small: when a pull holds the integration, first try again soon rather than in 30 s. */
export const APPLY_BUSY_RETRY_MS = 2_000;
/** Later waits double up to a minute: waiters back off instead of polling a held lease. */
export const APPLY_MAX_BUSY_WAIT_MS = 60_000;

/**
 * Apply the records a webhook delivery carried (edits and deletes a pull
 * cannot see) as a small run of their own, through the same phases as a
 * pulled page: dedupe, shards, conflicts, ETag writes, soft deletes on
 * completion. Deterministic run id per job (carried by its follow-ups), so a
 * redelivery changes nothing. Every failure, Redis's included, takes the
 * backoff and ends applied or parked with a reason.
 */
export async function runApplyRecords(deps: SyncDeps, job: ApplyRecordsJob, message: MessageInfo): Promise<SyncOutcome> {
  const integration = await deps.repos.getIntegration(job.tenantId, job.integrationId);
  if (!integration) return { kind: 'skipped', reason: 'integration not found' };
  if (integration.status !== 'active') return { kind: 'skipped', reason: `integration is ${integration.status}` };
  const runId = job.runId ?? runIdForMessage(message.messageId);
  const run = await RunTracker.open(deps.repos, { tenantId: job.tenantId, integrationId: job.integrationId, runId }, 'webhook', deps.now());
  if (run.finished) return { kind: 'skipped', reason: 'run already finished (redelivery)' };
  const self: ApplyRecordsJob & { runId: string } = { ...job, runId };

  const lease = { key: lockKey(integration.id), holder: `${runId}:${randomUUID()}` };
  let acquired = false;
  try {
    acquired = await acquireLease(deps.kv, lease, SYNC_LOCK_TTL_MS);
    if (!acquired) return await waitForLease(deps, self, run);
    await run.start(deps.now());
    await run.enter('fetching', deps.now());
    // A batch is retried whole, so its deletions need no staging beyond this invocation; counted as applied.
    const staged = await processPage(deps.repos, integration, job.records, run, deps.now);
    await run.flush(true);
    await run.enter('completing', deps.now());
    await applyDeletes(deps.repos, integration, staged, `${run.id}#0`, run.id, deps.now(), () => { run.noteDeleted(); });
    run.deletesApplied();
    await run.succeed(deps.now());
    return { kind: 'succeeded', runId };
  } catch (error) {
    return await retryLater(deps, self, run, describeError(error));
  } finally {
    if (acquired) await releaseLease(deps.kv, lease, SYNC_LOCK_TTL_MS, (e: unknown) => { deps.logger.warn('lock release failed; retrying in the background', { error: e, runId }); });
  }
}

async function waitForLease(deps: SyncDeps, job: ApplyRecordsJob & { runId: string }, run: RunTracker): Promise<SyncOutcome> {
  const now = deps.now();
  const next = nextDeferral(job, now);
  if (!next) {
    const why = `waited more than ${MAX_DEFERRAL_MS / 3_600_000} h for the integration to be free`;
    await parkMessage(deps.repos, QUEUES.syncInbound, followUpId(job.runId, 'defer', (job.deferrals ?? 0) + 1), job, job.tenantId, 'DeferredTooLong', why, now);
    await run.fail(now, why);
    return { kind: 'failed', runId: job.runId, reason: why };
  }
  const at = new Date(now.getTime() + deferralDelay(next.deferrals, APPLY_BUSY_RETRY_MS, APPLY_MAX_BUSY_WAIT_MS));
  await send(deps, followUpId(job.runId, 'defer', next.deferrals), next, at);
  await run.requeue(`waiting until ${at.toISOString()}: another run holds this integration`, at);
  return { kind: 'rescheduled', runId: job.runId, at: at.toISOString(), reason: 'another run holds this integration' };
}

/** A failure (store, Redis, anything): 30 s / 2 min / 10 min backoff, then the job is parked and the run fails, both with the reason. */
async function retryLater(deps: SyncDeps, job: ApplyRecordsJob & { runId: string }, run: RunTracker, reason: string): Promise<SyncOutcome> {
  const now = deps.now();
  const attempt = (job.attempt ?? 0) + 1;
  const delay = backoffDelay(attempt);
  if (delay === undefined) {
    await parkMessage(deps.repos, QUEUES.syncInbound, followUpId(job.runId, 'retry', attempt), job, job.tenantId, 'RetriesExhausted', `after ${attempt - 1} retries: ${reason}`, now);
    await run.fail(now, `gave up after ${attempt - 1} retries: ${reason}`);
    deps.logger.error('apply failed after retries; message parked', { runId: job.runId, reason });
    return { kind: 'failed', runId: job.runId, reason };
  }
  const at = new Date(now.getTime() + delay);
  await send(deps, followUpId(job.runId, 'retry', attempt), { ...job, attempt }, at);
  await run.requeue(`rescheduled for ${at.toISOString()}: ${reason}`, at);
  deps.logger.warn('apply attempt failed; retrying with backoff', { runId: job.runId, attempt, reason });
  return { kind: 'rescheduled', runId: job.runId, at: at.toISOString(), reason };
}

async function send(deps: SyncDeps, messageId: string, body: ApplyRecordsJob, at: Date): Promise<void> {
  await deps.queue.send(QUEUES.syncInbound, { messageId, body, scheduledEnqueueTime: at, applicationProperties: { trigger: 'webhook', tenantId: body.tenantId } });
}
