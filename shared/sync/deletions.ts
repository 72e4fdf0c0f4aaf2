/**
 * Deletions a pull run has seen, from the page that carried them to the record.
 *
 * Why staged, not applied with their page. A tombstone is the provider's word
 * at the moment its page was read, and the listing goes on: a later page of the
 * same run can carry a newer version of the same object (restored from the
 * trash, a Drive change log that removes and re-adds a file). A run that has
 * read only part of the listing must not delete what the whole listing would
 * still show, so a run applies its deletions when it has read to the end, and
 * skips any that a newer stored version supersedes.
 *
 * Why durable. The cursor moves page by page, so a deletion held only in
 * memory (or dropped when a run fails or is cancelled) is lost for good: the
 * next incremental run starts after its page. So:
 *  1. A page's staged deletions are written to chunk documents (at most
 *     MAX_DELETES_PER_CHUNK each, so 100k deletions never make one giant item;
 *     Cosmos items are ≤ 2 MB) before the run's checkpoint records the page.
 *     The checkpoint, the counts and the chunk count are one run document write.
 *  2. The integration's cursor — where the next run starts — moves past a page
 *     only while the run holds no unapplied deletion. From the first one on,
 *     only the run's own checkpoint advances (its retries and continuations
 *     resume there), and the integration's cursor moves to the end once the
 *     run has applied them all. A run that fails, is cancelled or is abandoned
 *     leaves the integration's cursor before its first deletion: the next run
 *     reads those pages again and applies what it then sees. Nothing is
 *     carried between runs, so nothing can be applied twice or against a
 *     listing that has since changed.
 *  3. Completing, chunks are applied in order; each chunk's count and the
 *     progress marker are one run write, and every deleted record names the
 *     chunk that deleted it (`deletedBy`), so a chunk redone after a crash
 *     counts what it had already applied exactly once. `counts.deleted` is
 *     what was applied, never what was seen.
 */
import { contentHash } from '../domain/ids';
import type { Integration, StagedDelete } from '../domain/types';
import { RetryableError } from '../errors';
import { isRecordShard } from '../storage/names';
import { ConcurrencyError } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { mapLimit } from './concurrency';
import { IO_CONCURRENCY } from './page';
import type { RunTracker } from './runs';

/** About 130 bytes an entry: a chunk stays near 130 KB, far below Cosmos's 2 MB item limit. */
export const MAX_DELETES_PER_CHUNK = 1000;

/** Writes `staged` as chunks numbered from `firstSeq`; returns the run's chunk count after them. */
export async function stageDeletes(repos: Repositories, run: { tenantId: string; runId: string }, firstSeq: number, staged: readonly StagedDelete[]): Promise<number> {
  let seq = firstSeq;
  for (let i = 0; i < staged.length; i += MAX_DELETES_PER_CHUNK) {
    await repos.putStagedDeletes({ tenantId: run.tenantId, runId: run.runId, seq, deletes: staged.slice(i, i + MAX_DELETES_PER_CHUNK) });
    seq++;
  }
  return seq;
}

/**
 * Soft-delete each staged record unless it is gone, superseded by a newer
 * stored version, or already deleted. `tag` names the chunk; a record this
 * chunk already deleted (a retry after a crash) is reported again, once per
 * chunk. `onApplied` is called for every deletion that counts.
 */
export async function applyDeletes(
  repos: Repositories,
  integration: Integration,
  deletes: readonly StagedDelete[],
  tag: string,
  runId: string,
  now: Date,
  onApplied: () => void,
): Promise<void> {
  await mapLimit(deletes, IO_CONCURRENCY, async ({ shard, id, updatedAt }) => {
    if (!isRecordShard(shard)) return;
    const existing = await repos.getRecord(integration.tenantId, id, shard);
    if (!existing) return;
    if (existing.deleted) {
      if (existing.deletedBy === tag) onApplied();
      return;
    }
    if (updatedAt !== undefined && existing.updatedAt > updatedAt) return;
    const { etag, ...doc } = existing;
    try {
      await repos.putRecord({ ...doc, deleted: true, contentHash: contentHash(doc.data, true), syncedAt: now.toISOString(), lastRunId: runId, deletedBy: tag }, etag, shard);
    } catch (error) {
      // Another writer (a push, an admin edit) got there first: the retry re-reads and decides again.
      if (error instanceof ConcurrencyError) throw new RetryableError(`Record ${id} changed concurrently`, { cause: error });
      throw error;
    }
    onApplied();
  });
}

/**
 * Applies the run's staged deletions from where it left off: the legacy list
 * on the run document first, then each chunk. After every chunk the progress
 * and count are written and `between` is asked whether to go on (it renews
 * the lease and checks the time budget). False when paused before the end.
 */
export async function applyStagedChunks(
  repos: Repositories,
  integration: Integration,
  run: RunTracker,
  now: () => Date,
  between: () => Promise<boolean>,
): Promise<boolean> {
  if (run.legacyStagedDeletes.length > 0) {
    await applyDeletes(repos, integration, run.legacyStagedDeletes, `${run.id}#legacy`, run.id, now(), () => { run.noteDeleted(); });
    run.deletesApplied({ clearLegacy: true });
    await run.flush(true);
  }
  for (let seq = run.deleteChunksApplied; seq < run.deleteChunks; seq++) {
    const chunk = await repos.getStagedDeletes(integration.tenantId, run.id, seq);
    // A chunk is written before the run counts it, so it is there unless someone removed it by hand.
    if (chunk) await applyDeletes(repos, integration, chunk.deletes, `${run.id}#${seq}`, run.id, now(), () => { run.noteDeleted(); });
    run.deletesApplied({ chunks: seq + 1 });
    await run.flush(true);
    if (seq + 1 < run.deleteChunks && !(await between())) return false;
  }
  return true;
}

/** A finished run's chunks are of no further use (a failed or cancelled run's deletions are read again by the next run). */
export async function dropStagedChunks(repos: Repositories, tenantId: string, runId: string, chunks: number): Promise<void> {
  const seqs = Array.from({ length: chunks }, (_, i) => i);
  await mapLimit(seqs, IO_CONCURRENCY, async (seq) => {
    await repos.deleteStagedDeletes(tenantId, runId, seq);
  });
}
