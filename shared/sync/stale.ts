import type { SyncRun } from '../domain/types';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { SYNC_LOCK_TTL_MS } from './pull';

/**
 * A queued run is due when its message is (resumeAt) or, without one, from
 * its last write. Past this grace nobody is going to pick it up: its message
 * was lost or parked without the run being told. Generous, because a deep
 * queue backlog also delays a message that is still there.
 */
export const QUEUED_GRACE_MS = 30 * 60_000;
/**
 * A running run writes at every page boundary and renews its lease there; a
 * page must finish within the lease. Silence longer than the lease plus a
 * minute means its worker died and the lease has expired.
 */
export const RUNNING_GRACE_MS = SYNC_LOCK_TTL_MS + 60_000;

/** Why a live-looking run is in fact abandoned, or undefined while something is still behind it. */
export function staleReason(run: SyncRun, now: Date): string | undefined {
  if (run.status === 'queued') {
    const due = run.resumeAt ?? run.heartbeatAt ?? run.queuedAt;
    if (now.getTime() - Date.parse(due) > QUEUED_GRACE_MS) return `abandoned: queued, and no worker picked it up by ${new Date(Date.parse(due) + QUEUED_GRACE_MS).toISOString()}`;
  }
  if (run.status === 'running') {
    const last = run.heartbeatAt ?? run.startedAt ?? run.queuedAt;
    if (now.getTime() - Date.parse(last) > RUNNING_GRACE_MS) return `abandoned: its worker stopped (no progress since ${last})`;
  }
  return undefined;
}

/**
 * Check on read: runs that are `queued`/`running` with nothing behind them are
 * marked failed with the reason (ETag-guarded, so a worker that is in fact
 * writing wins). A new run is never blocked by one.
 */
export async function reapStale(repos: Repositories, runs: readonly Stored<SyncRun>[], now: Date): Promise<Stored<SyncRun>[]> {
  return Promise.all(
    runs.map(async (run) => {
      const reason = staleReason(run, now);
      if (reason === undefined) return run;
      const { etag, ...doc } = run;
      const phases = doc.phases.map((p) => (p.status === 'running' ? { ...p, status: 'failed' as const, finishedAt: now.toISOString() } : p));
      try {
        return await repos.putRun({ ...doc, status: 'failed', phases, finishedAt: now.toISOString(), error: reason }, etag);
      } catch (error) {
        if (error instanceof ConcurrencyError) return (await repos.getRun(run.tenantId, run.id)) ?? run;
        throw error;
      }
    }),
  );
}
