import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../shared/composition';
import { SCHEDULER_TICK_CRON, scheduleDueSyncs } from '../shared/sync/schedule';
import { timerFunction } from './definitions';

/** Every 5 minutes (UTC: Flex has no time-zone setting), so any accepted schedule runs within one tick of its time. */
export const SYNC_SCHEDULE = SCHEDULER_TICK_CRON;

async function handler(timer: Timer, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const report = await scheduleDueSyncs(s.scheduleDeps, timer.isPastDue);
  context.log(`scheduler: ${report.enqueued} enqueued, ${report.scanned} integrations read${report.pastDue ? ' (past due)' : ''}`);
}

timerFunction('SyncScheduler', { schedule: SYNC_SCHEDULE, handler });
