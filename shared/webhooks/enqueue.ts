import type { Integration } from '../domain/types';
import { QUEUES } from '../messaging/names';
import type { QueueSender } from '../messaging/port';
import type { SyncJob } from '../messaging/messages';

/**
 * Webhook events are hints that something changed; the job pulls from the
 * cursor. Events for one integration within one coalescing window share a
 * message id (duplicate detection drops the rest) and the message is
 * scheduled for the end of the window, so the one sync starts after every
 * event of its window has arrived and none is missed.
 */
export async function enqueueWebhookSync(queue: QueueSender, integration: Integration, coalesceSeconds: number, now: Date): Promise<void> {
  const windowMs = coalesceSeconds * 1000;
  const slot = windowMs > 0 ? Math.floor(now.getTime() / windowMs) : now.getTime();
  const job: SyncJob = {
    type: 'sync.pull',
    tenantId: integration.tenantId,
    integrationId: integration.id,
    trigger: 'webhook',
    requestedAt: now.toISOString(),
  };
  await queue.send(QUEUES.syncInbound, {
    messageId: `wh:${integration.id}:${slot}`,
    body: job,
    applicationProperties: { trigger: 'webhook', tenantId: integration.tenantId },
    ...(windowMs > 0 ? { scheduledEnqueueTime: new Date((slot + 1) * windowMs) } : {}),
  });
}
