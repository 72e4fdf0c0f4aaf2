import type { SecretCache } from '../credentials/cache';
import { secretNameFor } from '../domain/ids';
import type { Integration } from '../domain/types';
import type { WebhookDeps } from './receive';

/**
 * The secrets a delivery may be signed with, newest first: the current one,
 * and the previous one while its rotation overlap window lasts.
 */
export async function webhookSecrets(cache: SecretCache, integration: Integration, now: Date): Promise<string[]> {
  const names: string[] = [];
  if (integration.webhookSecretName !== undefined) names.push(integration.webhookSecretName);
  const until = integration.previousWebhookSecretUntil;
  if (integration.previousWebhookSecretName !== undefined && until !== undefined && Date.parse(until) > now.getTime()) {
    names.push(integration.previousWebhookSecretName);
  }
  const values = await Promise.all(names.map((n) => cache.get(n)));
  return values.flatMap((v) => (v && v.value.length > 0 ? [v.value] : []));
}

/** Store a secret handed over by a handshake (Notion's verification_token) and point the integration at it. */
export async function storeHandshakeSecret(
  deps: Pick<WebhookDeps, 'secrets' | 'saveIntegration' | 'lookup' | 'now'>,
  integration: Integration,
  secret: string,
): Promise<void> {
  const name = secretNameFor('whsec', integration.tenantId, integration.id);
  await deps.secrets.set(name, secret, { tenant: integration.tenantId, integration: integration.id, provider: integration.provider, kind: 'webhook-secret' });
  await deps.saveIntegration({ ...integration, webhookSecretName: name, updatedAt: deps.now().toISOString() });
  deps.lookup.forget(integration.id);
}
