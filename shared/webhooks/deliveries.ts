import { createHash } from 'node:crypto';
import type { Integration } from '../domain/types';
import type { KeyValueStore } from '../kv/port';
import type { WebhookEvent, WebhookRequest } from '../providers/types';

/**
 * Accepted deliveries are kept for at least 4 days (GitHub lets an admin
 * redeliver for 3 days; Salesforce retries for 24 h): the event key is the
 * dedupe key, the body key is what a replay reads. Five days leaves a margin.
 */
export const DELIVERY_TTL_MS = 5 * 24 * 60 * 60 * 1000;

/** Hash tags keep one integration's keys in one Redis Cluster slot. */
export function deliveryKey(integrationId: string, deliveryId: string): string {
  return `wh:{${integrationId}}:${deliveryId}`;
}

export function deliveryBodyKey(integrationId: string, bodySha256: string): string {
  return `whbody:{${integrationId}}:${bodySha256}`;
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
  /** Key of the raw body (shared by the events of one batch delivery). */
  bodyKey: string;
}

export interface StoredEvents {
  /** Events seen for the first time. */
  fresh: WebhookEvent[];
  /** Remove what this call stored (the delivery could not be queued). */
  undo(): Promise<void>;
}

/**
 * Store each event once per (integration, delivery id); a batch delivery's
 * body is stored once and shared. Duplicates store nothing.
 */
export async function storeEvents(
  kv: KeyValueStore,
  integration: Integration,
  events: readonly WebhookEvent[],
  keptHeaders: readonly string[],
  request: WebhookRequest,
  now: Date,
): Promise<StoredEvents> {
  const headers: Record<string, string> = {};
  for (const name of keptHeaders) {
    const value = request.header(name);
    if (value !== undefined) headers[name] = value;
  }
  const bodyKey = deliveryBodyKey(integration.id, createHash('sha256').update(request.rawBody).digest('hex'));
  const written: [string, string][] = [];
  const fresh: WebhookEvent[] = [];
  for (const event of events) {
    const delivery: StoredDelivery = {
      provider: integration.provider,
      tenantId: integration.tenantId,
      integrationId: integration.id,
      deliveryId: event.deliveryId,
      event: event.event,
      receivedAt: now.toISOString(),
      headers,
      bodyKey,
    };
    const key = deliveryKey(integration.id, event.deliveryId);
    const value = JSON.stringify(delivery);
    if (await kv.setIfAbsent(key, value, DELIVERY_TTL_MS)) {
      written.push([key, value]);
      fresh.push(event);
    }
  }
  if (fresh.length > 0) await kv.set(bodyKey, request.rawBody.toString('base64'), DELIVERY_TTL_MS);
  return {
    fresh,
    undo: async () => {
      await Promise.all(written.map(([key, value]) => kv.deleteIfEquals(key, value)));
    },
  };
}
