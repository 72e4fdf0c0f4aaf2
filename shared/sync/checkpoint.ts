import { canonicalJson, sha256Hex } from '../domain/ids';
import type { Integration } from '../domain/types';
import type { Cursor } from '../providers/types';
import { ConcurrencyError } from '../storage/port';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';

/**
 * Stores the provider cursor on the integration, guarded by its ETag. If an
 * admin changed the integration meanwhile, re-read and apply only the cursor
 * (their change wins for everything else).
 */
export async function saveCursor(
  repos: Repositories,
  integration: Stored<Integration>,
  cursor: Cursor,
  completedAt: Date | undefined,
): Promise<Stored<Integration>> {
  let current = integration;
  for (let attempt = 0; attempt < 5; attempt++) {
    const { etag, ...doc } = current;
    const next: Integration = { ...doc, cursor, ...(completedAt ? { lastSyncAt: completedAt.toISOString() } : {}) };
    try {
      return await repos.putIntegration(next, etag);
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      const fresh = await repos.getIntegration(integration.tenantId, integration.id);
      if (!fresh) throw error;
      current = fresh;
    }
  }
  throw new ConcurrencyError(412, `Integration ${integration.id} kept changing while saving its cursor`);
}

/**
 * What a cursor points into: the same provider, base URL and config (the
 * fields whose change makes the admin API drop the integration's cursor).
 * A run's own checkpoint is used only while this is unchanged.
 */
export function syncBasis(integration: Pick<Integration, 'provider' | 'baseUrl' | 'config'>): string {
  return sha256Hex(canonicalJson([integration.provider, integration.baseUrl, integration.config])).slice(0, 32);
}
