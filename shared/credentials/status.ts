import type { Integration, IntegrationStatus } from '../domain/types';
import type { KeyValueStore } from '../kv/port';
import type { NotificationEvent, NotificationKind, NotificationSeverity, NotificationSink } from '../notifications/port';
import { notifySafely } from '../notifications/memory';
import type { Logger } from '../observability/logger';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';

/**
 * Set an integration's status with optimistic concurrency: a concurrent
 * admin or sync write is re-read and the status applied on top, never lost.
 * Returns the stored integration, or undefined when it no longer exists.
 */
export async function setIntegrationStatus(
  repos: Repositories,
  ids: { tenantId: string; integrationId: string },
  status: IntegrationStatus,
  now: Date,
  /** Change only from these statuses (e.g. never re-enable an integration an admin disabled). */
  onlyFrom?: readonly IntegrationStatus[],
): Promise<Stored<Integration> | undefined> {
  for (let attempt = 0; ; attempt++) {
    const current = await repos.getIntegration(ids.tenantId, ids.integrationId);
    if (!current) return undefined;
    if (current.status === status || (onlyFrom !== undefined && !onlyFrom.includes(current.status))) return current;
    const { etag, ...doc } = current;
    try {
      return await repos.putIntegration({ ...doc, status, updatedAt: now.toISOString() }, etag);
    } catch (error) {
      if (!(error instanceof ConcurrencyError) || attempt >= 4) throw error;
    }
  }
}

export interface NoticeDeps {
  notifications: NotificationSink;
  logger: Logger;
  now: () => Date;
  /** For once-per-period dedupe across instances; omitted → every call notifies. */
  kv?: KeyValueStore;
}

export interface Notice {
  kind: NotificationKind;
  severity: NotificationSeverity;
  title: string;
  detail: string;
  /** Identifies the occurrence: the same key notifies once per `oncePerMs` period. */
  dedupeKey: string;
  oncePerMs?: number;
}

/** Emit a notification about one integration, at most once per `oncePerMs` across instances. */
export async function notifyAbout(
  deps: NoticeDeps,
  integration: Pick<Integration, 'tenantId' | 'id' | 'provider'>,
  notice: Notice,
): Promise<boolean> {
  if (deps.kv && notice.oncePerMs !== undefined) {
    // Bucketed by the app clock (not only the key's TTL), so "once a day" follows the same clock as everything else.
    const bucket = Math.floor(deps.now().getTime() / notice.oncePerMs);
    const first = await deps.kv.setIfAbsent(`notify:{${notice.dedupeKey}}:${bucket}`, '1', notice.oncePerMs);
    if (!first) return false;
  }
  const event: NotificationEvent = {
    kind: notice.kind,
    severity: notice.severity,
    tenantId: integration.tenantId,
    integrationId: integration.id,
    provider: integration.provider,
    title: notice.title,
    detail: notice.detail,
    occurredAt: deps.now().toISOString(),
    dedupeKey: notice.dedupeKey,
  };
  await notifySafely(deps.notifications, event, deps.logger);
  return true;
}
