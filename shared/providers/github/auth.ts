/**
 * GitHub user tokens: the OAuth web flow (with PKCE), refresh with rotation,
 * and token lifetimes.
 * https://docs.github.com/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
 * https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
 *
 * - `GET {web}/login/oauth/authorize?client_id&redirect_uri&scope&state&code_challenge&code_challenge_method=S256`.
 *   PKCE is supported (S256 only) since July 2025
 *   (https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication).
 * - `POST {web}/login/oauth/access_token` (form, `Accept: application/json`)
 *   for the code exchange and for `grant_type=refresh_token`; the client id
 *   and secret go in the form.
 * - Failures come back as **HTTP 200** with `{"error": "bad_verification_code"
 *   | "bad_refresh_token" | "incorrect_client_credentials" | …}`: they are read
 *   here, not by status, and the grant failures become AuthError.
 * - Expiring tokens (GitHub Apps with user-token expiration on, the default):
 *   `expires_in` 28800 (8 h) and a refresh token for ~6 months that rotates —
 *   once used, it and the old access token stop working. Tokens that never
 *   expire (classic OAuth apps) come without either field and are stored as
 *   `{type: "token"}` credentials, which need no refresh.
 */
import { AuthError, UnrecoverableError } from '../../errors';
import { requestToken } from '../oauth';
import type { AuthSupport, OAuthClient } from '../types';
import {
  githubTokenErrorSchema,
  githubTokenSchema,
  type GithubConfig,
  type GithubCredentials,
  type GithubOAuthCredentials,
  type GithubToken,
} from './schemas';

/** `expires_in` of a user access token is "always 28800" per the refresh docs above; used if a response omits it. */
const DEFAULT_ACCESS_TOKEN_SECONDS = 28_800;
/** Read and write issues in public and private repositories (https://docs.github.com/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps). */
const DEFAULT_SCOPES = ['repo'] as const;
/**
 * The grant (code, refresh token, client) is bad: only a person can fix it
 * by connecting again. `bad_*` and `incorrect_client_credentials` are
 * GitHub's own codes; the rest are the RFC 6749 names it may also use.
 */
const GRANT_ERRORS = new Set([
  'bad_verification_code',
  'bad_refresh_token',
  'incorrect_client_credentials',
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'access_denied',
]);

/**
 * The web host of the OAuth flow, ending in `/`: the config's `oauthBaseUrl`
 * when set; github.com for api.github.com; `SUB.ghe.com` for GitHub
 * Enterprise Cloud with data residency (API at `api.SUB.ghe.com`); for GitHub
 * Enterprise Server (`https://HOST/api/v3`) the host itself; otherwise the
 * API base URL (the sandbox serves both on one origin).
 */
export function oauthBaseUrl(baseUrl: string, config: GithubConfig): URL {
  const withSlash = (u: URL): URL => new URL(u.href.endsWith('/') ? u.href : `${u.href}/`);
  if (config.oauthBaseUrl !== undefined) return withSlash(new URL(config.oauthBaseUrl));
  const base = new URL(baseUrl);
  if (base.hostname === 'api.github.com') return new URL('https://github.com/');
  const residency = /^api\.([a-z0-9-]+\.ghe\.com)$/i.exec(base.hostname);
  if (residency?.[1]) return new URL(`https://${residency[1]}/`);
  base.search = '';
  base.hash = '';
  base.pathname = base.pathname.replace(/\/api\/v3\/?$/, '/');
  return withSlash(base);
}

export function githubAuthorizeUrl(
  baseUrl: string,
  config: GithubConfig,
  client: OAuthClient,
  params: { state: string; codeChallenge: string },
): string {
  const url = new URL('login/oauth/authorize', oauthBaseUrl(baseUrl, config));
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', client.redirectUri);
  url.searchParams.set('scope', (client.scopes ?? DEFAULT_SCOPES).join(' '));
  url.searchParams.set('state', params.state);
  url.searchParams.set('code_challenge', params.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.href;
}

export const githubAuth: AuthSupport<GithubConfig, GithubCredentials> = {
  expiresAt: (credentials) => (credentials.type === 'oauth' ? Date.parse(credentials.expiresAt) : undefined),

  /** Token credentials do not expire and are returned as they are. */
  async refresh(ctx, credentials) {
    if (credentials.type === 'token') return credentials;
    const now = Date.now();
    if (credentials.refreshTokenExpiresAt !== undefined && Date.parse(credentials.refreshTokenExpiresAt) <= now) {
      throw new AuthError('GitHub refresh token has expired: the integration must be connected again');
    }
    const body = await requestToken({
      url: new URL('login/oauth/access_token', oauthBaseUrl(ctx.baseUrl, ctx.config)).href,
      params: { grant_type: 'refresh_token', refresh_token: credentials.refreshToken },
      client: { id: credentials.clientId, secret: credentials.clientSecret, method: 'body' },
      fetch: ctx.fetch,
    });
    return credentialsFrom(parseTokenAnswer(body), { id: credentials.clientId, secret: credentials.clientSecret }, now, credentials);
  },

  oauth: {
    authorizeUrl: githubAuthorizeUrl,
    async exchangeCode(ctx, client, params) {
      const now = Date.now();
      const body = await requestToken({
        url: new URL('login/oauth/access_token', oauthBaseUrl(ctx.baseUrl, ctx.config)).href,
        params: { code: params.code, redirect_uri: client.redirectUri, code_verifier: params.codeVerifier },
        client: { id: client.clientId, secret: client.clientSecret, method: 'body' },
        fetch: ctx.fetch,
      });
      return credentialsFrom(parseTokenAnswer(body), { id: client.clientId, secret: client.clientSecret }, now);
    },
  },
};

/** A 200 answer of the token endpoint: the token, or GitHub's error mapped to a typed one. */
export function parseTokenAnswer(body: unknown): GithubToken {
  const failure = githubTokenErrorSchema.safeParse(body);
  if (failure.success) {
    // Only the code reaches the message (descriptions may echo request values), and only if it looks like one.
    const code = /^[a-z_]{1,64}$/.test(failure.data.error) ? failure.data.error : 'unrecognised error';
    if (GRANT_ERRORS.has(code)) throw new AuthError(`GitHub token endpoint refused the grant (${code})`);
    throw new UnrecoverableError(`GitHub token endpoint rejected the request (${code})`);
  }
  const token = githubTokenSchema.safeParse(body);
  if (!token.success) throw new UnrecoverableError('GitHub token endpoint: unexpected response shape');
  return token.data;
}

/**
 * Credentials from a token answer. On refresh, `previous` supplies what the
 * answer leaves out (GitHub always rotates, but a response without a refresh
 * token keeps the old one, as AuthSupport.refresh promises).
 */
export function credentialsFrom(
  token: GithubToken,
  client: { id: string; secret: string },
  now: number,
  previous?: GithubOAuthCredentials,
): GithubCredentials {
  if (token.expires_in === undefined && token.refresh_token === undefined && previous === undefined) {
    return { type: 'token', token: token.access_token };
  }
  const refreshToken = token.refresh_token ?? previous?.refreshToken;
  if (refreshToken === undefined) throw new UnrecoverableError('GitHub token endpoint: an expiring token came without a refresh token');
  const iso = (seconds: number): string => new Date(now + seconds * 1000).toISOString();
  const credentials: GithubOAuthCredentials = {
    type: 'oauth',
    accessToken: token.access_token,
    refreshToken,
    expiresAt: iso(token.expires_in ?? DEFAULT_ACCESS_TOKEN_SECONDS),
    clientId: client.id,
    clientSecret: client.secret,
  };
  if (token.refresh_token_expires_in !== undefined) credentials.refreshTokenExpiresAt = iso(token.refresh_token_expires_in);
  else if (token.refresh_token === undefined && previous?.refreshTokenExpiresAt !== undefined) {
    credentials.refreshTokenExpiresAt = previous.refreshTokenExpiresAt;
  }
  return credentials;
}
