/**
 * What a verified Events API envelope means for us
 * (https://docs.slack.dev/apis/events-api/), and the records a stored
 * delivery's body holds.
 *
 * - `url_verification`: echo the challenge (the subscription handshake).
 * - `event_callback`: one event, deduped on the envelope's `event_id` (Slack
 *   retries keep it). Its name is `type[.subtype]`, e.g.
 *   `message.message_changed`.
 * - `app_rate_limited`: Slack dropped events for a minute; accepted (keyed by
 *   team and minute) so a sync runs and picks up what a pull can see.
 *
 * Webhook events are the only way edits and deletions reach us (a pull
 * filters on creation time), so `slackEventRecords` turns a stored delivery
 * into the records it implies: `message_changed` → the edited message,
 * `message_deleted` → a deleted record, a new message → that message.
 */
import { parseJson } from '../../http/json';
import type { NormalizedRecord, WebhookReply, WebhookVerdict } from '../types';
import { deletedRecord, messageRecord, tsToIso } from './records';
import {
  CHANNEL_ID,
  messageChangedSchema,
  messageDeletedSchema,
  messagePostedSchema,
  slackEnvelopeBodySchema,
  type SlackConfig,
} from './schemas';

const NAME_PART = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Subtypes that are news about another message, not a message of their own
 * (join/leave notices are real messages: the history lists them too).
 */
const NOT_A_MESSAGE = new Set(['message_changed', 'message_deleted', 'message_replied']);

const ignored = (reason: string): WebhookVerdict => ({
  kind: 'respond',
  // 200, not 4xx: Slack retries failures and disables a subscription that keeps failing.
  reply: { status: 200, body: JSON.stringify({ ok: true, ignored: reason }), contentType: 'application/json' },
});

/** The verdict for a body whose signature has already been verified. */
export function envelopeVerdict(json: unknown, config: SlackConfig): WebhookVerdict {
  const parsed = slackEnvelopeBodySchema.safeParse(json);
  if (!parsed.success) return { kind: 'reject', status: 400, reason: 'body is not a Slack Events API envelope' };
  const body = parsed.data;
  switch (body.type) {
    case 'url_verification': {
      const reply: WebhookReply = { status: 200, body: body.challenge, contentType: 'text/plain' };
      return { kind: 'respond', reply };
    }
    case 'app_rate_limited':
      if (config.teamId !== undefined && body.team_id !== config.teamId) return ignored('another workspace');
      return { kind: 'accept', events: [{ deliveryId: `app_rate_limited.${body.team_id}.${body.minute_rate_limited}`, event: 'app_rate_limited' }] };
    case 'event_callback': {
      if (config.teamId !== undefined && body.team_id !== undefined && body.team_id !== config.teamId) return ignored('another workspace');
      const { channel } = body.event;
      // Events for conversations this integration does not sync would only queue a useless pull.
      if (typeof channel === 'string' && CHANNEL_ID.test(channel) && !config.channels.includes(channel)) return ignored('channel not synced');
      return { kind: 'accept', events: [{ deliveryId: body.event_id, event: eventName(body.event.type, body.event.subtype) }] };
    }
  }
}

function eventName(type: string, subtype: string | undefined): string {
  const base = NAME_PART.test(type) ? type : 'unknown';
  return subtype !== undefined && NAME_PART.test(subtype) ? `${base}.${subtype}` : base;
}

/**
 * The records an accepted delivery's raw body implies (empty for events that
 * are not about a message in a synced conversation). For the pipeline to
 * apply edits and deletions that a pull never sees.
 */
export function slackEventRecords(rawBody: Buffer | string, config: SlackConfig): NormalizedRecord[] {
  let json: unknown;
  try {
    json = parseJson(rawBody);
  } catch {
    return [];
  }
  const envelope = slackEnvelopeBodySchema.safeParse(json);
  if (!envelope.success || envelope.data.type !== 'event_callback') return [];
  const event: unknown = envelope.data.event;
  const synced = (channel: string): boolean => config.channels.includes(channel);

  const changed = messageChangedSchema.safeParse(event);
  if (changed.success) {
    const { channel, message } = changed.data;
    if (!synced(channel)) return [];
    // A message_changed without `edited` (an unfurl was added, a reply counted) is as of the event's own ts.
    const record = messageRecord(channel, message);
    return [message.edited ? record : { ...record, updatedAt: tsToIso(changed.data.ts) }];
  }
  const deleted = messageDeletedSchema.safeParse(event);
  if (deleted.success) {
    const { channel, deleted_ts, ts } = deleted.data;
    return synced(channel) ? [deletedRecord(channel, deleted_ts, ts)] : [];
  }
  const posted = messagePostedSchema.safeParse(event);
  if (posted.success && !(posted.data.subtype !== undefined && NOT_A_MESSAGE.has(posted.data.subtype))) {
    return synced(posted.data.channel) ? [messageRecord(posted.data.channel, posted.data)] : [];
  }
  return [];
}
