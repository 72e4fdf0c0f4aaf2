/** Queue names: the one source of truth, checked against infra/ by a test. */
export const QUEUES = {
  syncInbound: 'sync-inbound',
  syncOutbound: 'sync-outbound',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * A queue's dead-letter sub-queue, as a Service Bus trigger names it. Nothing
 * sends there: the broker moves messages in (max deliveries, explicit
 * dead-lettering), and the DeadLetterCollector functions read them out.
 */
export type DeadLetterQueueName = `${QueueName}/$DeadLetterQueue`;
export const deadLetterQueueOf = (queue: QueueName): DeadLetterQueueName => `${queue}/$DeadLetterQueue`;

/** What a queue trigger can listen on. */
export type ReceivableQueue = QueueName | DeadLetterQueueName;
export const RECEIVABLE_QUEUES: readonly ReceivableQueue[] = Object.values(QUEUES).flatMap((q) => [q, deadLetterQueueOf(q)]);

/** Service Bus maxDeliveryCount, mirrored by the embedded queue and infra/. */
export const MAX_DELIVERY_COUNT = 10;

/** Duplicate-detection window (Service Bus `duplicateDetectionHistoryTimeWindow`). */
export const DUPLICATE_DETECTION_WINDOW_MS = 10 * 60 * 1000;
