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

/**
 * A delivery is `pending` from the moment it is first seen until its work is
 * queued, then `done`. Only `done` makes a retry a duplicate: a `SET NX` that
 * timed out on the client may still run on the server when Redis resumes, so
 * the mere existence of the key proves nothing about the queue.
 */
export type DeliveryState = 'pending' | 'done';

export interface StoredDelivery {
  provider: string;
  tenantId: string;
  integrationId: string;
  deliveryId: string;
  event: string;
  receivedAt: string;
  /** Absent on marks written before states existed: those were written only for accepted deliveries. */
  state?: DeliveryState;
  /** When the delivery's work was queued (state `done`). */
  queuedAt?: string;
  /** Only the provider's non-secret headers. */
  headers: Record<string, string>;
  /** Key of the raw body (shared by the events of one batch delivery). */
  bodyKey: string;
}

export interface StoredEvents {
  /** Events whose work is not known to be queued yet: first seen, or seen before by an attempt that did not finish. */
  fresh: WebhookEvent[];
  /** Keys this call wrote for the fresh events (their marks, and the body), with their sizes. */
  written: { key: string; size: number }[];
  /** Mark the fresh events done: call only once their work is queued. */
  markQueued(at: Date): Promise<void>;
}

function isDone(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  try {
    const state = (JSON.parse(raw) as { state?: unknown }).state;
    return state === undefined || state === 'done';
  } catch {
    // A mark we cannot read proves nothing: process the delivery again (the work is idempotent).
    return false;
  }
}

/**
 * Mark each event `pending` once per (integration, delivery id) and store the
 * raw body (shared by the events of a batch delivery). An event counts as a
 * duplicate only when an earlier attempt marked it `done`; a pending mark
 * (that attempt failed, or is still running) lets this one queue the work
 * again, which is safe because the queued work is idempotent (deterministic
 * message ids, idempotent sync). A 2xx therefore always means queued.
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
  const deliveries = events.map((event): [WebhookEvent, StoredDelivery] => [
    event,
    {
      provider: integration.provider,
      tenantId: integration.tenantId,
      integrationId: integration.id,
      deliveryId: event.deliveryId,
      event: event.event,
      receivedAt: now.toISOString(),
      state: 'pending',
      headers,
      bodyKey,
    },
  ]);
  // Sent together (one round trip on a pipelining client); rewriting the same body for a duplicate is harmless.
  const [claims] = await Promise.all([
    Promise.all(deliveries.map(([, d]) => kv.setIfAbsent(deliveryKey(integration.id, d.deliveryId), JSON.stringify(d), DELIVERY_TTL_MS))),
    kv.set(bodyKey, request.rawBody.toString('base64'), DELIVERY_TTL_MS),
  ]);
  const fresh: [WebhookEvent, StoredDelivery][] = [];
  for (const [i, entry] of deliveries.entries()) {
    if (claims[i] === true || !isDone(await kv.get(deliveryKey(integration.id, entry[1].deliveryId)))) fresh.push(entry);
  }
  const marks = fresh.map(([, d]) => ({ key: deliveryKey(integration.id, d.deliveryId), size: JSON.stringify(d).length }));
  return {
    fresh: fresh.map(([event]) => event),
    // Sizes as stored (the body is kept base64).
    written: fresh.length > 0 ? [...marks, { key: bodyKey, size: Math.ceil(request.rawBody.length / 3) * 4 }] : [],
    markQueued: async (at) => {
      await Promise.all(
        fresh.map(([, d]) => kv.set(deliveryKey(integration.id, d.deliveryId), JSON.stringify({ ...d, state: 'done', queuedAt: at.toISOString() }), DELIVERY_TTL_MS)),
      );
    },
  };
}
