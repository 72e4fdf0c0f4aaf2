import { z } from 'zod';
import type { Tenant } from '../domain/types';
import type { AdminDeps } from './deps';
import { adminRoute, ok, readJson } from './http';
import { routeId } from './ids';

const tenantBody = z.strictObject({ name: z.string().trim().min(1).max(200) });

export const putTenant = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const body = await readJson(request, tenantBody);
  const now = deps.now().toISOString();
  const existing = await deps.repos.getTenant(tenantId);
  const tenant: Tenant = { id: tenantId, tenantId, type: 'tenant', name: body.name, createdAt: existing?.createdAt ?? now, updatedAt: now };
  await deps.repos.putTenant(tenant);
  return ok({ id: tenant.id, name: tenant.name, createdAt: tenant.createdAt, updatedAt: tenant.updatedAt }, existing ? 200 : 201);
});
