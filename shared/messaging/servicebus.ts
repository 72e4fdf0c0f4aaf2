import type { TokenCredential } from '@azure/identity';
import { ServiceBusClient, isServiceBusError, type ServiceBusMessage, type ServiceBusSender } from '@azure/service-bus';
import { RetryableError, describeError } from '../errors';
import { assertJsonBody } from './json-body';
import type { QueueName } from './names';
import type { OutgoingMessage, QueueSender } from './port';

/** The slice of the SDK sender we use: small enough to fake in tests. */
export type ServiceBusSenderLike = Pick<ServiceBusSender, 'sendMessages' | 'scheduleMessages' | 'close'>;
export type ServiceBusSenderFactory = (queue: QueueName) => ServiceBusSenderLike;

export interface ServiceBusQueueSenderOptions {
  /** Liveness probe; defaults to a no-op. */
  ping?: () => Promise<void>;
  /** Runs once after every cached sender is closed (closes the client behind them). */
  onClose?: () => Promise<void>;
}

/** A send that failed for a reason retrying will not fix (or that we cannot classify). Never carries the body. */
export class QueueSendError extends Error {
  constructor(readonly queue: QueueName, readonly code: string | undefined, detail: string, options?: { cause?: unknown }) {
    super(`Sending to queue ${queue} failed: ${detail}`, options);
    this.name = 'QueueSendError';
  }
}

// Throttling and timeouts clear up on their own. The SDK has already retried
// (its retryOptions) by the time we see them, so the caller's redelivery or
// backoff takes over.
const RETRYABLE_CODES: ReadonlySet<string> = new Set(['ServiceBusy', 'ServiceTimeout', 'ServiceCommunicationProblem']);
// `new ServiceBusError(msg, code)` defaults `retryable` to true whatever the
// code, so never trust the flag for errors that a retry cannot fix.
const PERMANENT_CODES: ReadonlySet<string> = new Set([
  'MessageSizeExceeded',
  'MessagingEntityNotFound',
  'MessagingEntityDisabled',
  'UnauthorizedAccess',
]);

/**
 * Maps an OutgoingMessage to the SDK's message shape. contentType marks the
 * body as JSON; the Functions trigger JSON-parses it on the other side.
 */
export function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  assertJsonBody(message.body);
  return {
    body: message.body,
    messageId: message.messageId,
    contentType: 'application/json',
    ...(message.applicationProperties === undefined ? {} : { applicationProperties: { ...message.applicationProperties } }),
    ...(message.correlationId === undefined ? {} : { correlationId: message.correlationId }),
    ...(message.subject === undefined ? {} : { subject: message.subject }),
  };
}

/** SDK error → RetryableError when a later attempt can succeed, else QueueSendError naming the queue. */
export function mapSendError(queue: QueueName, e: unknown): Error {
  const code = isServiceBusError(e) ? e.code : undefined;
  const retryable =
    code !== undefined && PERMANENT_CODES.has(code)
      ? false
      : (code !== undefined && RETRYABLE_CODES.has(code)) || (e instanceof Error && 'retryable' in e && e.retryable === true);
  if (retryable) return new RetryableError(`Sending to queue ${queue} failed, will retry: ${describeError(e)}`, { cause: e });
  return new QueueSendError(queue, code, describeError(e), { cause: e });
}

/** QueueSender over Service Bus: one cached SDK sender per queue. */
export class ServiceBusQueueSender implements QueueSender {
  private readonly senders = new Map<QueueName, ServiceBusSenderLike>();
  private closed = false;

  constructor(
    private readonly senderFor: ServiceBusSenderFactory,
    private readonly options: ServiceBusQueueSenderOptions = {},
  ) {}

  async send(queue: QueueName, message: OutgoingMessage): Promise<void> {
    if (this.closed) throw new QueueSendError(queue, undefined, 'the sender is closed');
    // Validation errors are the caller's bug: thrown as is, before any network call.
    const sbMessage = toServiceBusMessage(message);
    const when = message.scheduledEnqueueTime;
    if (when !== undefined && Number.isNaN(when.getTime())) throw new TypeError('scheduledEnqueueTime is an invalid Date');
    try {
      const sender = this.sender(queue);
      if (when === undefined) await sender.sendMessages(sbMessage);
      else await sender.scheduleMessages(sbMessage, when);
    } catch (e) {
      throw mapSendError(queue, e);
    }
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('Service Bus sender is closed');
    await this.options.ping?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const senders = [...this.senders.values()];
    this.senders.clear();
    const results = await Promise.allSettled(senders.map((s) => s.close()));
    await this.options.onClose?.();
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) throw new AggregateError(failures, 'Closing Service Bus senders failed');
  }

  private sender(queue: QueueName): ServiceBusSenderLike {
    let sender = this.senders.get(queue);
    if (!sender) {
      sender = this.senderFor(queue);
      this.senders.set(queue, sender);
    }
    return sender;
  }
}

/**
 * The production sender. The ServiceBusClient is built on first use, never at
 * import: Flex Consumption gives the app 30 s to load, and constructing it
 * touches the credential chain. Pass a ManagedIdentityCredential({ clientId }).
 */
export function createServiceBusQueueSender(fullyQualifiedNamespace: string, credential: TokenCredential): ServiceBusQueueSender {
  let client: ServiceBusClient | undefined;
  const getClient = (): ServiceBusClient => (client ??= new ServiceBusClient(fullyQualifiedNamespace, credential));
  return new ServiceBusQueueSender((queue) => getClient().createSender(queue), {
    // Senders expose no cheap round trip; checking the client can be built catches a bad namespace.
    ping: () => {
      getClient();
      return Promise.resolve();
    },
    onClose: async () => {
      const c = client;
      client = undefined;
      await c?.close();
    },
  });
}
