/**
 * Everything the Salesforce provider reads from outside — integration config,
 * credentials, REST and token responses — is parsed here with zod. Response
 * objects are `.loose()`: we check the fields we use and keep the rest.
 */
import { z } from 'zod';
import { tokenResponseSchema } from '../oauth';

/**
 * API names of objects and fields: a letter, then letters, digits and
 * underscores, not ending in one (`Account`, `Invoice__c`, `ns__Thing__c`).
 * They are spliced into SOQL and URL paths, so nothing else may pass.
 * https://help.salesforce.com/s/articleView?id=sf.custom_field_attributes.htm
 */
export const API_NAME = /^[A-Za-z](?:[A-Za-z0-9_]{0,78}[A-Za-z0-9])?$/;
const apiName = z.string().regex(API_NAME, 'not a Salesforce API name');
/** A field or a relationship path up to five levels (`Owner.Name`), as SOQL allows. */
const fieldPath = z
  .string()
  .max(400)
  .refine((p) => p.split('.').length <= 5 && p.split('.').every((s) => API_NAME.test(s)), 'not a Salesforce field path');

/** 15-character case-sensitive or 18-character case-insensitive record ids. */
export const RECORD_ID = /^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/;
export const recordId = z.string().regex(RECORD_ID, 'not a Salesforce record id');
/** Organization ids have the key prefix 00D. */
const organizationId = z.string().regex(/^00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$/, 'not a Salesforce organization id (00D…)');

/**
 * Upsert by external id returns `created` from API 46.0 on; older versions
 * answer 204 without the record id. queryAll locators and the deleted feed
 * are older still.
 */
const MIN_API_VERSION = 46;
const apiVersion = z
  .string()
  .regex(/^\d{2,3}\.0$/, 'must look like "62.0"')
  .refine((v) => Number(v) >= MIN_API_VERSION, `must be ${MIN_API_VERSION}.0 or later`);

const objectSchema = z.strictObject({
  /** sObject API name; also the records' entityType. */
  name: apiName,
  /** Fields to read; Id, SystemModstamp and IsDeleted are always added. */
  fields: z.array(fieldPath).min(1).max(500),
  /** An External ID field: creates become upserts keyed by the idempotency key. */
  externalIdField: apiName.optional(),
  /** Also read `/sobjects/{T}/deleted` (catches hard deletes queryAll no longer sees). */
  deletedFeed: z.boolean().optional(),
});
export type SalesforceObjectConfig = z.infer<typeof objectSchema>;

export const salesforceConfigSchema = z.strictObject({
  /** REST API version; https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_versions.htm */
  apiVersion: apiVersion.default('62.0'),
  objects: z
    .array(objectSchema)
    .min(1)
    .max(50)
    .refine((objects) => new Set(objects.map((o) => o.name.toLowerCase())).size === objects.length, 'object names must be unique'),
  /** The org whose Outbound Messages we accept (15 or 18 characters). */
  organizationId: organizationId.optional(),
  /**
   * Seconds an incremental query reaches back before the stored watermark.
   * SOQL datetimes have one-second resolution, so the default 1 re-reads the
   * boundary second (a record committed late in that second is not lost);
   * raise it if long transactions commit after their SystemModstamp.
   */
  overlapSeconds: z.number().int().min(0).max(3600).default(1),
});
export type SalesforceConfig = z.infer<typeof salesforceConfigSchema>;

const secret = z.string().min(1).max(4096);
const instanceUrl = z.url({ protocol: /^https?$/ });
/** When the access token was issued (epoch ms, Salesforce's `issued_at`). */
const issuedAt = z.number().int().nonnegative();
/**
 * The org's session timeout in seconds (Setup → Session Settings): access
 * tokens carry no `expires_in`, so expiry is estimated from it. Salesforce
 * offers 15 minutes to 24 hours (ProfileSessionSetting.sessionTimeout).
 * https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_profilesessionsetting.htm
 */
const sessionTimeoutSeconds = z.number().int().min(900).max(86_400);

/**
 * One shape per auth mode, told apart by `type`. Modes that can mint a token
 * on their own (jwt, client_credentials) may omit the access token.
 */
export const salesforceCredentialsSchema = z.discriminatedUnion('type', [
  /** OAuth web-server flow (PKCE); a refresh token when the `refresh_token` scope was granted. */
  z.strictObject({
    type: z.literal('oauth'),
    clientId: secret,
    clientSecret: secret.optional(),
    accessToken: secret,
    refreshToken: secret.optional(),
    instanceUrl,
    issuedAt: issuedAt.optional(),
    sessionTimeoutSeconds: sessionTimeoutSeconds.optional(),
  }),
  /** JWT bearer flow: a connected app with a certificate, pre-authorised for `username`. */
  z.strictObject({
    type: z.literal('jwt'),
    clientId: secret,
    username: z.string().min(1).max(256),
    /** PEM private key matching the certificate uploaded to the connected app. */
    privateKey: z.string().max(16_384).regex(/-----BEGIN (?:RSA )?PRIVATE KEY-----/, 'must be a PEM private key'),
    /** JWT `aud`; defaults to the login URL (the integration's baseUrl origin). */
    audience: z.url().optional(),
    accessToken: secret.optional(),
    instanceUrl: instanceUrl.optional(),
    issuedAt: issuedAt.optional(),
    sessionTimeoutSeconds: sessionTimeoutSeconds.optional(),
  }),
  /** Client credentials flow against the org's My Domain (runs as the app's "Run As" user). */
  z.strictObject({
    type: z.literal('client_credentials'),
    clientId: secret,
    clientSecret: secret,
    accessToken: secret.optional(),
    instanceUrl: instanceUrl.optional(),
    issuedAt: issuedAt.optional(),
    sessionTimeoutSeconds: sessionTimeoutSeconds.optional(),
  }),
  /** A static session (e.g. from `sf org display`): no refresh, re-enter it when it expires. */
  z.strictObject({ type: z.literal('token'), accessToken: secret, instanceUrl }),
]);
export type SalesforceCredentials = z.infer<typeof salesforceCredentialsSchema>;

/**
 * Salesforce's token response: no `expires_in`; `instance_url` is the API
 * base; `issued_at` is epoch milliseconds as a string.
 * https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm
 */
export const salesforceTokenSchema = tokenResponseSchema.extend({
  instance_url: z.url({ protocol: /^https?$/ }),
  issued_at: z.coerce.number().int().nonnegative().optional(),
  id: z.string().optional(),
});
export type SalesforceToken = z.infer<typeof salesforceTokenSchema>;

/** Datetimes as the REST API writes them: `2024-01-01T00:00:00.000+0000`. */
export const sfDateTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$/, 'not a Salesforce datetime');

/** One row of a SOQL result; relationship fields are nested objects. */
export const queryRecordSchema = z
  .object({
    attributes: z.object({ type: z.string(), url: z.string().optional() }).loose().optional(),
    Id: recordId,
    SystemModstamp: sfDateTime,
    IsDeleted: z.boolean().optional(),
  })
  .loose();
export type QueryRecord = z.infer<typeof queryRecordSchema>;

/** https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm */
export const queryResultSchema = z
  .object({
    totalSize: z.number().int().nonnegative(),
    done: z.boolean(),
    nextRecordsUrl: z.string().optional(),
    records: z.array(queryRecordSchema),
  })
  .loose();

/** https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm */
export const deletedResultSchema = z
  .object({
    deletedRecords: z.array(z.object({ id: recordId, deletedDate: sfDateTime }).loose()),
    earliestDateAvailable: sfDateTime.optional(),
    latestDateCovered: sfDateTime.optional(),
  })
  .loose();

/** Create and upsert answers: `{id, success, errors}` (+ `created` for upserts, API 46+). */
export const saveResultSchema = z
  .object({ id: recordId, success: z.boolean(), created: z.boolean().optional(), errors: z.array(z.unknown()).optional() })
  .loose();

/** REST errors are an array: `[{"message": "...", "errorCode": "INVALID_SESSION_ID"}]`. */
export const salesforceErrorSchema = z
  .array(z.object({ message: z.string().optional(), errorCode: z.string() }).loose())
  .min(1);
