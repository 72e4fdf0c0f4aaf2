/**
 * The operation a push sends: a patch, not the record. Only the fields the
 * local change touched go out (so a field nobody edited is never written
 * back with a stale value), in the provider's shape (through the inverse of
 * the mapping), with the version we last saw for the provider's conditional
 * write or re-read.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Integration, SyncRecord } from '../domain/types';
import type { OutboundJob } from '../messaging/messages';
import type { ProviderDefinition, PushOperation } from '../providers/types';
import { providerPatch } from './push-support';
import { invertData } from './transform';

export type Prepared = { ok: true; operation: PushOperation } | { ok: false; reason: string };

export function preparePush(provider: ProviderDefinition, integration: Integration, job: OutboundJob, record: SyncRecord | undefined): Prepared {
  const canonical = job.op === 'delete' ? {} : changedFields(job, record);
  const checked = providerPatch(provider, integration, job.entityType, job.op, canonical);
  if (!checked.ok) return { ok: false, reason: checked.reason };
  const operation: PushOperation = { op: job.op, entityType: job.entityType, payload: checked.patch, idempotencyKey: job.idempotencyKey };
  if (job.op !== 'create' && record) {
    operation.externalId = record.externalId;
    // The provider's version as we last saw it: the record's data, which a local change never alters (it lives in `local`).
    operation.seen = { updatedAt: record.updatedAt, data: invertData(integration.mappings, job.entityType, record.data) };
  }
  return { ok: true, operation };
}

/**
 * The job's payload is the change's patch. A local change stored before
 * patches were recorded (no `patch`) may carry a whole record (a resolved
 * conflict did): then only the fields that differ from the record's data go out.
 */
function changedFields(job: OutboundJob, record: SyncRecord | undefined): Record<string, unknown> {
  if (job.op === 'create' || !record || record.local?.patch !== undefined) return job.payload;
  return Object.fromEntries(Object.entries(job.payload).filter(([key, value]) => !isDeepStrictEqual(record.data[key], value)));
}
