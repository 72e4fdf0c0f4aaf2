/**
 * Salesforce tokens: the OAuth web-server flow with PKCE, refresh (with or
 * without rotation, per connected app), the JWT bearer flow and the client
 * credentials flow. Every grant goes to `{login URL}/services/oauth2/token`,
 * where the login URL is the integration's baseUrl (login.salesforce.com,
 * test.salesforce.com or the org's My Domain).
 * https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flows.htm
 *
 * Token responses carry `instance_url`, the API base for every later call,
 * and no `expires_in`: a token lives as long as the org's session timeout
 * (two hours unless an admin changed it), and expiry shows up as a 401
 * INVALID_SESSION_ID.
 */
import { AuthError, UnrecoverableError } from '../../errors';
import { signJwtRs256 } from '../jwt';
import { requestToken, type TokenRequest } from '../oauth';
import type { OAuthClient } from '../types';
import { salesforceTokenSchema, type SalesforceConfig, type SalesforceCredentials } from './schemas';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** `api` for REST, `refresh_token` (alias `offline_access`) to get a refresh token at all. */
export const DEFAULT_SCOPES: readonly string[] = ['api', 'refresh_token'];
/**
 * Sessions expire after the org's timeout, "default two hours", then answer
 * INVALID_SESSION_ID; used to estimate expiry.
 * https://developer.salesforce.com/docs/atlas.en-us.api_meta.meta/api_meta/meta_error_handling_session_exp.htm
 */
export const DEFAULT_SESSION_TIMEOUT_SECONDS = 2 * 60 * 60;
/**
 * Salesforce refuses assertions whose `exp` is more than three minutes
 * ahead; two minutes leaves a minute for clock skew either way.
 * https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm
 */
const JWT_LIFETIME_SECONDS = 120;

export interface GrantContext {
  baseUrl: string;
  fetch: typeof fetch;
}

type Clock = () => number;

/** The minted part of any credentials: what a grant returns. */
interface Session {
  accessToken: string;
  instanceUrl: string;
  issuedAt: number;
  refreshToken?: string;
}

export function tokenUrl(baseUrl: string): string {
  return new URL('services/oauth2/token', withSlash(baseUrl)).href;
}

export function authorizeUrl(
  baseUrl: string,
  _config: SalesforceConfig,
  client: OAuthClient,
  params: { state: string; codeChallenge: string },
): string {
  const url = new URL('services/oauth2/authorize', withSlash(baseUrl));
  const query: Record<string, string> = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    state: params.state,
    code_challenge: params.codeChallenge,
    code_challenge_method: 'S256',
    scope: (client.scopes ?? DEFAULT_SCOPES).join(' '),
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.href;
}

export async function exchangeCode(
  ctx: GrantContext,
  client: OAuthClient,
  params: { code: string; codeVerifier: string },
  now: Clock,
): Promise<SalesforceCredentials> {
  const session = await grant(ctx, now, {
    grant_type: 'authorization_code',
    code: params.code,
    redirect_uri: client.redirectUri,
    code_verifier: params.codeVerifier,
  }, clientAuth(client.clientId, client.clientSecret));
  return {
    type: 'oauth',
    clientId: client.clientId,
    ...(client.clientSecret ? { clientSecret: client.clientSecret } : {}),
    ...session,
  };
}

/**
 * New credentials with a fresh access token. A rotated refresh token
 * replaces the old one; a response without one (rotation off) keeps it.
 * invalid_grant — revoked, expired, or a rotated token used twice — is an
 * AuthError (from the shared token helper): the integration needs a reconnect.
 */
export async function refreshCredentials(ctx: GrantContext, credentials: SalesforceCredentials, now: Clock): Promise<SalesforceCredentials> {
  switch (credentials.type) {
    case 'oauth': {
      if (credentials.refreshToken === undefined) {
        throw new AuthError('Salesforce: no refresh token stored (connect again with the refresh_token scope)');
      }
      const session = await grant(
        ctx,
        now,
        { grant_type: 'refresh_token', refresh_token: credentials.refreshToken },
        clientAuth(credentials.clientId, credentials.clientSecret),
      );
      return { ...credentials, ...session, refreshToken: session.refreshToken ?? credentials.refreshToken };
    }
    case 'jwt': {
      const assertion = jwtAssertion(ctx.baseUrl, credentials, now);
      return { ...credentials, ...(await grant(ctx, now, { grant_type: JWT_BEARER_GRANT, assertion })) };
    }
    case 'client_credentials': {
      const session = await grant(ctx, now, { grant_type: 'client_credentials' }, clientAuth(credentials.clientId, credentials.clientSecret));
      return { ...credentials, ...session };
    }
    case 'token':
      throw new AuthError('Salesforce: a static access token cannot be refreshed (enter a new one)');
  }
}

/**
 * When the access token stops working, as far as we can tell: issue time
 * plus the session timeout. 0 for modes that mint tokens and have none yet
 * (refresh now); undefined for static tokens and unknown issue times.
 */
export function expiresAt(credentials: SalesforceCredentials): number | undefined {
  if (credentials.type === 'token') return undefined;
  if (credentials.accessToken === undefined) return 0;
  if (credentials.issuedAt === undefined) return undefined;
  return credentials.issuedAt + (credentials.sessionTimeoutSeconds ?? DEFAULT_SESSION_TIMEOUT_SECONDS) * 1000;
}

/**
 * The API base from a token response or stored credentials. The access
 * token is sent there, so it must be HTTPS; plain HTTP only to a loopback
 * address (the local sandbox). This is the provider's own floor; the egress
 * policy then holds the URL to Salesforce's hosts (the definition's
 * `egress.credentialUrls`): a minted instanceUrl off the list is refused
 * before it is stored, and no request — token included — is sent to one.
 */
export function checkedInstanceUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UnrecoverableError('Salesforce: instance URL is not a URL');
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new UnrecoverableError(`Salesforce: refusing a non-HTTPS instance URL (${url.origin})`);
  }
  if (url.username || url.password) throw new UnrecoverableError('Salesforce: instance URL must not carry credentials');
  return url;
}

function jwtAssertion(baseUrl: string, credentials: Extract<SalesforceCredentials, { type: 'jwt' }>, now: Clock): string {
  const claims = {
    iss: credentials.clientId,
    sub: credentials.username,
    aud: credentials.audience ?? new URL(baseUrl).origin,
    exp: Math.floor(now() / 1000) + JWT_LIFETIME_SECONDS,
  };
  try {
    return signJwtRs256(claims, credentials.privateKey);
  } catch (error) {
    // The key's own error could quote it; say only what is wrong.
    throw new UnrecoverableError('Salesforce JWT bearer: the private key could not sign (is it an RSA key in PEM form?)', { cause: error });
  }
}

interface ClientAuth {
  id: string;
  secret: string | undefined;
}

function clientAuth(id: string, secret: string | undefined): ClientAuth {
  return { id, secret };
}

async function grant(ctx: GrantContext, now: Clock, params: Record<string, string>, client?: ClientAuth): Promise<Session> {
  const request: TokenRequest = { url: tokenUrl(ctx.baseUrl), params: { ...params }, fetch: ctx.fetch };
  // Salesforce takes client credentials as form fields; public clients (PKCE, no secret) send client_id alone.
  if (client?.secret) request.client = { id: client.id, secret: client.secret, method: 'body' };
  else if (client) request.params.client_id = client.id;

  const parsed = salesforceTokenSchema.safeParse(await requestToken(request));
  if (!parsed.success) throw new UnrecoverableError('Salesforce token endpoint: unexpected response shape (no access_token or instance_url)');
  const token = parsed.data;
  const session: Session = {
    accessToken: token.access_token,
    instanceUrl: checkedInstanceUrl(token.instance_url).origin,
    issuedAt: token.issued_at ?? now(),
  };
  if (token.refresh_token !== undefined) session.refreshToken = token.refresh_token;
  return session;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
