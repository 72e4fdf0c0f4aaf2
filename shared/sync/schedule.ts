import type { Integration } from '../domain/types';
import { QUEUES } from '../messaging/names';
import type { SyncJob } from '../messaging/messages';
import type { QueueSender } from '../messaging/port';
import type { Logger } from '../observability/logger';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { nextOccurrence } from './ncrontab';

/**
 * How often SyncScheduler runs. Every accepted schedule is at least this
 * coarse (shared/sync/schedule-rules.ts), so each of its slots or occurrences
 * is enqueued by the first tick at or after it: on time within one tick.
 */
export const SCHEDULER_TICK_MINUTES = 5;
/** The timer's NCRONTAB (UTC: Flex has no time-zone setting); kept equal to the tick by a test. */
export const SCHEDULER_TICK_CRON = '0 */5 * * * *';

/**
 * A timer may fire a hair before its occurrence (timer resolution, a clock
 * step); due-ness is judged this much later so such a tick does not miss the
 * slot it fires for and leave it to the next one.
 */
export const EARLY_FIRE_TOLERANCE_MS = 2_000;

/** `nextDueAt` of an integration that is due already (never scheduled, or its current slot is open). */
export const DUE_NOW = new Date(0).toISOString();

export interface ScheduleDeps {
  repos: Repositories;
  queue: QueueSender;
  logger: Logger;
  now: () => Date;
}

export interface ScheduleReport {
  /** Integrations the tick read: the due ones (and inactive ones waiting to be active) plus the one that ended the scan; all of them on a full pass. */
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

/** Where a cron schedule continues from: the last occurrence enqueued, else the last sync, else creation. */
function cronBase(integration: Integration): Date {
  const slot = integration.lastScheduledSlot;
  return slot?.startsWith('c:') ? new Date(slot.slice(2)) : new Date(integration.lastSyncAt ?? integration.createdAt);
}

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
    let occurrence = nextOccurrence(integration.scheduleCron, cronBase(integration));
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
 * The scheduler's index: an instant no later than the first moment at or
 * after `at` when `dueSlot` (status aside) returns a slot. Stored on the
 * integration as `nextDueAt`, so a tick reads only integrations whose time
 * has come. Anything that can make an integration due sooner (a schedule
 * change) rewrites it; a completed sync only makes it due later, so a stale
 * value is merely early: the tick reads it, finds nothing due, and moves it on.
 */
export function nextDueAt(integration: Integration, at: Date): string {
  if (integration.scheduleCron !== undefined) return nextOccurrence(integration.scheduleCron, cronBase(integration)).toISOString();
  const minutes = integration.scheduleMinutes;
  const slot = slotOf(at, minutes);
  const synced = integration.lastSyncAt === undefined ? -Infinity : slotOf(new Date(integration.lastSyncAt), minutes);
  if (integration.lastScheduledSlot !== `i:${slot}` && synced < slot) return DUE_NOW;
  return new Date((Math.max(slot, synced) + 1) * minutes * 60_000).toISOString();
}

/**
 * One job per due integration. The message id is integration + slot, and the
 * slot is then recorded on the integration (ETag-guarded): a timer that fires
 * again for the slot — twice on one instance, or past-due after an outage —
 * enqueues nothing new, within Service Bus's duplicate-detection window and
 * beyond it.
 *
 * Cost: integrations are read earliest `nextDueAt` first and the scan stops
 * at the first one not yet due, so a tick with nothing due reads one page
 * (one cross-partition ORDER BY query), not every integration. Inactive
 * integrations keep their index and are read by every tick, so they run at
 * the first tick after they become active again. The tick at the top of each
 * hour, and a past-due one, read every integration instead (what an hourly
 * scheduler always did): documents without the index (written before it
 * existed; Cosmos servers differ on whether ORDER BY returns them) get it
 * there, and an index a writer left wrong is corrected within the hour.
 */
export async function scheduleDueSyncs(deps: ScheduleDeps, pastDue: boolean): Promise<ScheduleReport> {
  const now = deps.now();
  const at = new Date(now.getTime() + EARLY_FIRE_TOLERANCE_MS);
  const report: ScheduleReport = { scanned: 0, enqueued: 0, pastDue, slots: {} };
  const fullPass = pastDue || at.getUTCMinutes() < SCHEDULER_TICK_MINUTES;
  for await (const page of fullPass ? everyIntegration(deps.repos) : deps.repos.dueIntegrationPages(at.toISOString())) {
    report.scanned += page.read;
    for (const integration of page.due) {
      if (integration.status !== 'active') continue;
      const slot = dueSlot(integration, at);
      if (slot === undefined) {
        await moveIndex(deps, integration, nextDueAt(integration, at));
        continue;
      }
      await enqueueSlot(deps, integration, slot, now, at);
      report.enqueued++;
      report.slots[integration.id] = slot;
    }
  }
  deps.logger.info('scheduler pass', { scanned: report.scanned, enqueued: report.enqueued, pastDue, fullPass });
  return report;
}

async function* everyIntegration(repos: Repositories): AsyncGenerator<{ due: Stored<Integration>[]; read: number }> {
  for await (const page of repos.integrationPages()) yield { due: page, read: page.length };
}

async function enqueueSlot(deps: ScheduleDeps, integration: Stored<Integration>, slot: string, now: Date, at: Date): Promise<void> {
  const job: SyncJob = { type: 'sync.pull', tenantId: integration.tenantId, integrationId: integration.id, trigger: 'schedule', requestedAt: now.toISOString() };
  // Send first, then record: a crash in between re-sends the same message id, which duplicate detection drops.
  await deps.queue.send(QUEUES.syncInbound, {
    messageId: `sched:${integration.id}:${slot}`,
    body: job,
    applicationProperties: { trigger: 'schedule', tenantId: integration.tenantId },
  });
  const { etag, ...doc } = integration;
  const recorded: Integration = { ...doc, lastScheduledSlot: slot };
  await writeGuarded(deps, { ...recorded, nextDueAt: nextDueAt(recorded, at) }, etag);
}

/** Not due after all (synced meanwhile): move the index on so the next ticks skip it. */
async function moveIndex(deps: ScheduleDeps, integration: Stored<Integration>, next: string): Promise<void> {
  if (integration.nextDueAt === next) return;
  const { etag, ...doc } = integration;
  await writeGuarded(deps, { ...doc, nextDueAt: next }, etag);
}

async function writeGuarded(deps: ScheduleDeps, doc: Integration, etag: string): Promise<void> {
  try {
    await deps.repos.putIntegration(doc, etag);
  } catch (error) {
    // Another writer (a worker, an admin) came first; the index stays early, so the next tick looks again.
    if (!(error instanceof ConcurrencyError)) throw error;
  }
}
