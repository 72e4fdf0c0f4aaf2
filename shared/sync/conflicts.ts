import type { ConflictStrategy, LocalChange } from '../domain/types';

export type ConflictDecision =
  /** Take the provider's version and drop the local change. */
  | 'provider'
  /** Keep the local change pending: the outbound push will overwrite the provider. */
  | 'local'
  /** Park a conflict record for an admin; leave the record as it is. */
  | 'manual';

/**
 * A record changed locally (not yet pushed) and at the provider since the
 * last sync: pick what happens by the integration's strategy. `newest-wins`
 * compares the local edit time with the provider's own timestamp; a tie goes
 * to the provider (the source of truth for the data it holds).
 */
export function decideConflict(strategy: ConflictStrategy, local: LocalChange, providerUpdatedAt: string): ConflictDecision {
  switch (strategy) {
    case 'provider-wins':
      return 'provider';
    case 'local-wins':
      return 'local';
    case 'manual':
      return 'manual';
    case 'newest-wins':
      return Date.parse(local.updatedAt) > Date.parse(providerUpdatedAt) ? 'local' : 'provider';
  }
}
