/**
 * Google OAuth 2.0: the authorization-code flow with PKCE, refresh, and
 * service-account JWT bearer grants.
 * https://developers.google.com/identity/protocols/oauth2/web-server
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 *
 * Access tokens live about an hour (`expires_in` ≈ 3599). Refresh tokens do
 * not rotate: a refresh answer has no `refresh_token` and the stored one is
 * kept. They die when revoked, after 6 months unused, or after 7 days for
 * apps in testing; the token endpoint then answers `invalid_grant`, which
 * shared/providers/oauth.ts turns into an AuthError (→ needs_reauth).
 */
import { AuthError, UnrecoverableError } from '../../errors';
import { signJwtRs256 } from '../jwt';
import { expiresAtFrom, requestToken, tokenResponseSchema, type TokenResponse } from '../oauth';
import type { AuthSupport, OAuthClient } from '../types';
import type { GoogleRuntime } from './runtime';
import type { GoogleConfig, GoogleCredentials, GoogleOAuthCredentials, GoogleServiceAccountCredentials } from './schemas';

export const GOOGLE_API_BASE = 'https://www.googleapis.com';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const GOOGLE_AUTHORIZE_URI = 'https://accounts.google.com/o/oauth2/v2/auth';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** A service-account assertion may live at most an hour (`exp` ≤ `iat` + 3600). */
export const ASSERTION_LIFETIME_S = 3600;
/** Renew a token this long before it expires, so a request never races the expiry. */
export const EXPIRY_MARGIN_MS = 60_000;

/** Least privilege for what we sync: file metadata (read) and events (read/write). */
export const SCOPES = {
  drive: 'https://www.googleapis.com/auth/drive.metadata.readonly',
  calendar: 'https://www.googleapis.com/auth/calendar.events',
} as const;

export interface AuthContext {
  baseUrl: string;
  config: GoogleConfig;
  fetch: typeof fetch;
}

/**
 * The token endpoint: the config override, Google's own for the real API,
 * else `/token` under the base URL (the sandbox serves it there).
 */
export function tokenEndpoint(baseUrl: string, config: GoogleConfig): string {
  if (config.tokenUri !== undefined) return config.tokenUri;
  return isGoogleApi(baseUrl) ? GOOGLE_TOKEN_URI : under(baseUrl, 'token');
}

export function authorizeEndpoint(baseUrl: string, config: GoogleConfig): string {
  if (config.authorizeUri !== undefined) return config.authorizeUri;
  return isGoogleApi(baseUrl) ? GOOGLE_AUTHORIZE_URI : under(baseUrl, 'o/oauth2/v2/auth');
}

export function defaultScopes(config: GoogleConfig): string[] {
  if (config.scopes) return [...config.scopes];
  const scopes: string[] = [];
  if (config.drive) scopes.push(SCOPES.drive);
  if (config.calendar) scopes.push(SCOPES.calendar);
  return scopes;
}

export function expiresAt(credentials: GoogleCredentials): number | undefined {
  return credentials.expiresAt;
}

/** Service accounts: sign an assertion and trade it for an access token (no refresh token exists). */
export async function mintServiceAccountToken(
  ctx: AuthContext,
  credentials: GoogleServiceAccountCredentials,
  rt: Pick<GoogleRuntime, 'now'>,
): Promise<GoogleServiceAccountCredentials> {
  const url = tokenEndpoint(ctx.baseUrl, ctx.config);
  const iat = Math.floor(rt.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: credentials.client_email,
    scope: (credentials.scopes ?? defaultScopes(ctx.config)).join(' '),
    aud: url,
    iat,
    exp: iat + ASSERTION_LIFETIME_S,
  };
  if (credentials.subject !== undefined) claims.sub = credentials.subject;
  const assertion = signJwtRs256(claims, credentials.private_key, credentials.private_key_id);
  const token = parseToken(await requestToken({ url, params: { grant_type: JWT_BEARER_GRANT, assertion }, fetch: ctx.fetch }));
  return withToken(credentials, token, rt.now());
}

export async function refreshOAuth(
  ctx: AuthContext,
  credentials: GoogleOAuthCredentials,
  rt: Pick<GoogleRuntime, 'now'>,
): Promise<GoogleOAuthCredentials> {
  if (credentials.refreshToken === undefined) {
    // Nothing to refresh with: only the admin can reconnect.
    throw new AuthError('Google OAuth credentials have no refresh token; reconnect the integration');
  }
  const token = parseToken(
    await requestToken({
      url: tokenEndpoint(ctx.baseUrl, ctx.config),
      params: { grant_type: 'refresh_token', refresh_token: credentials.refreshToken },
      client: { id: credentials.clientId, secret: credentials.clientSecret, method: 'body' },
      fetch: ctx.fetch,
    }),
  );
  const next: GoogleOAuthCredentials = withToken(credentials, token, rt.now());
  if (token.scope !== undefined) next.scope = token.scope;
  // Google keeps the refresh token; should one come back anyway (rotation), it replaces the old.
  if (token.refresh_token !== undefined) next.refreshToken = token.refresh_token;
  return next;
}

export async function refreshGoogleCredentials(
  ctx: AuthContext,
  credentials: GoogleCredentials,
  rt: Pick<GoogleRuntime, 'now'>,
): Promise<GoogleCredentials> {
  return credentials.type === 'oauth' ? refreshOAuth(ctx, credentials, rt) : mintServiceAccountToken(ctx, credentials, rt);
}

export function googleAuthorizeUrl(
  baseUrl: string,
  config: GoogleConfig,
  client: OAuthClient,
  params: { state: string; codeChallenge: string },
): string {
  const url = new URL(authorizeEndpoint(baseUrl, config));
  const query: Record<string, string> = {
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: (client.scopes ?? defaultScopes(config)).join(' '),
    state: params.state,
    code_challenge: params.codeChallenge,
    code_challenge_method: 'S256',
    // A refresh token is only issued for offline access, and only on consent.
    access_type: 'offline',
    prompt: 'consent',
    include_granted_scopes: 'true',
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.href;
}

export async function exchangeGoogleCode(
  ctx: AuthContext,
  client: OAuthClient,
  params: { code: string; codeVerifier: string },
  rt: Pick<GoogleRuntime, 'now'>,
): Promise<GoogleOAuthCredentials> {
  const token = parseToken(
    await requestToken({
      url: tokenEndpoint(ctx.baseUrl, ctx.config),
      params: { grant_type: 'authorization_code', code: params.code, redirect_uri: client.redirectUri, code_verifier: params.codeVerifier },
      client: { id: client.clientId, secret: client.clientSecret, method: 'body' },
      fetch: ctx.fetch,
    }),
  );
  const credentials: GoogleOAuthCredentials = { type: 'oauth', clientId: client.clientId, clientSecret: client.clientSecret, accessToken: token.access_token };
  const expires = expiresAtFrom(token, rt.now());
  if (expires !== undefined) credentials.expiresAt = expires;
  if (token.refresh_token !== undefined) credentials.refreshToken = token.refresh_token;
  if (token.scope !== undefined) credentials.scope = token.scope;
  return credentials;
}

export function googleAuth(rt: GoogleRuntime): AuthSupport<GoogleConfig, GoogleCredentials> {
  return {
    expiresAt,
    refresh: (ctx, credentials) => refreshGoogleCredentials(ctx, credentials, rt),
    oauth: {
      authorizeUrl: googleAuthorizeUrl,
      exchangeCode: async (ctx, client, params) => exchangeGoogleCode(ctx, client, params, rt),
    },
  };
}

function parseToken(body: Record<string, unknown>): TokenResponse {
  const parsed = tokenResponseSchema.safeParse(body);
  // Never echo the body: it may hold a token.
  if (!parsed.success) throw new UnrecoverableError('Google token endpoint answered without an access token');
  return parsed.data;
}

function withToken<T extends GoogleCredentials>(credentials: T, token: TokenResponse, now: number): T {
  const next: T = { ...credentials, accessToken: token.access_token };
  const expires = expiresAtFrom(token, now);
  if (expires === undefined) delete next.expiresAt;
  else next.expiresAt = expires;
  return next;
}

function isGoogleApi(baseUrl: string): boolean {
  return new URL(baseUrl).origin === GOOGLE_API_BASE;
}

/** `path` under the base URL, keeping any path prefix the base has. */
export function under(baseUrl: string, path: string): string {
  return new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
}
