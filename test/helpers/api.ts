import type { ApiRequest } from '../../shared/api/http';
import { putIntegration } from '../../shared/api/integrations';
import { putTenant } from '../../shared/api/tenants';
import type { Services } from '../../shared/composition';
import { TEST_ADMIN_KEY } from './services';

export function apiRequest(options: {
  method?: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  key?: string | null;
}): ApiRequest {
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(options.headers ?? {})) headers.set(k.toLowerCase(), v);
  if (options.key !== null) headers.set('x-functions-key', options.key ?? TEST_ADMIN_KEY);
  const text = options.rawBody ?? (options.body === undefined ? '' : JSON.stringify(options.body));
  return {
    method: options.method ?? 'GET',
    params: options.params ?? {},
    query: new URLSearchParams(options.query ?? {}),
    header: (name) => headers.get(name.toLowerCase()),
    text: () => Promise.resolve(text),
  };
}

export interface GithubSeed {
  tenantId: string;
  integrationId: string;
  token: string;
  webhookSecret: string;
  owner: string;
  repo: string;
}

/** Create a tenant and a GitHub integration through the admin handlers (same validation as the API). */
export async function seedGithubIntegration(services: Services, baseUrl: string, seed: Partial<GithubSeed> = {}): Promise<GithubSeed> {
  const s: GithubSeed = {
    tenantId: 'acme',
    integrationId: `gh-${Math.random().toString(36).slice(2, 10)}`,
    token: 'ghp_sandboxtoken0001',
    webhookSecret: 'whsec-test-secret-1',
    owner: 'octo',
    repo: 'hello',
    ...seed,
  };
  const tenant = await putTenant(services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: s.tenantId }, body: { name: 'Acme' } }));
  if (tenant.status >= 300) throw new Error(`tenant seed failed: ${JSON.stringify(tenant.jsonBody)}`);
  const res = await putIntegration(
    services.adminDeps,
    apiRequest({
      method: 'PUT',
      params: { tenantId: s.tenantId, integrationId: s.integrationId },
      body: { provider: 'github', baseUrl, config: { owner: s.owner, repo: s.repo }, credentials: { type: 'token', token: s.token }, webhookSecret: s.webhookSecret },
    }),
  );
  if (res.status >= 300) throw new Error(`integration seed failed: ${JSON.stringify(res.jsonBody)}`);
  return s;
}

/** Create the tenant (idempotent) and PUT one integration through the admin handlers; throws with the API's answer on a refusal. */
export async function putTenantIntegration(services: Services, tenantId: string, integrationId: string, body: Record<string, unknown>): Promise<void> {
  await putTenant(services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId }, body: { name: tenantId } }));
  const res = await putIntegration(services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId, integrationId }, body }));
  if (res.status >= 300) throw new Error(`PUT integration ${integrationId}: ${res.status} ${JSON.stringify(res.jsonBody)}`);
}
