import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../shared/composition';
import { scheduleDueSyncs } from '../shared/sync/schedule';
import { timerFunction } from './definitions';

/** Hourly, on the hour (UTC: Flex has no time-zone setting). */
export const SYNC_SCHEDULE = '0 0 * * * *';

async function handler(timer: Timer, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const report = await scheduleDueSyncs(s.scheduleDeps, timer.isPastDue);
  context.log(`scheduler: ${report.enqueued} of ${report.scanned} integrations enqueued${report.pastDue ? ' (past due)' : ''}`);
}

timerFunction('SyncScheduler', { schedule: SYNC_SCHEDULE, handler });
