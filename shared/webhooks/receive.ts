import type { SecretCache } from '../credentials/cache';
import type { Integration } from '../domain/types';
import type { KeyValueStore } from '../kv/port';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { JwksSource, ProviderRegistry, WebhookReply, WebhookRequest } from '../providers/types';
import { storeEvents } from './deliveries';
import { enqueueEventRecords, enqueueWebhookSync } from './enqueue';
import type { IntegrationLookup } from './lookup';
import { recordReceivedToken, takeArmedHandshake } from './handshake';
import { admitUnverified, boundUnverified, UNVERIFIED_PER_MINUTE } from './unverified';
import { storeHandshakeSecret, webhookSecrets } from './secrets';

export interface WebhookDeps {
  secrets: SecretCache;
  kv: KeyValueStore;
  queue: QueueSender;
  providers: ProviderRegistry;
  logger: Logger;
  maxBodyBytes: number;
  coalesceSeconds: number;
  lookup: IntegrationLookup;
  jwks: JwksSource;
  /** Only for the handshake that stores a secret on the integration. */
  saveIntegration: (integration: Integration) => Promise<void>;
  now: () => Date;
  /** PUBLIC_BASE_URL: where providers reach us (no trailing slash). */
  publicBaseUrl?: string | undefined;
}

const json = (status: number, body: Record<string, unknown>): WebhookReply => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
});

/**
 * Every unauthenticated failure looks alike — an unknown integration, a
 * wrong provider, a bad signature, an unarmed handshake — so a caller cannot
 * tell which ids exist or what they are. The detail goes to the log only.
 */
export const REFUSED: WebhookReply = json(401, { error: 'unauthorized', reason: 'Delivery not accepted' });

/**
 * verify → dedupe → store → enqueue. Answers 2xx only once the delivery's
 * work is queued; a refusal stores and queues nothing.
 */
export async function receiveWebhook(
  deps: WebhookDeps,
  route: { provider: string; integrationId: string },
  request: WebhookRequest,
): Promise<WebhookReply> {
  // The same limit for every id, checked before anything is looked up: it tells nothing about the id.
  if (request.rawBody.length > deps.maxBodyBytes) {
    return json(413, { error: 'payload_too_large', reason: `Body exceeds ${deps.maxBodyBytes} bytes` });
  }
  const provider = deps.providers.get(route.provider);
  const integration = provider?.webhook ? await deps.lookup.find(route.integrationId) : undefined;
  // Unknown ids are frequent under a scan: logged at debug, never stored (no amplification).
  if (!provider?.webhook || !integration || integration.provider !== provider.key) {
    deps.logger.debug('webhook refused: no such integration for this provider', { provider: provider?.key ?? 'unknown' });
    return REFUSED;
  }
  const refuse = (reason: string): WebhookReply => {
    deps.logger.warn('webhook refused', { provider: provider.key, integrationId: integration.id, reason });
    return REFUSED;
  };
  const config = provider.configSchema.safeParse(integration.config);
  if (!config.success) return refuse('integration config is not valid');
  const secrets = await webhookSecrets(deps.secrets, integration, deps.now());

  const publicUrl = deps.publicBaseUrl === undefined ? undefined : `${deps.publicBaseUrl}/api/webhooks/${provider.key}/${integration.id}`;
  const verdict = await provider.webhook.verify(request, { config: config.data, secrets, now: deps.now(), jwks: deps.jwks, publicUrl });
  if (verdict.kind === 'reject') return refuse(verdict.reason);
  if (verdict.kind === 'respond') return verdict.reply;
  if (verdict.kind === 'store-secret') {
    if (!(await takeArmedHandshake(deps.kv, integration.id))) return refuse('handshake while not armed by an admin');
    await storeHandshakeSecret(deps, integration, verdict.secret);
    await recordReceivedToken(deps.kv, integration.id, verdict.secret, deps.now());
    deps.logger.info('webhook handshake secret stored', { provider: provider.key, integrationId: integration.id });
    return verdict.reply;
  }

  const log = deps.logger.child({ provider: provider.key, integrationId: integration.id });
  if (verdict.unverified === true && !(await admitUnverified(deps.kv, integration.id, deps.now()))) {
    log.warn('unverified webhook deliveries over their rate; refused', { perMinute: UNVERIFIED_PER_MINUTE });
    return json(429, { error: 'rate_limited', reason: 'Too many deliveries for this integration; retry later' });
  }
  const stored = await storeEvents(deps.kv, integration, verdict.events, provider.webhook.keptHeaders, request, deps.now());
  if (verdict.unverified === true && stored.written.length > 0) {
    const dropped = await boundUnverified(deps.kv, integration.id, stored.written);
    if (dropped > 0) log.info('unverified deliveries over their storage bound; oldest kept entries dropped', { dropped });
  }
  const deliveryIds = verdict.events.map((e) => e.deliveryId);
  if (stored.fresh.length === 0) {
    log.info('webhook duplicate ignored', { deliveryIds });
    return verdict.reply ?? json(202, { accepted: true, duplicate: true, deliveryIds });
  }
  try {
    const deliveryId = stored.fresh[0]?.deliveryId ?? 'delivery';
    await enqueueWebhookSync(deps.queue, integration, deliveryId, deps.coalesceSeconds, deps.now());
    const carried = provider.webhook.records?.(request.rawBody, config.data, stored.fresh) ?? [];
    if (carried.length > 0) await enqueueEventRecords(deps.queue, integration, deliveryId, carried, deps.now());
  } catch (error) {
    // Not queued: the marks stay `pending`, so the provider's retry is processed, not taken for a duplicate.
    log.error('webhook enqueue failed', { error });
    return json(503, { error: 'unavailable', reason: 'Could not queue the delivery; retry later' });
  }
  try {
    await stored.markQueued(deps.now());
  } catch (error) {
    // The work is queued, so the answer is 2xx; a retry finds the mark pending and queues idempotent work again.
    log.warn('webhook queued but its dedupe mark was not updated', { error });
  }
  log.info('webhook accepted', { events: stored.fresh.map((e) => e.event) });
  return verdict.reply ?? json(202, { accepted: true, duplicate: false, deliveryIds });
}
