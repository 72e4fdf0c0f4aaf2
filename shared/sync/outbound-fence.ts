import type { SyncRecord } from '../domain/types';
import type { OutboundJob } from '../messaging/messages';
import type { RecordShard } from '../storage/names';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';

export interface FoundRecord {
  record: Stored<SyncRecord>;
  shard: RecordShard;
}

/**
 * The admin API queues a push before it writes the local change onto the
 * record (shared/api/local-changes.ts `queuePush`), so that a failed send
 * leaves nothing behind. A push can therefore meet a record that does not hold
 * its change (yet): the write may still be in flight, or it failed and never
 * will land. Dropping the push then is right only if the write can no longer
 * land, so the record is rewritten unchanged first: its ETag moves, and the
 * API's write (If-Match on the ETag it read before sending) fails with a 409,
 * so the admin's edit is refused instead of left pending with no push behind it.
 *
 * Returns the record when it turns out to hold the change after all (the
 * write landed between the read and the fence), undefined when the push is
 * superseded. Only a push's first delivery needs this: retries and
 * deferrals are sent by the worker after it saw its change on the record.
 */
export async function fenceUnwrittenChange(repos: Repositories, found: FoundRecord, job: OutboundJob): Promise<FoundRecord | undefined> {
  if (job.attempt !== undefined || job.deferrals !== undefined || job.waits !== undefined) return undefined;
  const { etag, ...doc } = found.record;
  try {
    await repos.putRecord(doc, etag, found.shard);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    // Changed since the read: by the awaited write (it holds the change) or by anything else (which fences it as well).
    const again = await repos.getRecord(found.record.tenantId, found.record.id, found.shard);
    return again?.local?.idempotencyKey === job.idempotencyKey ? { record: again, shard: found.shard } : undefined;
  }
}
