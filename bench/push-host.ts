/**
 * Bench fixture: the local host with the real function definitions on the
 * embedded adapters, one GitHub integration pointing at the sandbox the
 * parent runs (GITHUB_URL), synced once so its records exist. Sends
 * `{url, adminKey, records: [{id, number}]}` to the parent when ready.
 */
import { startLocalHost, installSignalHandlers } from '../local/host/host';
import { putIntegration } from '../shared/api/integrations';
import { putTenant } from '../shared/api/tenants';
import { buildServices, setServices } from '../shared/composition';
import { loadSettings } from '../shared/config/settings';
import { createLogger } from '../shared/observability/logger';
import { runPullSync } from '../shared/sync/pull';
import { adminPut } from './admin-request';

async function main(): Promise<void> {
  const githubUrl = process.env.GITHUB_URL;
  if (githubUrl === undefined) throw new Error('GITHUB_URL is not set');
  const settings = loadSettings({ ...process.env, PORT: '0', LOG_LEVEL: 'error', ADMIN_API_KEY: 'bench-admin-key-0000000001', EGRESS_ALLOW_LOCAL: 'sandbox' });
  const logger = createLogger(() => undefined, 'error');
  const services = await buildServices(settings, { logger });
  setServices(services);
  const req = adminPut(services.adminKey);
  await putTenant(services.adminDeps, req({ tenantId: 'bench' }, { name: 'Bench' }));
  // The sandbox token allows it: lift the rate limits (GitHub's defaults: 360 requests/min, 180 updates) so the bench measures the push path.
  await services.adminDeps.limits.replace('bench', { perMinute: 100_000 });
  const res = await putIntegration(
    services.adminDeps,
    req({ tenantId: 'bench', integrationId: 'gh-push' }, { provider: 'github', baseUrl: githubUrl, config: { owner: 'bench', repo: 'repo' }, credentials: { type: 'token', token: 'ghp_bench' }, limits: { perMinute: 100_000, operations: { create: 100_000, update: 100_000, delete: 100_000 } } }),
  );
  if (res.status !== 201) throw new Error(`seed failed ${res.status}`);
  const pulled = await runPullSync(services.syncDeps, { type: 'sync.pull', tenantId: 'bench', integrationId: 'gh-push', trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: 'bench-push-seed', deliveryCount: 1 });
  if (pulled.kind !== 'succeeded') throw new Error(`seed pull ${pulled.kind}`);
  const records: { id: string; number: number }[] = [];
  let continuation: string | undefined;
  do {
    const page = await services.repos.listRecords('bench', { integrationId: 'gh-push', entityType: 'issue' }, 1000, continuation);
    for (const r of page.items) if (typeof r.data.number === 'number') records.push({ id: r.id, number: r.data.number });
    continuation = page.continuation;
  } while (continuation);

  const { definitions } = await import('../functions/index');
  const receiver = services.adapters.receiver;
  if (!receiver) throw new Error('the bench host needs the embedded queue');
  const host = await startLocalHost({ definitions, receiver, logger, port: 0 });
  installSignalHandlers({ stop: async () => { await host.stop(); await services.close(); } });
  process.send?.({ url: host.url, adminKey: services.adminKey, records });
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
