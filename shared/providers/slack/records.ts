/**
 * Slack messages as normalised records, shared by the pull and by webhook
 * events so both produce the same record for the same message.
 *
 * A message is identified by its conversation and `ts` (the timestamp is
 * unique per conversation: https://docs.slack.dev/messaging/retrieving-messages),
 * so externalId is `<channel>:<ts>`. `updatedAt` is the last edit
 * (`edited.ts`) or, for a never-edited message, its creation.
 */
import type { NormalizedRecord } from '../types';
import type { SlackMessage } from './schemas';

export const MESSAGE_ENTITY = 'message';

export function messageExternalId(channel: string, ts: string): string {
  return `${channel}:${ts}`;
}

/** `C123:1512085950.000216` → its parts; undefined when it is not one of ours. */
export function parseMessageExternalId(externalId: string): { channel: string; ts: string } | undefined {
  const match = /^([CGD][A-Z0-9]{2,20}):(\d{1,12}\.\d{6})$/.exec(externalId);
  return match?.[1] && match[2] ? { channel: match[1], ts: match[2] } : undefined;
}

/** `1512085950.000216` → ISO 8601 (to the millisecond; the sequence digits are not time). */
export function tsToIso(ts: string): string {
  const [seconds = '0', fraction = '0'] = ts.split('.');
  return new Date(Number(seconds) * 1000 + Math.floor(Number(fraction.padEnd(6, '0').slice(0, 6)) / 1000)).toISOString();
}

/** Compare two message timestamps as numbers (they are fixed-point, six decimals). */
export function compareTs(a: string, b: string): number {
  return tsMicros(a) - tsMicros(b);
}

function tsMicros(ts: string): number {
  const [seconds = '0', fraction = '0'] = ts.split('.');
  // Seconds × 10⁶ stays below 2⁵³ until the year 2255.
  return Number(seconds) * 1_000_000 + Number(fraction.padEnd(6, '0').slice(0, 6));
}

/**
 * Thread parents deleted while they have replies stay in the history as a
 * `tombstone` ("This message was deleted."), so that much of a deletion a
 * pull can see.
 */
const DELETED_SUBTYPES = new Set(['tombstone']);

export function messageRecord(channel: string, message: SlackMessage): NormalizedRecord {
  const updatedTs = message.edited?.ts ?? message.ts;
  const data: Record<string, unknown> = {
    channel,
    ts: message.ts,
    text: message.text ?? '',
    user: message.user ?? null,
    bot_id: message.bot_id ?? null,
    subtype: message.subtype ?? null,
    thread_ts: message.thread_ts ?? null,
    reply_count: message.reply_count ?? 0,
    created_at: tsToIso(message.ts),
    edited_at: message.edited ? tsToIso(message.edited.ts) : null,
  };
  // Our own pushes carry their idempotency key as message metadata (push.ts).
  if (message.metadata) data.metadata = { event_type: message.metadata.event_type, event_payload: message.metadata.event_payload ?? {} };
  return {
    externalId: messageExternalId(channel, message.ts),
    entityType: MESSAGE_ENTITY,
    updatedAt: tsToIso(updatedTs),
    deleted: message.subtype !== undefined && DELETED_SUBTYPES.has(message.subtype),
    data,
  };
}

/** A message known only by its id and the time it was deleted (a `message_deleted` event). */
export function deletedRecord(channel: string, ts: string, deletedAtTs: string): NormalizedRecord {
  return {
    externalId: messageExternalId(channel, ts),
    entityType: MESSAGE_ENTITY,
    updatedAt: tsToIso(deletedAtTs),
    deleted: true,
    data: { channel, ts, deleted_at: tsToIso(deletedAtTs) },
  };
}
