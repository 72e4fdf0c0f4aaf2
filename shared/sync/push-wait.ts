/**
 * Waiting, for a push: a rate limit, or a pull the push asked for. Waits are
 * deferrals (shared/sync/followup.ts): they never use up the three retries
 * a real failure gets, and they are bounded by time (MAX_DEFERRAL_MS), after
 * which the push is parked `DeferredTooLong`.
 */
import type { Integration } from '../domain/types';
import { QUEUES } from '../messaging/names';
import type { OutboundJob, SyncJob } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import { deferralDelay, followUpId, MAX_DEFERRAL_MS, nextDeferral } from './followup';

/**
 * Pushes' pulls are shared per integration per window: every push in the
 * window asks for the same message id, so 2,000 pending edits make one pull
 * (per window), not one each. The pull is scheduled at the window's end so
 * it starts after every change whose push asked in the window.
 */
export const PREPUSH_WINDOW_MS = 2_000;
/** A push waiting for its pull looks again after this (doubling, ±20 %), up to PULL_WAIT_CAP_MS. */
export const PULL_WAIT_MS = 3_000;
export const PULL_WAIT_CAP_MS = 60_000;

export interface WaitDeps {
  queue: QueueSender;
  logger: Logger;
  now: () => Date;
}

export type WaitOutcome = { kind: 'rescheduled'; at: string; reason: string } | { kind: 'too-long'; reason: string };

/** The pull a push asks for: one per integration per window, with its own trigger `push`. */
export async function requestPrePushPull(deps: WaitDeps, integration: Pick<Integration, 'tenantId' | 'id'>): Promise<void> {
  const now = deps.now().getTime();
  const window = Math.floor(now / PREPUSH_WINDOW_MS);
  const sync: SyncJob = { type: 'sync.pull', tenantId: integration.tenantId, integrationId: integration.id, trigger: 'push', requestedAt: new Date(now).toISOString() };
  await deps.queue.send(QUEUES.syncInbound, {
    messageId: `prepush:${integration.id}:${window}`,
    body: sync,
    scheduledEnqueueTime: new Date((window + 1) * PREPUSH_WINDOW_MS),
    applicationProperties: { trigger: 'push', tenantId: integration.tenantId },
  });
}

/**
 * Send the push again later as a deferral. `exact` waits exactly `delayMs`
 * (a provider's retry-after); otherwise the wait backs off from `delayMs`.
 * Returns `too-long` (nothing sent) once the push has waited past MAX_DEFERRAL_MS.
 */
export async function deferPush(deps: WaitDeps, job: OutboundJob, delayMs: number, reason: string, exact: boolean): Promise<WaitOutcome> {
  const now = deps.now();
  const next = nextDeferral(job, now);
  if (!next) return { kind: 'too-long', reason: `waited more than ${MAX_DEFERRAL_MS / 3_600_000} h: ${reason}` };
  const at = new Date(now.getTime() + (exact ? delayMs : deferralDelay(next.deferrals, delayMs, PULL_WAIT_CAP_MS)));
  await deps.queue.send(QUEUES.syncOutbound, {
    messageId: followUpId(job.idempotencyKey, 'defer', next.deferrals),
    body: next,
    scheduledEnqueueTime: at,
    applicationProperties: { tenantId: job.tenantId, op: job.op },
  });
  deps.logger.info('outbound push waits', { integrationId: job.integrationId, deferrals: next.deferrals, at: at.toISOString(), reason });
  return { kind: 'rescheduled', at: at.toISOString(), reason };
}
