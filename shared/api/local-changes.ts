import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { LocalChange, SyncRecord } from '../domain/types';
import { InputError } from '../errors';
import { QUEUES } from '../messaging/names';
import type { OutboundJob } from '../messaging/messages';
import { RECORD_SHARDS } from '../storage/names';
import { canPush, providerPatch } from '../sync/push-support';
import type { AdminDeps } from './deps';
import { adminRoute, ok, readJson } from './http';
import { routeId } from './ids';
import { recordView } from './records';

const change = z.strictObject({
  op: z.enum(['update', 'delete']).default('update'),
  data: z.record(z.string(), z.unknown()).default({}),
});

/**
 * How long a queued push waits before its first delivery. The push is queued
 * before the record is written (below), and the worker fences off a write it
 * does not see yet; the wait only keeps that race (and the 409 it would give
 * the admin) out of the ordinary path. The write is one store round trip, so
 * a quarter second covers it while keeping an edit's way to the provider
 * short (bench `push.latencyMs`: p50 ≤ 2 s).
 */
export const PUSH_SETTLE_MS = 250;

/**
 * Queue the push of a local change, before the record is written with it.
 * The queue first, the write second, so that the two succeed or fail together:
 * - the send fails → nothing was written: 5xx, nothing changed;
 * - the write fails (ETag moved, store down) → the queued push finds a record
 *   without its idempotency key and is dropped as superseded; the worker first
 *   rewrites the record (shared/sync/outbound-fence.ts), so a write still in
 *   flight cannot land after that and leave a change nobody will push.
 * The other order (write, then send) leaves a pending change that is never
 * pushed whenever the send fails, and rolling it back can fail too.
 */
export async function queuePush(deps: Pick<AdminDeps, 'queue' | 'now'>, job: OutboundJob): Promise<void> {
  await deps.queue.send(QUEUES.syncOutbound, {
    messageId: job.idempotencyKey,
    body: job,
    scheduledEnqueueTime: new Date(deps.now().getTime() + PUSH_SETTLE_MS),
    applicationProperties: { tenantId: job.tenantId, op: job.op },
  });
}

/**
 * An admin edits a synced record: the change is kept on the record as a
 * pending local change and queued for the provider. Until it is pushed, a
 * provider change to the same record is a conflict (the integration's strategy decides).
 * A 202 means both happened; any error means the record is as it was.
 */
export const patchRecord = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const recordId = z.string().regex(/^[a-f0-9]{40}$/).safeParse(request.params.recordId);
  if (!recordId.success) throw new InputError(400, 'recordId: not a record id');
  const body = await readJson(request, change);
  let found;
  for (const shard of RECORD_SHARDS) {
    const record = await deps.repos.getRecord(tenantId, recordId.data, shard);
    if (record) {
      found = { record, shard };
      break;
    }
  }
  if (!found) throw new InputError(404, 'Record not found');
  const { record, shard } = found;
  const integration = await deps.repos.getIntegration(tenantId, record.integrationId);
  if (!integration) throw new InputError(404, 'The record\'s integration no longer exists');
  const provider = deps.providers.get(integration.provider);
  if (!provider || !canPush(provider, integration, record.entityType)) {
    throw new InputError(409, `${integration.provider} cannot push ${record.entityType}`);
  }
  const local = nextLocalChange(record, body, deps.now());
  // A field the provider cannot write (or a mapped field with no way back) is refused now, not pushed as nothing later.
  const checked = providerPatch(provider, integration, record.entityType, local.op, local.patch);
  if (!checked.ok) throw new InputError(400, `data.${checked.reason}`);
  const job: OutboundJob = { tenantId, integrationId: integration.id, op: local.op, entityType: record.entityType, recordId: record.id, payload: local.patch, idempotencyKey: local.idempotencyKey };
  await queuePush(deps, job);
  const { etag, ...doc } = record;
  // If-Match: a record changed since it was read (or fenced by an early push) is a 409, and nothing is written.
  const stored = await deps.repos.putRecord({ ...doc, local }, etag, shard);
  return ok({ ...recordView(stored), pending: { op: local.op, updatedAt: local.updatedAt } }, 202);
});

/**
 * The record's pending change after this edit. Edits accumulate until a push
 * lands: a second edit before the first is pushed keeps the first one's
 * fields (its push is superseded by this one's, which sends both). Plain
 * objects merge field by field (a Notion `properties` edit keeps the other
 * properties); any other value replaces.
 */
export function nextLocalChange(record: SyncRecord, body: { op: 'update' | 'delete'; data: Record<string, unknown> }, now: Date): LocalChange & { patch: Record<string, unknown> } {
  const pending = record.local?.op === 'update' ? record.local : undefined;
  const base = { updatedAt: now.toISOString(), idempotencyKey: `edit-${randomUUID()}` };
  if (body.op === 'delete') return { ...base, op: 'delete', data: pending?.data ?? record.data, patch: {} };
  return {
    ...base,
    op: 'update',
    data: mergePatch(pending?.data ?? record.data, body.data),
    patch: mergePatch(pending?.patch ?? {}, body.data),
  };
}

/** `patch` over `base`: plain objects merge recursively, anything else replaces. */
export function mergePatch(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const before = out[key];
    out[key] = isPlainObject(value) && isPlainObject(before) ? mergePatch(before, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
