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
});
export type GithubConfig = z.infer<typeof githubConfigSchema>;

/**
 * A discriminated union on `type` so OAuth user tokens and GitHub App
 * installations can join later without touching stored token credentials.
 */
export const githubCredentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('token'), token: z.string().min(1).max(1024) }),
]);
export type GithubCredentials = z.infer<typeof githubCredentialsSchema>;

const timestamp = z.iso.datetime({ offset: true });

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
