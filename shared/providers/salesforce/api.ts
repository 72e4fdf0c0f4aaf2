/**
 * The REST client every Salesforce call goes through: the access token and
 * instance URL from the credentials, `/services/data/vNN.0/…` paths, the
 * rate-limit signal and typed errors from providerFetch.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_resources.htm
 *
 * A 401 INVALID_SESSION_ID (expired or revoked session) is an AuthError for
 * the caller to refresh. Modes that mint tokens without stored state (JWT
 * bearer, client credentials) mint once more and retry instead: nothing
 * needs persisting, and a run should not fail because a session timed out.
 */
import { parseJsonOrUndefined } from '../../http/json';
import { AuthError, UnrecoverableError } from '../../errors';
import { providerFetch } from '../../http/provider-fetch';
import type { CallContext } from '../types';
import { checkedInstanceUrl, refreshCredentials } from './auth';
import { isSalesforceRateLimitMessage, parseSalesforceRateLimit } from './ratelimit';
import { salesforceErrorSchema, type SalesforceConfig, type SalesforceCredentials } from './schemas';

export type SalesforceContext = CallContext<SalesforceConfig, SalesforceCredentials>;
export type Clock = () => number;

export interface SalesforceApi {
  /** Versioned REST path: `/services/data/v62.0/` + segments, each URL-encoded. */
  path(...segments: string[]): string;
  /**
   * A request to a path on the instance (a path, never an absolute URL: the
   * token goes with it). Error codes in `tolerate` are answers the caller
   * handles (a retried delete's ENTITY_IS_DELETED, an expired query
   * locator): they come back as `tolerated` instead of a thrown error.
   */
  request(path: string, init: RequestInit, operation: string, tolerate?: readonly string[]): Promise<ApiResponse>;
}

export interface ApiResponse {
  response: Response;
  /** The tolerated error code the provider answered with; the response is then empty. */
  tolerated?: string;
}

interface Session {
  accessToken: string;
  instance: URL;
}

export async function connect(ctx: SalesforceContext, now: Clock): Promise<SalesforceApi> {
  const mintable = ctx.credentials.type === 'jwt' || ctx.credentials.type === 'client_credentials';
  let session = storedSession(ctx.credentials) ?? (await mint(ctx, now));
  let reminted = false;

  const send = async (s: Session, path: string, init: RequestInit, operation: string, tolerate: readonly string[]): Promise<ApiResponse> => {
    if (!path.startsWith('/') || path.startsWith('//')) throw new UnrecoverableError(`${operation}: refusing a non-path URL`);
    const url = new URL(path, s.instance);
    if (url.origin !== s.instance.origin) throw new UnrecoverableError(`${operation}: refusing a URL on another origin`);
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${s.accessToken}`);
    headers.set('accept', 'application/json');
    const seen: { code?: string } = {};
    const fetchContext = tolerate.length > 0 ? { ...ctx, fetch: tolerating(ctx.fetch, tolerate, seen) } : ctx;
    const response = await providerFetch(fetchContext, url, { ...init, headers }, {
      parseRateLimit: (status, h) => parseSalesforceRateLimit(status, h, now()),
      describe: describeSalesforceError,
      isRateLimitMessage: isSalesforceRateLimitMessage,
      operation,
    });
    return seen.code === undefined ? { response } : { response, tolerated: seen.code };
  };

  return {
    path: (...segments) => `/services/data/v${ctx.config.apiVersion}/${segments.map(encodeURIComponent).join('/')}`,
    async request(path, init, operation, tolerate = []) {
      try {
        return await send(session, path, init, operation, tolerate);
      } catch (error) {
        if (!(error instanceof AuthError) || !mintable || reminted) throw error;
        reminted = true;
        session = await mint(ctx, now);
        return send(session, path, init, operation, tolerate);
      }
    },
  };
}

/** `ERROR_CODE: message` from Salesforce's error array. */
export function describeSalesforceError(body: unknown): string | undefined {
  const parsed = salesforceErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const [first] = parsed.data;
  if (!first) return undefined;
  return first.message ? `${first.errorCode}: ${first.message}` : first.errorCode;
}

/** The first error code of a Salesforce error body, when there is one. */
export function salesforceErrorCode(body: unknown): string | undefined {
  const parsed = salesforceErrorSchema.safeParse(body);
  return parsed.success ? parsed.data[0]?.errorCode : undefined;
}

/**
 * A fetch that turns a 4xx carrying a tolerated error code into an empty
 * 204 (headers kept, so the rate-limit signal still reads) and notes the code.
 */
function tolerating(inner: typeof fetch, codes: readonly string[], seen: { code?: string }): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    if (response.status < 400 || response.status >= 500) return response;
    const text = await response.text();
    const body = parseJsonOrUndefined(text);
    const code = salesforceErrorCode(body);
    if (code === undefined || !codes.includes(code)) {
      return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
    }
    seen.code = code;
    return new Response(null, { status: 204, headers: response.headers });
  };
}

function storedSession(credentials: SalesforceCredentials): Session | undefined {
  if (credentials.accessToken === undefined || credentials.instanceUrl === undefined) return undefined;
  return { accessToken: credentials.accessToken, instance: checkedInstanceUrl(credentials.instanceUrl) };
}

async function mint(ctx: SalesforceContext, now: Clock): Promise<Session> {
  const { credentials } = ctx;
  if (credentials.type !== 'jwt' && credentials.type !== 'client_credentials') {
    throw new AuthError('Salesforce: no access token stored');
  }
  const fresh = await refreshCredentials({ baseUrl: ctx.baseUrl, fetch: ctx.fetch }, credentials, now);
  const session = storedSession(fresh);
  if (!session) throw new AuthError('Salesforce: the token endpoint returned no session');
  return session;
}
