import { contentHash, recordId } from '../domain/ids';
import type { Integration, RunCounts, SyncRecord } from '../domain/types';
import { RetryableError } from '../errors';
import type { NormalizedRecord } from '../providers/types';
import { ConcurrencyError } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { mapLimit } from './concurrency';

/** Parallel writes per page: enough to hide Cosmos latency, small enough to stay under its RU budget. */
const WRITE_CONCURRENCY = 16;

/**
 * Writes one page of records. Ids are deterministic and a record whose content
 * hash is unchanged is not rewritten, so re-running a page (redelivery, resume
 * from checkpoint, overlapping windows) changes nothing.
 */
export async function persistPage(
  repos: Repositories,
  integration: Integration,
  records: readonly NormalizedRecord[],
  runId: string,
  now: Date,
): Promise<Omit<RunCounts, 'fetched'>> {
  const counts = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
  // Duplicates inside one page collapse to the newest version.
  const byId = new Map<string, NormalizedRecord>();
  for (const r of records) {
    const id = recordId(integration.tenantId, integration.id, r.entityType, r.externalId);
    const seen = byId.get(id);
    if (!seen || seen.updatedAt <= r.updatedAt) byId.set(id, r);
  }
  await mapLimit([...byId.entries()], WRITE_CONCURRENCY, async ([id, r]) => {
    const outcome = await writeRecord(repos, integration, id, r, runId, now);
    counts[outcome]++;
  });
  return counts;
}

async function writeRecord(
  repos: Repositories,
  integration: Integration,
  id: string,
  r: NormalizedRecord,
  runId: string,
  now: Date,
): Promise<'created' | 'updated' | 'unchanged' | 'deleted'> {
  const hash = contentHash(r.data, r.deleted);
  const existing = await repos.getRecord(integration.tenantId, id);
  if (existing?.contentHash === hash) return 'unchanged';
  // An older provider version never overwrites a newer stored one (out-of-order pages or windows).
  if (existing && existing.updatedAt > r.updatedAt) return 'unchanged';
  const doc: SyncRecord = {
    id,
    tenantId: integration.tenantId,
    type: 'record',
    integrationId: integration.id,
    provider: integration.provider,
    entityType: r.entityType,
    externalId: r.externalId,
    updatedAt: r.updatedAt,
    deleted: r.deleted,
    data: r.data,
    contentHash: hash,
    syncedAt: now.toISOString(),
    lastRunId: runId,
  };
  try {
    await repos.putRecord(doc, existing?.etag);
  } catch (error) {
    if (error instanceof ConcurrencyError) throw new RetryableError(`Record ${id} changed concurrently`, { cause: error });
    throw error;
  }
  if (r.deleted && !existing?.deleted) return 'deleted';
  return existing ? 'updated' : 'created';
}
