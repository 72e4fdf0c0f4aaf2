/**
 * Bench fixture: the local host with the real function definitions on the
 * embedded adapters, a GitHub sandbox, and one seeded integration. Sends
 * `{url, integrationId, secret}` to the parent when ready.
 */
import { startLocalHost, installSignalHandlers } from '../local/host/host';
import { startGithubSandbox } from '../local/sandbox/github';
import { putIntegration } from '../shared/api/integrations';
import { putTenant } from '../shared/api/tenants';
import { buildServices, setServices } from '../shared/composition';
import { loadSettings } from '../shared/config/settings';
import { createLogger } from '../shared/observability/logger';
import { adminPut } from './admin-request';

const secret = 'bench-webhook-secret-0001';

async function main(): Promise<void> {
  // The GitHub sandbox listens on 127.0.0.1: loopback is opened for provider calls as npm start does.
  const settings = loadSettings({ ...process.env, PORT: '0', LOG_LEVEL: 'error', ADMIN_API_KEY: 'bench-admin-key-0000000001', EGRESS_ALLOW_LOCAL: 'sandbox' });
  const logger = createLogger(() => undefined, 'error');
  const services = await buildServices(settings, { logger });
  setServices(services);
  const github = await startGithubSandbox({ tokens: { ghp_bench: { limit: 1_000_000 } } });
  github.seedIssues('bench', 'repo', 50);
  const req = adminPut(services.adminKey);
  await putTenant(services.adminDeps, req({ tenantId: 'bench' }, { name: 'Bench' }));
  const res = await putIntegration(
    services.adminDeps,
    req({ tenantId: 'bench', integrationId: 'gh-bench' }, { provider: 'github', baseUrl: github.url, config: { owner: 'bench', repo: 'repo' }, credentials: { type: 'token', token: 'ghp_bench' }, webhookSecret: secret }),
  );
  if (res.status !== 201) throw new Error(`seed failed ${res.status}`);
  const { definitions } = await import('../functions/index');
  const receiver = services.adapters.receiver;
  if (!receiver) throw new Error('the bench host needs the embedded queue');
  const host = await startLocalHost({ definitions, receiver, logger, port: 0 });
  installSignalHandlers({ stop: async () => { await host.stop(); await github.close(); await services.close(); } });
  process.send?.({ url: host.url, integrationId: 'gh-bench', secret });
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
