import type { InvocationContext } from '@azure/functions';
import { getServices } from '../shared/composition';
import { deadLetterQueueOf, QUEUES, type QueueName } from '../shared/messaging/names';
import { collectDeadLetter } from '../shared/sync/deadletters';
import { queueFunction } from './definitions';
import { messageInfo } from './queue-adapter';

/** One collector per queue, on its dead-letter sub-queue: what the broker buries becomes a dead letter the admin API lists. */
function collector(queue: QueueName) {
  return async (message: unknown, context: InvocationContext): Promise<void> => {
    const s = await getServices();
    const meta = context.triggerMetadata ?? {};
    const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    await collectDeadLetter(s.repos, queue, messageInfo(context).messageId, message, { reason: text(meta.deadLetterReason), description: text(meta.deadLetterErrorDescription) }, new Date());
    context.warn(`collected dead letter from ${queue}`);
  };
}

queueFunction('SyncInboundDeadLetters', { queueName: deadLetterQueueOf(QUEUES.syncInbound), handler: collector(QUEUES.syncInbound) });
queueFunction('SyncOutboundDeadLetters', { queueName: deadLetterQueueOf(QUEUES.syncOutbound), handler: collector(QUEUES.syncOutbound) });
