/**
 * Standard Webhooks, the generic signing scheme for senders we define
 * ourselves (Salesforce Apex/Flow callouts, or any other integration).
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 *
 *   webhook-id:        msg_2KWPBgLlAfxdpx2AI54pPJ85f4W   (the dedupe key)
 *   webhook-timestamp: 1674087231                        (integer seconds)
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{raw body}")>
 *
 * The signature header may hold several space-separated signatures (the
 * sender signs with both secrets while rotating); any one `v1` signature
 * valid under any of our secrets passes. The key is the base64-decoded part
 * after `whsec_`, or the raw UTF-8 bytes of a secret without that prefix.
 * Fails closed, compares in constant time, and never puts a secret or a
 * signature in a reason.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { WebhookRequest } from '../providers/types';

/** The spec's default tolerance: five minutes either side of our clock. */
export const STANDARD_WEBHOOK_TOLERANCE_SECONDS = 300;
const PREFIX = 'whsec_';
/** A v1 signature is 32 bytes: 43 base64 characters and one `=`. */
const V1_SIGNATURE = /^v1,([A-Za-z0-9+/]{43}=)$/;
/** Canonical base64 (with padding), as the spec's secrets are written. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Integer seconds; ten digits last until the year 2286. */
const TIMESTAMP = /^\d{1,10}$/;
/** Printable ASCII without spaces: safe as a dedupe key and in logs. */
const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;
/** Bounds the work a hostile header can ask for. */
const MAX_SIGNATURE_HEADER = 2048;

export type StandardWebhookVerification =
  | { ok: true; id: string; timestamp: number }
  | { ok: false; status: 400 | 401; reason: string };

export interface StandardWebhookOptions {
  toleranceSeconds?: number;
}

/** The HMAC key for a secret, or undefined when a `whsec_` secret is not valid base64. */
export function standardWebhookKey(secret: string): Buffer | undefined {
  if (!secret.startsWith(PREFIX)) return secret.length > 0 ? Buffer.from(secret, 'utf8') : undefined;
  const encoded = secret.slice(PREFIX.length);
  if (encoded.length === 0 || !BASE64.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64');
}

/** The `webhook-signature` value (`v1,<base64>`) for one secret. */
export function signStandardWebhook(secret: string, id: string, timestamp: number, body: Buffer | string): string {
  const key = standardWebhookKey(secret);
  if (!key) throw new Error('standard webhooks: the secret is not usable (whsec_ must be followed by base64)');
  return `v1,${mac(key, id, String(timestamp), typeof body === 'string' ? Buffer.from(body, 'utf8') : body).toString('base64')}`;
}

export function verifyStandardWebhook(
  request: Pick<WebhookRequest, 'rawBody' | 'header'>,
  secrets: readonly string[],
  now: Date,
  options: StandardWebhookOptions = {},
): StandardWebhookVerification {
  const keys = secrets.map(standardWebhookKey).filter((k): k is Buffer => k !== undefined);
  if (keys.length === 0) return fail(401, 'no usable webhook secret is configured for this integration');

  const id = request.header('webhook-id');
  const timestamp = request.header('webhook-timestamp');
  const signature = request.header('webhook-signature');
  if (!id || !timestamp || !signature) return fail(401, 'missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!TIMESTAMP.test(timestamp)) return fail(401, 'malformed webhook-timestamp header');
  if (signature.length > MAX_SIGNATURE_HEADER) return fail(401, 'webhook-signature header too long');

  const tolerance = options.toleranceSeconds ?? STANDARD_WEBHOOK_TOLERANCE_SECONDS;
  const sent = Number(timestamp);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  // Both directions: a stale message is a replay, one from the future a clock or forgery problem.
  if (sent < nowSeconds - tolerance) return fail(401, 'webhook-timestamp is too old');
  if (sent > nowSeconds + tolerance) return fail(401, 'webhook-timestamp is too far in the future');

  const given: Buffer[] = [];
  for (const part of signature.split(' ')) {
    const b64 = V1_SIGNATURE.exec(part)?.[1];
    if (b64 === undefined) continue;
    const bytes = Buffer.from(b64, 'base64');
    // The 43rd character carries two unused bits: only the canonical spelling counts, so a signature has one form.
    if (bytes.toString('base64') === b64) given.push(bytes);
  }
  if (given.length === 0) return fail(401, 'no v1 signature in webhook-signature header');

  // Signed over the header strings exactly as received.
  const expected = keys.map((key) => mac(key, id, timestamp, request.rawBody));
  let matched = false;
  // Every pair is compared, so the time taken does not say which secret matched.
  for (const e of expected) for (const g of given) if (g.length === e.length && timingSafeEqual(g, e)) matched = true;
  if (!matched) return fail(401, 'signature mismatch');

  // Checked only once the signature holds: the id becomes a storage key downstream.
  if (!MESSAGE_ID.test(id)) return fail(400, 'webhook-id must be 1-256 printable ASCII characters without spaces');
  return { ok: true, id, timestamp: sent };
}

function mac(key: Buffer, id: string, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest();
}

function fail(status: 400 | 401, reason: string): StandardWebhookVerification {
  return { ok: false, status, reason };
}
