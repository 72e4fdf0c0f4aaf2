/**
 * Notion authorization: internal integration tokens (static) and public
 * integrations' OAuth (https://developers.notion.com/docs/authorization).
 *
 * Token endpoint `POST /v1/oauth/token`: HTTP Basic client_id:client_secret,
 * a JSON body, `Notion-Version` like every call. The answer has no
 * `expires_in`; a refresh (`grant_type: refresh_token`) answers a new access
 * token *and* a new refresh token, which replace the stored pair
 * (https://developers.notion.com/reference/refresh-a-token). A response
 * without a refresh token keeps the old one. `invalid_grant` (revoked or
 * reused refresh token, bad code) is an AuthError: the integration needs
 * reconnecting.
 *
 * PKCE: the authorize URL carries an S256 `code_challenge` and the exchange
 * its `code_verifier` (RFC 7636). Notion does not document PKCE (unverified
 * whether it checks it); the client secret still authenticates the exchange.
 */
import { parseJsonOrUndefined } from '../../http/json';
import { AuthError, UnrecoverableError } from '../../errors';
import { expiresAtFrom, requestToken } from '../oauth';
import type { AuthSupport, OAuthClient } from '../types';
import { NOTION_VERSION, notionUrl, summariseIssues } from './api';
import {
  notionErrorSchema,
  notionTokenResponseSchema,
  type NotionConfig,
  type NotionCredentials,
  type NotionOAuthCredentials,
  type NotionTokenResponse,
} from './schemas';

export function notionAuthorizeUrl(baseUrl: string, client: OAuthClient, params: { state: string; codeChallenge: string }): string {
  const url = notionUrl(baseUrl, 'oauth/authorize');
  const query: Record<string, string> = {
    client_id: client.clientId,
    response_type: 'code',
    // Public integrations are installed by a user, into their workspace.
    owner: 'user',
    redirect_uri: client.redirectUri,
    state: params.state,
    code_challenge: params.codeChallenge,
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.href;
}

export async function exchangeNotionCode(
  ctx: { baseUrl: string; fetch: typeof fetch },
  client: OAuthClient,
  params: { code: string; codeVerifier: string },
): Promise<NotionOAuthCredentials> {
  const raw = await requestToken({
    url: notionUrl(ctx.baseUrl, 'oauth/token').href,
    params: { grant_type: 'authorization_code', code: params.code, redirect_uri: client.redirectUri, code_verifier: params.codeVerifier },
    client: { id: client.clientId, secret: client.clientSecret, method: 'basic' },
    encoding: 'json',
    fetch: notionTokenFetch(ctx.fetch),
  });
  return credentialsFrom(parseToken(raw), client.clientId, client.clientSecret, undefined);
}

export async function refreshNotionToken(ctx: { baseUrl: string; fetch: typeof fetch }, credentials: NotionCredentials): Promise<NotionCredentials> {
  if (credentials.type === 'internal') {
    // Nothing to refresh: only an admin can replace an internal token that stopped working.
    throw new AuthError('Notion internal integration tokens cannot be refreshed; set a new token');
  }
  if (credentials.refreshToken === undefined) throw new AuthError('Notion OAuth credentials have no refresh token; reconnect the integration');
  const raw = await requestToken({
    url: notionUrl(ctx.baseUrl, 'oauth/token').href,
    params: { grant_type: 'refresh_token', refresh_token: credentials.refreshToken },
    client: { id: credentials.clientId, secret: credentials.clientSecret, method: 'basic' },
    encoding: 'json',
    fetch: notionTokenFetch(ctx.fetch),
  });
  return credentialsFrom(parseToken(raw), credentials.clientId, credentials.clientSecret, credentials);
}

export const notionAuth: AuthSupport<NotionConfig, NotionCredentials> = {
  expiresAt: (credentials) => (credentials.type === 'oauth' ? credentials.expiresAt : undefined),
  refresh: (ctx, credentials) => refreshNotionToken(ctx, credentials),
  oauth: {
    authorizeUrl: (baseUrl, _config, client, params) => notionAuthorizeUrl(baseUrl, client, params),
    exchangeCode: (ctx, client, params) => exchangeNotionCode(ctx, client, params),
  },
};

function parseToken(raw: Record<string, unknown>): NotionTokenResponse {
  const token = notionTokenResponseSchema.safeParse(raw);
  if (!token.success) throw new UnrecoverableError(`Notion token endpoint: unexpected response (${summariseIssues(token.error.issues)})`);
  return token.data;
}

/** New credentials from a token answer; a rotated refresh token replaces the old, a missing one keeps it. */
function credentialsFrom(token: NotionTokenResponse, clientId: string, clientSecret: string, previous: NotionOAuthCredentials | undefined): NotionOAuthCredentials {
  const out: NotionOAuthCredentials = { type: 'oauth', accessToken: token.access_token, clientId, clientSecret };
  const refreshToken = token.refresh_token ?? previous?.refreshToken;
  if (refreshToken !== undefined) out.refreshToken = refreshToken;
  const expiresAt = expiresAtFrom(token);
  if (expiresAt !== undefined) out.expiresAt = expiresAt;
  const botId = token.bot_id ?? previous?.botId;
  if (botId !== undefined) out.botId = botId;
  const workspaceId = token.workspace_id ?? previous?.workspaceId;
  if (workspaceId !== undefined) out.workspaceId = workspaceId;
  const workspaceName = token.workspace_name ?? previous?.workspaceName;
  if (workspaceName !== undefined) out.workspaceName = workspaceName;
  return out;
}

/**
 * `fetch` for the token endpoint: adds `Notion-Version`, and turns a
 * Notion-shaped error body (`{"object":"error","code":"invalid_grant",…}`,
 * which the status-codes page lists for this endpoint) into the OAuth shape
 * (`{"error":"invalid_grant"}`, which the token reference shows) that
 * requestToken reads, so both spellings of invalid_grant become AuthError.
 */
export function notionTokenFetch(inner: typeof fetch): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('Notion-Version', NOTION_VERSION);
    const response = await inner(input, { ...init, headers });
    if (response.ok) return response;
    const text = await response.text();
    const body = parseJsonOrUndefined(text);
    const notionError = notionErrorSchema.safeParse(body);
    const out = notionError.success ? JSON.stringify({ error: notionError.data.code }) : text;
    const kept = new Headers(response.headers);
    kept.delete('content-length');
    kept.delete('content-encoding');
    return new Response(out, { status: response.status, statusText: response.statusText, headers: kept });
  };
}
