import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { ApiRequest, ApiResponse } from '../shared/api/http';
import { getServices, type Services } from '../shared/composition';

/** HttpRequest → the plain request shared/ understands; no Azure type crosses into shared/. */
export function toApiRequest(request: HttpRequest): ApiRequest {
  return {
    method: request.method,
    params: request.params,
    query: request.query,
    header: (name) => request.headers.get(name) ?? undefined,
    text: () => request.text(),
  };
}

/**
 * The webhook route's body limit (WEBHOOK_MAX_BODY_BYTES), read per request
 * from the one composition root so the local host stops reading where the
 * handler would refuse.
 */
export async function webhookBodyLimit(): Promise<number> {
  return (await getServices()).settings.WEBHOOK_MAX_BODY_BYTES;
}

export function toHttpResponse(response: ApiResponse): HttpResponseInit {
  return { status: response.status, jsonBody: response.jsonBody, ...(response.headers ? { headers: response.headers } : {}) };
}

/**
 * An HTTP function over a shared/api handler. Services fail to start → 503
 * with no internals (the error goes to the invocation log), never a 500.
 */
export function apiHandler(handle: (services: Services, request: ApiRequest) => Promise<ApiResponse>) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    let services: Services;
    try {
      services = await getServices();
    } catch (error) {
      context.error('services unavailable', error instanceof Error ? error.name : 'error');
      return { status: 503, jsonBody: { error: 'unavailable', reason: 'Service is starting or misconfigured' } };
    }
    return toHttpResponse(await handle(services, toApiRequest(request)));
  };
}
