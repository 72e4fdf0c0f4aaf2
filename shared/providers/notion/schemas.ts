/**
 * Everything the Notion provider reads from outside — integration config,
 * credentials, API responses, token responses, webhook payloads — is parsed
 * here with zod. Response objects are `.loose()`: we validate the fields we
 * use and ignore the rest, so Notion adding a field never breaks a sync.
 */
import { z } from 'zod';
import { tokenResponseSchema } from '../oauth';

/**
 * Notion object ids are UUIDs, accepted with or without dashes
 * (https://developers.notion.com/reference/intro#conventions).
 */
export const NOTION_ID = /^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const notionId = z.string().regex(NOTION_ID, 'not a Notion id (a UUID, with or without dashes)');

export const notionConfigSchema = z.object({
  /** The data source (a database's table, API 2025-09-03) whose pages are synced. */
  dataSourceId: notionId,
  /**
   * Optional rich_text property of that data source that holds our
   * idempotency key on pages we create, so a retried create finds the page
   * instead of making a second one (Notion has no idempotency keys).
   */
  idempotencyProperty: z.string().min(1).max(100).optional(),
});
export type NotionConfig = z.infer<typeof notionConfigSchema>;

const secret = z.string().min(1).max(2048);

/**
 * `internal`: an internal integration token (static; never expires).
 * `oauth`: a public integration's access token. Notion sends no `expires_in`
 * (`expiresAt` is kept should it start to), and a refresh returns a new
 * refresh token. `refresh()` receives only config and credentials, so the
 * OAuth client it authenticates with lives here, in the secret store.
 */
export const notionCredentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('internal'), token: secret }),
  z.object({
    type: z.literal('oauth'),
    accessToken: secret,
    refreshToken: secret.optional(),
    clientId: z.string().min(1).max(256),
    clientSecret: secret,
    /** Epoch ms; absent while Notion's tokens carry no expiry. */
    expiresAt: z.number().int().positive().optional(),
    botId: z.string().max(256).optional(),
    workspaceId: z.string().max(256).optional(),
    workspaceName: z.string().max(1024).optional(),
  }),
]);
export type NotionCredentials = z.infer<typeof notionCredentialsSchema>;
export type NotionOAuthCredentials = Extract<NotionCredentials, { type: 'oauth' }>;

const timestamp = z.iso.datetime({ offset: true });

/** A property value: always typed; the value sits under the key named by `type`. */
export const notionPropertyValueSchema = z.object({ id: z.string().optional(), type: z.string() }).loose();
export type NotionPropertyValue = z.infer<typeof notionPropertyValueSchema>;

/** The page object (https://developers.notion.com/reference/page). */
export const notionPageSchema = z
  .object({
    object: z.literal('page'),
    id: notionId,
    created_time: timestamp,
    last_edited_time: timestamp,
    // `archived` is the older name of `in_trash`; either one true means deleted.
    archived: z.boolean().optional(),
    in_trash: z.boolean().optional(),
    url: z.string().optional(),
    parent: z.object({ type: z.string() }).loose(),
    properties: z.record(z.string(), notionPropertyValueSchema),
  })
  .loose();
export type NotionPage = z.infer<typeof notionPageSchema>;

/**
 * A paginated list (https://developers.notion.com/reference/intro#pagination).
 * Results are checked one by one: a wiki data source also lists data sources.
 */
export const notionListSchema = z
  .object({
    object: z.literal('list'),
    results: z.array(z.object({ object: z.string() }).loose()),
    next_cursor: z.string().min(1).nullable(),
    has_more: z.boolean(),
  })
  .loose();

/** The error body (https://developers.notion.com/reference/status-codes). */
export const notionErrorSchema = z
  .object({ object: z.literal('error'), status: z.number().optional(), code: z.string(), message: z.string() })
  .loose();

/** `POST /v1/oauth/token` answer (https://developers.notion.com/reference/create-a-token). */
export const notionTokenResponseSchema = tokenResponseSchema.extend({
  bot_id: z.string().optional(),
  workspace_id: z.string().optional(),
  workspace_name: z.string().nullable().optional(),
});
export type NotionTokenResponse = z.infer<typeof notionTokenResponseSchema>;

/** Event ids are UUIDs (https://developers.notion.com/reference/webhooks-events-delivery). */
const EVENT_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** `page.created`, `data_source.schema_updated`, `comment.created`… */
const EVENT_TYPE = /^[a-z][a-z_]{0,31}(?:\.[a-z][a-z_]{0,31}){1,3}$/;

/** Fields every webhook event shares (https://developers.notion.com/reference/webhooks-events-delivery#event-properties). */
export const notionWebhookEventSchema = z
  .object({
    id: z.string().regex(EVENT_ID),
    type: z.string().regex(EVENT_TYPE),
    timestamp,
    // "A number ranged from 1 - 8 that indicates the attempt number of the current event delivery".
    attempt_number: z.number().int().min(1).max(8),
    entity: z.object({ id: z.string().min(1).max(64), type: z.string().min(1).max(64) }).loose(),
  })
  .loose();
export type NotionWebhookEvent = z.infer<typeof notionWebhookEventSchema>;

/**
 * The subscription handshake: exactly `{"verification_token": "..."}`
 * (https://developers.notion.com/reference/webhooks#step-2-verifying-the-subscription).
 * Documented tokens look like `secret_` + 43 base62 characters; any
 * reasonable token-like string is accepted.
 */
export const notionHandshakeSchema = z.strictObject({
  verification_token: z.string().regex(/^[A-Za-z0-9_-]{16,256}$/),
});
