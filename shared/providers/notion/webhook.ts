/**
 * Notion webhook deliveries.
 * https://developers.notion.com/reference/webhooks
 *
 * Handshake. Creating a subscription POSTs `{"verification_token": "..."}`
 * once. That token is the signing secret: the verdict is `store-secret`, and
 * the core stores it only while an admin has armed the handshake (a short
 * window, closed by the first token); anyone else's handshake is refused like
 * a bad signature. The admin reads the token back and pastes it into Notion
 * to verify the subscription: a planted token would not match Notion's.
 *
 * Events. `X-Notion-Signature: sha256=<hex HMAC-SHA256(verification_token, raw body)>`,
 * checked on the raw bytes in constant time before the body is read. There is
 * no signed timestamp (retries run for about a day, and `attempt_number`
 * changes the body between attempts), so replays are stopped by the dedupe on
 * the payload `id`, which stays the same across attempts. Events are hints:
 * each one triggers a sync that re-reads the data source.
 *
 * Fails closed: no secret, no header or a malformed header is a 401.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseJson as parseBoundedJson } from '../../http/json';
import type { WebhookContext, WebhookRequest, WebhookScheme, WebhookVerdict } from '../types';
import { notionHandshakeSchema, notionWebhookEventSchema, type NotionConfig } from './schemas';

/** Notion's sample and Node's `digest('hex')` are lowercase; one byte string per signature. */
const SIGNATURE = /^sha256=([0-9a-f]{64})$/;
/** `{"verification_token": "<≤256 chars>"}` with room for whitespace; anything larger is not a handshake. */
const MAX_HANDSHAKE_BYTES = 512;

export function signNotionPayload(verificationToken: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', verificationToken).update(rawBody).digest('hex')}`;
}

/** Constant-time check of an `X-Notion-Signature` value against the raw body. */
export function verifyNotionSignature(verificationToken: string, rawBody: Buffer, header: string): boolean {
  const match = SIGNATURE.exec(header);
  if (!match?.[1] || verificationToken.length === 0) return false;
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', verificationToken).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function reject(status: 400 | 401, reason: string): WebhookVerdict {
  return { kind: 'reject', status, reason };
}

function parseJson(rawBody: Buffer): unknown {
  try {
    return parseBoundedJson(rawBody);
  } catch {
    return undefined;
  }
}

export const notionWebhook = {
  keptHeaders: ['content-type', 'user-agent'],
  handshake: true,

  verify(request: WebhookRequest, ctx: WebhookContext<NotionConfig>): WebhookVerdict {
    // The handshake comes before there is a secret to sign with; its only content is the token.
    // Only a body that small is read unverified.
    const handshake = request.rawBody.length <= MAX_HANDSHAKE_BYTES ? notionHandshakeSchema.safeParse(parseJson(request.rawBody)) : undefined;
    if (handshake?.success) {
      return {
        kind: 'store-secret',
        secret: handshake.data.verification_token,
        reply: { status: 200, body: JSON.stringify({ ok: true }), contentType: 'application/json' },
      };
    }

    const secrets = ctx.secrets.filter((s) => s.length > 0);
    if (secrets.length === 0) return reject(401, 'no webhook secret (verification_token) is configured for this integration');
    const signature = request.header('x-notion-signature');
    if (!signature) return reject(401, 'missing X-Notion-Signature header');
    if (!SIGNATURE.test(signature)) return reject(401, 'malformed X-Notion-Signature header');
    // During a rotation the previous token still verifies; each candidate is checked in constant time.
    if (!secrets.some((secret) => verifyNotionSignature(secret, request.rawBody, signature))) return reject(401, 'signature mismatch');

    const json = parseJson(request.rawBody);
    if (json === undefined) return reject(400, 'body is not valid JSON');
    const event = notionWebhookEventSchema.safeParse(json);
    if (!event.success) return reject(400, 'body is not a Notion webhook event (id, type, timestamp, attempt_number 1-8, entity)');
    return { kind: 'accept', events: [{ deliveryId: event.data.id, event: event.data.type }] };
  },
} satisfies WebhookScheme<NotionConfig>;
