/** Queue names: the one source of truth, checked against infra/ by a test. */
export const QUEUES = {
  syncInbound: 'sync-inbound',
  syncOutbound: 'sync-outbound',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** Service Bus maxDeliveryCount, mirrored by the embedded queue and infra/. */
export const MAX_DELIVERY_COUNT = 10;

/** Duplicate-detection window (Service Bus `duplicateDetectionHistoryTimeWindow`). */
export const DUPLICATE_DETECTION_WINDOW_MS = 10 * 60 * 1000;
