import type { Integration } from '../domain/types';
import { QUEUES } from '../messaging/names';
import type { QueueSender } from '../messaging/port';
import type { ApplyRecordsJob, SyncJob } from '../messaging/messages';
import type { NormalizedRecord } from '../providers/types';

/**
 * Webhook events are hints that something changed; the job pulls from the
 * cursor. Events for one integration within one coalescing window share a
 * message id (duplicate detection drops the rest) and the message is
 * scheduled for the end of the window, so the one sync starts after every
 * event of its window has arrived and none is missed.
 */
export async function enqueueWebhookSync(queue: QueueSender, integration: Integration, deliveryId: string, coalesceSeconds: number, now: Date): Promise<void> {
  const windowMs = coalesceSeconds * 1000;
  // No window: one job per delivery (two deliveries in one millisecond must not share an id).
  const slot = windowMs > 0 ? String(Math.floor(now.getTime() / windowMs)) : `d:${deliveryId}`;
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
    ...(windowMs > 0 ? { scheduledEnqueueTime: new Date((Math.floor(now.getTime() / windowMs) + 1) * windowMs) } : {}),
  });
}

/** Records carried by a delivery, queued to be applied as their own small run (chunks of 100). */
export async function enqueueEventRecords(queue: QueueSender, integration: Integration, deliveryId: string, records: readonly NormalizedRecord[], now: Date): Promise<void> {
  for (let i = 0; i < records.length; i += 100) {
    const job: ApplyRecordsJob = {
      type: 'sync.apply',
      tenantId: integration.tenantId,
      integrationId: integration.id,
      deliveryId,
      records: records.slice(i, i + 100),
      requestedAt: now.toISOString(),
    };
    await queue.send(QUEUES.syncInbound, { messageId: `apply:${integration.id}:${deliveryId}:${i / 100}`, body: job, applicationProperties: { trigger: 'webhook', tenantId: integration.tenantId } });
  }
}
