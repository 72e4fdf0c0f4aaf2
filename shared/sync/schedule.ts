import type { Integration } from '../domain/types';
import { QUEUES } from '../messaging/names';
import type { SyncJob } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import type { Repositories } from '../storage/repositories';

export interface ScheduleDeps {
  repos: Repositories;
  queue: QueueSender;
  logger: Logger;
  now: () => Date;
}

export interface ScheduleReport {
  scanned: number;
  enqueued: number;
  pastDue: boolean;
}

/** The slot an instant falls in for a schedule of `minutes`; slots are aligned to the epoch (UTC). */
export function slotOf(at: Date, minutes: number): number {
  return Math.floor(at.getTime() / (minutes * 60_000));
}

/** Due when active and the last completed sync happened in an earlier slot (or never). */
export function isDue(integration: Integration, now: Date): boolean {
  if (integration.status !== 'active') return false;
  if (integration.lastSyncAt === undefined) return true;
  return slotOf(new Date(integration.lastSyncAt), integration.scheduleMinutes) < slotOf(now, integration.scheduleMinutes);
}

/**
 * One job per due integration, message id = integration + slot: a timer that
 * fires twice for a slot (past-due catch-up, two instances) enqueues nothing
 * new — Service Bus duplicate detection (and the embedded queue) drop it.
 */
export async function scheduleDueSyncs(deps: ScheduleDeps, pastDue: boolean): Promise<ScheduleReport> {
  const now = deps.now();
  const report: ScheduleReport = { scanned: 0, enqueued: 0, pastDue };
  let continuation: string | undefined;
  do {
    const page = await deps.repos.listAllIntegrations(100, continuation);
    continuation = page.continuation;
    for (const integration of page.items) {
      report.scanned++;
      if (!isDue(integration, now)) continue;
      const slot = slotOf(now, integration.scheduleMinutes);
      const job: SyncJob = { type: 'sync.pull', tenantId: integration.tenantId, integrationId: integration.id, trigger: 'schedule', requestedAt: now.toISOString() };
      await deps.queue.send(QUEUES.syncInbound, {
        messageId: `sched:${integration.id}:${slot}`,
        body: job,
        applicationProperties: { trigger: 'schedule', tenantId: integration.tenantId },
      });
      report.enqueued++;
    }
  } while (continuation !== undefined);
  deps.logger.info('scheduler pass', { ...report });
  return report;
}
