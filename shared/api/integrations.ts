import { z } from 'zod';
import { kindForCredentials } from '../credentials/envelope';
import { secretNameFor } from '../domain/ids';
import type { Integration } from '../domain/types';
import { InputError } from '../errors';
import { assertIntegrationEgress } from '../http/egress-providers';
import { RECORD_SHARDS } from '../storage/names';
import { parseNcrontab } from '../sync/ncrontab';
import { mappingSpecSchema } from '../sync/transform';
import { integrationLimitsSchema } from '../ratelimit/schemas';
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
  schedule: z
    .union([
      z.strictObject({ everyMinutes: z.number().int().min(5).max(7 * 24 * 60) }),
      z.strictObject({ cron: z.string().min(11).max(100) }),
    ])
    .optional(),
  mappings: mappingSpecSchema.optional(),
  shardMap: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.enum(RECORD_SHARDS)).optional(),
  conflictStrategy: z.enum(['provider-wins', 'local-wins', 'newest-wins', 'manual']).optional(),
  /** Custom per-minute limits for this integration and its operations; effective at once on every instance. */
  limits: integrationLimitsSchema.optional(),
});

function checkCron(expr: string): void {
  try {
    parseNcrontab(expr);
  } catch (error) {
    throw new InputError(400, `schedule.cron: ${error instanceof Error ? error.message : 'invalid'}`);
  }
}

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
  assertIntegrationEgress(deps.providers, provider, { baseUrl: body.baseUrl ?? provider.defaultBaseUrl, config, credentials });
  if (body.schedule && 'cron' in body.schedule) checkCron(body.schedule.cron);

  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  // Claimed atomically before anything of this integration is written: the loser of a race writes nothing.
  if (!(await deps.repos.claimIntegrationId(integrationId, tenantId, provider.key))) {
    throw new InputError(409, `Integration id '${integrationId}' is taken; ids are global`);
  }
  const existing = await deps.repos.getIntegration(tenantId, integrationId);

  const tags = { tenant: tenantId, integration: integrationId, provider: provider.key };
  const credentialsSecret = secretNameFor('cred', tenantId, integrationId);
  let webhookSecretName = existing?.webhookSecretName;
  if (body.webhookSecret !== undefined) {
    webhookSecretName = secretNameFor('whsec', tenantId, integrationId);
    await deps.secrets.set(webhookSecretName, body.webhookSecret, { ...tags, kind: 'webhook-secret' });
  }

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
    ...schedule(body.schedule, existing, deps.defaultScheduleMinutes),
    conflictStrategy: body.conflictStrategy ?? existing?.conflictStrategy ?? 'provider-wins',
    ...(body.mappings === undefined ? {} : { mappings: body.mappings }),
    ...(body.shardMap === undefined ? {} : { shardMap: body.shardMap }),
    // Active once its credentials are stored (below): a failure in between leaves a new integration waiting for credentials.
    status: existing?.status ?? 'needs_reauth',
    ...keptSyncState(existing, provider.key, baseUrl, config),
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const written = await deps.repos.putIntegration(integration, existing?.etag);
  // A new credential generation in its own Key Vault secret (kind-tagged envelope), under the credential lease;
  // new credentials are a re-authorisation, so this also makes the integration active.
  await deps.credentials.replace(written, { kind: kindForCredentials(credentials), credentials, createdAt: now });
  const stored = (await deps.repos.getIntegration(tenantId, integrationId)) ?? written;
  if (body.limits !== undefined) await deps.limits.setIntegration(tenantId, integrationId, body.limits);
  deps.lookup.forget(integrationId);
  deps.secrets.invalidate(credentialsSecret);
  return ok(integrationView(stored), existing ? 200 : 201);
});

function schedule(
  asked: z.infer<typeof integrationBody>['schedule'],
  existing: Integration | undefined,
  defaultMinutes: number,
): Pick<Integration, 'scheduleMinutes' | 'scheduleCron'> {
  if (asked && 'cron' in asked) return { scheduleMinutes: existing?.scheduleMinutes ?? defaultMinutes, scheduleCron: asked.cron };
  if (asked) return { scheduleMinutes: asked.everyMinutes };
  if (!existing) return { scheduleMinutes: defaultMinutes };
  return { scheduleMinutes: existing.scheduleMinutes, ...(existing.scheduleCron === undefined ? {} : { scheduleCron: existing.scheduleCron }) };
}

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
