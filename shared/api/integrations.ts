/**
 * Admin API for integrations.
 *   PUT   /admin/tenants/{t}/integrations/{i}   create or replace: provider, config and credentials required
 *   PATCH /admin/tenants/{t}/integrations/{i}   change any of baseUrl, config, schedule, mappings, shardMap,
 *                                                conflictStrategy, limits, webhookSecret — no credentials needed
 *   GET   /admin/tenants/{t}/integrations/{i}
 */
import { z } from 'zod';
import { kindForCredentials } from '../credentials/envelope';
import { webhookSecretSchema } from '../credentials/webhook-rotation';
import { secretNameFor } from '../domain/ids';
import type { Integration } from '../domain/types';
import { AuthError, InputError } from '../errors';
import { assertIntegrationEgress } from '../http/egress-providers';
import type { ProviderDefinition } from '../providers/types';
import { RECORD_SHARDS } from '../storage/names';
import { checkCronSchedule, scheduleSchema } from '../sync/schedule-rules';
import { mappingSpecSchema } from '../sync/transform';
import { integrationLimitsSchema } from '../ratelimit/schemas';
import type { AdminDeps } from './deps';
import { adminRoute, ok, parseWith, readJson } from './http';
import { routeId } from './ids';
import { keptSyncState, saveIntegration, scheduleFields, withoutRebuilt } from './integration-write';

/** The fields an update may change; a PUT and a PATCH validate them alike. */
const baseUrlSchema = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const configSchema = z.record(z.string(), z.unknown());
const shardMapSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.enum(RECORD_SHARDS));
const conflictStrategySchema = z.enum(['provider-wins', 'local-wins', 'newest-wins', 'manual']);

const integrationBody = z.strictObject({
  provider: z.string().min(1).max(64),
  baseUrl: baseUrlSchema.optional(),
  config: configSchema,
  credentials: z.record(z.string(), z.unknown()),
  webhookSecret: webhookSecretSchema.optional(),
  schedule: scheduleSchema.optional(),
  mappings: mappingSpecSchema.optional(),
  shardMap: shardMapSchema.optional(),
  conflictStrategy: conflictStrategySchema.optional(),
  /** Custom per-minute limits for this integration and its operations; effective at once on every instance. */
  limits: integrationLimitsSchema.optional(),
});

/** A PATCH: each field given replaces the stored one whole (config too); credentials and the provider stay as they are. */
const integrationPatch = integrationBody
  .omit({ provider: true, credentials: true })
  .partial()
  .extend({
    credentials: z.never({ error: 'not accepted here: replace credentials with PUT …/integrations/{integrationId}/credentials' }).optional(),
    provider: z.never({ error: 'cannot change with PATCH: PUT the integration with its credentials' }).optional(),
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
    schedule: i.scheduleCron === undefined ? { everyMinutes: i.scheduleMinutes } : { cron: i.scheduleCron },
    mappings: i.mappings ?? null,
    shardMap: i.shardMap ?? null,
    conflictStrategy: i.conflictStrategy,
    hasWebhookSecret: i.webhookSecretName !== undefined,
    /** While a rotation's overlap lasts, the previous webhook secret still verifies until then. */
    previousWebhookSecretValidUntil: i.previousWebhookSecretName === undefined ? null : (i.previousWebhookSecretUntil ?? null),
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
 * part-way leaves no integration pointing at missing secrets. Omitted
 * schedule, conflictStrategy, shardMap and webhookSecret keep their stored
 * values; omitted mappings mean none.
 */
export const putIntegration = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const body = await readJson(request, integrationBody);
  const provider = deps.providers.get(body.provider);
  if (!provider) throw new InputError(400, `provider: unknown; one of ${deps.providers.keys().join(', ')}`);
  const config = parseWith(provider.configSchema, body.config, 'config');
  const credentials = parseWith(provider.credentialsSchema, body.credentials, 'credentials');
  assertIntegrationEgress(deps.providers, provider, { baseUrl: body.baseUrl ?? provider.defaultBaseUrl, config, credentials });
  if (body.schedule && 'cron' in body.schedule) checkCronSchedule(body.schedule.cron);

  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  // Claimed atomically before anything of this integration is written: the loser of a race writes nothing.
  if (!(await deps.repos.claimIntegrationId(integrationId, tenantId, provider.key))) {
    throw new InputError(409, `Integration id '${integrationId}' is taken; ids are global`);
  }
  const existing = await deps.repos.getIntegration(tenantId, integrationId);

  const credentialsSecret = secretNameFor('cred', tenantId, integrationId);
  const now = deps.now().toISOString();
  const baseUrl = body.baseUrl ?? provider.defaultBaseUrl;
  const shardMap = body.shardMap ?? existing?.shardMap;
  const draft: Integration = {
    id: integrationId,
    tenantId,
    type: 'integration',
    provider: provider.key,
    baseUrl,
    config: config as Record<string, unknown>,
    credentialsSecret,
    ...scheduleFields(body.schedule, existing, deps.defaultScheduleMinutes),
    conflictStrategy: body.conflictStrategy ?? existing?.conflictStrategy ?? 'provider-wins',
    ...(body.mappings === undefined ? {} : { mappings: body.mappings }),
    ...(shardMap === undefined ? {} : { shardMap }),
    // Active once its credentials are stored (below): a failure in between leaves a new integration waiting for credentials.
    status: existing?.status ?? 'needs_reauth',
    ...keptSyncState(existing, provider.key, baseUrl, config),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const written = await saveIntegration(deps, existing, draft, body.webhookSecret);
  // A new credential generation in its own Key Vault secret (kind-tagged envelope), under the credential lease;
  // new credentials are a re-authorisation, so this also makes the integration active.
  await deps.credentials.replace(written, { kind: kindForCredentials(credentials), credentials, createdAt: now });
  const stored = (await deps.repos.getIntegration(tenantId, integrationId)) ?? written;
  if (body.limits !== undefined) await deps.limits.setIntegration(tenantId, integrationId, body.limits);
  deps.lookup.forget(integrationId);
  deps.secrets.invalidate(credentialsSecret);
  return ok(integrationView(stored), existing ? 200 : 201);
});

/**
 * Change an existing integration without resending its credentials. Each
 * field is validated exactly as a PUT validates it (a new baseUrl or config
 * is checked against the egress rules with the stored credentials); a new
 * baseUrl or config resets the cursor, as on PUT.
 */
export const patchIntegration = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const body = await readJson(request, integrationPatch);
  if (Object.keys(body).length === 0) {
    throw new InputError(400, 'body: give at least one of baseUrl, config, schedule, mappings, shardMap, conflictStrategy, limits, webhookSecret');
  }
  const existing = await deps.repos.getIntegration(tenantId, integrationId);
  if (!existing) throw new InputError(404, `Integration '${integrationId}' not found`);
  const provider = deps.providers.get(existing.provider);
  if (!provider) throw new InputError(409, `Provider '${existing.provider}' is not registered`);
  const config = body.config === undefined ? existing.config : (parseWith(provider.configSchema, body.config, 'config') as Record<string, unknown>);
  const baseUrl = body.baseUrl ?? existing.baseUrl;
  if (body.baseUrl !== undefined || body.config !== undefined) {
    assertIntegrationEgress(deps.providers, provider, { baseUrl, config, credentials: await storedCredentials(deps, existing, provider) });
  }
  if (body.schedule && 'cron' in body.schedule) checkCronSchedule(body.schedule.cron);

  const draft: Integration = {
    ...withoutRebuilt(existing),
    baseUrl,
    config,
    ...scheduleFields(body.schedule, existing, deps.defaultScheduleMinutes),
    conflictStrategy: body.conflictStrategy ?? existing.conflictStrategy,
    ...(body.mappings === undefined ? {} : { mappings: body.mappings }),
    ...(body.shardMap === undefined ? {} : { shardMap: body.shardMap }),
    ...keptSyncState(existing, existing.provider, baseUrl, config),
    updatedAt: deps.now().toISOString(),
  };
  const written = await saveIntegration(deps, existing, draft, body.webhookSecret);
  if (body.limits !== undefined) await deps.limits.setIntegration(tenantId, integrationId, body.limits);
  deps.lookup.forget(integrationId);
  return ok(integrationView(written));
});

/** The stored credentials, for the egress check of a new baseUrl or config; none when unreadable (checked when stored). */
async function storedCredentials(deps: AdminDeps, integration: Integration, provider: ProviderDefinition): Promise<unknown> {
  try {
    return (await deps.credentials.store.read(integration, provider))?.credentials;
  } catch (error) {
    if (error instanceof AuthError) return undefined;
    throw error;
  }
}

export const getIntegration = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const integration = await deps.repos.getIntegration(tenantId, integrationId);
  if (!integration) throw new InputError(404, `Integration '${integrationId}' not found`);
  return ok(integrationView(integration));
});
