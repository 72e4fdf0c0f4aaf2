/**
 * Writes to Slack: messages only.
 * - create → chat.postMessage (https://docs.slack.dev/reference/methods/chat.postMessage)
 * - update → chat.update (https://docs.slack.dev/reference/methods/chat.update)
 * - delete → chat.delete (https://docs.slack.dev/reference/methods/chat.delete)
 *
 * Idempotency: Slack has no idempotency keys. Update is idempotent by nature
 * (the same text twice leaves the same message). Delete is made idempotent
 * here: `message_not_found` means an earlier attempt already deleted it.
 * Create is at-least-once: a post whose answer was lost and is retried
 * posts twice. To make duplicates findable, every post carries the
 * operation's idempotency key as message metadata
 * (https://docs.slack.dev/messaging/message-metadata), which the pull
 * returns in `data.metadata`; a reconciler can delete the extra copy.
 * A payload Slack would refuse is an UnrecoverableError (parked with the
 * reason), never retried.
 *
 * Conditional updates and deletes: Slack's write methods take no version,
 * so with `seen` the message is re-read just before writing
 * (conversations.history narrowed to its `ts`) and a text other than the
 * one we saw is a PushConflictError. Times are not compared: chat.update
 * does not return the edit time, so after our own write we hold no Slack
 * time to compare with. A thread reply is not listed by conversations.history;
 * it is written without the re-read. The re-read is a conversations.history
 * call: apps outside the Marketplace get 1 a minute (PROVIDERS.md), so their
 * pushes wait for the limiter.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../../errors';
import { changedSince, PushConflictError } from '../push-conflict';
import type { CallContext, PushOperation, PushResult, PushSupport } from '../types';
import { accessToken, slackCall, slackCallAllowing } from './api';
import { MESSAGE_ENTITY, messageExternalId, messageRecord, parseMessageExternalId, tsToIso } from './records';
import {
  channelIdSchema,
  deleteResponseSchema,
  historyResponseSchema,
  messageTsSchema,
  writeResponseSchema,
  type SlackConfig,
  type SlackCredentials,
} from './schemas';

/** Slack truncates `text` beyond 40,000 characters (chat.postMessage "Truncating content"). */
const MAX_TEXT = 40_000;
/** Block Kit allows at most 50 blocks per message (https://docs.slack.dev/reference/block-kit/blocks). */
const MAX_BLOCKS = 50;
/** The metadata event type our pushes are stamped with. */
export const PUSH_METADATA_EVENT = 'castiel_sync_push';

const blocks = z.array(z.record(z.string(), z.unknown())).max(MAX_BLOCKS);
/**
 * The outbound worker sends the stored record's data merged with the local
 * change, so other record fields (`user`, `created_at`, null `thread_ts`…)
 * come along: they are read-only at Slack and dropped here, not refused.
 */
const createPayload = z.object({
  /** Defaults to the first configured conversation. */
  channel: channelIdSchema.nullish(),
  text: z.string().min(1).max(MAX_TEXT),
  blocks: blocks.nullish(),
  thread_ts: messageTsSchema.nullish(),
  reply_broadcast: z.boolean().nullish(),
});
const updatePayload = z.object({ text: z.string().min(1).max(MAX_TEXT), blocks: blocks.nullish() });

type Ctx = CallContext<SlackConfig, SlackCredentials>;

const WRITABLE_ON_CREATE = new Set(['channel', 'text', 'blocks', 'thread_ts', 'reply_broadcast']);
const WRITABLE_ON_UPDATE = new Set(['text', 'blocks']);

export const slackPush: PushSupport<SlackConfig, SlackCredentials> = {
  entityTypes: [MESSAGE_ENTITY],
  writable: (entityType, field, op) => entityType === MESSAGE_ENTITY && (op === 'create' ? WRITABLE_ON_CREATE : WRITABLE_ON_UPDATE).has(field),
  conditional: true,

  async apply(ctx, operation) {
    if (operation.entityType !== MESSAGE_ENTITY) throw new UnrecoverableError(`Slack cannot push entity type '${operation.entityType}'`);
    switch (operation.op) {
      case 'create':
        return create(ctx, operation);
      case 'update':
        return update(ctx, operation);
      case 'delete':
        return remove(ctx, operation);
    }
  },
};

async function create(ctx: Ctx, operation: PushOperation): Promise<PushResult> {
  const payload = parse(createPayload, operation.payload, 'create');
  const channel = payload.channel ?? ctx.config.channels[0];
  if (channel === undefined) throw new UnrecoverableError('Slack create: no channel given or configured');
  const result = await slackCall(ctx, {
    method: 'chat.postMessage',
    http: 'POST',
    token: accessToken(ctx.credentials),
    args: {
      channel,
      text: payload.text,
      blocks: payload.blocks ?? undefined,
      thread_ts: payload.thread_ts ?? undefined,
      reply_broadcast: payload.reply_broadcast ?? undefined,
      metadata: { event_type: PUSH_METADATA_EVENT, event_payload: { idempotency_key: operation.idempotencyKey } },
    },
    schema: writeResponseSchema,
  });
  const { channel: at, ts } = result;
  return { externalId: messageExternalId(at, ts), version: ts, updatedAt: tsToIso(ts) };
}

async function update(ctx: Ctx, operation: PushOperation): Promise<PushResult> {
  const target = messageId(operation);
  // chat.update needs the text even when the patch changes only the blocks: the one we saw is the current one.
  const seenText = operation.seen?.data.text;
  const withText = operation.payload.text === undefined && typeof seenText === 'string' ? { ...operation.payload, text: seenText } : operation.payload;
  const payload = parse(updatePayload, withText, 'update');
  await checkUnchanged(ctx, target, operation);
  const result = await slackCallAllowing(
    ctx,
    {
      method: 'chat.update',
      http: 'POST',
      token: accessToken(ctx.credentials),
      args: { channel: target.channel, ts: target.ts, text: payload.text, blocks: payload.blocks ?? undefined },
      schema: writeResponseSchema,
    },
    ['message_not_found'],
  );
  if (!result.ok) throw new UnrecoverableError(`Slack chat.update: message ${target.channel}:${target.ts} no longer exists`);
  const edited = result.body.message?.edited?.ts;
  const out: PushResult = { externalId: messageExternalId(result.body.channel, result.body.ts) };
  if (edited !== undefined) {
    out.version = edited;
    out.updatedAt = tsToIso(edited);
  }
  return out;
}

async function remove(ctx: Ctx, operation: PushOperation): Promise<PushResult> {
  const target = messageId(operation);
  await checkUnchanged(ctx, target, operation);
  const result = await slackCallAllowing(
    ctx,
    {
      method: 'chat.delete',
      http: 'POST',
      token: accessToken(ctx.credentials),
      args: { channel: target.channel, ts: target.ts },
      schema: deleteResponseSchema,
    },
    ['message_not_found'],
  );
  // Already gone (an earlier attempt, or someone in Slack): the delete's goal holds.
  return { externalId: result.ok ? messageExternalId(result.body.channel, result.body.ts) : messageExternalId(target.channel, target.ts) };
}

/** The re-read half of a conditional write: the message Slack holds now must carry the text we saw. */
async function checkUnchanged(ctx: Ctx, target: { channel: string; ts: string }, operation: PushOperation): Promise<void> {
  const seen = operation.seen;
  if (!seen) return;
  const history = await slackCall(ctx, {
    method: 'conversations.history',
    http: 'GET',
    token: accessToken(ctx.credentials),
    args: { channel: target.channel, latest: target.ts, oldest: target.ts, inclusive: true, limit: 1, include_all_metadata: true },
    schema: historyResponseSchema,
  });
  const current = history.messages.find((m) => m.ts === target.ts);
  // Not listed: a thread reply (history lists parents only) or gone (the write itself then says so).
  if (!current) return;
  const remote = messageRecord(target.channel, current);
  const reason = changedSince(seen, remote, operation.op === 'delete' ? { text: null } : operation.payload, { byTime: false });
  if (reason !== undefined) throw new PushConflictError(`Slack message ${remote.externalId}: ${reason}`, remote);
}

function messageId(operation: PushOperation): { channel: string; ts: string } {
  const id = operation.externalId === undefined ? undefined : parseMessageExternalId(operation.externalId);
  if (!id) throw new UnrecoverableError(`Slack ${operation.op}: externalId must be '<channel>:<ts>'`);
  return id;
}

function parse<T>(schema: z.ZodType<T>, payload: unknown, op: string): T {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UnrecoverableError(`Slack ${op}: invalid payload (${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'})`);
}
