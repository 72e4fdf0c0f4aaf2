import type { InvocationContext } from '@azure/functions';
import { getServices } from '../shared/composition';
import { QUEUES } from '../shared/messaging/names';
import { handleOutbound } from '../shared/sync/outbound';
import { queueFunction } from './definitions';
import { messageInfo } from './queue-adapter';

async function handler(message: unknown, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const outcome = await handleOutbound(s.outboundDeps, message, messageInfo(context));
  context.log(`outbound ${outcome.kind}`, JSON.stringify(outcome));
}

queueFunction('SyncOutboundWorker', { queueName: QUEUES.syncOutbound, handler });
