import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { contentHash } from '../domain/ids';
import type { Conflict, LocalChange } from '../domain/types';
import { InputError } from '../errors';
import { isRecordShard } from '../storage/names';
import type { AdminDeps } from './deps';
import { adminRoute, ok, parseWith, readJson } from './http';
import { idSchema, pageParams, routeId } from './ids';
import { mergePatch, queuePush } from './local-changes';

const resolution = z.union([
  z.strictObject({ pick: z.enum(['local', 'provider']) }),
  z.strictObject({ merge: z.record(z.string().min(1).max(64), z.enum(['local', 'provider'])).refine((m) => Object.keys(m).length > 0, 'name at least one field') }),
]);

export function conflictView(c: Conflict): Record<string, unknown> {
  return {
    id: c.id,
    integrationId: c.integrationId,
    recordId: c.recordId,
    entityType: c.entityType,
    externalId: c.externalId,
    status: c.status,
    local: { data: c.local.data, updatedAt: c.local.updatedAt, op: c.local.op },
    provider: { data: c.provider.data, updatedAt: c.provider.updatedAt, deleted: c.provider.deleted },
    createdAt: c.createdAt,
    resolvedAt: c.resolvedAt ?? null,
    resolution: c.resolution ?? null,
  };
}

export const listConflicts = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const { limit, continuation } = pageParams(request.query);
  const filters = parseWith(
    z.object({ integrationId: idSchema.optional(), status: z.enum(['open', 'resolved']).optional() }),
    { integrationId: request.query.get('integrationId') ?? undefined, status: request.query.get('status') ?? undefined },
    'query',
  );
  // An unknown tenant is a 404, as for records: an empty list would pass for "none yet".
  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  const where: Record<string, string> = {};
  if (filters.integrationId !== undefined) where.integrationId = filters.integrationId;
  if (filters.status !== undefined) where.status = filters.status;
  const page = await deps.repos.listConflicts(tenantId, where, limit, continuation);
  return ok({ items: page.items.map(conflictView), ...(page.continuation ? { continuation: page.continuation } : {}) });
});

/**
 * Resolve a manual conflict: take the provider's version, keep the local one
 * (it is pushed), or merge field by field (the merge is pushed). The record and
 * the conflict are written with ETags, so two admins cannot both resolve it.
 */
export const resolveConflict = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const conflictId = z.string().regex(/^[a-f0-9]{40}$/).safeParse(request.params.conflictId);
  if (!conflictId.success) throw new InputError(400, 'conflictId: not a conflict id');
  const body = await readJson(request, resolution);
  const conflict = await deps.repos.getConflict(tenantId, conflictId.data);
  if (!conflict) throw new InputError(404, 'Conflict not found');
  if (conflict.status !== 'open') throw new InputError(409, 'Conflict is already resolved');
  if (!isRecordShard(conflict.shard)) throw new InputError(409, 'Conflict points at an unknown shard');
  const record = await deps.repos.getRecord(tenantId, conflict.recordId, conflict.shard);
  if (!record) throw new InputError(404, 'The conflicting record no longer exists');

  const now = deps.now().toISOString();
  const { etag, local: _local, ...doc } = record;
  const providerSide = { ...doc, data: conflict.provider.data, updatedAt: conflict.provider.updatedAt, deleted: conflict.provider.deleted, contentHash: conflict.provider.contentHash, syncedAt: now };
  let push: LocalChange | undefined;
  if ('pick' in body && body.pick === 'local') {
    // Only what the admin edited goes out: fields the provider changed meanwhile are not reverted.
    const patch = conflict.local.op === 'update' ? editedFields(conflict.local, record.data) : {};
    if (conflict.local.op !== 'update' || Object.keys(patch).length > 0) {
      push = { ...conflict.local, data: mergePatch(conflict.provider.data, patch), patch, updatedAt: now, idempotencyKey: `resolve-${randomUUID()}` };
    }
  } else if ('merge' in body) {
    const pickFrom = (field: string): Record<string, unknown> => (body.merge[field] === 'local' ? conflict.local.data : conflict.provider.data);
    const fields = new Set([...Object.keys(conflict.provider.data), ...Object.keys(body.merge)]);
    // Each named field comes from its chosen side (absent there → absent here); the rest from the provider.
    const merged = Object.fromEntries([...fields].filter((f) => Object.hasOwn(pickFrom(f), f)).map((f) => [f, pickFrom(f)[f]]));
    // The push is a patch of the fields taken from the local side: the provider holds the rest already.
    const patch = Object.fromEntries(Object.keys(body.merge).filter((f) => body.merge[f] === 'local' && Object.hasOwn(conflict.local.data, f)).map((f) => [f, conflict.local.data[f]]));
    if (Object.keys(patch).length > 0) push = { data: merged, patch, updatedAt: now, op: 'update', idempotencyKey: `resolve-${randomUUID()}` };
  }
  // The push (if any) is queued before anything is written, as for an edit (see queuePush): a failed
  // send changes nothing, and a push whose record write failed finds no change of its own and is dropped.
  if (push) {
    await queuePush(deps, {
      tenantId,
      integrationId: conflict.integrationId,
      op: push.op,
      entityType: conflict.entityType,
      recordId: conflict.recordId,
      payload: push.patch ?? {},
      idempotencyKey: push.idempotencyKey,
    });
  }
  // The record takes the provider's version now; a chosen local or merged version is pushed and lands when it succeeds.
  await deps.repos.putRecord({ ...providerSide, contentHash: contentHash(providerSide.data, providerSide.deleted), ...(push ? { local: push } : {}) }, etag, conflict.shard);
  const { etag: conflictEtag, ...conflictDoc } = conflict;
  await deps.repos.putConflict({ ...conflictDoc, status: 'resolved', resolvedAt: now, resolution: 'pick' in body ? body.pick : 'merge' }, conflictEtag);
  return ok({ id: conflict.id, status: 'resolved', resolution: 'pick' in body ? body.pick : 'merge', pushQueued: push !== undefined });
});

/**
 * The fields the admin's change touched: its recorded patch, or for a change
 * stored before patches were recorded, the fields where it differs from the
 * record it was made on (the record a manual conflict leaves as it was).
 */
function editedFields(local: LocalChange, before: Record<string, unknown>): Record<string, unknown> {
  if (local.patch !== undefined) return local.patch;
  return Object.fromEntries(Object.entries(local.data).filter(([key, value]) => !isDeepStrictEqual(before[key], value)));
}
