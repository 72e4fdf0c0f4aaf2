import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../shared/composition';
import { scanExpiringCredentials } from '../shared/credentials/refresher';
import { timerFunction } from './definitions';

export const REFRESH_SCHEDULE = '0 */5 * * * *';

async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const report = await scanExpiringCredentials(s.refresherDeps);
  context.log(`token refresher: ${report.expiringSoon} expiring soon, ${report.expired} expired of ${report.scanned}`);
}

timerFunction('TokenRefresher', { schedule: REFRESH_SCHEDULE, handler });
