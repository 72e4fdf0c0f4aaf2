/**
 * GitHub webhook deliveries.
 * https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
 *
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>`, checked
 * on the raw bytes before anything reads the body. There is no timestamp, so
 * replay protection is the dedupe on `X-GitHub-Delivery` downstream (a manual
 * redelivery keeps the same id). Fails closed: no secret, no header or a
 * malformed header is a 401, never a pass.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { jsonFailure, parseJson } from '../../http/json';
import type { WebhookContext, WebhookRequest, WebhookScheme, WebhookVerdict } from '../types';
import { githubWebhookPayloadSchema, type GithubConfig } from './schemas';

/** GitHub sends lowercase hex; accepting only that keeps one byte string per signature. */
const SIGNATURE = /^sha256=([0-9a-f]{64})$/;
/** Event names are snake_case words (`issues`, `pull_request_review`). */
const EVENT = /^[a-z][a-z0-9_]{0,63}$/;
/** Delivery ids are GUIDs; anything id-like up to 128 chars is allowed as a dedupe key. */
const DELIVERY = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
const ACTION = /^[a-z][a-z0-9_]{0,63}$/;

export function signGithubPayload(secret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of an `X-Hub-Signature-256` value against the raw body. */
export function verifyGithubSignature(secret: string, rawBody: Buffer, header: string): boolean {
  const match = SIGNATURE.exec(header);
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function reject(status: 400 | 401, reason: string): WebhookVerdict {
  return { kind: 'reject', status, reason };
}

export const githubWebhook = {
  keptHeaders: ['x-github-event', 'x-github-delivery', 'x-github-hook-id', 'user-agent', 'content-type'],

  verify(request: WebhookRequest, ctx: WebhookContext<GithubConfig>): WebhookVerdict {
    const secrets = ctx.secrets.filter((s) => s.length > 0);
    if (secrets.length === 0) return reject(401, 'no webhook secret is configured for this integration');
    const signature = request.header('x-hub-signature-256');
    if (!signature) return reject(401, 'missing X-Hub-Signature-256 header');
    if (!SIGNATURE.test(signature)) return reject(401, 'malformed X-Hub-Signature-256 header');
    // During a secret rotation the previous secret still verifies; every candidate is checked in constant time.
    if (!secrets.some((secret) => verifyGithubSignature(secret, request.rawBody, signature))) return reject(401, 'signature mismatch');

    const event = request.header('x-github-event');
    if (!event || !EVENT.test(event)) return reject(400, 'missing or invalid X-GitHub-Event header');
    const deliveryId = request.header('x-github-delivery');
    if (!deliveryId || !DELIVERY.test(deliveryId)) return reject(400, 'missing or invalid X-GitHub-Delivery header');

    let json: unknown;
    try {
      json = parseJson(request.rawBody);
    } catch (error) {
      return reject(400, jsonFailure(error));
    }
    const payload = githubWebhookPayloadSchema.safeParse(json);
    if (!payload.success) return reject(400, 'body is not a JSON object with a string action');

    // Sent once when the hook is created: answer it, sync nothing.
    // https://docs.github.com/webhooks/webhook-events-and-payloads#ping
    if (event === 'ping') {
      return { kind: 'respond', reply: { status: 200, body: JSON.stringify({ ok: true }), contentType: 'application/json' } };
    }
    const { action } = payload.data;
    const suffix = action !== undefined && ACTION.test(action) ? `.${action}` : '';
    return { kind: 'accept', events: [{ deliveryId, event: `${event}${suffix}` }] };
  },
} satisfies WebhookScheme<GithubConfig>;
