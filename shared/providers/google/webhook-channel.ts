/**
 * Drive / Calendar watch-channel notifications.
 * https://developers.google.com/drive/api/guides/push#understand-notification-message-format
 * https://developers.google.com/calendar/api/guides/push
 *
 * Google signs nothing here: the only proof is `X-Goog-Channel-Token`, the
 * token we set when opening the channel, compared in constant time with the
 * integration's webhook secrets (newest first, rotation overlap included)
 * and `config.channelToken`. The body is empty; the headers say what
 * happened. `X-Goog-Resource-State: sync` is the handshake sent once when a
 * channel opens: answer 200, enqueue nothing. Dedupe on channel id +
 * `X-Goog-Message-Number` (Google numbers each channel's messages from 1).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { WebhookContext, WebhookRequest, WebhookVerdict } from '../types';
import type { GoogleConfig } from './schemas';

/** Channel ids are ours to choose: Google allows up to 64 characters (UUIDs in the docs). */
const CHANNEL_ID = /^[A-Za-z0-9_+/=.:-]{1,64}$/;
/** Drive: sync, add, remove, update, trash, untrash, change; Calendar: sync, exists, not_exists. */
const RESOURCE_STATE = /^[a-z_]{1,32}$/;
const MESSAGE_NUMBER = /^[0-9]{1,20}$/;
/** Clock skew tolerated on `X-Goog-Channel-Expiration`, as for OIDC tokens. */
export const CHANNEL_EXPIRY_SKEW_MS = 300_000;

export const CHANNEL_KEPT_HEADERS = [
  'x-goog-channel-id',
  'x-goog-channel-expiration',
  'x-goog-resource-id',
  'x-goog-resource-uri',
  'x-goog-resource-state',
  'x-goog-message-number',
  'x-goog-changed',
  'content-type',
  'user-agent',
] as const;

/** Constant time over equal-length digests, so neither content nor length leaks. */
export function tokensEqual(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export function isChannelNotification(request: WebhookRequest): boolean {
  return ['x-goog-channel-id', 'x-goog-channel-token', 'x-goog-resource-state'].some((h) => request.header(h) !== undefined);
}

export function verifyChannelNotification(request: WebhookRequest, ctx: WebhookContext<GoogleConfig>): WebhookVerdict {
  const expected = [...ctx.secrets, ctx.config.channelToken ?? ''].filter((t) => t.length > 0);
  if (expected.length === 0) return reject(401, 'no channel token is configured for this integration');
  const token = request.header('x-goog-channel-token');
  if (token === undefined || token.length === 0) return reject(401, 'missing X-Goog-Channel-Token header');
  // Every candidate is compared (no early exit on a mismatch), each in constant time.
  let matched = false;
  for (const candidate of expected) matched = tokensEqual(candidate, token) || matched;
  if (!matched) return reject(401, 'channel token mismatch');

  const channelId = request.header('x-goog-channel-id');
  if (channelId === undefined || !CHANNEL_ID.test(channelId)) return reject(400, 'missing or invalid X-Goog-Channel-ID header');
  const state = request.header('x-goog-resource-state');
  if (state === undefined || !RESOURCE_STATE.test(state)) return reject(400, 'missing or invalid X-Goog-Resource-State header');
  const number = request.header('x-goog-message-number');
  if (number === undefined || !MESSAGE_NUMBER.test(number)) return reject(400, 'missing or invalid X-Goog-Message-Number header');

  const expiration = request.header('x-goog-channel-expiration');
  if (expiration !== undefined) {
    const at = Date.parse(expiration);
    if (Number.isNaN(at)) return reject(400, 'invalid X-Goog-Channel-Expiration header');
    // An expired channel sends nothing: a notification from one is a replay.
    if (at + CHANNEL_EXPIRY_SKEW_MS < ctx.now.getTime()) return reject(401, 'channel has expired');
  }

  if (state === 'sync') return { kind: 'respond', reply: { status: 200, body: '', contentType: 'text/plain' } };
  return { kind: 'accept', events: [{ deliveryId: `${channelId}:${number}`, event: `${resourceKind(request.header('x-goog-resource-uri'))}.${state}` }] };
}

/** Which API the channel watches, from `X-Goog-Resource-URI`. */
function resourceKind(uri: string | undefined): string {
  if (uri === undefined) return 'watch';
  let path: string;
  try {
    path = new URL(uri).pathname;
  } catch {
    return 'watch';
  }
  if (path.startsWith('/drive/')) return 'drive';
  if (path.startsWith('/calendar/')) return 'calendar';
  return 'watch';
}

function reject(status: 400 | 401, reason: string): WebhookVerdict {
  return { kind: 'reject', status, reason };
}
