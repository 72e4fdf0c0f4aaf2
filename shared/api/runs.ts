import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { SyncRun } from '../domain/types';
import { CANCEL_TTL_MS, cancelKey } from '../sync/pull';
import { newRun } from '../sync/runs';
import { reapStale } from '../sync/stale';
import { InputError } from '../errors';
import { QUEUES } from '../messaging/names';
import type { SyncJob } from '../messaging/messages';
import type { AdminDeps } from './deps';
import { adminRoute, ok, readJson } from './http';

const syncBody = z.strictObject({ full: z.boolean().optional() });
import { pageParams, routeId } from './ids';

export function runView(r: SyncRun): Record<string, unknown> {
  return {
    id: r.id,
    integrationId: r.integrationId,
    status: r.status,
    trigger: r.trigger,
    full: r.full === true,
    phase: r.phase,
    phases: r.phases,
    counts: r.counts,
    invalid: r.invalid,
    queuedAt: r.queuedAt,
    startedAt: r.startedAt ?? null,
    finishedAt: r.finishedAt ?? null,
    error: r.error ?? null,
  };
}

/** Queue a manual sync. The run exists (status `queued`) before the message, so the caller can poll it at once. */
export const postSync = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const integration = await deps.repos.getIntegration(tenantId, integrationId);
  if (!integration) throw new InputError(404, `Integration '${integrationId}' not found`);
  if (integration.status !== 'active') throw new InputError(409, `Integration is ${integration.status}; update its credentials first`);
  const options = await readJson(request, syncBody, { optional: true });
  const full = options.full === true;
  const run = newRun({ tenantId, integrationId, runId: `run-${randomUUID()}` }, 'manual', deps.now(), full);
  await deps.repos.createRun(run);
  const job: SyncJob = { type: 'sync.pull', tenantId, integrationId, trigger: 'manual', runId: run.id, requestedAt: run.queuedAt, ...(full ? { full } : {}) };
  try {
    await deps.queue.send(QUEUES.syncInbound, { messageId: run.id, body: job, applicationProperties: { trigger: 'manual', tenantId } });
  } catch (error) {
    // No message → no run: a queued run nobody will pick up would mislead the caller.
    await deps.repos.putRun({ ...run, status: 'failed', finishedAt: deps.now().toISOString(), error: 'could not be queued' });
    throw error;
  }
  return ok({ runId: run.id }, 202);
});

export const listRuns = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const { limit, continuation } = pageParams(request.query, 20);
  if (!(await deps.repos.getIntegration(tenantId, integrationId))) throw new InputError(404, `Integration '${integrationId}' not found`);
  const page = await deps.repos.listRuns(tenantId, integrationId, limit, continuation);
  const items = await reapStale(deps.repos, page.items, deps.now());
  return ok({ items: items.map(runView), ...(page.continuation ? { continuation: page.continuation } : {}) });
});

/**
 * Cancel a run. A queued run is marked cancelled at once; a running one stops
 * at its next page boundary (what it stored stays; its staged deletes are
 * dropped, so a partial run deletes nothing).
 */
export const cancelRun = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const runId = z.string().regex(/^run-[A-Za-z0-9-]{1,64}$/).safeParse(request.params.runId);
  if (!runId.success) throw new InputError(400, 'runId: not a run id');
  const run = await deps.repos.getRun(tenantId, runId.data);
  if (run?.integrationId !== integrationId) throw new InputError(404, 'Run not found');
  if (run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled') throw new InputError(409, `Run is already ${run.status}`);
  await deps.kv.set(cancelKey(integrationId, run.id), deps.now().toISOString(), CANCEL_TTL_MS);
  if (run.status === 'queued') {
    const { etag, ...doc } = run;
    const at = deps.now().toISOString();
    await deps.repos.putRun({ ...doc, status: 'cancelled', finishedAt: at, error: 'cancelled by an admin' }, etag);
  }
  return ok({ id: run.id, status: run.status === 'queued' ? 'cancelled' : 'cancelling' }, 202);
});
