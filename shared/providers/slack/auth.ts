/**
 * Slack auth: bot tokens, and OAuth v2 with or without token rotation.
 * https://docs.slack.dev/authentication/installing-with-oauth
 * https://docs.slack.dev/authentication/using-token-rotation
 *
 * - Authorize at `https://slack.com/oauth/v2/authorize` (comma-separated
 *   `scope`, PKCE S256 `code_challenge`), exchange the code at
 *   `oauth.v2.access` with HTTP Basic client authentication (Slack's
 *   recommendation) and the PKCE `code_verifier`.
 * - Without rotation the bot token never expires (`oauth`). With rotation the
 *   answer adds `expires_in` (12 h) and a `refresh_token`; each refresh
 *   (`grant_type=refresh_token`) returns a new pair and revokes the old
 *   refresh token (`oauth_rotating`).
 * - Slack reports grant failures as HTTP 200 `{"ok": false, "error": …}`:
 *   `invalid_refresh_token`, `invalid_code`, `code_already_used`, … are
 *   Slack's spellings of OAuth's `invalid_grant` and become an AuthError, as
 *   does a standard `invalid_grant` (handled by requestToken).
 * No JWT grant exists for Slack, so jwt.ts is not needed here.
 */
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../errors';
import { DEFAULT_RETRY_AFTER_MS } from '../../http/provider-fetch';
import { requestToken } from '../oauth';
import type { AuthSupport, OAuthClient } from '../types';
import { methodUrl } from './api';
import {
  oauthAccessSchema,
  slackEnvelopeSchema,
  type OauthAccess,
  type SlackConfig,
  type SlackCredentials,
  type SlackRotatingCredentials,
} from './schemas';

/** What a sync needs: read the configured conversations and post to them. */
export const DEFAULT_SCOPES = ['channels:history', 'groups:history', 'chat:write'] as const;
/** A rotating token's documented lifetime (using-token-rotation): used when an answer omits `expires_in`. */
const ROTATING_TOKEN_SECONDS = 12 * 60 * 60;

/** Codes meaning "this grant is dead": reconnect, do not retry. */
const GRANT_CODES = new Set([
  'invalid_refresh_token',
  'invalid_code',
  'code_already_used',
  'invalid_grant',
  'invalid_grant_type',
  'bad_redirect_uri',
  'invalid_client_id',
  'bad_client_secret',
  'invalid_code_verifier',
  'token_revoked',
  'token_expired',
  'invalid_auth',
  'app_uninstalled',
]);
const RETRYABLE_CODES = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

interface AuthCtx {
  baseUrl: string;
  fetch: typeof fetch;
}

/** `https://slack.com/api` → `https://slack.com/oauth/v2/authorize` (the API's `/api` is dropped). */
export function slackAuthorizeUrl(baseUrl: string, client: OAuthClient, params: { state: string; codeChallenge: string }): string {
  const base = new URL(baseUrl);
  const root = base.pathname.replace(/\/api\/?$/, '/').replace(/\/?$/, '/');
  const url = new URL(`${root}oauth/v2/authorize`, base.origin);
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('scope', (client.scopes ?? DEFAULT_SCOPES).join(','));
  url.searchParams.set('redirect_uri', client.redirectUri);
  url.searchParams.set('state', params.state);
  url.searchParams.set('code_challenge', params.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.href;
}

export async function exchangeSlackCode(
  ctx: AuthCtx,
  client: OAuthClient,
  params: { code: string; codeVerifier: string },
  now: number = Date.now(),
): Promise<SlackCredentials> {
  const access = await tokenCall(ctx, client.clientId, client.clientSecret, {
    grant_type: 'authorization_code',
    code: params.code,
    code_verifier: params.codeVerifier,
    redirect_uri: client.redirectUri,
  });
  const identity = identityOf(access);
  if (access.refresh_token === undefined) return { type: 'oauth', accessToken: access.access_token, ...identity };
  return {
    type: 'oauth_rotating',
    accessToken: access.access_token,
    refreshToken: access.refresh_token,
    expiresAt: now + (access.expires_in ?? ROTATING_TOKEN_SECONDS) * 1000,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    ...identity,
  };
}

/**
 * Exchange the refresh token for a new pair. The returned credentials must
 * be stored before the old ones are used again: Slack has already revoked
 * the old refresh token. An answer without a refresh token keeps the old.
 */
export async function refreshSlackToken(ctx: AuthCtx, credentials: SlackCredentials, now: number = Date.now()): Promise<SlackCredentials> {
  // Bot and non-rotating tokens never expire: there is nothing to refresh.
  if (credentials.type !== 'oauth_rotating') return credentials;
  const access = await tokenCall(ctx, credentials.clientId, credentials.clientSecret, {
    grant_type: 'refresh_token',
    refresh_token: credentials.refreshToken,
  });
  const next: SlackRotatingCredentials = {
    ...credentials,
    ...identityOf(access),
    accessToken: access.access_token,
    refreshToken: access.refresh_token ?? credentials.refreshToken,
    expiresAt: now + (access.expires_in ?? ROTATING_TOKEN_SECONDS) * 1000,
  };
  return next;
}

export const slackAuth: AuthSupport<SlackConfig, SlackCredentials> = {
  expiresAt: (credentials) => (credentials.type === 'oauth_rotating' ? credentials.expiresAt : undefined),
  refresh: (ctx, credentials) => refreshSlackToken(ctx, credentials),
  oauth: {
    authorizeUrl: (baseUrl, _config, client, params) => slackAuthorizeUrl(baseUrl, client, params),
    exchangeCode: (ctx, client, params) => exchangeSlackCode(ctx, client, params),
  },
};

async function tokenCall(ctx: AuthCtx, clientId: string, clientSecret: string, params: Record<string, string>): Promise<OauthAccess> {
  const body = await requestToken({
    url: methodUrl(ctx.baseUrl, 'oauth.v2.access').href,
    params,
    client: { id: clientId, secret: clientSecret, method: 'basic' },
    fetch: ctx.fetch,
  });
  const envelope = slackEnvelopeSchema.safeParse(body);
  if (!envelope.success) throw new UnrecoverableError('Slack oauth.v2.access: response is not a Slack API envelope');
  if (!envelope.data.ok) throw grantError(envelope.data.error ?? 'unknown_error');
  const access = oauthAccessSchema.safeParse(body);
  // Only field paths reach the message: the values are tokens.
  if (!access.success) throw new UnrecoverableError(`Slack oauth.v2.access: unexpected response shape (${access.error.issues.map((i) => i.path.join('.')).join(', ')})`);
  return access.data;
}

function grantError(code: string): Error {
  const safe = /^[a-z0-9_.]{1,64}$/.test(code) ? code : 'unrecognised_error';
  const message = `Slack oauth.v2.access refused the grant (${safe})`;
  if (GRANT_CODES.has(safe)) return new AuthError(message);
  if (safe === 'ratelimited') return new RateLimitedError('Slack oauth.v2.access: ratelimited', DEFAULT_RETRY_AFTER_MS);
  if (RETRYABLE_CODES.has(safe)) return new RetryableError(`Slack oauth.v2.access failed (${safe})`);
  return new UnrecoverableError(`Slack oauth.v2.access rejected the request (${safe})`);
}

function identityOf(access: OauthAccess): { teamId?: string; botUserId?: string; scope?: string } {
  const out: { teamId?: string; botUserId?: string; scope?: string } = {};
  if (access.team?.id !== undefined) out.teamId = access.team.id;
  if (access.bot_user_id !== undefined) out.botUserId = access.bot_user_id;
  if (access.scope !== undefined) out.scope = access.scope;
  return out;
}
