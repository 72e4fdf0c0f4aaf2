/**
 * Slack request signing for Events API deliveries.
 * https://docs.slack.dev/authentication/verifying-requests-from-slack
 *
 * `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`,
 * checked on the raw bytes before anything reads the body, in constant
 * time, against every current secret (rotation overlap). A timestamp more
 * than five minutes from our clock is refused, so a captured request cannot
 * be replayed later; within the window the dedupe on `event_id` stops it.
 * Fails closed: no secret, a missing or malformed header is a 401.
 *
 * The integration's webhook secret is the app's Signing Secret (Basic
 * Information → App Credentials), not the deprecated verification token.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { jsonFailure, parseJson } from '../../http/json';
import type { WebhookContext, WebhookRequest, WebhookScheme, WebhookVerdict } from '../types';
import { envelopeVerdict } from './events';
import type { SlackConfig } from './schemas';

/** Slack's documented replay window: "more than five minutes from local time". */
export const SLACK_TOLERANCE_SECONDS = 300;
/** Slack sends lowercase hex; accepting only that keeps one byte string per signature. */
const SIGNATURE = /^v0=([0-9a-f]{64})$/;
const TIMESTAMP = /^\d{1,12}$/;

export function signSlackRequest(secret: string, timestamp: string | number, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
}

/** Constant-time check of an `X-Slack-Signature` value (no timestamp window: see verify). */
export function verifySlackSignature(secret: string, timestamp: string, rawBody: Buffer, header: string): boolean {
  const match = SIGNATURE.exec(header);
  if (!match?.[1] || !TIMESTAMP.test(timestamp)) return false;
  const given = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function reject(status: 400 | 401, reason: string): WebhookVerdict {
  return { kind: 'reject', status, reason };
}

export const slackWebhook = {
  // Retry headers say why a delivery came again; the signature never is kept.
  keptHeaders: ['x-slack-request-timestamp', 'x-slack-retry-num', 'x-slack-retry-reason', 'content-type', 'user-agent'],

  verify(request: WebhookRequest, ctx: WebhookContext<SlackConfig>): WebhookVerdict {
    const secrets = ctx.secrets.filter((s) => s.length > 0);
    if (secrets.length === 0) return reject(401, 'no signing secret is configured for this integration');
    const timestamp = request.header('x-slack-request-timestamp');
    if (!timestamp || !TIMESTAMP.test(timestamp)) return reject(401, 'missing or malformed X-Slack-Request-Timestamp header');
    if (Math.abs(ctx.now.getTime() / 1000 - Number(timestamp)) > SLACK_TOLERANCE_SECONDS) {
      return reject(401, 'X-Slack-Request-Timestamp is more than 300 s from now');
    }
    const signature = request.header('x-slack-signature');
    if (!signature) return reject(401, 'missing X-Slack-Signature header');
    if (!SIGNATURE.test(signature)) return reject(401, 'malformed X-Slack-Signature header');
    if (!secrets.some((secret) => verifySlackSignature(secret, timestamp, request.rawBody, signature))) return reject(401, 'signature mismatch');

    let json: unknown;
    try {
      json = parseJson(request.rawBody);
    } catch (error) {
      // Slash commands and interactivity are form-encoded and go to other URLs.
      return reject(400, jsonFailure(error, 'body is not JSON'));
    }
    return envelopeVerdict(json, ctx.config);
  },
} satisfies WebhookScheme<SlackConfig>;
