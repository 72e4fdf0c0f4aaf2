import type { Logger } from '../observability/logger';
import type { Repositories } from '../storage/repositories';
import type { SecretStore } from './port';

export interface RefresherDeps {
  repos: Repositories;
  secrets: SecretStore;
  logger: Logger;
  now: () => Date;
}

export interface RefreshReport {
  scanned: number;
  expiringSoon: number;
  expired: number;
}

/** Tokens expiring within this window are due for refresh. */
export const REFRESH_WINDOW_MS = 15 * 60 * 1000;

/**
 * TokenRefresher as far as the foundation goes: find credentials whose Key
 * Vault expiry falls within the refresh window and report them. The OAuth
 * refresh itself (single flight, rotation) belongs to the credentials work.
 */
export async function scanExpiringCredentials(deps: RefresherDeps): Promise<RefreshReport> {
  const now = deps.now().getTime();
  const report: RefreshReport = { scanned: 0, expiringSoon: 0, expired: 0 };
  let continuation: string | undefined;
  do {
    const page = await deps.repos.listAllIntegrations(100, continuation);
    continuation = page.continuation;
    for (const integration of page.items) {
      report.scanned++;
      const secret = await deps.secrets.get(integration.credentialsSecret);
      const expiresAt = secret?.expiresOn?.getTime();
      if (expiresAt === undefined) continue;
      if (expiresAt <= now) report.expired++;
      else if (expiresAt - now <= REFRESH_WINDOW_MS) report.expiringSoon++;
    }
  } while (continuation !== undefined);
  deps.logger.info('token refresher pass', { ...report });
  return report;
}
