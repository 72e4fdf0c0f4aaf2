import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../shared/composition';
import { runTokenRefresher } from '../shared/credentials/refresher';
import { credentialModuleFor } from '../shared/credentials/wiring';
import { timerFunction } from './definitions';

/** Every 5 minutes: with the 15-minute refresh window, each token gets about three chances before it expires. */
export const REFRESH_SCHEDULE = '0 */5 * * * *';

async function handler(_timer: Timer, context: InvocationContext): Promise<void> {
  const s = await getServices();
  const report = await runTokenRefresher(credentialModuleFor(s).refresher);
  context.log(
    `token refresher: ${report.refreshed} refreshed, ${report.failed} failed, ${report.reauthRequired} need re-auth, ` +
      `${report.webhookSecretsRetired} webhook secrets retired, ${report.attention.length} need attention, of ${report.scanned}`,
  );
}

timerFunction('TokenRefresher', { schedule: REFRESH_SCHEDULE, handler });
