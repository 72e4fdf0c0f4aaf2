import type { Integration } from '../domain/types';
import { InputError } from '../errors';
import { armHandshake, handshakeStatus } from '../webhooks/handshake';
import type { AdminDeps } from './deps';
import { adminRoute, ok } from './http';
import { routeId } from './ids';

async function integrationOf(deps: AdminDeps, tenantId: string, integrationId: string): Promise<Integration> {
  const integration = await deps.repos.getIntegration(tenantId, integrationId);
  if (!integration) throw new InputError(404, `Integration '${integrationId}' not found`);
  if (!deps.providers.get(integration.provider)?.webhook?.handshake) {
    throw new InputError(409, `${integration.provider} webhooks have no secret handshake; set webhookSecret on the integration instead`);
  }
  return integration;
}

/** Open the handshake window: the provider's first handshake within it sets the webhook secret. */
export const postWebhookHandshake = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const integration = await integrationOf(deps, tenantId, integrationId);
  const armedUntil = await armHandshake(deps.kv, integrationId, deps.now());
  return ok({ armedUntil, webhookPath: `/api/webhooks/${integration.provider}/${integrationId}` }, 202);
});

/**
 * The window and the token a handshake delivered. The token is shown here on
 * purpose, to the admin only and for an hour: the provider's verify step asks
 * the admin to paste it (Notion has no other way to hand it over).
 */
export const getWebhookHandshake = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  await integrationOf(deps, tenantId, integrationId);
  return ok(await handshakeStatus(deps.kv, integrationId));
});
