import { contentHash, recordId } from '../domain/ids';
import type { Conflict, Integration, InvalidRecordReport, RunCounts, StagedDelete, SyncRecord } from '../domain/types';
import { RetryableError } from '../errors';
import type { NormalizedRecord } from '../providers/types';
import { CONTAINERS, isRecordShard, type RecordShard } from '../storage/names';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { mapLimit } from './concurrency';
import { decideConflict } from './conflicts';
import type { RunTracker } from './runs';
import { transformRecord } from './transform';

/** Parallel reads/writes per page: enough to hide Cosmos latency, small enough for its RU budget. */
export const IO_CONCURRENCY = 16;

export function shardFor(integration: Integration, entityType: string): RecordShard {
  const mapped = integration.shardMap?.[entityType];
  return mapped !== undefined && isRecordShard(mapped) ? mapped : CONTAINERS.records;
}

interface Candidate {
  id: string;
  shard: RecordShard;
  record: NormalizedRecord;
  data: Record<string, unknown>;
  hash: string;
  existing?: Stored<SyncRecord>;
}

type Delta = Partial<RunCounts>;

/**
 * One page through transform → validate → dedupe → shard → conflicts →
 * persist. Deletions are not applied here: they are returned, for the caller
 * to stage durably and apply when the run completes (sync/deletions.ts says
 * why), and counted only then. Re-running a page changes nothing: ids are
 * deterministic and unchanged content is not rewritten.
 */
export async function processPage(repos: Repositories, integration: Integration, records: readonly NormalizedRecord[], run: RunTracker, now: () => Date): Promise<StagedDelete[]> {
  const delta: Delta = { fetched: records.length };
  await run.enter('transforming', now());
  const transformed = records.map((record) => ({ record, result: transformRecord(integration.mappings, record.entityType, record.data) }));

  await run.enter('validating', now());
  const invalid: InvalidRecordReport[] = [];
  const valid: { record: NormalizedRecord; data: Record<string, unknown> }[] = [];
  for (const { record, result } of transformed) {
    if (result.ok) valid.push({ record, data: result.data });
    else invalid.push({ entityType: record.entityType, externalId: record.externalId, reason: result.reason });
  }
  delta.invalid = invalid.length;

  await run.enter('deduplicating', now());
  const byId = new Map<string, Candidate>();
  for (const { record, data } of valid) {
    const id = recordId(integration.tenantId, integration.id, record.entityType, record.externalId);
    const seen = byId.get(id);
    // Duplicates inside one page collapse to the newest version.
    if (!seen || seen.record.updatedAt <= record.updatedAt) {
      byId.set(id, { id, shard: shardFor(integration, record.entityType), record, data, hash: contentHash(data, record.deleted) });
    }
  }
  const candidates = [...byId.values()];
  await mapLimit(candidates, IO_CONCURRENCY, async (c) => {
    const existing = await repos.getRecord(integration.tenantId, c.id, c.shard);
    if (existing) c.existing = existing;
  });
  const touched: Candidate[] = [];
  const changed = candidates.filter((c) => {
    // Same content, or an older provider version than the stored one (overlapping windows, reordering).
    const same = c.existing !== undefined && (c.existing.contentHash === c.hash || c.existing.updatedAt > c.record.updatedAt);
    if (same) delta.unchanged = (delta.unchanged ?? 0) + 1;
    if (same && isNewerLiveVersion(c)) touched.push(c);
    return !same;
  });

  await run.enter('sharding', now());
  const deletes = changed.filter((c) => c.record.deleted);
  const writes = changed.filter((c) => !c.record.deleted);
  const staged = deletes.filter((c) => c.existing !== undefined && !c.existing.deleted).map((c) => ({ shard: c.shard, id: c.id, updatedAt: c.record.updatedAt }));
  // A tombstone for a record we never stored, or already deleted, changes nothing.
  delta.unchanged = (delta.unchanged ?? 0) + deletes.length - staged.length;

  await run.enter('resolving_conflicts', now());
  const toWrite: { c: Candidate; keepLocal: boolean }[] = [];
  for (const c of writes) {
    const local = c.existing?.local;
    if (!local) {
      toWrite.push({ c, keepLocal: false });
      continue;
    }
    delta.conflicts = (delta.conflicts ?? 0) + 1;
    const decision = decideConflict(integration.conflictStrategy, local, c.record.updatedAt);
    if (decision === 'manual') await parkConflict(repos, integration, c, now());
    else toWrite.push({ c, keepLocal: decision === 'local' });
  }

  await run.enter('persisting', now());
  await mapLimit(toWrite, IO_CONCURRENCY, async ({ c, keepLocal }) => {
    await writeRecord(repos, integration, c, keepLocal, run.id, now());
    if (c.existing) delta.updated = (delta.updated ?? 0) + 1;
    else delta.created = (delta.created ?? 0) + 1;
  });
  await mapLimit(touched, IO_CONCURRENCY, async (c) => {
    if (c.existing) await guardedPut(repos, { ...withoutEtag(c.existing), updatedAt: c.record.updatedAt, syncedAt: now().toISOString(), lastRunId: run.id }, c.existing.etag, c.shard);
  });
  run.add(delta, invalid);
  return staged;
}

async function writeRecord(repos: Repositories, integration: Integration, c: Candidate, keepLocal: boolean, runId: string, now: Date): Promise<void> {
  const doc: SyncRecord = {
    id: c.id,
    tenantId: integration.tenantId,
    type: 'record',
    integrationId: integration.id,
    provider: integration.provider,
    entityType: c.record.entityType,
    externalId: c.record.externalId,
    updatedAt: c.record.updatedAt,
    deleted: false,
    data: c.data,
    contentHash: c.hash,
    syncedAt: now.toISOString(),
    lastRunId: runId,
    ...(keepLocal && c.existing?.local ? { local: c.existing.local } : {}),
    ...(c.existing?.pushedVersion === undefined ? {} : { pushedVersion: c.existing.pushedVersion }),
  };
  await guardedPut(repos, doc, c.existing?.etag, c.shard);
}

/**
 * The provider's version is newer but its content is what we hold (a restore
 * to the same content, a touch): the stored record takes the newer time and
 * nothing else. A deletion staged earlier in the run for an older version is
 * then superseded when the run applies it (sync/deletions.ts), as the listing
 * says it should be. A record with a pending local change is left alone: its
 * push compares versions of its own.
 */
function isNewerLiveVersion(c: Candidate): boolean {
  const e = c.existing;
  return e !== undefined && !e.deleted && !c.record.deleted && e.local === undefined && e.contentHash === c.hash && c.record.updatedAt > e.updatedAt;
}

function withoutEtag(record: Stored<SyncRecord>): SyncRecord {
  const { etag: _etag, ...doc } = record;
  return doc;
}

async function guardedPut(repos: Repositories, doc: SyncRecord, etag: string | undefined, shard: RecordShard): Promise<void> {
  try {
    await repos.putRecord(doc, etag, shard);
  } catch (error) {
    // Another writer (a push, an admin edit) got there first: redelivery re-reads and decides again.
    if (error instanceof ConcurrencyError) throw new RetryableError(`Record ${doc.id} changed concurrently`, { cause: error });
    throw error;
  }
}

async function parkConflict(repos: Repositories, integration: Integration, c: Candidate, now: Date): Promise<void> {
  const local = c.existing?.local;
  if (!local) return;
  const existing = await repos.getConflict(integration.tenantId, c.id);
  const conflict: Conflict = {
    id: c.id,
    tenantId: integration.tenantId,
    type: 'conflict',
    integrationId: integration.id,
    recordId: c.id,
    shard: c.shard,
    entityType: c.record.entityType,
    externalId: c.record.externalId,
    status: 'open',
    local,
    provider: { data: c.data, updatedAt: c.record.updatedAt, deleted: c.record.deleted, contentHash: c.hash },
    createdAt: existing?.status === 'open' ? existing.createdAt : now.toISOString(),
  };
  await repos.putConflict(conflict);
}
