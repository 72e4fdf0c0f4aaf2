/**
 * Google's OAuth endpoints as the sandbox serves them (one origin):
 *   GET  /o/oauth2/v2/auth   consent (auto-approved) → 302 to redirect_uri with ?code&state
 *   POST /token              authorization_code (PKCE), refresh_token, JWT bearer
 *   POST /revoke             revoke a refresh or access token
 *   GET  /oauth2/v3/certs    the JWKS Pub/Sub OIDC tokens are signed with
 * https://developers.google.com/identity/protocols/oauth2/web-server
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 *
 * Error bodies are RFC 6749's `{"error","error_description"}` with Google's
 * descriptions. JWT assertions are verified here with node:crypto directly,
 * independently of shared/providers/jwt.ts.
 */
import { createHash, randomBytes, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ACCESS_TOKEN_TTL_MS, CODE_TTL_MS, type AuthState } from './auth-state';
import { isObject, readBody, type Reply } from './http';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google's limit on an assertion's lifetime, and the skew it tolerates on iat/exp. */
const MAX_ASSERTION_S = 3600;
const SKEW_S = 300;

export interface OAuthRouteContext {
  auth: AuthState;
  origin: () => string;
  jwks: () => JsonWebKey[];
}

const oauthError = (status: number, error: string, description: string): Reply => ({ status, body: { error, error_description: description } });
const invalidGrant = (description: string): Reply => oauthError(400, 'invalid_grant', description);

export async function routeOAuth(ctx: OAuthRouteContext, method: string, url: URL, req: IncomingMessage): Promise<Reply | undefined> {
  if (url.pathname === '/o/oauth2/v2/auth' && method === 'GET') return authorize(ctx, url);
  if (url.pathname === '/oauth2/v3/certs' && method === 'GET') return { status: 200, body: { keys: ctx.jwks() }, headers: { 'cache-control': 'public, max-age=21600' } };
  if (url.pathname === '/token' && method === 'POST') return token(ctx, await form(req), req.headers.authorization);
  if (url.pathname === '/revoke' && method === 'POST') {
    const params = await form(req);
    const value = params.get('token') ?? url.searchParams.get('token');
    if (value === null || !ctx.auth.revoke(value)) return oauthError(400, 'invalid_token', 'Token expired or revoked');
    return { status: 200, body: {} };
  }
  return undefined;
}

/** Consent is granted at once, as if the user clicked Allow. */
function authorize(ctx: OAuthRouteContext, url: URL): Reply {
  const q = url.searchParams;
  const text = (message: string): Reply => ({ status: 400, body: message, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  const clientId = q.get('client_id') ?? '';
  const client = ctx.auth.clients.get(clientId);
  if (!client) return text('Error 401: invalid_client (The OAuth client was not found.)');
  const redirectUri = q.get('redirect_uri') ?? '';
  if (!client.redirectUris.includes(redirectUri)) return text('Error 400: redirect_uri_mismatch');
  if (q.get('response_type') !== 'code') return text('Error 400: unsupported_response_type');
  const scope = q.get('scope');
  if (!scope) return text('Error 400: invalid_request (Missing required parameter: scope)');
  const challenge = q.get('code_challenge') ?? undefined;
  const method = q.get('code_challenge_method') ?? (challenge === undefined ? undefined : 'plain');
  if (method !== undefined && method !== 'S256' && method !== 'plain') return text('Error 400: invalid_request (Invalid code_challenge_method)');

  const code = `4/0${randomBytes(32).toString('base64url')}`;
  const record: Parameters<AuthState['codes']['set']>[1] = {
    clientId,
    redirectUri,
    scopes: scope.split(' ').filter(Boolean),
    subject: ctx.auth.defaultSubject,
    offline: q.get('access_type') === 'offline',
    expiresAt: ctx.auth.now() + CODE_TTL_MS,
    used: false,
    family: ctx.auth.newFamily(),
  };
  if (challenge !== undefined) record.challenge = challenge;
  if (method === 'S256' || method === 'plain') record.method = method;
  ctx.auth.codes.set(code, record);

  const target = new URL(redirectUri);
  target.searchParams.set('code', code);
  target.searchParams.set('scope', scope);
  const state = q.get('state');
  if (state !== null) target.searchParams.set('state', state);
  return { status: 302, body: '', headers: { location: target.href } };
}

function token(ctx: OAuthRouteContext, params: URLSearchParams, authorization: string | undefined): Reply {
  const grant = params.get('grant_type');
  if (grant === JWT_BEARER) return jwtBearer(ctx, params.get('assertion'));
  if (grant !== 'authorization_code' && grant !== 'refresh_token') return oauthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grant ?? ''}`);

  const client = clientCredentials(params, authorization);
  const record = client ? ctx.auth.clients.get(client.id) : undefined;
  if (!client || !record) return oauthError(401, 'invalid_client', 'The OAuth client was not found.');
  if (record.secret !== client.secret) return oauthError(401, 'invalid_client', 'Unauthorized');

  if (grant === 'refresh_token') {
    const refresh = params.get('refresh_token');
    if (!refresh) return oauthError(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const redeemed = ctx.auth.redeemRefresh(refresh, client.id);
    if (!redeemed.ok) return invalidGrant('Token has been expired or revoked.');
    const { scopes, subject, family } = redeemed.record;
    const body: Record<string, unknown> = {
      access_token: ctx.auth.issueAccess(scopes, subject, family),
      expires_in: ACCESS_TOKEN_TTL_MS / 1000,
      scope: scopes.join(' '),
      token_type: 'Bearer',
    };
    if (redeemed.rotated !== undefined) body.refresh_token = redeemed.rotated;
    return { status: 200, body, headers: noStore() };
  }

  const code = params.get('code');
  if (!code) return oauthError(400, 'invalid_request', 'Missing required parameter: code');
  const rec = ctx.auth.codes.get(code);
  if (!rec || rec.clientId !== client.id) return invalidGrant('Malformed auth code.');
  if (rec.used) {
    // A replayed code: revoke what the first redemption issued (RFC 6749 §4.1.2).
    ctx.auth.revokeFamily(rec.family);
    return invalidGrant('Bad Request');
  }
  if (rec.expiresAt <= ctx.auth.now()) return invalidGrant('Bad Request');
  if (params.get('redirect_uri') !== rec.redirectUri) return oauthError(400, 'redirect_uri_mismatch', 'Bad Request');
  if (rec.challenge !== undefined) {
    const verifier = params.get('code_verifier');
    if (!verifier) return invalidGrant('Missing code verifier.');
    const derived = rec.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
    if (derived !== rec.challenge) return invalidGrant('Invalid code verifier.');
  }
  rec.used = true;
  const body: Record<string, unknown> = {
    access_token: ctx.auth.issueAccess(rec.scopes, rec.subject, rec.family),
    expires_in: ACCESS_TOKEN_TTL_MS / 1000,
    scope: rec.scopes.join(' '),
    token_type: 'Bearer',
  };
  if (rec.offline) body.refresh_token = ctx.auth.issueRefresh(client.id, rec.scopes, rec.subject, rec.family);
  return { status: 200, body, headers: noStore() };
}

function jwtBearer(ctx: OAuthRouteContext, assertion: string | null): Reply {
  if (!assertion) return oauthError(400, 'invalid_request', 'Missing required parameter: assertion');
  const parts = assertion.split('.');
  if (parts.length !== 3) return invalidGrant('Invalid JWT: malformed');
  const [h, p, s] = parts as [string, string, string];
  const header = decodeSegment(h);
  const claims = decodeSegment(p);
  if (!header || !claims || header.alg !== 'RS256') return invalidGrant('Invalid JWT: unsupported algorithm or malformed');
  const iss = typeof claims.iss === 'string' ? claims.iss : '';
  const account = ctx.auth.serviceAccounts.get(iss);
  if (!account) return invalidGrant('Invalid grant: account not found');
  if (!verifySignature('RSA-SHA256', Buffer.from(`${h}.${p}`), account.publicKey, Buffer.from(s, 'base64url'))) return invalidGrant('Invalid JWT Signature.');
  const audience = `${ctx.origin()}/token`;
  if (claims.aud !== audience) return invalidGrant(`Invalid JWT: Failed audience check. The expected audience is ${audience}.`);
  const now = Math.floor(ctx.auth.now() / 1000);
  const { iat, exp } = claims;
  if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= iat || exp - iat > MAX_ASSERTION_S || iat > now + SKEW_S || exp < now - SKEW_S) {
    return invalidGrant('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
  }
  if (typeof claims.scope !== 'string' || claims.scope.trim() === '') return oauthError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
  let subject = iss;
  if (claims.sub !== undefined) {
    if (typeof claims.sub !== 'string' || !account.domainWideDelegation) {
      return oauthError(401, 'unauthorized_client', 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.');
    }
    subject = claims.sub;
  }
  const scopes = claims.scope.split(' ').filter(Boolean);
  return {
    status: 200,
    body: { access_token: ctx.auth.issueAccess(scopes, subject), expires_in: ACCESS_TOKEN_TTL_MS / 1000, token_type: 'Bearer' },
    headers: noStore(),
  };
}

/** RFC 6749 §2.3.1: HTTP Basic or form fields. */
function clientCredentials(params: URLSearchParams, authorization: string | undefined): { id: string; secret: string } | undefined {
  const basic = authorization ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization) : null;
  if (basic?.[1]) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return undefined;
    return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
  }
  const id = params.get('client_id');
  const secret = params.get('client_secret');
  return id !== null && secret !== null ? { id, secret } : undefined;
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  const raw = await readBody(req, 64 * 1024);
  return new URLSearchParams(raw?.toString('utf8') ?? '');
}

/** Token answers must not be cached (RFC 6749 §5.1). */
function noStore(): Record<string, string> {
  return { 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate', pragma: 'no-cache' };
}
