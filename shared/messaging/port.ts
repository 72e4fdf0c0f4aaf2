import type { QueueName, ReceivableQueue } from './names';

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
  /** Set on messages read from a dead-letter sub-queue. */
  deadLetterReason?: string;
  deadLetterErrorDescription?: string;
}

/** A dead-lettered message with its reason. */
export interface DeadLetter extends ReceivedMessage {
  deadLetterReason: string;
  deadLetterErrorDescription?: string;
  deadLetteredAt: Date;
}

/**
 * The receive side, as the Functions host drives a queue trigger: peek-lock,
 * then complete on success or abandon on a throw. Only the embedded queue
 * implements it (in Azure the host does this for us); the local host uses it.
 */
export interface QueueReceiver {
  /** Lock the next available message (or wait up to `maxWaitMs` for one). Increments deliveryCount. */
  receive(queue: ReceivableQueue, maxWaitMs: number): Promise<ReceivedMessage | undefined>;
  complete(queue: ReceivableQueue, lockToken: string): Promise<void>;
  /** Release the lock; the message comes straight back, or dead-letters once deliveryCount reaches the max. */
  abandon(queue: ReceivableQueue, lockToken: string): Promise<void>;
  deadLetter(queue: QueueName, lockToken: string, reason: string, description?: string): Promise<void>;
  deadLetters(queue: QueueName): Promise<DeadLetter[]>;
}
