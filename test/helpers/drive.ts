import type { EmbeddedQueue } from '../../shared/messaging/embedded';
import { syncJobSchema, type SyncJob } from '../../shared/messaging/messages';
import { QUEUES } from '../../shared/messaging/names';
import type { SyncDeps } from '../../shared/sync/deps';
import { runPullSync, type SyncOutcome } from '../../shared/sync/pull';

let counter = 0;

/**
 * Runs a pull job and every follow-up it queues for itself (backoff retries,
 * waits, continuations), at once rather than at their scheduled times, as the
 * queue would deliver them, until the run ends.
 */
export async function driveRun(deps: SyncDeps, queue: EmbeddedQueue, first: SyncJob): Promise<{ outcome: SyncOutcome; invocations: number }> {
  const taken = new Set<string>();
  let job = first;
  for (let invocations = 1; invocations < 1000; invocations++) {
    const outcome = await runPullSync(deps, job, { messageId: `drive-${++counter}-${Date.now()}`, deliveryCount: 1 });
    if (outcome.kind !== 'rescheduled' && outcome.kind !== 'continued') return { outcome, invocations };
    const next = queue.peek(QUEUES.syncInbound).find((m) => !taken.has(m.messageId) && (m.body as { runId?: string }).runId === outcome.runId);
    if (!next) throw new Error(`no follow-up queued for ${outcome.runId}`);
    taken.add(next.messageId);
    job = syncJobSchema.parse(next.body);
  }
  throw new Error('run never ended');
}
