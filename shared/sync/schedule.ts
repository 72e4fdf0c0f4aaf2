import type { Integration } from '../domain/types';
import { QUEUES } from '../messaging/names';
import type { SyncJob } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { nextOccurrence } from './ncrontab';

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
  /** Integration id → the slot a job was enqueued for (a past-due fire catches up with the latest slot only). */
  slots: Record<string, string>;
}

/** The slot an instant falls in for an interval of `minutes`; slots are aligned to the epoch (UTC). */
export function slotOf(at: Date, minutes: number): number {
  return Math.floor(at.getTime() / (minutes * 60_000));
}

/** Guard against a pathological cron (every second) walked over a long outage. */
const MAX_CRON_STEPS = 100_000;

/**
 * The slot an integration is due for at `now`, or undefined when it is not
 * due. Interval schedules: the epoch-aligned slot, unless the last completed
 * sync or the last scheduled job is already in it. Cron schedules: the latest
 * occurrence ≤ now after the last scheduled one (several missed occurrences
 * collapse into one catch-up job).
 */
export function dueSlot(integration: Integration, now: Date): string | undefined {
  if (integration.status !== 'active') return undefined;
  if (integration.scheduleCron !== undefined) {
    const base = integration.lastScheduledSlot?.startsWith('c:') ? new Date(integration.lastScheduledSlot.slice(2)) : new Date(integration.lastSyncAt ?? integration.createdAt);
    let occurrence = nextOccurrence(integration.scheduleCron, base);
    if (occurrence > now) return undefined;
    for (let i = 0; i < MAX_CRON_STEPS; i++) {
      const next = nextOccurrence(integration.scheduleCron, occurrence);
      if (next > now) break;
      occurrence = next;
    }
    return `c:${occurrence.toISOString()}`;
  }
  const slot = slotOf(now, integration.scheduleMinutes);
  if (integration.lastScheduledSlot === `i:${slot}`) return undefined;
  if (integration.lastSyncAt !== undefined && slotOf(new Date(integration.lastSyncAt), integration.scheduleMinutes) >= slot) return undefined;
  return `i:${slot}`;
}

/**
 * One job per due integration. The message id is integration + slot, and the
 * slot is then recorded on the integration (ETag-guarded): a timer that fires
 * again for the slot — twice on one instance, or past-due after an outage —
 * enqueues nothing new, within Service Bus's duplicate-detection window and
 * beyond it.
 */
export async function scheduleDueSyncs(deps: ScheduleDeps, pastDue: boolean): Promise<ScheduleReport> {
  const now = deps.now();
  const report: ScheduleReport = { scanned: 0, enqueued: 0, pastDue, slots: {} };
  for await (const page of deps.repos.integrationPages()) {
    for (const integration of page) {
      report.scanned++;
      const slot = dueSlot(integration, now);
      if (slot === undefined) continue;
      if (await enqueueSlot(deps, integration, slot, now)) {
        report.enqueued++;
        report.slots[integration.id] = slot;
      }
    }
  }
  deps.logger.info('scheduler pass', { scanned: report.scanned, enqueued: report.enqueued, pastDue });
  return report;
}

async function enqueueSlot(deps: ScheduleDeps, integration: Stored<Integration>, slot: string, now: Date): Promise<boolean> {
  const job: SyncJob = { type: 'sync.pull', tenantId: integration.tenantId, integrationId: integration.id, trigger: 'schedule', requestedAt: now.toISOString() };
  // Send first, then record: a crash in between re-sends the same message id, which duplicate detection drops.
  await deps.queue.send(QUEUES.syncInbound, {
    messageId: `sched:${integration.id}:${slot}`,
    body: job,
    applicationProperties: { trigger: 'schedule', tenantId: integration.tenantId },
  });
  const { etag, ...doc } = integration;
  try {
    await deps.repos.putIntegration({ ...doc, lastScheduledSlot: slot }, etag);
  } catch (error) {
    // Another scheduler (or an admin) wrote first; the message id already made the send idempotent.
    if (!(error instanceof ConcurrencyError)) throw error;
  }
  return true;
}
