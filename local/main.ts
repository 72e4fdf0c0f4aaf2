/**
 * `npm start`: the whole app in one process on its embedded defaults — the
 * function definitions under a local Functions host, the provider sandbox,
 * and a seeded demo tenant whose first sync shows in the log.
 */
import { buildServices, setServices } from '../shared/composition';
import { ConfigError, loadSettings } from '../shared/config/settings';
import { createLogger } from '../shared/observability/logger';
import { DataDirInUseError, lockDataDir } from './data-dir-lock';
import { seedDemo, type DemoIntegrationInfo } from './demo';
import { startLocalHost, installSignalHandlers } from './host/host';
import { prettySink } from './pretty-log';
import { sandboxFactories } from './sandbox/registry';
import type { ProviderSandbox } from './sandbox/types';

/**
 * The sandboxes listen on 127.0.0.1, which the egress policy closes unless
 * EGRESS_ALLOW_LOCAL=sandbox: `npm start` runs them by default, so it turns
 * the setting on for itself — explicitly, and never over a value the
 * environment set, nor with Service Bus configured (the Azure profile refuses it).
 */
function localEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const sandboxOn = (env.SANDBOX ?? 'on') !== 'off';
  const azure = (env.ServiceBusConnection__fullyQualifiedNamespace ?? '') !== '';
  if (!sandboxOn || azure || (env.EGRESS_ALLOW_LOCAL ?? '') !== '') return env;
  return { ...env, EGRESS_ALLOW_LOCAL: 'sandbox' };
}

async function main(): Promise<void> {
  const settings = loadSettings(localEnv(process.env));
  const logger = createLogger(prettySink(process.stdout.isTTY), settings.LOG_LEVEL);
  // Before anything touches LOCAL_DATA_DIR (the dev key and secret store live there): one host per folder.
  const dataDirLock = settings.KEY_VAULT_URL === undefined ? lockDataDir(settings.LOCAL_DATA_DIR) : undefined;
  const services = await buildServices(settings, { logger });
  setServices(services);
  if (!services.adapters.receiver) throw new Error('The local host runs queue triggers from the embedded queue: unset ServiceBusConnection__fullyQualifiedNamespace');

  const { definitions } = await import('../functions/index');
  // The admin key doubles as the function key: the host checks it before reading a management body.
  const host = await startLocalHost({ definitions, receiver: services.adapters.receiver, logger, port: settings.PORT, functionKey: services.adminKey });
  dataDirLock?.describe(host.url);
  const sandboxes: ProviderSandbox[] = [];
  // Installed before seeding, so Ctrl-C drains cleanly even while a stalled dependency delays the demo.
  installSignalHandlers(
    {
      stop: async () => {
        await host.stop();
        await Promise.all(sandboxes.map((s) => s.close()));
        await services.close();
        dataDirLock?.release();
      },
    },
    { logger },
  );
  let demo: DemoIntegrationInfo[] = [];
  if (settings.SANDBOX === 'on') {
    for (const start of sandboxFactories) sandboxes.push(await start());
    try {
      demo = await seedDemo(services, sandboxes, host.url);
    } catch (error) {
      // The demo is a convenience: the host keeps serving without it.
      logger.error('demo seed gave up; the host keeps running without the demo tenant', { error: error instanceof Error ? error.message : 'error' });
    }
  }
  printBanner(host.url, services.adminKey, services.adapters.profile, demo);
}

function printBanner(url: string, adminKey: string, profile: Record<string, string>, demo: readonly DemoIntegrationInfo[]): void {
  const lines = [
    '',
    `Castiel Sync local host on ${url}/api   (adapters: ${Object.entries(profile).map(([k, v]) => `${k}=${v}`).join(', ')})`,
    `  health:     curl ${url}/api/health`,
    `  admin key:  ${adminKey}   (header x-functions-key)`,
    `  records:    curl -H 'x-functions-key: ${adminKey}' '${url}/api/admin/tenants/demo/records?limit=5'`,
  ];
  for (const d of demo) {
    lines.push(`  ${d.provider.padEnd(11)} sandbox ${d.sandboxUrl}; integration '${d.integrationId}', first sync ${d.runId} queued`);
    lines.push(`              runs: curl -H 'x-functions-key: ${adminKey}' ${url}/api/admin/tenants/demo/integrations/${d.integrationId}/runs`);
  }
  for (const d of demo) {
    if (!d.curl) continue;
    lines.push('', `A signed ${d.provider} webhook (answers 2xx, then a sync runs):`, d.curl.signed, '', `The same ${d.provider} delivery with a tampered body (answers 401):`, d.curl.tampered);
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirInUseError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
