import type { Integration } from '../domain/types';
import type { KeyValueStore } from '../kv/port';
import type { WebhookRequest } from '../providers/types';

/**
 * Accepted deliveries are kept for at least 4 days (GitHub lets an admin
 * redeliver for 3 days; Salesforce retries for 24 h): the key is the dedupe
 * key, the value is what a replay reads. Five days leaves a margin.
 */
export const DELIVERY_TTL_MS = 5 * 24 * 60 * 60 * 1000;

export function deliveryKey(integrationId: string, deliveryId: string): string {
  return `wh:{${integrationId}}:${deliveryId}`;
}

export interface StoredDelivery {
  provider: string;
  tenantId: string;
  integrationId: string;
  deliveryId: string;
  event: string;
  receivedAt: string;
  /** Only the provider's non-secret headers. */
  headers: Record<string, string>;
  bodyBase64: string;
}

/** Store once per (integration, delivery id). `fresh` is false for a duplicate. */
export async function storeDelivery(
  kv: KeyValueStore,
  integration: Integration,
  verdict: { deliveryId: string; event: string },
  keptHeaders: readonly string[],
  request: WebhookRequest,
  now: Date,
): Promise<{ fresh: boolean; undo: () => Promise<void> }> {
  const headers: Record<string, string> = {};
  for (const name of keptHeaders) {
    const value = request.header(name);
    if (value !== undefined) headers[name] = value;
  }
  const delivery: StoredDelivery = {
    provider: integration.provider,
    tenantId: integration.tenantId,
    integrationId: integration.id,
    deliveryId: verdict.deliveryId,
    event: verdict.event,
    receivedAt: now.toISOString(),
    headers,
    bodyBase64: request.rawBody.toString('base64'),
  };
  const key = deliveryKey(integration.id, verdict.deliveryId);
  const value = JSON.stringify(delivery);
  const fresh = await kv.setIfAbsent(key, value, DELIVERY_TTL_MS);
  return { fresh, undo: async () => { await kv.deleteIfEquals(key, value); } };
}
