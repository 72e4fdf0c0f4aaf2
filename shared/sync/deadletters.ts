import { sha256Hex } from '../domain/ids';
import type { Repositories } from '../storage/repositories';

/** Tenant partition for messages too broken to name their tenant. */
export const UNKNOWN_TENANT = '_unknown';

/**
 * Park a message an admin must look at, with the reason, then let the trigger
 * complete it: a poison message is kept, never lost and never retried blindly.
 */
export async function parkMessage(
  repos: Repositories,
  queue: string,
  messageId: string,
  body: unknown,
  tenantId: string | undefined,
  reason: string,
  description: string,
  now: Date,
): Promise<void> {
  await repos.parkDeadLetter({
    id: `dl-${sha256Hex(`${queue}:${messageId}`).slice(0, 32)}`,
    tenantId: tenantId ?? UNKNOWN_TENANT,
    type: 'dead-letter',
    queue,
    messageId,
    reason,
    description,
    body,
    parkedAt: now.toISOString(),
  });
}

/**
 * A message the broker dead-lettered (max deliveries, or explicitly): parked
 * where the admin API lists dead letters, with the broker's reason, so no
 * dead letter stays where only the Azure portal shows it. Parking is an
 * upsert by queue and message id, so a redelivery changes nothing.
 */
export async function collectDeadLetter(
  repos: Repositories,
  queue: string,
  messageId: string,
  body: unknown,
  broker: { reason?: string | undefined; description?: string | undefined },
  now: Date,
): Promise<void> {
  const tenant = (body as { tenantId?: unknown } | null)?.tenantId;
  await parkMessage(repos, queue, messageId, body, typeof tenant === 'string' ? tenant : undefined, broker.reason ?? 'DeadLettered', broker.description ?? 'dead-lettered by the broker', now);
}
