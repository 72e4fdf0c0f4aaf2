/**
 * What the Google sandbox sends out:
 * - Pub/Sub push deliveries with an OIDC bearer token, RS256-signed by the
 *   sandbox's own key (published at /oauth2/v3/certs, like Google's JWKS);
 *   https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
 * - watch-channel notifications (no signature; the channel token is echoed),
 *   numbered per channel from 1, `sync` first.
 *   https://developers.google.com/drive/api/guides/push
 * Signs and formats independently of shared/providers/google, so a test that
 * delivers here and verifies there checks one implementation against another.
 */
import { generateKeyPairSync, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';

/** Pub/Sub waits this long for the push endpoint before counting a failure (the default ack deadline). */
const DELIVERY_TIMEOUT_MS = 10_000;
const PUBSUB_USER_AGENT = 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)';

export interface PubsubDelivery {
  url: string;
  /** The push subscription's service account: the token's `email`. */
  serviceAccountEmail: string;
  /** The token's `aud`; Pub/Sub defaults it to the push URL. */
  audience?: string;
  subscription?: string;
  /** Sent base64-encoded as `message.data`; an object is sent as JSON. */
  data?: unknown;
  attributes?: Record<string, string>;
  messageId?: string;
  publishTime?: string;
  /** Override or add claims (tests: expired tokens, wrong issuer…). */
  claims?: Record<string, unknown>;
  /** Issue time, epoch seconds; default now. */
  iat?: number;
}

export interface DeliveryResult {
  status: number;
  body: string;
  /** The Pub/Sub message id or `channelId:messageNumber`. */
  deliveryId: string;
}

export interface ChannelNotification {
  url: string;
  channelId: string;
  token?: string;
  resourceState: string;
  messageNumber: number;
  resourceId: string;
  resourceUri: string;
  /** Epoch ms; sent as an RFC 1123 date. */
  expiration?: number;
  changed?: string;
}

export class PubsubSigner {
  readonly keyId: string;
  private readonly privateKey: KeyObject;
  private readonly publicJwk: JsonWebKey;
  private messageSeq = 0;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.keyId = randomBytes(20).toString('hex');
    this.publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: this.keyId, alg: 'RS256', use: 'sig' };
  }

  jwks(): JsonWebKey[] {
    return [{ ...this.publicJwk }];
  }

  /** An OIDC ID token as Pub/Sub mints it for a push (claims as in Google's docs). */
  token(audience: string, email: string, iat: number, extra: Record<string, unknown> = {}): string {
    const sub = String(100_000_000_000_000_000_000n + BigInt(email.length * 7919));
    const claims = { aud: audience, azp: sub, email, email_verified: true, exp: iat + 3600, iat, iss: 'https://accounts.google.com', sub, ...extra };
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${enc({ alg: 'RS256', kid: this.keyId, typ: 'JWT' })}.${enc(claims)}`;
    return `${input}.${sign('RSA-SHA256', Buffer.from(input), this.privateKey).toString('base64url')}`;
  }

  async deliver(d: PubsubDelivery): Promise<DeliveryResult> {
    const messageId = d.messageId ?? String(2_070_443_601_311_540 + ++this.messageSeq);
    const publishTime = d.publishTime ?? new Date().toISOString();
    const data = d.data === undefined ? undefined : Buffer.from(typeof d.data === 'string' ? d.data : JSON.stringify(d.data)).toString('base64');
    const message: Record<string, unknown> = { messageId, message_id: messageId, publishTime, publish_time: publishTime };
    if (data !== undefined) message.data = data;
    if (d.attributes) message.attributes = d.attributes;
    const body = JSON.stringify({ message, subscription: d.subscription ?? 'projects/castiel-sandbox/subscriptions/drive-events' });
    const iat = d.iat ?? Math.floor(Date.now() / 1000);
    const jwt = this.token(d.audience ?? d.url, d.serviceAccountEmail, iat, d.claims);
    const res = await fetch(d.url, {
      method: 'POST',
      body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json', 'user-agent': PUBSUB_USER_AGENT },
    });
    return { status: res.status, body: await res.text(), deliveryId: messageId };
  }
}

/** The headers a channel notification carries; the body is empty. */
export function channelHeaders(n: ChannelNotification): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json; utf-8',
    'x-goog-channel-id': n.channelId,
    'x-goog-message-number': String(n.messageNumber),
    'x-goog-resource-id': n.resourceId,
    'x-goog-resource-state': n.resourceState,
    'x-goog-resource-uri': n.resourceUri,
  };
  if (n.token !== undefined) headers['x-goog-channel-token'] = n.token;
  if (n.expiration !== undefined) headers['x-goog-channel-expiration'] = new Date(n.expiration).toUTCString();
  if (n.changed !== undefined) headers['x-goog-changed'] = n.changed;
  return headers;
}

export async function sendChannelNotification(n: ChannelNotification): Promise<DeliveryResult> {
  const res = await fetch(n.url, { method: 'POST', body: '', headers: channelHeaders(n), signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
  return { status: res.status, body: await res.text(), deliveryId: `${n.channelId}:${n.messageNumber}` };
}
