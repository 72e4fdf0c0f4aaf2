import { contentHash, recordId } from '../domain/ids';
import type { Integration, SyncRecord } from '../domain/types';
import type { OutboundJob } from '../messaging/messages';
import type { PushResult } from '../providers/types';
import type { RecordShard } from '../storage/names';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { shardFor } from './page';

/**
 * Store the outcome of a push on the record: the provider's external id and
 * version, the pushed data as the record's data, and no pending local change.
 * A create lands under the id the next pull will compute from the external id,
 * so the pulled copy updates it instead of duplicating it.
 */
export async function recordAfterPush(
  repos: Repositories,
  integration: Integration,
  job: OutboundJob,
  found: { record: Stored<SyncRecord>; shard: RecordShard } | undefined,
  result: PushResult,
  now: Date,
): Promise<void> {
  const base = found?.record;
  const data = { ...(base?.local?.data ?? base?.data ?? {}), ...job.payload };
  const deleted = job.op === 'delete';
  const id = recordId(integration.tenantId, integration.id, job.entityType, result.externalId);
  const shard = found?.shard ?? shardFor(integration, job.entityType);
  const existing = base && base.id === id ? base : await repos.getRecord(integration.tenantId, id, shard);
  const doc: SyncRecord = {
    id,
    tenantId: integration.tenantId,
    type: 'record',
    integrationId: integration.id,
    provider: integration.provider,
    entityType: job.entityType,
    externalId: result.externalId,
    updatedAt: result.updatedAt ?? now.toISOString(),
    deleted,
    data,
    contentHash: contentHash(data, deleted),
    syncedAt: now.toISOString(),
    lastRunId: existing?.lastRunId ?? 'push',
    ...(result.version === undefined ? {} : { pushedVersion: result.version }),
  };
  await repos.putRecord(doc, existing?.etag, shard);
}
