import type { RunCounts, RunTrigger, SyncRun } from '../domain/types';
import { emptyCounts } from '../domain/types';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';

/** Keeps one run document current as the sync advances; every change is written at once so a live run is visible. */
export class RunTracker {
  private constructor(
    private readonly repos: Repositories,
    private run: Stored<SyncRun>,
  ) {}

  static async open(
    repos: Repositories,
    ids: { tenantId: string; integrationId: string; runId: string },
    trigger: RunTrigger,
    now: Date,
  ): Promise<RunTracker> {
    const existing = await repos.getRun(ids.tenantId, ids.runId);
    const base: SyncRun = existing ?? {
      id: ids.runId,
      tenantId: ids.tenantId,
      type: 'run',
      integrationId: ids.integrationId,
      status: 'queued',
      trigger,
      counts: emptyCounts(),
      queuedAt: now.toISOString(),
    };
    const stored = existing ?? (await repos.putRun(base));
    return new RunTracker(repos, stored);
  }

  get id(): string {
    return this.run.id;
  }

  get finished(): boolean {
    return this.run.status === 'succeeded' || this.run.status === 'failed';
  }

  get counts(): RunCounts {
    return this.run.counts;
  }

  async start(now: Date): Promise<void> {
    const { error: _drop, ...rest } = this.run;
    await this.write({ ...rest, status: 'running', startedAt: this.run.startedAt ?? now.toISOString() });
  }

  async addCounts(delta: Partial<RunCounts>): Promise<void> {
    const counts = { ...this.run.counts };
    for (const [k, v] of Object.entries(delta) as [keyof RunCounts, number][]) counts[k] += v;
    await this.write({ ...this.run, counts });
  }

  async succeed(now: Date): Promise<void> {
    await this.write({ ...this.run, status: 'succeeded', finishedAt: now.toISOString() });
  }

  async fail(now: Date, error: string): Promise<void> {
    await this.write({ ...this.run, status: 'failed', finishedAt: now.toISOString(), error });
  }

  /** Back to queued (rescheduled), with a note why. */
  async requeue(note: string): Promise<void> {
    await this.write({ ...this.run, status: 'queued', error: note });
  }

  async note(error: string): Promise<void> {
    await this.write({ ...this.run, error });
  }

  private async write(next: SyncRun): Promise<void> {
    const { etag: _etag, ...doc } = next as Stored<SyncRun>;
    this.run = await this.repos.putRun(doc);
  }
}
