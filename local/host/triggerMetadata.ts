import type { TriggerMetadata } from '@azure/functions';
import type { ReceivedMessage } from '../../shared/messaging/port';

/**
 * Reproduces how a Service Bus message reaches a Node handler through the
 * Functions host, so local runs see the shapes production sees:
 *
 * 1. The Service Bus extension exposes binding data with PascalCase names
 *    (`MessageId`, `DeliveryCount`, `EnqueuedTimeUtc`, `ApplicationProperties`…).
 * 2. Each value crosses the gRPC channel as typed data; the worker turns a
 *    *string* back into a value with JSON.parse when it parses
 *    (`fromRpcTypedData` → `tryJsonParse`), so a messageId of "12345" arrives
 *    as the number 12345 and "true" as a boolean. Dates travel as ISO strings,
 *    which do not parse, so they stay strings. Objects travel as JSON, so
 *    strings nested inside them are *not* re-parsed.
 * 3. Keys are camelCased recursively (first letter lower-cased), including
 *    keys inside applicationProperties: `TenantId` arrives as `tenantId`.
 *
 * Code that reads metadata must therefore accept `string | number` ids; the
 * body is the safer place for anything typed.
 */
export function hostParseString(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** Lower-case the first letter of every key, recursively (the worker's toCamelCase). */
export function toCamelCaseValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(toCamelCaseValue);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k.charAt(0).toLowerCase() + k.slice(1)] = toCamelCaseValue(v);
  return out;
}

/** One binding-data value as the worker decodes it: strings JSON-parsed, objects via JSON. */
function fromTypedData(value: unknown): unknown {
  if (typeof value === 'string') return hostParseString(value);
  if (typeof value === 'object' && value !== null) return JSON.parse(JSON.stringify(value)) as unknown;
  return value;
}

/** The `context.triggerMetadata` a Service Bus queue trigger receives for this message. */
export function serviceBusTriggerMetadata(message: ReceivedMessage): TriggerMetadata {
  const binding: Record<string, unknown> = {
    MessageId: message.messageId,
    DeliveryCount: message.deliveryCount,
    EnqueuedTimeUtc: message.enqueuedTimeUtc.toISOString(),
    LockToken: message.lockToken,
    ApplicationProperties: message.applicationProperties,
  };
  if (message.correlationId !== undefined) binding.CorrelationId = message.correlationId;
  if (message.subject !== undefined) binding.Subject = message.subject;
  // Read from a dead-letter sub-queue: the broker's reason travels as binding data.
  if (message.deadLetterReason !== undefined) binding.DeadLetterReason = message.deadLetterReason;
  if (message.deadLetterErrorDescription !== undefined) binding.DeadLetterErrorDescription = message.deadLetterErrorDescription;
  const out: TriggerMetadata = {};
  for (const [key, value] of Object.entries(binding)) {
    out[key.charAt(0).toLowerCase() + key.slice(1)] = toCamelCaseValue(fromTypedData(value));
  }
  return out;
}

/**
 * The message body as the handler receives it. Bodies go over the wire as
 * JSON, so the handler gets a fresh copy: Dates become ISO strings,
 * undefined fields vanish, and mutating it cannot change a redelivery.
 */
export function serviceBusTriggerInput(message: ReceivedMessage): unknown {
  return JSON.parse(JSON.stringify(message.body)) as unknown;
}
