/**
 * Pub/Sub push deliveries with OIDC authentication.
 * https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
 * https://cloud.google.com/pubsub/docs/push#receive_push
 *
 * `Authorization: Bearer <JWT>` signed RS256 by Google; checked against
 * Google's JWKS (ctx.jwks, injectable), then the claims: `iss` is Google,
 * `aud` is the subscription's audience (by default our published push URL,
 * PUBLIC_BASE_URL + the webhook path — never the request's Host), `email`
 * is the subscription's service account and verified, `iat`/`exp` within
 * 300 s of our clock. The token does not cover the body: the body is only
 * parsed, and `message.messageId` is the dedupe key. Pub/Sub treats any
 * status but 102/200/201/202/204 as a failure and retries.
 */
import { z } from 'zod';
import { jsonFailure, parseJson } from '../../http/json';
import { UNKNOWN_KEY, verifyJwtRs256 } from '../jwt';
import type { WebhookContext, WebhookRequest, WebhookVerdict } from '../types';
import type { GoogleConfig } from './schemas';

export const GOOGLE_JWKS_URI = 'https://www.googleapis.com/oauth2/v3/certs';
export const GOOGLE_ISSUERS: readonly string[] = ['accounts.google.com', 'https://accounts.google.com'];
/** Clock skew allowed on `iat` and `exp`. */
export const OIDC_SKEW_S = 300;
/** Google's ID tokens live one hour; a longer-lived one was not minted by Google. */
const MAX_LIFETIME_S = 3600;
/** Three base64url segments, nothing else (no padding, no whitespace). */
const BEARER = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
/** Message ids are decimal strings today; anything id-like up to 128 characters is a usable dedupe key. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const EVENT_TYPE = /^[A-Za-z0-9._-]{1,128}$/;

export const PUBSUB_KEPT_HEADERS = ['content-type', 'user-agent'] as const;

const claimsSchema = z
  .object({
    iss: z.string(),
    aud: z.string(),
    email: z.string(),
    email_verified: z.boolean(),
    exp: z.number().int(),
    iat: z.number().int(),
  })
  .loose();

const pushBodySchema = z
  .object({
    message: z
      .object({
        data: z.string().optional(),
        attributes: z.record(z.string(), z.string()).optional(),
        messageId: z.string().optional(),
        // Pub/Sub sends both spellings.
        message_id: z.string().optional(),
        publishTime: z.string().optional(),
      })
      .loose(),
    subscription: z.string(),
  })
  .loose();

export async function verifyPubsubPush(request: WebhookRequest, ctx: WebhookContext<GoogleConfig>): Promise<WebhookVerdict> {
  const pubsub = ctx.config.pubsub;
  if (!pubsub) return reject(401, 'Pub/Sub push is not configured for this integration');
  const header = request.header('authorization');
  if (header === undefined) return reject(401, 'missing Authorization header');
  const match = BEARER.exec(header);
  if (!match) return reject(401, 'Authorization is not a Bearer JWT');
  // Node's base64url decoder ignores stray bits in a segment's last character; only canonical encodings are accepted.
  if (!match.slice(1).every((seg) => Buffer.from(seg, 'base64url').toString('base64url') === seg)) {
    return reject(401, 'token is not canonical base64url');
  }

  let keys;
  try {
    keys = await ctx.jwks(GOOGLE_JWKS_URI);
  } catch {
    // Our side failed, not the sender: 503 makes Pub/Sub retry, and nothing is stored.
    return { kind: 'respond', reply: { status: 503, body: JSON.stringify({ error: 'unavailable', reason: 'Google signing keys unavailable' }), contentType: 'application/json' } };
  }
  let jwt = verifyJwtRs256(header.slice('Bearer '.length), keys);
  if (!jwt.ok && jwt.reason === UNKNOWN_KEY) {
    // Google may have rotated its keys since we cached them: one rate-limited refresh, then decide.
    try {
      jwt = verifyJwtRs256(header.slice('Bearer '.length), await ctx.jwks(GOOGLE_JWKS_URI, { refresh: true }));
    } catch {
      return { kind: 'respond', reply: { status: 503, body: JSON.stringify({ error: 'unavailable', reason: 'Google signing keys unavailable' }), contentType: 'application/json' } };
    }
  }
  if (!jwt.ok) return reject(401, `token rejected: ${jwt.reason}`);
  const claims = claimsSchema.safeParse(jwt.claims);
  if (!claims.success) return reject(401, 'token claims are missing or malformed');
  const c = claims.data;
  if (!GOOGLE_ISSUERS.includes(c.iss)) return reject(401, 'token issuer is not Google');
  // The default audience is the push endpoint as we publish it, never a URL rebuilt from the request's Host header.
  const audience = pubsub.audience ?? ctx.publicUrl;
  if (audience === undefined) return reject(401, 'no audience to check: set config.pubsub.audience or PUBLIC_BASE_URL');
  if (c.aud !== audience) return reject(401, 'token audience mismatch');
  if (c.email.toLowerCase() !== pubsub.serviceAccountEmail.toLowerCase()) return reject(401, 'token email is not the subscription service account');
  if (!c.email_verified) return reject(401, 'token email is not verified');
  const now = Math.floor(ctx.now.getTime() / 1000);
  if (c.exp + OIDC_SKEW_S < now) return reject(401, 'token has expired');
  if (c.iat - OIDC_SKEW_S > now) return reject(401, 'token is issued in the future');
  if (c.exp <= c.iat || c.exp - c.iat > MAX_LIFETIME_S + OIDC_SKEW_S) return reject(401, 'token lifetime is not plausible');

  let json: unknown;
  try {
    json = parseJson(request.rawBody);
  } catch (error) {
    return reject(400, jsonFailure(error));
  }
  const body = pushBodySchema.safeParse(json);
  if (!body.success) return reject(400, 'body is not a Pub/Sub push message');
  if (pubsub.subscription !== undefined && body.data.subscription !== pubsub.subscription) {
    return reject(403, 'push from a subscription this integration does not accept');
  }
  const messageId = body.data.message.messageId ?? body.data.message.message_id;
  if (messageId === undefined || !MESSAGE_ID.test(messageId)) return reject(400, 'missing or invalid message.messageId');
  // CloudEvents attributes (Workspace Events API) name the event; plain topics have none.
  const type = body.data.message.attributes?.['ce-type'];
  const event = type !== undefined && EVENT_TYPE.test(type) ? `pubsub.${type}` : 'pubsub.message';
  return { kind: 'accept', events: [{ deliveryId: messageId, event }] };
}

function reject(status: 400 | 401 | 403, reason: string): WebhookVerdict {
  return { kind: 'reject', status, reason };
}
