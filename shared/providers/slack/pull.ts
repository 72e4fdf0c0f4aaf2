/**
 * Incremental pull of the configured conversations' messages.
 * https://docs.slack.dev/reference/methods/conversations.history
 *
 * `conversations.history?channel=&oldest=&limit=&cursor=` answers newest
 * first, paging backwards with `response_metadata.next_cursor` while
 * `has_more`. `oldest` is exclusive (we never send `inclusive`), and a
 * message's `ts` is unique in its conversation, so each run starts just
 * after the newest `ts` the previous run read: nothing is read twice and,
 * since messages posted during a run are newer than its first page, nothing
 * is missed either.
 *
 * What a pull cannot see: `oldest` filters on creation time, so an edit to
 * an older message or a deletion never shows up here. Those arrive only as
 * Events API `message_changed` / `message_deleted` events (webhook.ts, and
 * events.ts turns a stored delivery into records). Thread parents deleted
 * with replies stay as `tombstone` messages and come through as deleted.
 * Thread replies are not listed by conversations.history (only parents and
 * "also send to channel" broadcasts); conversations.replies would fetch them.
 *
 * Cursor: `channels` maps each conversation to the newest `ts` read (the next
 * run's `oldest`). Mid-run only: `pending` lists the conversations still to
 * read in this run (the first one in progress), `next` is Slack's cursor for
 * its next page and `high` the newest `ts` read from it so far.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../../errors';
import type { Cursor, PullContext, PullPage } from '../types';
import { accessToken, slackCallAllowing } from './api';
import { compareTs, messageRecord } from './records';
import {
  channelIdSchema,
  DEFAULT_PAGE_SIZE,
  historyResponseSchema,
  messageTsSchema,
  type SlackConfig,
  type SlackCredentials,
} from './schemas';

export const slackCursorSchema = z.object({
  channels: z.record(channelIdSchema, messageTsSchema).optional(),
  pending: z.array(channelIdSchema).min(1).optional(),
  next: z.string().regex(/^[A-Za-z0-9+/=_-]{1,4096}$/).optional(),
  high: messageTsSchema.optional(),
});
export type SlackCursor = z.infer<typeof slackCursorSchema>;

export async function* pullSlackMessages(ctx: PullContext<SlackConfig, SlackCredentials>): AsyncGenerator<PullPage> {
  const start = startingPoint(ctx.cursor, ctx.config);
  const watermarks = start.watermarks;
  const pending = start.pending;
  let next = start.next;
  let high = start.high;
  const token = accessToken(ctx.credentials);
  const limit = ctx.config.pageSize ?? DEFAULT_PAGE_SIZE;

  for (let i = 0; i < pending.length; i++) {
    const channel = pending[i] as string;
    for (;;) {
      const result = await slackCallAllowing(
        ctx,
        {
          method: 'conversations.history',
          http: 'GET',
          token,
          args: { channel, limit, oldest: watermarks[channel], cursor: next, include_all_metadata: true },
          schema: historyResponseSchema,
        },
        ['invalid_cursor'],
      );
      if (!result.ok) {
        // A stored page cursor Slack no longer honours: read the conversation again from its watermark.
        if (next === undefined) throw new UnrecoverableError('Slack conversations.history: invalid_cursor without a cursor');
        next = undefined;
        continue;
      }
      const records = result.body.messages.map((m) => messageRecord(channel, m));
      for (const m of result.body.messages) if (high === undefined || compareTs(m.ts, high) > 0) high = m.ts;

      const cursor = result.body.response_metadata?.next_cursor;
      if (cursor !== undefined && cursor !== '' && result.body.has_more !== false) {
        next = cursor;
        yield { records, cursor: compact({ channels: { ...watermarks }, pending: pending.slice(i), next, high }), done: false };
        continue;
      }
      if (high !== undefined) watermarks[channel] = high;
      next = undefined;
      high = undefined;
      const rest = pending.slice(i + 1);
      const done = rest.length === 0;
      yield { records, cursor: compact({ channels: { ...watermarks }, pending: done ? undefined : rest }), done };
      break;
    }
  }
}

interface StartingPoint {
  watermarks: Record<string, string>;
  pending: string[];
  next?: string;
  high?: string;
}

/**
 * A cursor that does not parse is dropped and the run starts over from
 * scratch: records are idempotent, so a full re-read costs time, not data.
 * Conversations no longer configured are forgotten; newly configured ones
 * start with their full history (on the next run, when a run is in progress).
 */
function startingPoint(stored: Cursor | undefined, config: SlackConfig): StartingPoint {
  const parsed = slackCursorSchema.safeParse(stored ?? {});
  const cursor: SlackCursor = parsed.success ? parsed.data : {};
  const configured = new Set(config.channels);
  const watermarks: Record<string, string> = {};
  for (const [channel, ts] of Object.entries(cursor.channels ?? {})) if (configured.has(channel)) watermarks[channel] = ts;

  const resumed = (cursor.pending ?? []).filter((c) => configured.has(c));
  if (resumed.length === 0) return { watermarks, pending: [...config.channels] };
  const out: StartingPoint = { watermarks, pending: resumed };
  // `next` and `high` belong to the first pending conversation; if that one was unconfigured, they go with it.
  if (resumed[0] === cursor.pending?.[0]) {
    if (cursor.next !== undefined) out.next = cursor.next;
    if (cursor.high !== undefined) out.high = cursor.high;
  }
  return out;
}

function compact(cursor: Record<string, unknown>): Cursor {
  const out: Cursor = {};
  for (const [k, v] of Object.entries(cursor)) if (v !== undefined) out[k] = v;
  return out;
}
