import { z } from 'zod';
import type { SyncRecord } from '../domain/types';
import { InputError } from '../errors';
import type { AdminDeps } from './deps';
import { adminRoute, ok, parseWith } from './http';
import { idSchema, pageParams, routeId } from './ids';

const filters = z.object({
  integrationId: idSchema.optional(),
  entityType: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . -').optional(),
});

export function recordView(r: SyncRecord): Record<string, unknown> {
  return {
    id: r.id,
    integrationId: r.integrationId,
    provider: r.provider,
    entityType: r.entityType,
    externalId: r.externalId,
    updatedAt: r.updatedAt,
    deleted: r.deleted,
    data: r.data,
    syncedAt: r.syncedAt,
  };
}

export const listRecords = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const { limit, continuation } = pageParams(request.query);
  const where = parseWith(
    filters,
    { integrationId: request.query.get('integrationId') ?? undefined, entityType: request.query.get('entityType') ?? undefined },
    'query',
  );
  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  const clean: Record<string, string> = {};
  if (where.integrationId !== undefined) clean.integrationId = where.integrationId;
  if (where.entityType !== undefined) clean.entityType = where.entityType;
  const page = await deps.repos.listRecords(tenantId, clean, limit, continuation);
  return ok({ items: page.items.map(recordView), ...(page.continuation ? { continuation: page.continuation } : {}) });
});
