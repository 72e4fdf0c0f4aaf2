import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import type { SyncJob } from '../../shared/messaging/messages';
import type { SyncRecord } from '../../shared/domain/types';
import { RECORD_SHARDS } from '../../shared/storage/names';
import type { Stored } from '../../shared/storage/port';
import { apiRequest } from './api';
import { registryWithFake } from './fake-provider';
import { embeddedServices, type TestServices } from './services';

export async function fakeServices(env: Record<string, string> = {}): Promise<TestServices> {
  return embeddedServices(env, { providers: registryWithFake });
}

export async function fakeIntegration(t: TestServices, integrationId: string, datasetName: string, extra: Record<string, unknown> = {}): Promise<void> {
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
  const res = await putIntegration(
    t.services.adminDeps,
    apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId }, body: { provider: 'fake', config: { dataset: datasetName }, credentials: { type: 'token', token: 'fake-token-1' }, ...extra } }),
  );
  if (res.status >= 300) throw new Error(`fake integration: ${res.status} ${JSON.stringify(res.jsonBody)}`);
}

export const pullJob = (integrationId: string, extra: Partial<SyncJob> = {}): SyncJob => ({
  type: 'sync.pull',
  tenantId: 'acme',
  integrationId,
  trigger: 'manual',
  requestedAt: new Date().toISOString(),
  ...extra,
});

let counter = 0;
export const message = (deliveryCount = 1): { messageId: string; deliveryCount: number } => ({ messageId: `msg-${++counter}-${Date.now()}`, deliveryCount });

/** Every record of an integration, across shards, sorted by external id. */
export async function records(t: TestServices, integrationId: string): Promise<(Stored<SyncRecord> & { shard: string })[]> {
  const out: (Stored<SyncRecord> & { shard: string })[] = [];
  for (const shard of RECORD_SHARDS) {
    let continuation: string | undefined;
    do {
      const page = await t.services.repos.listRecords('acme', { integrationId }, 1000, continuation, shard);
      out.push(...page.items.map((r) => ({ ...r, shard })));
      continuation = page.continuation;
    } while (continuation);
  }
  return out.sort((a, b) => a.externalId.localeCompare(b.externalId, 'en', { numeric: true }));
}
