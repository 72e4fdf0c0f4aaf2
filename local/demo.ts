import type { ApiRequest, ApiResponse } from '../shared/api/http';
import { putIntegration } from '../shared/api/integrations';
import { postSync } from '../shared/api/runs';
import { putTenant } from '../shared/api/tenants';
import type { Services } from '../shared/composition';
import { PermanentError, START_UP_RETRY, withRetries, type RetryPolicy } from './retry';
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
  if (res.status < 300) return res;
  const message = `demo seed: ${what} answered ${res.status} ${JSON.stringify(res.jsonBody)}`;
  // A 5xx is a dependency failing (e.g. Redis stalled): worth another try. A 4xx is a bug in the demo.
  throw res.status >= 500 ? new Error(message) : new PermanentError(message);
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
 * Each step is retried on its own with backoff (a PUT repeats harmlessly, and
 * a sync that already answered is not asked for twice), so a dependency that
 * stalls at start-up delays the demo instead of failing it.
 */
export async function seedDemo(services: Services, sandboxes: readonly ProviderSandbox[], hostUrl: string, retry: RetryPolicy = START_UP_RETRY): Promise<DemoIntegrationInfo[]> {
  const deps = services.adminDeps;
  const step = (what: string, call: () => Promise<ApiResponse>): Promise<ApiResponse> =>
    withRetries(`demo seed: ${what}`, async () => check(await call(), what), services.logger, retry);
  await step('tenant', () => putTenant(deps, request(services, 'PUT', { tenantId: DEMO_TENANT }, { name: 'Demo tenant' })));
  const out: DemoIntegrationInfo[] = [];
  for (const sandbox of sandboxes) {
    const demo = sandbox.demoIntegration();
    const params = { tenantId: DEMO_TENANT, integrationId: demo.integrationId };
    await step(`${sandbox.provider} integration`, () => putIntegration(deps, request(services, 'PUT', params, demo.body)));
    const sync = await step(`${sandbox.provider} sync`, () => postSync(deps, request(services, 'POST', params)));
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
