/**
 * Webhook deliveries as Notion sends them.
 * https://developers.notion.com/reference/webhooks
 * https://developers.notion.com/reference/webhooks-events-delivery
 *
 * - The subscription handshake: one unsigned POST of `{"verification_token": "..."}`.
 * - Events: JSON with `X-Notion-Signature: sha256=<hex HMAC-SHA256(token, raw body)>`.
 *   A failed delivery is retried with the same event `id` and the next
 *   `attempt_number` (Notion: up to 8 attempts over about a day; here
 *   `maxAttempts` and `backoffMs` keep tests fast).
 *
 * Signs independently of shared/providers/notion/webhook.ts, so a test that
 * delivers here and verifies there checks one implementation against another.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';

/** How long the sender waits for the receiver before counting the attempt as failed. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** Notion's documented ceiling on attempts. */
export const MAX_ATTEMPTS = 8;
const USER_AGENT = 'notion-api';

export interface NotionWebhookDelivery {
  url: string;
  verificationToken: string;
  /**
   * An object is sent as compact JSON with `attempt_number` set per attempt
   * (and an `id` added when it has none); a string is sent byte for byte
   * (recorded fixtures), the same on every attempt.
   */
  payload: Record<string, unknown> | string;
  /** Attempts until a 2xx; default 1, at most 8. */
  maxAttempts?: number;
  /** Pause before attempt n+1: backoffMs × 2^(n-1). Default 0. */
  backoffMs?: number;
}

export interface NotionWebhookResult {
  /** Status of the last attempt. */
  status: number;
  attempts: number;
  /** The event `id` (the dedupe key), when the payload has one. */
  eventId: string | undefined;
  body: string;
}

export async function deliverNotionWebhook(delivery: NotionWebhookDelivery): Promise<NotionWebhookResult> {
  const maxAttempts = Math.min(MAX_ATTEMPTS, Math.max(1, delivery.maxAttempts ?? 1));
  const payload = typeof delivery.payload === 'string' ? delivery.payload : { id: randomUUID(), ...delivery.payload };
  const eventId = typeof payload === 'string' ? idOf(payload) : typeof payload.id === 'string' ? payload.id : undefined;
  let last = { status: 0, body: '' };
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1 && (delivery.backoffMs ?? 0) > 0) await new Promise((r) => setTimeout(r, (delivery.backoffMs ?? 0) * 2 ** (attempt - 2)));
    const raw = typeof payload === 'string' ? payload : JSON.stringify({ ...payload, attempt_number: attempt });
    last = await post(delivery.url, raw, { 'x-notion-signature': `sha256=${createHmac('sha256', delivery.verificationToken).update(raw).digest('hex')}` });
    if (last.status >= 200 && last.status < 300) return { ...last, attempts: attempt, eventId };
  }
  return { ...last, attempts: maxAttempts, eventId };
}

/** A fresh verification token in Notion's documented shape: `secret_` + 43 base62 characters. */
export function newVerificationToken(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `secret_${[...randomBytes(43)].map((b) => alphabet[b % alphabet.length] ?? 'A').join('')}`;
}

/** The one-time, unsigned subscription handshake. */
export async function sendVerificationToken(url: string, verificationToken: string): Promise<{ status: number; body: string }> {
  return post(url, JSON.stringify({ verification_token: verificationToken }), {});
}

export interface PageEventOptions {
  type: string;
  pageId: string;
  dataSourceId: string;
  workspaceId: string;
  integrationId: string;
  subscriptionId: string;
  authorId: string;
  timestamp: string;
}

/** A page event in the documented shape (https://developers.notion.com/reference/webhooks-events-delivery#pagecreated). */
export function pageEventPayload(o: PageEventOptions): Record<string, unknown> {
  const data: Record<string, unknown> = { parent: { id: o.dataSourceId, type: 'data_source' } };
  if (o.type === 'page.properties_updated') data.updated_properties = ['title'];
  return {
    id: randomUUID(),
    timestamp: o.timestamp,
    workspace_id: o.workspaceId,
    workspace_name: 'Sandbox workspace',
    subscription_id: o.subscriptionId,
    integration_id: o.integrationId,
    type: o.type,
    authors: [{ id: o.authorId, type: 'person' }],
    attempt_number: 1,
    entity: { id: o.pageId, type: 'page' },
    data,
  };
}

async function post(url: string, raw: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      body: raw,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...headers },
    });
    return { status: response.status, body: await response.text() };
  } catch {
    // Unreachable or too slow: a failed attempt, as Notion counts it.
    return { status: 0, body: '' };
  }
}

function idOf(raw: string): string | undefined {
  try {
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === 'object' && parsed !== null && 'id' in parsed && typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}
