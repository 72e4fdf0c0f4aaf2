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
