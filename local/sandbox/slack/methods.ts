/**
 * The Web API methods the sandbox serves, with Slack's arguments, answers
 * and error codes (HTTP 200 with `ok: false`):
 * - conversations.history https://docs.slack.dev/reference/methods/conversations.history
 * - chat.postMessage https://docs.slack.dev/reference/methods/chat.postMessage
 * - chat.update https://docs.slack.dev/reference/methods/chat.update
 * - chat.delete https://docs.slack.dev/reference/methods/chat.delete
 * - auth.test https://docs.slack.dev/reference/methods/auth.test
 */
import { micros, type SandboxMessage } from './state';
import type { TokenInfo } from './tokens';
import type { SlackWorkspace } from './workspace';

export type Args = Record<string, unknown>;
export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** `limit` default and ceiling (conversations.history); 15 for both outside the Marketplace. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 999;
/** chat.postMessage truncates beyond 40,000 characters; the sandbox refuses, as chat.update does (`msg_too_long`). */
const MAX_TEXT = 40_000;
const TS = /^\d{1,12}(\.\d{1,6})?$/;

export interface MethodOptions {
  /** Cap `limit` at this many messages (15 for non-Marketplace apps). */
  historyLimitCap?: number;
}

export const ok = (body: Record<string, unknown> = {}): Reply => ({ status: 200, body: { ok: true, ...body } });
export const fail = (error: string, status = 200): Reply => ({ status, body: { ok: false, error } });

export function conversationsHistory(ws: SlackWorkspace, args: Args, options: MethodOptions): Reply {
  const channel = str(args.channel);
  if (channel === undefined || !ws.state.hasChannel(channel)) return fail('channel_not_found');
  if (!ws.state.isMember(channel)) return fail('not_in_channel');
  const oldest = str(args.oldest);
  const latest = str(args.latest);
  if (oldest !== undefined && !TS.test(oldest)) return fail('invalid_ts_oldest');
  if (latest !== undefined && !TS.test(latest)) return fail('invalid_ts_latest');
  const cap = options.historyLimitCap ?? MAX_LIMIT;
  const asked = int(args.limit);
  const limit = Math.min(cap, asked === undefined || asked < 1 ? Math.min(DEFAULT_LIMIT, cap) : asked);
  let before: string | undefined;
  const cursor = str(args.cursor);
  if (cursor !== undefined && cursor !== '') {
    before = decodeCursor(cursor);
    if (before === undefined) return fail('invalid_cursor');
  }
  const query = { inclusive: bool(args.inclusive), limit, ...(oldest === undefined ? {} : { oldest }), ...(latest === undefined ? {} : { latest }), ...(before === undefined ? {} : { before }) };
  const page = ws.state.history(channel, query);
  const withMetadata = bool(args.include_all_metadata);
  const body: Record<string, unknown> = {
    messages: page.messages.map((m) => visible(m, withMetadata)),
    has_more: page.next !== undefined,
    pin_count: 0,
    channel_actions_ts: null,
    channel_actions_count: 0,
  };
  if (page.next !== undefined) body.response_metadata = { next_cursor: encodeCursor(page.next) };
  return ok(body);
}

export function chatPostMessage(ws: SlackWorkspace, args: Args, caller: TokenInfo): Reply {
  const channel = str(args.channel);
  if (channel === undefined || !ws.state.hasChannel(channel)) return fail('channel_not_found');
  if (!ws.state.isMember(channel)) return fail('not_in_channel');
  const content = messageContent(args);
  if ('error' in content) return fail(content.error);
  const metadata = parseMetadata(args.metadata);
  if (metadata === 'invalid') return fail('invalid_metadata_format');
  const threadTs = str(args.thread_ts);
  // Slack does not document this case's code (unverified); a missing parent is refused rather than posted top-level.
  if (threadTs !== undefined && ws.state.get(channel, threadTs) === undefined) return fail('thread_not_found');
  const message = ws.post(channel, {
    ...content,
    user: caller.botUserId,
    botId: caller.botId,
    appId: caller.appId,
    ...(threadTs === undefined ? {} : { threadTs, replyBroadcast: bool(args.reply_broadcast) }),
    ...(metadata === undefined ? {} : { metadata }),
  });
  return ok({ channel, ts: message.ts, message: visible(message, true) });
}

export function chatUpdate(ws: SlackWorkspace, args: Args, caller: TokenInfo): Reply {
  const target = ownMessage(ws, args, caller, 'cant_update_message');
  if ('error' in target) return fail(target.error);
  const content = messageContent(args);
  if ('error' in content) return fail(content.error);
  const message = ws.edit(target.channel, target.ts, content.text, caller.botUserId, content.blocks);
  if (!message) return fail('message_not_found');
  // The documented answer echoes the text and the message's text and author.
  return ok({ channel: target.channel, ts: target.ts, text: message.text, message: { text: message.text, user: message.user, bot_id: message.bot_id } });
}

export function chatDelete(ws: SlackWorkspace, args: Args, caller: TokenInfo): Reply {
  const target = ownMessage(ws, args, caller, 'cant_delete_message');
  if ('error' in target) return fail(target.error);
  if (!ws.delete(target.channel, target.ts)) return fail('message_not_found');
  return ok({ channel: target.channel, ts: target.ts });
}

export function authTest(ws: SlackWorkspace, caller: TokenInfo): Reply {
  return ok({
    url: `https://${ws.identity.teamName.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.slack.com/`,
    team: ws.identity.teamName,
    user: 'castiel-sandbox-bot',
    team_id: caller.teamId,
    user_id: caller.botUserId,
    bot_id: caller.botId,
    is_enterprise_install: false,
  });
}

/** Bots may change only their own messages. */
function ownMessage(ws: SlackWorkspace, args: Args, caller: TokenInfo, notOwn: string): { channel: string; ts: string } | { error: string } {
  const channel = str(args.channel);
  if (channel === undefined || !ws.state.hasChannel(channel)) return { error: 'channel_not_found' };
  const ts = str(args.ts);
  const message = ts === undefined ? undefined : ws.state.get(channel, ts);
  if (ts === undefined || !message || message.subtype === 'tombstone') return { error: 'message_not_found' };
  if (message.bot_id !== caller.botId) return { error: notOwn };
  return { channel, ts };
}

function messageContent(args: Args): { text: string; blocks?: Record<string, unknown>[] } | { error: string } {
  const text = str(args.text) ?? '';
  const blocks = parseBlocks(args.blocks);
  if (blocks === 'invalid') return { error: 'invalid_blocks' };
  if (text === '' && blocks === undefined) return { error: 'no_text' };
  if (text.length > MAX_TEXT) return { error: 'msg_too_long' };
  return blocks === undefined ? { text } : { text, blocks };
}

/** History shows metadata only when asked for (`include_all_metadata`). */
function visible(message: SandboxMessage, withMetadata: boolean): Record<string, unknown> {
  const { metadata, ...rest } = message;
  return withMetadata && metadata ? { ...rest, metadata } : rest;
}

/** Slack's cursors are base64 of `next_ts:<ts without the dot>`, e.g. `bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz`. */
function encodeCursor(ts: string): string {
  return Buffer.from(`next_ts:${micros(ts)}`).toString('base64');
}

function decodeCursor(cursor: string): string | undefined {
  const match = /^next_ts:(\d{7,19})$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!match?.[1]) return undefined;
  const digits = match[1];
  return `${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

function parseJsonArg(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return Symbol.for('invalid');
  }
}

function parseBlocks(value: unknown): Record<string, unknown>[] | undefined | 'invalid' {
  if (value === undefined || value === '') return undefined;
  const parsed = parseJsonArg(value);
  return Array.isArray(parsed) && parsed.every(isObject) ? parsed : 'invalid';
}

function parseMetadata(value: unknown): { event_type: string; event_payload: Record<string, unknown> } | undefined | 'invalid' {
  if (value === undefined || value === '') return undefined;
  const parsed = parseJsonArg(value);
  if (!isObject(parsed) || typeof parsed.event_type !== 'string' || !isObject(parsed.event_payload)) return 'invalid';
  return { event_type: parsed.event_type, event_payload: parsed.event_payload };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : undefined;
}

function int(value: unknown): number | undefined {
  const s = str(value);
  return s !== undefined && /^\d{1,6}$/.test(s) ? Number(s) : undefined;
}

function bool(value: unknown): boolean {
  return value === true || value === 'true' || value === '1' || value === 1;
}
