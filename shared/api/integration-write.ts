/**
 * What an integration PUT and PATCH share once their bodies are validated:
 * schedule fields, the sync state an update keeps, and the save itself
 * (shard-map guard, webhook secret, scheduler index, ETag).
 */
import type { Integration } from '../domain/types';
import { retireWebhookSecrets, stageWebhookSecret, webhookSecretFields, type RetireDeps, type StagedWebhookSecret } from '../credentials/webhook-rotation';
import type { Stored } from '../storage/port';
import { nextDueAt } from '../sync/schedule';
import type { ScheduleInput } from '../sync/schedule-rules';
import type { AdminDeps } from './deps';
import { guardShardMapChange } from './shard-guard';

type ScheduleFields = Pick<Integration, 'scheduleMinutes' | 'scheduleCron' | 'lastScheduledSlot'>;

/**
 * The schedule an update leaves: the one asked for, else the existing one,
 * else the default. The last scheduled slot is kept only while the schedule
 * is unchanged: it is counted in the old schedule's units.
 */
export function scheduleFields(asked: ScheduleInput | undefined, existing: Integration | undefined, defaultMinutes: number): ScheduleFields {
  let next: ScheduleFields;
  if (asked && 'cron' in asked) next = { scheduleMinutes: existing?.scheduleMinutes ?? defaultMinutes, scheduleCron: asked.cron };
  else if (asked) next = { scheduleMinutes: asked.everyMinutes };
  else if (!existing) next = { scheduleMinutes: defaultMinutes };
  else next = { scheduleMinutes: existing.scheduleMinutes, ...(existing.scheduleCron === undefined ? {} : { scheduleCron: existing.scheduleCron }) };
  const unchanged = existing !== undefined && existing.scheduleCron === next.scheduleCron && (next.scheduleCron !== undefined || existing.scheduleMinutes === next.scheduleMinutes);
  const slot = existing?.lastScheduledSlot;
  return { ...next, ...(unchanged && slot !== undefined ? { lastScheduledSlot: slot } : {}) };
}

/** The cursor survives an update only when it still points at the same data. */
export function keptSyncState(existing: Integration | undefined, provider: string, baseUrl: string, config: unknown): Pick<Integration, 'cursor' | 'lastSyncAt'> {
  if (!existing) return {};
  const same = existing.provider === provider && existing.baseUrl === baseUrl && JSON.stringify(existing.config) === JSON.stringify(config);
  if (!same) return {};
  return {
    ...(existing.cursor === undefined ? {} : { cursor: existing.cursor }),
    ...(existing.lastSyncAt === undefined ? {} : { lastSyncAt: existing.lastSyncAt }),
  };
}

/** Fields an update rebuilds rather than copies (a PATCH starts from the stored document). */
const REBUILT = ['etag', 'scheduleMinutes', 'scheduleCron', 'lastScheduledSlot', 'nextDueAt', 'cursor', 'lastSyncAt', 'webhookSecretName', 'previousWebhookSecretName', 'previousWebhookSecretUntil'] as const;

export function withoutRebuilt(doc: Stored<Integration>): Omit<Integration, (typeof REBUILT)[number]> {
  const rebuilt: ReadonlySet<string> = new Set(REBUILT);
  return Object.fromEntries(Object.entries(doc).filter(([key]) => !rebuilt.has(key))) as Omit<Integration, (typeof REBUILT)[number]>;
}

/**
 * Write the integration: under the shard-map guard, with a new webhook secret
 * staged first (deleted again if the write fails; what it replaced deleted
 * once the write succeeded), the scheduler index recomputed, and the ETag of
 * the version read (a concurrent update is a 409, not a lost write).
 */
export async function saveIntegration(
  deps: AdminDeps,
  existing: Stored<Integration> | undefined,
  draft: Integration,
  webhookSecret: string | undefined,
): Promise<Stored<Integration>> {
  let staged: StagedWebhookSecret | undefined;
  const retire: RetireDeps = { store: deps.secretStore, secrets: deps.secrets, logger: deps.logger };
  let written: Stored<Integration>;
  try {
    written = await guardShardMapChange(deps, existing, draft, async () => {
      staged = webhookSecret === undefined ? undefined : await stageWebhookSecret(deps, draft, existing, webhookSecret);
      const doc: Integration = { ...draft, ...(staged?.fields ?? webhookSecretFields(existing)) };
      return deps.repos.putIntegration({ ...doc, nextDueAt: nextDueAt(doc, deps.now()) }, existing?.etag);
    });
  } catch (error) {
    // Nothing points at a secret staged for a write that failed.
    if (staged?.written !== undefined) await retireWebhookSecrets(retire, [staged.written]);
    throw error;
  }
  if (staged) await retireWebhookSecrets(retire, staged.replaced);
  return written;
}
