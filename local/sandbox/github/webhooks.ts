/**
 * Signed webhook deliveries as GitHub's "Hookshot" sends them.
 * https://docs.github.com/webhooks/webhook-events-and-payloads#delivery-headers
 *
 * Signs independently of shared/providers/github/webhook.ts, so a test that
 * delivers here and verifies there checks one implementation against another.
 */
import { createHmac, randomUUID } from 'node:crypto';

/** GitHub stops waiting for the receiver after 10 s and marks the delivery failed. */
const DELIVERY_TIMEOUT_MS = 10_000;
const USER_AGENT = 'GitHub-Hookshot/5ee3e3f';

export interface WebhookDelivery {
  url: string;
  secret: string;
  /** `X-GitHub-Event`, e.g. `issues`. */
  event: string;
  /** An object is sent as compact JSON; a string is sent byte for byte (recorded fixtures). */
  payload: unknown;
  /** `X-GitHub-Delivery`; a fresh GUID when omitted. Reuse one to mimic a manual redelivery. */
  deliveryId?: string;
  hookId?: number;
}

export interface WebhookResult {
  status: number;
  deliveryId: string;
  body: string;
}

export async function deliverWebhook(delivery: WebhookDelivery): Promise<WebhookResult> {
  const raw = Buffer.from(typeof delivery.payload === 'string' ? delivery.payload : JSON.stringify(delivery.payload));
  const deliveryId = delivery.deliveryId ?? randomUUID();
  const hookId = String(delivery.hookId ?? 109948940);
  const response = await fetch(delivery.url, {
    method: 'POST',
    body: raw,
    signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    headers: {
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
      'x-github-event': delivery.event,
      'x-github-delivery': deliveryId,
      'x-github-hook-id': hookId,
      'x-github-hook-installation-target-type': 'repository',
      'x-github-hook-installation-target-id': '186853261',
      // GitHub still sends the legacy SHA-1 header next to the SHA-256 one; receivers must ignore it.
      'x-hub-signature': `sha1=${createHmac('sha1', delivery.secret).update(raw).digest('hex')}`,
      'x-hub-signature-256': `sha256=${createHmac('sha256', delivery.secret).update(raw).digest('hex')}`,
    },
  });
  return { status: response.status, deliveryId, body: await response.text() };
}
