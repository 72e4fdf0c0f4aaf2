/**
 * One Slack Web API call: providerFetch (timeouts, HTTP status → typed
 * errors, rate-limit signal) plus Slack's own error envelope. Slack answers
 * most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`
 * (https://docs.slack.dev/apis/web-api/#responses), so a 2xx is not success
 * until `ok` says so. Codes are mapped here, once, for every method:
 * - revoked / invalid / expired tokens → AuthError (the integration needs a reconnect);
 * - `ratelimited` → RateLimitedError with Retry-After;
 * - Slack-side transient failures → RetryableError;
 * - anything else (bad channel, missing scope…) → UnrecoverableError.
 * A caller can `allow` codes it handles itself (e.g. `message_not_found` on delete).
 *
 * The token travels in the Authorization header only, never in the URL or
 * body (https://docs.slack.dev/authentication/tokens), so error messages,
 * which carry method, status and Slack's code, never hold it.
 */
import type { z } from 'zod';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError, type SyncError } from '../../errors';
import { providerFetch, readJson, type ProviderFetchContext } from '../../http/provider-fetch';
import { exhausted, parseSlackRateLimit, retryAfterMs } from './ratelimit';
import { slackEnvelopeSchema, type SlackCredentials } from './schemas';

/**
 * Codes meaning the token no longer works
 * (https://docs.slack.dev/apis/web-api/#errors, "common errors").
 */
const AUTH_CODES = new Set([
  'not_authed',
  'invalid_auth',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'missing_scope',
  'not_allowed_token_type',
  'no_permission',
  'org_login_required',
  'team_access_not_granted',
]);
/** Slack's own transient failures: the same call may succeed later. */
const RETRYABLE_CODES = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

export interface SlackCallContext extends ProviderFetchContext {
  baseUrl: string;
}

export type SlackArgs = Record<string, string | number | boolean | readonly unknown[] | Record<string, unknown> | undefined>;

export type SlackResult<T, A extends string> = { ok: true; body: T } | { ok: false; error: A };

export interface SlackCall<T> {
  method: string;
  /** GET sends the arguments as a query string (read methods); POST sends JSON (write methods). */
  http: 'GET' | 'POST';
  token: string;
  args: SlackArgs;
  schema: z.ZodType<T>;
}

/** A call whose every `ok: false` is thrown as a typed error. */
export async function slackCall<T>(ctx: SlackCallContext, call: SlackCall<T>): Promise<T> {
  const result = await slackCallAllowing<T, never>(ctx, call, []);
  if (!result.ok) throw new UnrecoverableError(`Slack ${call.method}: ${String(result.error)}`);
  return result.body;
}

/** A call that returns the `allow`ed error codes to the caller instead of throwing them. */
export async function slackCallAllowing<T, A extends string>(
  ctx: SlackCallContext,
  call: SlackCall<T>,
  allow: readonly A[],
): Promise<SlackResult<T, A>> {
  const operation = `Slack ${call.method}`;
  const url = methodUrl(ctx.baseUrl, call.method);
  const headers: Record<string, string> = { authorization: `Bearer ${call.token}`, accept: 'application/json' };
  const init: RequestInit = { method: call.http, headers };
  if (call.http === 'GET') {
    for (const [k, v] of Object.entries(call.args)) if (v !== undefined) url.searchParams.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  } else {
    headers['content-type'] = 'application/json; charset=utf-8';
    init.body = JSON.stringify(call.args);
  }
  const response = await providerFetch(ctx, url, init, {
    parseRateLimit: (status, h) => parseSlackRateLimit(status, h),
    describe: describeSlackError,
    operation,
  });
  const json = await readJson(response, operation);
  const envelope = slackEnvelopeSchema.safeParse(json);
  if (!envelope.success) throw new UnrecoverableError(`${operation}: response is not a Slack API envelope`);
  if (!envelope.data.ok) {
    const code = envelope.data.error ?? 'unknown_error';
    const allowed = allow.find((a) => a === code);
    if (allowed !== undefined) return { ok: false, error: allowed };
    if (code === 'ratelimited') {
      // A `ratelimited` body on a 2xx: report it like a 429 so the limiter backs off too.
      const wait = retryAfterMs(response.headers);
      ctx.onRateLimit?.(exhausted(wait, Date.now()));
      throw new RateLimitedError(`${operation}: ratelimited`, wait);
    }
    throw slackError(operation, code);
  }
  const parsed = call.schema.safeParse(json);
  if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape (${summarise(parsed.error)})`);
  return { ok: true, body: parsed.data };
}

/** The typed error for an `ok: false` code. */
export function slackError(operation: string, code: string): SyncError {
  const safe = /^[a-z0-9_.]{1,64}$/.test(code) ? code : 'unrecognised_error';
  const message = `${operation}: ${safe}`;
  if (AUTH_CODES.has(safe)) return new AuthError(message);
  if (RETRYABLE_CODES.has(safe)) return new RetryableError(message);
  return new UnrecoverableError(message);
}

/** Short message of a non-2xx body: Slack's error code when there is one. */
export function describeSlackError(body: unknown): string | undefined {
  const parsed = slackEnvelopeSchema.safeParse(body);
  return parsed.success ? parsed.data.error : undefined;
}

/** The access token of any credential mode. */
export function accessToken(credentials: SlackCredentials): string {
  return credentials.type === 'bot' ? credentials.token : credentials.accessToken;
}

/** `https://slack.com/api` + `conversations.history`; a path prefix on the base URL is kept. */
export function methodUrl(baseUrl: string, method: string): URL {
  return new URL(method, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
}

function summarise(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
