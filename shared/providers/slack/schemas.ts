/**
 * Everything the Slack provider reads from outside — integration config,
 * credentials, Web API responses, Events API envelopes — is parsed here with
 * zod. Response objects are `.loose()`: we validate the fields we use and
 * ignore the rest, so Slack adding a field never breaks a sync.
 *
 * Slack answers almost every Web API error with HTTP 200 and
 * `{"ok": false, "error": "<code>"}` (https://docs.slack.dev/apis/web-api/#responses);
 * api.ts checks `ok` before any of the success shapes below is applied.
 */
import { z } from 'zod';

/**
 * Conversation ids: `C…` public channels, `G…` private channels and group
 * DMs, `D…` direct messages; upper-case letters and digits.
 */
export const CHANNEL_ID = /^[CGD][A-Z0-9]{2,20}$/;
/** Message timestamps: epoch seconds and a six-digit sequence, e.g. `1512085950.000216`. */
export const MESSAGE_TS = /^\d{1,12}\.\d{6}$/;
/** Workspace (`T…`) or Enterprise Grid org (`E…`) ids. */
const TEAM_ID = /^[TE][A-Z0-9]{2,20}$/;

export const channelIdSchema = z.string().regex(CHANNEL_ID, 'not a Slack conversation id (C…, G… or D…)');
export const messageTsSchema = z.string().regex(MESSAGE_TS, 'not a Slack message timestamp');

/**
 * `conversations.history` page size: Slack allows up to 999 but recommends at
 * most 200 (https://docs.slack.dev/apis/web-api/pagination). Since 2025 apps
 * distributed outside the Marketplace are capped at 15 whatever they ask for
 * (https://docs.slack.dev/reference/methods/conversations.history).
 */
export const DEFAULT_PAGE_SIZE = 200;
export const MAX_PAGE_SIZE = 999;

export const slackConfigSchema = z.object({
  /** Conversations to sync, read in this order. */
  channels: z
    .array(channelIdSchema)
    .min(1)
    .max(100)
    .refine((ids) => new Set(ids).size === ids.length, 'channels must not repeat'),
  pageSize: z.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  /**
   * The workspace the integration belongs to. When set, webhook events for
   * other workspaces (one app installed in several) are acknowledged and
   * ignored rather than queued.
   */
  teamId: z.string().regex(TEAM_ID, 'not a Slack team id').optional(),
});
export type SlackConfig = z.infer<typeof slackConfigSchema>;

/** Tokens go into an Authorization header: printable ASCII, no spaces. */
const token = z.string().min(1).max(2048).regex(/^[\x21-\x7e]+$/, 'not a token');
/** Epoch milliseconds. */
const epochMs = z.number().int().positive();

/**
 * Three auth modes, discriminated on `type`:
 * - `bot`: a bot token (`xoxb-…`) pasted by an admin; never expires.
 * - `oauth`: from `oauth.v2.access` for an app without token rotation; never expires.
 * - `oauth_rotating`: from `oauth.v2.access` with token rotation on: the
 *   access token lives 12 h and every refresh replaces the refresh token,
 *   so the client id and secret travel with the credentials for the refresh.
 */
export const slackCredentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('bot'), token }),
  z.object({
    type: z.literal('oauth'),
    accessToken: token,
    teamId: z.string().max(64).optional(),
    botUserId: z.string().max(64).optional(),
    scope: z.string().max(4096).optional(),
  }),
  z.object({
    type: z.literal('oauth_rotating'),
    accessToken: token,
    refreshToken: token,
    expiresAt: epochMs,
    clientId: z.string().min(1).max(256),
    clientSecret: z.string().min(1).max(256),
    teamId: z.string().max(64).optional(),
    botUserId: z.string().max(64).optional(),
    scope: z.string().max(4096).optional(),
  }),
]);
export type SlackCredentials = z.infer<typeof slackCredentialsSchema>;
export type SlackRotatingCredentials = Extract<SlackCredentials, { type: 'oauth_rotating' }>;

/** The envelope every Web API answer shares. */
export const slackEnvelopeSchema = z.object({ ok: z.boolean(), error: z.string().max(200).optional() }).loose();

/**
 * A message as `conversations.history` and the Events API return it
 * (https://docs.slack.dev/reference/objects/message-object).
 */
export const slackMessageSchema = z
  .object({
    type: z.string().optional(),
    subtype: z.string().optional(),
    ts: messageTsSchema,
    text: z.string().optional(),
    user: z.string().optional(),
    bot_id: z.string().optional(),
    thread_ts: messageTsSchema.optional(),
    reply_count: z.number().int().nonnegative().optional(),
    edited: z.object({ user: z.string().optional(), ts: messageTsSchema }).loose().optional(),
    metadata: z.object({ event_type: z.string(), event_payload: z.record(z.string(), z.unknown()).optional() }).loose().optional(),
  })
  .loose();
export type SlackMessage = z.infer<typeof slackMessageSchema>;

/** https://docs.slack.dev/reference/methods/conversations.history */
export const historyResponseSchema = z
  .object({
    ok: z.literal(true),
    messages: z.array(slackMessageSchema),
    has_more: z.boolean().optional(),
    response_metadata: z.object({ next_cursor: z.string().max(4096).optional() }).loose().optional(),
  })
  .loose();

/** chat.postMessage and chat.update: https://docs.slack.dev/reference/methods/chat.postMessage */
export const writeResponseSchema = z
  .object({
    ok: z.literal(true),
    channel: channelIdSchema,
    ts: messageTsSchema,
    message: slackMessageSchema.partial({ ts: true }).optional(),
  })
  .loose();

/** https://docs.slack.dev/reference/methods/chat.delete */
export const deleteResponseSchema = z.object({ ok: z.literal(true), channel: channelIdSchema, ts: messageTsSchema }).loose();

/** `oauth.v2.access` success: https://docs.slack.dev/reference/methods/oauth.v2.access */
export const oauthAccessSchema = z
  .object({
    ok: z.literal(true),
    access_token: token,
    token_type: z.string().optional(),
    scope: z.string().max(4096).optional(),
    bot_user_id: z.string().max(64).optional(),
    team: z.object({ id: z.string().max(64) }).loose().nullable().optional(),
    refresh_token: token.optional(),
    expires_in: z.number().int().positive().optional(),
  })
  .loose();
export type OauthAccess = z.infer<typeof oauthAccessSchema>;

/** Events API envelopes: https://docs.slack.dev/apis/events-api/#callback-field */
const eventIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'not an event id');
export const slackEnvelopeBodySchema = z.discriminatedUnion('type', [
  // https://docs.slack.dev/reference/events/url_verification
  z.object({ type: z.literal('url_verification'), challenge: z.string().regex(/^[\x21-\x7e]{1,512}$/) }).loose(),
  z
    .object({
      type: z.literal('event_callback'),
      event_id: eventIdSchema,
      team_id: z.string().max(64).optional(),
      event: z.object({ type: z.string().max(128), subtype: z.string().max(128).optional(), channel: z.unknown().optional() }).loose(),
    })
    .loose(),
  // https://docs.slack.dev/reference/events/app_rate_limited
  z
    .object({
      type: z.literal('app_rate_limited'),
      team_id: z.string().regex(/^[A-Za-z0-9]{1,64}$/),
      minute_rate_limited: z.number().int().nonnegative(),
    })
    .loose(),
]);
export type SlackEnvelopeBody = z.infer<typeof slackEnvelopeBodySchema>;

/** The message events whose bodies become records (events.ts). */
export const messageChangedSchema = z
  .object({ type: z.literal('message'), subtype: z.literal('message_changed'), channel: channelIdSchema, ts: messageTsSchema, message: slackMessageSchema })
  .loose();
export const messageDeletedSchema = z
  .object({ type: z.literal('message'), subtype: z.literal('message_deleted'), channel: channelIdSchema, ts: messageTsSchema, deleted_ts: messageTsSchema })
  .loose();
export const messagePostedSchema = slackMessageSchema.extend({ type: z.literal('message'), channel: channelIdSchema });
