import type { QueueName } from './names';

/** A message to send: JSON body only (the Functions trigger JSON-parses string bodies). */
export interface OutgoingMessage {
  /** Idempotent id: Service Bus duplicate detection drops a second message with the same id. */
  messageId: string;
  body: Record<string, unknown>;
  applicationProperties?: Record<string, string | number | boolean>;
  /** Deliver no earlier than this instant. */
  scheduledEnqueueTime?: Date;
  correlationId?: string;
  subject?: string;
}

/** The send side every function uses. */
export interface QueueSender {
  send(queue: QueueName, message: OutgoingMessage): Promise<void>;
  /** Cheap liveness probe for /api/health. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A message as a receiver holds it under peek-lock. */
export interface ReceivedMessage {
  messageId: string;
  body: Record<string, unknown>;
  applicationProperties: Record<string, string | number | boolean>;
  deliveryCount: number;
  enqueuedTimeUtc: Date;
  lockToken: string;
  correlationId?: string;
  subject?: string;
}

/** A dead-lettered message with its reason. */
export interface DeadLetter extends ReceivedMessage {
  deadLetterReason: string;
  deadLetterErrorDescription?: string;
  deadLetteredAt: Date;
}
