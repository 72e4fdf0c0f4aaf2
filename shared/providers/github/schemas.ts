/**
 * Everything the GitHub provider reads from outside — integration config,
 * credentials, API responses, webhook payloads — is parsed here with zod.
 * Response objects are `.loose()`: we validate the fields we use and keep
 * (or ignore) the rest, so GitHub adding a field never breaks a sync.
 */
import { z } from 'zod';

/**
 * Account logins: alphanumerics and single hyphens, no leading/trailing
 * hyphen, at most 39 characters (GitHub's sign-up form rules).
 */
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
/** Repository names: ASCII letters, digits, `.`, `-`, `_`, at most 100 characters. */
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

export const githubConfigSchema = z.object({
  owner: z.string().regex(OWNER, 'not a valid GitHub account name'),
  repo: z
    .string()
    .regex(REPO, 'not a valid GitHub repository name')
    // `.` and `..` match the character rule but would walk the URL path.
    .refine((name) => name !== '.' && name !== '..', 'not a valid GitHub repository name'),
  /**
   * Where the OAuth web flow lives (`/login/oauth/authorize`,
   * `/login/oauth/access_token`) when it cannot be derived from the API base
   * URL: see oauthBaseUrl() in auth.ts. http(s) only, no query or fragment.
   */
  oauthBaseUrl: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !u.includes('?') && !u.includes('#'), 'must not carry a query or fragment')
    .optional(),
  /**
   * GitHub Enterprise hosts this integration may call besides api.github.com
   * and github.com (e.g. `ghe.example.com`, or `api.acme.ghe.com` and
   * `acme.ghe.com`): the egress policy allows only hosts listed here.
   * DNS names only, no wildcards or addresses.
   */
  enterpriseHosts: z
    .array(z.string().max(253).regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/i, 'must be a DNS host name'))
    .max(10)
    .optional(),
});
export type GithubConfig = z.infer<typeof githubConfigSchema>;

const timestamp = z.iso.datetime({ offset: true });
const secretString = z.string().min(1).max(1024);

/**
 * A discriminated union on `type`:
 * - `token`: a personal access token, or an OAuth token that never expires
 *   (classic OAuth apps, and GitHub Apps with token expiration turned off).
 * - `oauth`: an expiring user access token (8 h) with its refresh token
 *   (~6 months, rotated on every use). Refreshing needs the app's client id
 *   and secret, and AuthSupport.refresh gets no OAuth client, so they travel
 *   with the credentials (which live in Key Vault, never in config).
 */
export const githubCredentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('token'), token: secretString }),
  z.object({
    type: z.literal('oauth'),
    accessToken: secretString,
    refreshToken: secretString,
    expiresAt: timestamp,
    refreshTokenExpiresAt: timestamp.optional(),
    clientId: z.string().min(1).max(256),
    clientSecret: secretString,
  }),
]);
export type GithubCredentials = z.infer<typeof githubCredentialsSchema>;
export type GithubOAuthCredentials = Extract<GithubCredentials, { type: 'oauth' }>;

/**
 * `POST /login/oauth/access_token` answers (Accept: application/json).
 * https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
 * Expiry fields are absent when the app's tokens do not expire. Errors come
 * back as HTTP 200 with `error` (githubTokenErrorSchema), so a body is
 * checked against that first.
 */
export const githubTokenSchema = z
  .object({
    access_token: secretString,
    token_type: z.string().optional(),
    scope: z.string().optional(),
    expires_in: z.coerce.number().int().positive().optional(),
    refresh_token: secretString.optional(),
    refresh_token_expires_in: z.coerce.number().int().positive().optional(),
  })
  .loose();
export type GithubToken = z.infer<typeof githubTokenSchema>;

export const githubTokenErrorSchema = z.object({ error: z.string().min(1), error_description: z.string().optional() }).loose();

/** An item of `GET /repos/{owner}/{repo}/issues` (https://docs.github.com/rest/issues/issues#list-repository-issues). */
export const githubIssueSchema = z
  .object({
    id: z.number().int().nonnegative(),
    number: z.number().int().positive(),
    title: z.string(),
    state: z.string(),
    body: z.string().nullable().optional(),
    // `user` is null for issues whose author account was deleted.
    user: z.object({ login: z.string() }).loose().nullable(),
    // The OpenAPI description allows a bare string or a label object.
    labels: z.array(z.union([z.string(), z.object({ name: z.string().nullable().optional() }).loose()])),
    html_url: z.string(),
    created_at: timestamp,
    updated_at: timestamp,
    closed_at: timestamp.nullable().optional(),
    // Present (an object of URLs) only when the item is a pull request.
    pull_request: z.object({}).loose().optional(),
  })
  .loose();
export type GithubIssue = z.infer<typeof githubIssueSchema>;

export const githubIssueListSchema = z.array(githubIssueSchema);

/** GitHub's error body: `{"message": "...", "documentation_url": "..."}`. */
export const githubErrorSchema = z.object({ message: z.string() }).loose();

/** A webhook payload: always a JSON object; `action` says what happened for most events. */
export const githubWebhookPayloadSchema = z.object({ action: z.string().optional() }).loose();

/**
 * GitHub's own ceilings, from its 422 answers ("body is too long (maximum is
 * 65536 characters)", "title is too long (maximum is 256 characters)"):
 * checked here so an oversized push fails with a reason before any request.
 */
export const MAX_ISSUE_BODY = 65_536;
export const MAX_ISSUE_TITLE = 256;

/**
 * What a push of an `issue` reads from `PushOperation.payload`. Other keys
 * (a pulled record's `user`, `html_url`, timestamps…) are ignored, so a
 * pulled record's data can be pushed back as it is.
 */
export const githubIssuePayloadSchema = z.object({
  /** The issue number; pulled records carry it in `data.number` (see push.ts). */
  number: z.number().int().positive().optional(),
  title: z.string().min(1).max(MAX_ISSUE_TITLE).optional(),
  body: z.string().max(MAX_ISSUE_BODY).nullable().optional(),
  state: z.enum(['open', 'closed']).optional(),
  labels: z.array(z.string().min(1)).optional(),
});
export type GithubIssuePayload = z.infer<typeof githubIssuePayloadSchema>;
