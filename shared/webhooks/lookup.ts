import type { Integration } from '../domain/types';
import type { Repositories } from '../storage/repositories';

/**
 * Resolves an integration id from a webhook URL to the integration. A hit is
 * cached briefly per instance: webhooks for one integration come in bursts,
 * and two point reads per delivery would dominate the ingest path.
 */
export class IntegrationLookup {
  private readonly cache = new Map<string, { value: Integration; expiresAt: number }>();

  constructor(
    private readonly repos: Repositories,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async find(integrationId: string): Promise<Integration | undefined> {
    const hit = this.cache.get(integrationId);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const index = await this.repos.lookupIntegrationOwner(integrationId);
    if (!index) return undefined;
    const integration = await this.repos.getIntegration(index.ownerTenantId, integrationId);
    if (!integration) return undefined;
    this.cache.set(integrationId, { value: integration, expiresAt: this.now() + this.ttlMs });
    return integration;
  }

  /** Called when an admin changes an integration on this instance. */
  forget(integrationId: string): void {
    this.cache.delete(integrationId);
  }
}
