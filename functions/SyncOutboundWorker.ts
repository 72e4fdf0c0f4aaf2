import type { InvocationContext } from '@azure/functions';
import { getServices } from '../shared/composition';
import { QUEUES } from '../shared/messaging/names';
import { handleOutbound } from '../shared/sync/outbound';
import { settleEscapedFailure } from '../shared/sync/worker-guard';
import { queueFunction } from './definitions';
import { messageInfo } from './queue-adapter';

async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const info = messageInfo(context);
  try {
    const outcome = await handleOutbound(s.outboundDeps, message, info);
    context.log(`outbound ${outcome.kind}`, JSON.stringify(outcome));
  } catch (error) {
    const outcome = await settleEscapedFailure(s.outboundDeps, QUEUES.syncOutbound, message, info, error);
    context.warn(`outbound ${outcome.kind}`, JSON.stringify(outcome));
  }
}

queueFunction('SyncOutboundWorker', { queueName: QUEUES.syncOutbound, handler });
