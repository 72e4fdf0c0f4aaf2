/**
 * Everything the Google provider reads from outside — integration config,
 * credentials, Drive and Calendar responses, error bodies — is parsed here
 * with zod. Response objects are `.loose()`: we check the fields we use and
 * keep the rest, so Google adding a field never breaks a sync.
 */
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';

/**
 * Calendar ids are email-like (`primary`, `team@group.calendar.google.com`);
 * Drive ids are URL-safe. Both are bounded so a config cannot smuggle a path.
 */
const CALENDAR_ID = /^[^\s/?#]{1,1024}$/;
const DRIVE_ID = /^[A-Za-z0-9_-]{1,256}$/;

export const googleConfigSchema = z
  .object({
    /** Sync Drive files (My Drive, or one shared drive when `driveId` is set). */
    drive: z.object({ driveId: z.string().regex(DRIVE_ID, 'not a valid Drive id').optional() }).strict().optional(),
    /** Sync one calendar's events (`primary` or a calendar id). */
    calendar: z.object({ calendarId: z.string().regex(CALENDAR_ID, 'not a valid calendar id') }).strict().optional(),
    /** Token endpoint override; by default derived from the base URL (see auth.ts). */
    tokenUri: z.url().optional(),
    /** Authorization endpoint override for the OAuth connect flow. */
    authorizeUri: z.url().optional(),
    /** OAuth scopes to request; by default the least the enabled resources need. */
    scopes: z.array(z.string().min(1).max(512)).min(1).max(20).optional(),
    /**
     * Watch-channel token (Drive/Calendar `X-Goog-Channel-Token`). Google caps
     * it at 256 characters; 16 is our floor so it cannot be guessed.
     * The integration's webhook secret is accepted as well (preferred: it
     * lives in Key Vault and supports rotation overlap).
     */
    channelToken: z.string().min(16).max(256).optional(),
    /** Pub/Sub push subscriptions with OIDC authentication. */
    pubsub: z
      .object({
        /** The service account the subscription signs its tokens as. */
        serviceAccountEmail: z.email(),
        /** The subscription's OIDC audience; Google defaults it to the push URL. */
        audience: z.string().min(1).max(2048).optional(),
        /** When set, only pushes from this subscription (`projects/p/subscriptions/s`) are accepted. */
        subscription: z.string().min(1).max(512).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((c) => c.drive !== undefined || c.calendar !== undefined, 'enable at least one of `drive` or `calendar`');
export type GoogleConfig = z.infer<typeof googleConfigSchema>;

const epochMs = z.number().int().nonnegative();

/** Credentials from the OAuth connect flow; the client is kept so the token can be refreshed. */
export const googleOAuthCredentialsSchema = z
  .object({
    type: z.literal('oauth'),
    clientId: z.string().min(1).max(512),
    clientSecret: z.string().min(1).max(512),
    accessToken: z.string().min(1).max(4096),
    refreshToken: z.string().min(1).max(4096).optional(),
    /** Access-token expiry, epoch ms. */
    expiresAt: epochMs.optional(),
    scope: z.string().max(4096).optional(),
  })
  .strict();

function isPrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

/**
 * A service account: the JSON key file as Google hands it out (snake_case,
 * `"type": "service_account"`), plus `subject` for domain-wide delegation
 * and the cached access token. Extra key-file fields (project_id, …) are
 * kept. `token_uri` in the key file is ignored: the token endpoint follows
 * the integration's base URL, so a pasted key cannot send the signed
 * assertion elsewhere.
 */
export const googleServiceAccountCredentialsSchema = z
  .object({
    type: z.literal('service_account'),
    client_email: z.email(),
    private_key: z.string().max(16_384).refine(isPrivateKey, 'not an RSA private key in PEM form'),
    private_key_id: z.string().min(1).max(256).optional(),
    /** The user to impersonate (domain-wide delegation). */
    subject: z.email().optional(),
    scopes: z.array(z.string().min(1).max(512)).min(1).max(20).optional(),
    accessToken: z.string().min(1).max(4096).optional(),
    expiresAt: epochMs.optional(),
  })
  .loose();

export const googleCredentialsSchema = z.discriminatedUnion('type', [googleOAuthCredentialsSchema, googleServiceAccountCredentialsSchema]);
export type GoogleCredentials = z.infer<typeof googleCredentialsSchema>;
export type GoogleOAuthCredentials = z.infer<typeof googleOAuthCredentialsSchema>;
export type GoogleServiceAccountCredentials = z.infer<typeof googleServiceAccountCredentialsSchema>;

const timestamp = z.iso.datetime({ offset: true });

/** https://developers.google.com/drive/api/reference/rest/v3/changes/getStartPageToken */
export const driveStartPageTokenSchema = z.object({ startPageToken: z.string().min(1) }).loose();

/** The file fields we request (see DRIVE_FILE_FIELDS in pull-drive.ts). */
export const driveFileSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().optional(),
    mimeType: z.string().optional(),
    trashed: z.boolean().optional(),
    parents: z.array(z.string()).optional(),
    createdTime: timestamp.optional(),
    modifiedTime: timestamp.optional(),
    // int64 fields travel as JSON strings.
    size: z.string().optional(),
    version: z.string().optional(),
    md5Checksum: z.string().optional(),
    webViewLink: z.string().optional(),
    driveId: z.string().optional(),
    owners: z.array(z.object({ emailAddress: z.string().optional() }).loose()).optional(),
  })
  .loose();
export type DriveFile = z.infer<typeof driveFileSchema>;

/** https://developers.google.com/drive/api/reference/rest/v3/files/list */
export const driveFileListSchema = z
  .object({ files: z.array(driveFileSchema).default([]), nextPageToken: z.string().min(1).optional() })
  .loose();

/** https://developers.google.com/drive/api/reference/rest/v3/changes#Change */
export const driveChangeSchema = z
  .object({
    // `changeType` is `file` or `drive` (shared-drive metadata); older responses only have `type`.
    changeType: z.string().optional(),
    removed: z.boolean().default(false),
    fileId: z.string().min(1).optional(),
    file: driveFileSchema.optional(),
    time: timestamp,
  })
  .loose();
export type DriveChange = z.infer<typeof driveChangeSchema>;

/** https://developers.google.com/drive/api/reference/rest/v3/changes/list */
export const driveChangeListSchema = z
  .object({
    changes: z.array(driveChangeSchema).default([]),
    nextPageToken: z.string().min(1).optional(),
    newStartPageToken: z.string().min(1).optional(),
  })
  .loose()
  .refine((l) => l.nextPageToken !== undefined || l.newStartPageToken !== undefined, 'neither nextPageToken nor newStartPageToken');

const eventTime = z.object({ date: z.string().optional(), dateTime: z.string().optional(), timeZone: z.string().optional() }).loose();

/** https://developers.google.com/calendar/api/v3/reference/events — a cancelled event may carry little more than id and status. */
export const calendarEventSchema = z
  .object({
    id: z.string().min(1),
    status: z.string().optional(),
    etag: z.string().optional(),
    updated: timestamp.optional(),
    created: timestamp.optional(),
    summary: z.string().optional(),
    description: z.string().optional(),
    location: z.string().optional(),
    htmlLink: z.string().optional(),
    iCalUID: z.string().optional(),
    recurringEventId: z.string().optional(),
    start: eventTime.optional(),
    end: eventTime.optional(),
    organizer: z.object({ email: z.string().optional() }).loose().optional(),
    attendees: z.array(z.object({ email: z.string().optional(), responseStatus: z.string().optional() }).loose()).optional(),
  })
  .loose();
export type CalendarEvent = z.infer<typeof calendarEventSchema>;

/** https://developers.google.com/calendar/api/v3/reference/events/list */
export const calendarEventListSchema = z
  .object({
    items: z.array(calendarEventSchema).default([]),
    updated: timestamp.optional(),
    nextPageToken: z.string().min(1).optional(),
    nextSyncToken: z.string().min(1).optional(),
  })
  .loose()
  .refine((l) => l.nextPageToken !== undefined || l.nextSyncToken !== undefined, 'neither nextPageToken nor nextSyncToken');

/**
 * Google's JSON error body (https://cloud.google.com/apis/design/errors#http_mapping
 * and the legacy `errors[]` with `reason`, which Drive and Calendar still send).
 */
export const googleErrorSchema = z
  .object({
    error: z
      .object({
        code: z.number().optional(),
        message: z.string().optional(),
        status: z.string().optional(),
        errors: z.array(z.object({ reason: z.string().optional(), message: z.string().optional() }).loose()).optional(),
      })
      .loose(),
  })
  .loose();
