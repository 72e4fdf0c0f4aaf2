import { z } from 'zod';
import { secretNameFor } from '../domain/ids';
import type { Integration } from '../domain/types';
import { InputError } from '../errors';
import type { Stored } from '../storage/port';
import type { AdminDeps } from './deps';
import { adminRoute, ok, parseWith, readJson } from './http';
import { routeId } from './ids';

const integrationBody = z.strictObject({
  provider: z.string().min(1).max(64),
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  config: z.record(z.string(), z.unknown()),
  credentials: z.record(z.string(), z.unknown()),
  webhookSecret: z.string().min(8, 'must be at least 8 characters').max(1024).optional(),
  schedule: z.strictObject({ everyMinutes: z.number().int().min(5).max(7 * 24 * 60) }).optional(),
});

/** The integration as the API shows it: never a secret, nor where secrets live. */
export function integrationView(i: Integration): Record<string, unknown> {
  return {
    id: i.id,
    tenantId: i.tenantId,
    provider: i.provider,
    baseUrl: i.baseUrl,
    config: i.config,
    status: i.status,
    schedule: { everyMinutes: i.scheduleMinutes },
    hasWebhookSecret: i.webhookSecretName !== undefined,
    webhookPath: `/api/webhooks/${i.provider}/${i.id}`,
    cursor: i.cursor ?? null,
    lastSyncAt: i.lastSyncAt ?? null,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
  };
}

/**
 * Create or replace an integration. Everything is validated before any write;
 * secrets are written first and the integration document last, so a failure
 * part-way leaves no integration pointing at missing secrets.
 */
export const putIntegration = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const body = await readJson(request, integrationBody);
  const provider = deps.providers.get(body.provider);
  if (!provider) throw new InputError(400, `provider: unknown; one of ${deps.providers.keys().join(', ')}`);
  const config = parseWith(provider.configSchema, body.config, 'config');
  const credentials = parseWith(provider.credentialsSchema, body.credentials, 'credentials');

  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  const owner = await deps.repos.lookupIntegrationOwner(integrationId);
  if (owner && owner.ownerTenantId !== tenantId) throw new InputError(409, `Integration id '${integrationId}' is taken; ids are global`);
  const existing = await deps.repos.getIntegration(tenantId, integrationId);

  const tags = { tenant: tenantId, integration: integrationId, provider: provider.key };
  const credentialsSecret = secretNameFor('cred', tenantId, integrationId);
  await deps.secrets.set(credentialsSecret, JSON.stringify(credentials), { ...tags, kind: 'credentials' });
  let webhookSecretName = existing?.webhookSecretName;
  if (body.webhookSecret !== undefined) {
    webhookSecretName = secretNameFor('whsec', tenantId, integrationId);
    await deps.secrets.set(webhookSecretName, body.webhookSecret, { ...tags, kind: 'webhook-secret' });
  }
  await deps.repos.putIntegrationIndex(integrationId, tenantId, provider.key);

  const now = deps.now().toISOString();
  const baseUrl = body.baseUrl ?? provider.defaultBaseUrl;
  const integration: Integration = {
    id: integrationId,
    tenantId,
    type: 'integration',
    provider: provider.key,
    baseUrl,
    config: config as Record<string, unknown>,
    credentialsSecret,
    ...(webhookSecretName === undefined ? {} : { webhookSecretName }),
    scheduleMinutes: body.schedule?.everyMinutes ?? existing?.scheduleMinutes ?? deps.defaultScheduleMinutes,
    // New credentials are a re-authorisation.
    status: 'active',
    ...keptSyncState(existing, provider.key, baseUrl, config),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const stored = await deps.repos.putIntegration(integration, existing?.etag);
  deps.lookup.forget(integrationId);
  deps.secrets.invalidate(credentialsSecret);
  return ok(integrationView(stored), existing ? 200 : 201);
});

/** The cursor survives an update only when it still points at the same data. */
function keptSyncState(existing: Stored<Integration> | undefined, provider: string, baseUrl: string, config: unknown): Partial<Integration> {
  if (!existing) return {};
  const same = existing.provider === provider && existing.baseUrl === baseUrl && JSON.stringify(existing.config) === JSON.stringify(config);
  if (!same) return {};
  return {
    ...(existing.cursor === undefined ? {} : { cursor: existing.cursor }),
    ...(existing.lastSyncAt === undefined ? {} : { lastSyncAt: existing.lastSyncAt }),
  };
}

export const getIntegration = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const integration = await deps.repos.getIntegration(tenantId, integrationId);
  if (!integration) throw new InputError(404, `Integration '${integrationId}' not found`);
  return ok(integrationView(integration));
});
