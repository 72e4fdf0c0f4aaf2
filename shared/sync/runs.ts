import type { InvalidRecordReport, PhaseName, RunCounts, RunTrigger, SyncCheckpoint, SyncRun } from '../domain/types';
import { emptyCounts, PHASES } from '../domain/types';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';

/** Invalid records kept on the run with their reasons; the count keeps going past it. */
export const MAX_INVALID_REPORTS = 50;
/** A live run is written at most this often between page boundaries (phase changes are frequent). */
const LIVE_WRITE_INTERVAL_MS = 250;

export function newRun(ids: { tenantId: string; integrationId: string; runId: string }, trigger: RunTrigger, now: Date, full = false): SyncRun {
  return {
    id: ids.runId,
    tenantId: ids.tenantId,
    type: 'run',
    integrationId: ids.integrationId,
    status: 'queued',
    trigger,
    ...(full ? { full: true } : {}),
    phase: 'queued',
    phases: PHASES.map((name) => (name === 'queued' ? { name, status: 'done', startedAt: now.toISOString(), finishedAt: now.toISOString() } : { name, status: 'pending' })),
    counts: emptyCounts(),
    invalid: [],
    stagedDeletes: [],
    queuedAt: now.toISOString(),
  };
}

/**
 * Keeps one run document current as the sync advances, so the admin API
 * shows the live phase and counts. Pages stream through the phases, so a
 * phase is `running` from its first page until the run ends.
 */
export class RunTracker {
  private dirty = false;
  private lastWrite = 0;
  /**
   * Deletions applied in the chunk in progress, not yet written: they join
   * `counts.deleted` when the chunk is done (with the progress marker, in one
   * write) or when the run fails (they happened). A retry of the chunk counts
   * them again from the records themselves (SyncRecord.deletedBy), so they
   * are never written before then.
   */
  private applying = 0;

  private constructor(
    private readonly repos: Repositories,
    private run: Stored<SyncRun>,
  ) {}

  static async open(
    repos: Repositories,
    ids: { tenantId: string; integrationId: string; runId: string },
    trigger: RunTrigger,
    now: Date,
    full = false,
  ): Promise<RunTracker> {
    const existing = await repos.getRun(ids.tenantId, ids.runId);
    return new RunTracker(repos, existing ?? (await repos.putRun(newRun(ids, trigger, now, full))));
  }

  get id(): string {
    return this.run.id;
  }

  get finished(): boolean {
    return this.run.status === 'succeeded' || this.run.status === 'failed' || this.run.status === 'cancelled';
  }

  get counts(): RunCounts {
    return this.run.counts;
  }

  /** When this run began fetching (its first invocation). */
  get startedAt(): string | undefined {
    return this.run.startedAt;
  }

  get full(): boolean {
    return this.run.full === true;
  }

  /** Deletions staged on the run document itself by earlier versions (new runs use chunk documents). */
  get legacyStagedDeletes(): SyncRun['stagedDeletes'] {
    return this.run.stagedDeletes;
  }

  get checkpoint(): SyncCheckpoint | undefined {
    return this.run.checkpoint;
  }

  get deleteChunks(): number {
    return this.run.deleteChunks ?? 0;
  }

  get deleteChunksApplied(): number {
    return this.run.deleteChunksApplied ?? 0;
  }

  /** True once the run has seen a deletion it has not applied: the integration's cursor must not move past it. */
  get holdsDeletes(): boolean {
    return this.deleteChunks > this.deleteChunksApplied || this.run.stagedDeletes.length > 0;
  }

  /** A page is stored: where to resume and how many deletion chunks exist now (written by the next forced flush, together). */
  advance(checkpoint: SyncCheckpoint, deleteChunks: number): void {
    this.run = { ...this.run, checkpoint, deleteChunks };
    this.dirty = true;
  }

  /** One deletion of the chunk in progress is applied (see `applying`). */
  noteDeleted(): void {
    this.applying++;
  }

  /** Deletions done: their count joins `counts`, with the chunks applied so far (and the legacy list cleared) in the same write. */
  deletesApplied(progress: { chunks?: number; clearLegacy?: boolean } = {}): void {
    const counts = { ...this.run.counts, deleted: this.run.counts.deleted + this.applying };
    this.applying = 0;
    this.run = {
      ...this.run,
      counts,
      ...(progress.chunks === undefined ? {} : { deleteChunksApplied: progress.chunks }),
      ...(progress.clearLegacy === true ? { stagedDeletes: [] } : {}),
    };
    this.dirty = true;
  }

  async start(now: Date): Promise<void> {
    const { error: _drop, ...rest } = this.run;
    this.run = { ...rest, status: 'running', startedAt: this.run.startedAt ?? now.toISOString() };
    await this.flush(true);
  }

  /** Enter a phase (written at most every LIVE_WRITE_INTERVAL_MS). */
  async enter(phase: PhaseName, now: Date): Promise<void> {
    if (this.run.phase === phase) return;
    const at = now.toISOString();
    this.run = {
      ...this.run,
      phase,
      phases: this.run.phases.map((p) => (p.name === phase && p.status === 'pending' ? { ...p, status: 'running', startedAt: at } : p)),
    };
    this.dirty = true;
    await this.flush(false);
  }

  add(delta: Partial<RunCounts>, invalid: readonly InvalidRecordReport[] = []): void {
    const counts = { ...this.run.counts };
    for (const [k, v] of Object.entries(delta) as [keyof RunCounts, number][]) counts[k] += v;
    this.run = { ...this.run, counts, invalid: [...this.run.invalid, ...invalid].slice(0, MAX_INVALID_REPORTS) };
    this.dirty = true;
  }

  async succeed(now: Date): Promise<void> {
    await this.end('succeeded', now);
  }

  async fail(now: Date, error: string): Promise<void> {
    // A failure while applying deletions: the ones already applied did happen, and this run will not retry them.
    this.run = { ...this.run, counts: { ...this.run.counts, deleted: this.run.counts.deleted + this.applying } };
    this.applying = 0;
    await this.end('failed', now, error);
  }

  /** Back to queued (rescheduled or continued), with a note why and when its next message is due. */
  async requeue(note: string, resumeAt?: Date): Promise<void> {
    const { resumeAt: _old, ...rest } = this.run;
    this.run = { ...rest, status: 'queued', error: note, ...(resumeAt ? { resumeAt: resumeAt.toISOString() } : {}) };
    await this.flush(true);
  }

  async note(error: string): Promise<void> {
    this.run = { ...this.run, error };
    await this.flush(true);
  }

  /** Write now when forced (page boundaries: counts, chunk count and checkpoint are durable together), else throttled. */
  async flush(force: boolean): Promise<void> {
    if (!force && (!this.dirty || Date.now() - this.lastWrite < LIVE_WRITE_INTERVAL_MS)) return;
    const { etag: _etag, ...doc } = this.run;
    // The heartbeat tells the reaper (stale.ts) a worker is behind this run.
    this.run = await this.repos.putRun({ ...doc, heartbeatAt: new Date().toISOString() });
    this.dirty = false;
    this.lastWrite = Date.now();
  }

  /**
   * Stopped on an admin's request at a page boundary: what was stored stays;
   * the deletions it saw are not applied (counts.deleted stays 0), and the
   * integration's cursor never moved past them, so the next run reads them again.
   */
  async cancel(now: Date): Promise<void> {
    await this.end('cancelled', now, 'cancelled by an admin');
  }

  private async end(status: 'succeeded' | 'failed' | 'cancelled', now: Date, error?: string): Promise<void> {
    const at = now.toISOString();
    const phases = this.run.phases.map((p) => {
      if (p.status === 'running') return { ...p, status: status === 'failed' ? ('failed' as const) : ('done' as const), finishedAt: at };
      return p;
    });
    const { error: _old, ...rest } = this.run;
    this.run = { ...rest, status, finishedAt: at, phases, ...(error === undefined ? {} : { error }) };
    await this.flush(true);
  }
}
