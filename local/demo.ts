import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { putIntegration } from '../shared/api/integrations';
import { postSync } from '../shared/api/runs';
import { putTenant } from '../shared/api/tenants';
import type { ApiRequest, ApiResponse } from '../shared/api/http';
import type { Services } from '../shared/composition';
import type { GithubSandbox } from './sandbox/github';

export const DEMO_TENANT = 'demo';
export const DEMO_GITHUB = 'demo-github';

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

export interface Demo {
  webhookSecret: string;
  runId: string;
}

/**
 * Seeds a demo tenant with a GitHub integration pointing at the sandbox, then
 * queues a first sync: a newcomer sees a run complete with nothing configured.
 * Goes through the admin handlers, so the demo exercises the same validation.
 */
export async function seedDemo(services: Services, github: GithubSandbox): Promise<Demo> {
  const token = `ghp_demo_${randomBytes(12).toString('hex')}`;
  const webhookSecret = randomBytes(24).toString('base64url');
  github.addToken(token);
  github.seedIssues('castiel', 'demo', 120);
  const deps = services.adminDeps;
  check(await putTenant(deps, request(services, 'PUT', { tenantId: DEMO_TENANT }, { name: 'Demo tenant' })), 'tenant');
  const params = { tenantId: DEMO_TENANT, integrationId: DEMO_GITHUB };
  const body = { provider: 'github', baseUrl: github.url, config: { owner: 'castiel', repo: 'demo' }, credentials: { type: 'token', token }, webhookSecret };
  check(await putIntegration(deps, request(services, 'PUT', params, body)), 'integration');
  const sync = check(await postSync(deps, request(services, 'POST', params)), 'sync');
  return { webhookSecret, runId: (sync.jsonBody as { runId: string }).runId };
}

/** A ready-to-paste signed delivery, and the same one tampered. */
export function demoCurl(baseUrl: string, webhookSecret: string): { signed: string; tampered: string } {
  const body = JSON.stringify({ action: 'opened', issue: { number: 1, title: 'Hello from curl' } });
  const signature = `sha256=${createHmac('sha256', webhookSecret).update(body).digest('hex')}`;
  const make = (payload: string): string =>
    [
      `curl -i -X POST ${baseUrl}/api/webhooks/github/${DEMO_GITHUB}`,
      `-H 'content-type: application/json'`,
      `-H 'x-github-event: issues'`,
      `-H 'x-github-delivery: ${randomUUID()}'`,
      `-H 'x-hub-signature-256: ${signature}'`,
      `--data-binary '${payload}'`,
    ].join(' \\\n  ');
  return { signed: make(body), tampered: make(body.replace('Hello', 'Jello')) };
}
