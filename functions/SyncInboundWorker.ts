import type { InvocationContext } from '@azure/functions';
import { getServices } from '../shared/composition';
import { QUEUES } from '../shared/messaging/names';
import { describeIssues, inboundJobSchema } from '../shared/messaging/messages';
import { parkMessage } from '../shared/sync/deadletters';
import { runApplyRecords } from '../shared/sync/apply';
import { runPullSync } from '../shared/sync/pull';
import { settleEscapedFailure } from '../shared/sync/worker-guard';
import { queueFunction } from './definitions';
import { messageInfo } from './queue-adapter';

/** Failures back off through follow-up messages (worker-guard.ts); only a throw from there is left to the host. Bad messages are parked. */
async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const info = messageInfo(context);
  const job = inboundJobSchema.safeParse(message);
  if (!job.success) {
    await parkMessage(s.repos, QUEUES.syncInbound, info.messageId, message, undefined, 'InvalidMessage', describeIssues(job.error), new Date());
    context.warn(`parked invalid message ${info.messageId}`);
    return;
  }
  try {
    const outcome = job.data.type === 'sync.apply' ? await runApplyRecords(s.syncDeps, job.data, info) : await runPullSync(s.syncDeps, job.data, info);
    context.log(`sync ${outcome.kind}`, JSON.stringify(outcome));
  } catch (error) {
    const outcome = await settleEscapedFailure(s.syncDeps, QUEUES.syncInbound, job.data, info, error);
    context.warn(`sync ${outcome.kind}`, JSON.stringify(outcome));
  }
}

queueFunction('SyncInboundWorker', { queueName: QUEUES.syncInbound, handler });
