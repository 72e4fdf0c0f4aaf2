import type { ApiRequest, ApiResponse } from '../shared/api/http';
import { putIntegration } from '../shared/api/integrations';
import { postSync } from '../shared/api/runs';
import { putTenant } from '../shared/api/tenants';
import type { Services } from '../shared/composition';
import type { DemoCurl, ProviderSandbox } from './sandbox/types';

export const DEMO_TENANT = 'demo';

function request(services: Services, method: string, params: Record<string, string>, body?: unknown): ApiRequest {
  return {
    method,
    params,
    query: new URLSearchParams(),
    header: (name) => (name.toLowerCase() === 'x-functions-key' ? services.adminKey : undefined),
    text: () => Promise.resolve(body === undefined ? '' : JSON.stringify(body)),
  };
}

function check(res: ApiResponse, what: string): ApiResponse {
  if (res.status >= 300) throw new Error(`demo seed: ${what} answered ${res.status} ${JSON.stringify(res.jsonBody)}`);
  return res;
}

export interface DemoIntegrationInfo {
  provider: string;
  integrationId: string;
  sandboxUrl: string;
  runId: string;
  curl?: DemoCurl;
}

/**
 * Seeds a demo tenant with one integration per sandbox, then queues a first
 * sync of each: a newcomer sees runs complete with nothing configured. Goes
 * through the admin handlers, so the demo exercises the same validation.
 */
export async function seedDemo(services: Services, sandboxes: readonly ProviderSandbox[], hostUrl: string): Promise<DemoIntegrationInfo[]> {
  const deps = services.adminDeps;
  check(await putTenant(deps, request(services, 'PUT', { tenantId: DEMO_TENANT }, { name: 'Demo tenant' })), 'tenant');
  const out: DemoIntegrationInfo[] = [];
  for (const sandbox of sandboxes) {
    const demo = sandbox.demoIntegration();
    const params = { tenantId: DEMO_TENANT, integrationId: demo.integrationId };
    check(await putIntegration(deps, request(services, 'PUT', params, demo.body)), `${sandbox.provider} integration`);
    const sync = check(await postSync(deps, request(services, 'POST', params)), `${sandbox.provider} sync`);
    const curl = sandbox.demoWebhook?.(`${hostUrl}/api/webhooks/${sandbox.provider}/${demo.integrationId}`);
    out.push({
      provider: sandbox.provider,
      integrationId: demo.integrationId,
      sandboxUrl: sandbox.url,
      runId: (sync.jsonBody as { runId: string }).runId,
      ...(curl ? { curl } : {}),
    });
  }
  return out;
}
