import type { ApiRequest } from '../shared/api/http';

/** An admin PUT as the handlers see it, carrying the app's own key: how the bench hosts seed their tenant and integration. */
export function adminPut(adminKey: string): (params: Record<string, string>, body: unknown) => ApiRequest {
  return (params, body) => ({
    method: 'PUT',
    params,
    query: new URLSearchParams(),
    header: (n) => (n === 'x-functions-key' ? adminKey : undefined),
    text: () => Promise.resolve(JSON.stringify(body)),
  });
}
