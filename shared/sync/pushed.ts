import { contentHash, recordId } from '../domain/ids';
import type { Integration, SyncRecord } from '../domain/types';
import type { OutboundJob } from '../messaging/messages';
import type { PushResult } from '../providers/types';
import type { RecordShard } from '../storage/names';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { shardFor } from './page';
import { transformRecord } from './transform';

/** Writes that lose an ETag race re-read and try again this many times before the failure goes to the retry path. */
const WRITE_ATTEMPTS = 3;

/**
 * Store the outcome of a push on the record: the provider's external id and
 * version (`pushedVersion`), and its data after the write — the provider's
 * own record when the write answered with one (through the mapping, so the
 * next pull finds it unchanged and the next conditional write compares with
 * what the provider holds), else the local change's data. The pushed change
 * stops being pending; a newer edit made meanwhile stays pending (its own
 * push sends its patch). A create lands under the id the next pull will
 * compute from the external id, so the pulled copy updates it instead of
 * duplicating it.
 */
export async function recordAfterPush(
  repos: Repositories,
  integration: Integration,
  job: OutboundJob,
  found: { record: Stored<SyncRecord>; shard: RecordShard } | undefined,
  result: PushResult,
  now: Date,
): Promise<void> {
  const id = recordId(integration.tenantId, integration.id, job.entityType, result.externalId);
  const shard = found?.shard ?? shardFor(integration, job.entityType);
  let current = found && found.record.id === id ? found.record : await repos.getRecord(integration.tenantId, id, shard);
  for (let attempt = 1; ; attempt++) {
    try {
      await repos.putRecord(afterPush(integration, job, found?.record ?? current, current, result, now), current?.etag, shard);
      return;
    } catch (error) {
      // A pull or an admin edit wrote the record meanwhile: build on what it holds now.
      if (!(error instanceof ConcurrencyError) || attempt >= WRITE_ATTEMPTS) throw error;
      current = await repos.getRecord(integration.tenantId, id, shard);
    }
  }
}

function afterPush(integration: Integration, job: OutboundJob, base: SyncRecord | undefined, current: SyncRecord | undefined, result: PushResult, now: Date): SyncRecord {
  const deleted = job.op === 'delete';
  const providerData = result.record && !deleted ? transformRecord(integration.mappings, job.entityType, result.record.data) : undefined;
  const data = providerData?.ok === true ? providerData.data : (base?.local?.data ?? { ...(base?.data ?? {}), ...job.payload });
  // Only a newer change than the one pushed stays pending.
  const newer = current?.local && current.local.idempotencyKey !== job.idempotencyKey ? current.local : undefined;
  return {
    id: recordId(integration.tenantId, integration.id, job.entityType, result.externalId),
    tenantId: integration.tenantId,
    type: 'record',
    integrationId: integration.id,
    provider: integration.provider,
    entityType: job.entityType,
    externalId: result.externalId,
    updatedAt: result.record?.updatedAt ?? result.updatedAt ?? now.toISOString(),
    deleted,
    data,
    contentHash: contentHash(data, deleted),
    syncedAt: now.toISOString(),
    lastRunId: current?.lastRunId ?? 'push',
    ...(newer ? { local: newer } : {}),
    ...(result.version === undefined ? (current?.pushedVersion === undefined ? {} : { pushedVersion: current.pushedVersion }) : { pushedVersion: result.version }),
  };
}
