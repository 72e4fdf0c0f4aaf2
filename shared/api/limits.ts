/**
 * Custom rate limits of a tenant: `PUT|GET /api/admin/tenants/{tenantId}/limits`.
 * A PUT replaces the tenant's limits, per-integration entries included; a
 * level left out goes back to its default. The limiter reads them on its next
 * check, on every instance (see shared/ratelimit/redis-limits.ts).
 */
import { InputError } from '../errors';
import { DEFAULT_TENANT_PER_MINUTE, PROVIDER_LIMITS } from '../ratelimit/defaults';
import { tenantLimitsSchema } from '../ratelimit/schemas';
import type { LimitsStore, TenantLimits } from '../ratelimit/types';
import type { AdminDeps } from './deps';
import { adminRoute, ok, readJson } from './http';
import { routeId } from './ids';

export type LimitsAdminDeps = Pick<AdminDeps, 'repos' | 'logger' | 'adminKey'> & { limits: LimitsStore };

/** Integration look-ups run this many at a time: a body may name hundreds. */
const LOOKUP_BATCH = 20;

export const putTenantLimits = adminRoute<LimitsAdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const body = await readJson(request, tenantLimitsSchema);
  await requireTenant(deps, tenantId);
  const ids = Object.keys(body.integrations ?? {});
  for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
    const batch = ids.slice(i, i + LOOKUP_BATCH);
    const found = await Promise.all(batch.map((id) => deps.repos.getIntegration(tenantId, id)));
    const missing = batch.find((_, n) => found[n] === undefined);
    if (missing !== undefined) throw new InputError(400, `integrations.${missing}: no such integration in tenant '${tenantId}'`);
  }
  await deps.limits.replace(tenantId, body);
  deps.logger.info('rate limits replaced', { tenantId, integrations: ids.length });
  return ok(limitsView(tenantId, body));
});

export const getTenantLimits = adminRoute<LimitsAdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  await requireTenant(deps, tenantId);
  return ok(limitsView(tenantId, await deps.limits.get(tenantId)));
});

async function requireTenant(deps: LimitsAdminDeps, tenantId: string): Promise<void> {
  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
}

/** The configured limits beside the defaults they override (all per minute). */
function limitsView(tenantId: string, limits: TenantLimits): Record<string, unknown> {
  return {
    tenantId,
    perMinute: limits.perMinute ?? null,
    integrations: limits.integrations ?? {},
    defaults: { tenantPerMinute: DEFAULT_TENANT_PER_MINUTE, providers: PROVIDER_LIMITS },
  };
}
