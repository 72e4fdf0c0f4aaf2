import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { LocalChange } from '../domain/types';
import { InputError } from '../errors';
import { QUEUES } from '../messaging/names';
import type { OutboundJob } from '../messaging/messages';
import { RECORD_SHARDS } from '../storage/names';
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
 * the admin) out of the ordinary path. Every first delivery of an update asks
 * for a pull and waits 30 s anyway (shared/sync/outbound.ts), so this costs nothing.
 */
export const PUSH_SETTLE_MS = 2_000;

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
  if (!deps.providers.get(integration.provider)?.push?.entityTypes.includes(record.entityType)) {
    throw new InputError(409, `${integration.provider} cannot push ${record.entityType}`);
  }
  const local: LocalChange = { data: { ...record.data, ...body.data }, updatedAt: deps.now().toISOString(), op: body.op, idempotencyKey: `edit-${randomUUID()}` };
  const job: OutboundJob = { tenantId, integrationId: integration.id, op: local.op, entityType: record.entityType, recordId: record.id, payload: body.data, idempotencyKey: local.idempotencyKey };
  await queuePush(deps, job);
  const { etag, ...doc } = record;
  // If-Match: a record changed since it was read (or fenced by an early push) is a 409, and nothing is written.
  const stored = await deps.repos.putRecord({ ...doc, local }, etag, shard);
  return ok({ ...recordView(stored), pending: { op: local.op, updatedAt: local.updatedAt } }, 202);
});
