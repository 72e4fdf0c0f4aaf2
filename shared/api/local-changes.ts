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
 * An admin edits a synced record: the change is kept on the record as a
 * pending local change and queued for the provider. Until it is pushed, a
 * provider change to the same record is a conflict (the integration's strategy decides).
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
  const { etag, ...doc } = record;
  const stored = await deps.repos.putRecord({ ...doc, local }, etag, shard);
  const job: OutboundJob = { tenantId, integrationId: integration.id, op: local.op, entityType: record.entityType, recordId: record.id, payload: body.data, idempotencyKey: local.idempotencyKey };
  await deps.queue.send(QUEUES.syncOutbound, { messageId: local.idempotencyKey, body: job, applicationProperties: { tenantId, op: local.op } });
  return ok({ ...recordView(stored), pending: { op: local.op, updatedAt: local.updatedAt } }, 202);
});
