import { z } from 'zod';
import type { SyncRecord } from '../domain/types';
import { RECORD_SHARDS } from '../storage/names';
import type { Stored } from '../storage/port';
import { InputError } from '../errors';
import { parseJson } from '../http/json';
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
    pending: r.local ? { op: r.local.op, data: r.local.data, fields: r.local.patch ? Object.keys(r.local.patch) : null, updatedAt: r.local.updatedAt } : null,
    pushedVersion: r.pushedVersion ?? null,
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
  const page = await listAcrossShards(deps, tenantId, clean, limit, continuation);
  return ok({ items: page.items.map(recordView), ...(page.continuation ? { continuation: page.continuation } : {}) });
});

const shardToken = z.object({ s: z.number().int().min(0), c: z.string().optional() });

/**
 * Records live in several shards (containers). A listing walks them in a
 * fixed order; its continuation names the shard and that shard's own token.
 */
async function listAcrossShards(deps: AdminDeps, tenantId: string, where: Record<string, string>, limit: number, continuation: string | undefined): Promise<{ items: Stored<SyncRecord>[]; continuation?: string }> {
  let position = { s: 0 } as z.infer<typeof shardToken>;
  if (continuation !== undefined) {
    const parsed = shardToken.safeParse(decodeToken(continuation));
    if (!parsed.success || parsed.data.s >= RECORD_SHARDS.length) throw new InputError(400, 'continuation: not a token this listing issued');
    position = parsed.data;
  }
  const items: Stored<SyncRecord>[] = [];
  for (let s = position.s; s < RECORD_SHARDS.length; s++) {
    const shard = RECORD_SHARDS[s] ?? RECORD_SHARDS[0];
    let inner = s === position.s ? position.c : undefined;
    do {
      const page = await deps.repos.listRecords(tenantId, where, limit - items.length, inner, shard);
      items.push(...page.items);
      inner = page.continuation;
      if (items.length >= limit) {
        const next = inner !== undefined ? { s, c: inner } : s + 1 < RECORD_SHARDS.length ? { s: s + 1 } : undefined;
        return { items, ...(next ? { continuation: encodeToken(next) } : {}) };
      }
    } while (inner !== undefined);
  }
  return { items };
}

function encodeToken(token: z.infer<typeof shardToken>): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): unknown {
  try {
    // A continuation comes from the caller: the same bounded parser as any body.
    return parseJson(Buffer.from(text, 'base64url'));
  } catch {
    return undefined;
  }
}
