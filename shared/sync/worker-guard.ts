import { runIdForMessage } from '../domain/ids';
import { describeError } from '../errors';
import { QUEUES, type QueueName } from '../messaging/names';
import { inboundJobSchema, outboundJobSchema } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { Repositories } from '../storage/repositories';
import { backoffDelay } from './backoff';
import { parkMessage } from './deadletters';
import type { MessageInfo } from './deps';
import { followUpId } from './followup';

export interface GuardDeps {
  repos: Repositories;
  queue: QueueSender;
  logger: Logger;
  now: () => Date;
}

export type GuardOutcome = { kind: 'rescheduled'; at: string; reason: string } | { kind: 'parked'; reason: string };

interface FollowUp {
  /** Stable base of the job's follow-up ids: the same ids the handlers use, so a retry sent twice is one message. */
  base: string;
  body: Record<string, unknown>;
  tenantId: string;
  runId?: string;
  /** Failures so far, from the validated job. */
  attempt: number;
}

/** What the guard knows of a message: enough to send it again with one more attempt. */
function followUpFor(queue: QueueName, body: unknown, info: MessageInfo): FollowUp | undefined {
  if (queue === QUEUES.syncOutbound) {
    const job = outboundJobSchema.safeParse(body);
    return job.success ? { base: job.data.idempotencyKey, body: job.data, tenantId: job.data.tenantId, attempt: job.data.attempt ?? 0 } : undefined;
  }
  const job = inboundJobSchema.safeParse(body);
  if (!job.success) return undefined;
  // Pin the run: the follow-up must continue this run, not open a new one that leaves this one queued.
  const runId = job.data.runId ?? runIdForMessage(info.messageId);
  return { base: runId, body: { ...job.data, runId }, tenantId: job.data.tenantId, runId, attempt: job.data.attempt ?? 0 };
}

/**
 * The last line of every queue worker. A failure that escaped the handler's
 * own settlement (typically the store or Redis down while it was recording a
 * retry) takes the documented path instead of the host's immediate
 * redelivery (ten deliveries in milliseconds, then a dead letter nobody sees):
 * a follow-up with the 30 s / 2 min / 10 min backoff, then parked with its
 * reason where the admin API lists dead letters. Only when neither the
 * queue nor the store answers does it rethrow, leaving the message to the
 * host (it comes back, and in the end the platform's dead-letter queue keeps it).
 */
export async function settleEscapedFailure(deps: GuardDeps, queue: QueueName, body: unknown, info: MessageInfo, error: unknown): Promise<GuardOutcome> {
  const reason = describeError(error);
  const followUp = followUpFor(queue, body, info);
  const attempt = (followUp?.attempt ?? 0) + 1;
  const delay = followUp ? backoffDelay(attempt) : undefined;
  if (followUp && delay !== undefined) {
    const at = new Date(deps.now().getTime() + delay);
    try {
      await deps.queue.send(queue, {
        messageId: followUpId(followUp.base, 'retry', attempt),
        body: { ...followUp.body, attempt },
        scheduledEnqueueTime: at,
        applicationProperties: { tenantId: followUp.tenantId },
      });
      deps.logger.warn('worker failed; retrying with backoff', { queue, messageId: info.messageId, attempt, at: at.toISOString(), reason });
      return { kind: 'rescheduled', at: at.toISOString(), reason };
    } catch (sendError) {
      deps.logger.error('worker failed and its retry could not be queued; parking it', { queue, messageId: info.messageId, reason, sendError: describeError(sendError) });
    }
  }
  const parkReason = !followUp ? 'InvalidMessage' : delay === undefined ? 'RetriesExhausted' : 'DependencyUnavailable';
  try {
    await parkMessage(deps.repos, queue, info.messageId, body, followUp?.tenantId, parkReason, delay === undefined && followUp ? `after ${attempt - 1} retries: ${reason}` : reason, deps.now());
    if (followUp?.runId) await failRun(deps, followUp.tenantId, followUp.runId, `${parkReason}: ${reason}`);
  } catch (parkError) {
    deps.logger.error('worker failed and could neither retry nor park the message; leaving it to the host', { queue, messageId: info.messageId, reason, parkError: describeError(parkError) });
    throw error;
  }
  deps.logger.error('worker failed; message parked', { queue, messageId: info.messageId, reason: parkReason });
  return { kind: 'parked', reason: parkReason };
}

/** The run behind a parked job ends with the reason, so nothing is left `queued` with no message behind it. */
async function failRun(deps: GuardDeps, tenantId: string, runId: string, error: string): Promise<void> {
  const run = await deps.repos.getRun(tenantId, runId);
  if (!run || run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled') return;
  const { etag, ...doc } = run;
  await deps.repos.putRun({ ...doc, status: 'failed', finishedAt: deps.now().toISOString(), error }, etag);
}
