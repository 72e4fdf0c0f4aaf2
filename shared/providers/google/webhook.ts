/**
 * Google's two inbound schemes behind one endpoint, told apart by headers:
 * watch-channel notifications carry `X-Goog-Channel-*` / `X-Goog-Resource-State`
 * (webhook-channel.ts); everything else must be a Pub/Sub push with an OIDC
 * bearer token (webhook-pubsub.ts). Each fails closed on its own: a channel
 * notification needs a channel token configured, a push needs `config.pubsub`.
 */
import type { WebhookScheme } from '../types';
import type { GoogleConfig } from './schemas';
import { CHANNEL_KEPT_HEADERS, isChannelNotification, verifyChannelNotification } from './webhook-channel';
import { PUBSUB_KEPT_HEADERS, verifyPubsubPush } from './webhook-pubsub';

export const googleWebhook: WebhookScheme<GoogleConfig> = {
  // Never the channel token or the Authorization header.
  keptHeaders: [...new Set([...CHANNEL_KEPT_HEADERS, ...PUBSUB_KEPT_HEADERS])],
  verify: (request, ctx) => (isChannelNotification(request) ? verifyChannelNotification(request, ctx) : verifyPubsubPush(request, ctx)),
};
