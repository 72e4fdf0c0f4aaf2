/**
 * OAuth connect routes.
 *   GET /oauth/{provider}/start?tenantId=&integrationId=   admin key (header x-functions-key, or `code` as the
 *                                                          Functions host accepts it, so a browser can open it) → 302
 *   GET /oauth/{provider}/callback?code=&state=            anonymous (the provider sends the browser here);
 *                                                          guarded by the signed state and the flow cookie
 */
import { completeOAuthFlow, OAuthUnavailableError, startOAuthFlow } from '../credentials/oauth-flow';
import type { OAuthRouteDeps } from '../credentials/wiring';
import { idSchema } from './ids';
import { InputError } from '../errors';
import { keyMatches, ok, problem, toResponse, type ApiRequest, type ApiResponse } from './http';

const PROVIDER_KEY = /^[a-z0-9-]{1,64}$/;

function providerParam(request: ApiRequest): string {
  const key = request.params.provider ?? '';
  if (!PROVIDER_KEY.test(key)) throw new InputError(400, 'provider: must be a provider key');
  return key;
}

function queryId(request: ApiRequest, name: string): string {
  const parsed = idSchema.safeParse(request.query.get(name));
  if (!parsed.success) throw new InputError(400, `${name}: must be 1-64 of A-Z a-z 0-9 _ - starting with a letter or digit`);
  return parsed.data;
}

function failure(error: unknown, deps: OAuthRouteDeps): ApiResponse {
  if (error instanceof OAuthUnavailableError) return problem(503, 'not_configured', error.message);
  return toResponse(error, deps.logger);
}

// Nothing in these answers may be cached or passed on as a referrer: they carry codes and state.
const NO_STORE = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };

export async function oauthStart(deps: OAuthRouteDeps, request: ApiRequest): Promise<ApiResponse> {
  const key = request.header('x-functions-key') ?? request.query.get('code') ?? undefined;
  if (!keyMatches(key, deps.adminKey)) return problem(401, 'unauthorized', 'Missing or wrong x-functions-key');
  try {
    const started = await startOAuthFlow(deps, providerParam(request), queryId(request, 'tenantId'), queryId(request, 'integrationId'));
    return { status: 302, jsonBody: undefined, headers: { location: started.location, 'set-cookie': started.setCookie, ...NO_STORE } };
  } catch (error) {
    return failure(error, deps);
  }
}

export async function oauthCallback(deps: OAuthRouteDeps, request: ApiRequest): Promise<ApiResponse> {
  try {
    const done = await completeOAuthFlow(deps, { providerKey: providerParam(request), query: request.query, cookieHeader: request.header('cookie') });
    const { integration } = done;
    const response = ok({ connected: true, tenantId: integration.tenantId, integrationId: integration.id, provider: integration.provider, status: integration.status, generation: done.generation });
    return { ...response, headers: { 'set-cookie': done.clearCookie, ...NO_STORE } };
  } catch (error) {
    const response = failure(error, deps);
    return { ...response, headers: NO_STORE };
  }
}
