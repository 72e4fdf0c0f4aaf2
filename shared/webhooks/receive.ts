import type { SecretCache } from '../credentials/cache';
import type { KeyValueStore } from '../kv/port';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry, WebhookRequest } from '../providers/types';
import { storeDelivery } from './deliveries';
import { enqueueWebhookSync } from './enqueue';
import type { IntegrationLookup } from './lookup';

export interface WebhookDeps {
  secrets: SecretCache;
  kv: KeyValueStore;
  queue: QueueSender;
  providers: ProviderRegistry;
  logger: Logger;
  maxBodyBytes: number;
  coalesceSeconds: number;
  lookup: IntegrationLookup;
  now: () => Date;
}

export interface WebhookResponse {
  status: number;
  body: string;
  contentType: string;
}

const json = (status: number, body: Record<string, unknown>): WebhookResponse => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
});

/**
 * verify → dedupe → store → enqueue. Answers 2xx only once the delivery is
 * stored and its sync job queued; on every error nothing is stored or queued.
 */
export async function receiveWebhook(
  deps: WebhookDeps,
  route: { provider: string; integrationId: string },
  request: WebhookRequest,
): Promise<WebhookResponse> {
  const provider = deps.providers.get(route.provider);
  if (!provider?.webhook) return json(404, { error: 'unknown_provider', reason: `No webhook provider '${route.provider}'` });
  if (request.rawBody.length > deps.maxBodyBytes) {
    return json(413, { error: 'payload_too_large', reason: `Body exceeds ${deps.maxBodyBytes} bytes` });
  }
  const integration = await deps.lookup.find(route.integrationId);
  if (!integration || integration.provider !== provider.key) {
    return json(404, { error: 'unknown_integration', reason: 'No such integration for this provider' });
  }
  const secret = integration.webhookSecretName === undefined ? undefined : await deps.secrets.get(integration.webhookSecretName);
  const config = provider.configSchema.safeParse(integration.config);
  if (!config.success) return json(404, { error: 'integration_misconfigured', reason: 'Integration config is not valid' });

  const verdict = provider.webhook.verify(request, secret?.value, config.data, deps.now());
  if (verdict.kind === 'reject') return json(verdict.status, { error: 'rejected', reason: verdict.reason });
  if (verdict.kind === 'respond') return { status: verdict.status, body: verdict.body, contentType: verdict.contentType };

  const log = deps.logger.child({ provider: provider.key, integrationId: integration.id, deliveryId: verdict.deliveryId });
  const stored = await storeDelivery(deps.kv, integration, verdict, provider.webhook.keptHeaders, request, deps.now());
  if (!stored.fresh) {
    log.info('webhook duplicate ignored');
    return json(202, { accepted: true, duplicate: true, deliveryId: verdict.deliveryId });
  }
  try {
    await enqueueWebhookSync(deps.queue, integration, deps.coalesceSeconds, deps.now());
  } catch (error) {
    // Not queued → not stored: the provider's retry must find a clean slate.
    await stored.undo();
    log.error('webhook enqueue failed', { error });
    return json(503, { error: 'unavailable', reason: 'Could not queue the delivery; retry later' });
  }
  log.info('webhook accepted', { event: verdict.event });
  return json(202, { accepted: true, duplicate: false, deliveryId: verdict.deliveryId });
}

