/**
 * `npm start`: the whole app in one process on its embedded defaults — the
 * function definitions under a local Functions host, the provider sandbox,
 * and a seeded demo tenant whose first sync shows in the log.
 */
import { buildServices, setServices } from '../shared/composition';
import { ConfigError, loadSettings } from '../shared/config/settings';
import { createLogger } from '../shared/observability/logger';
import { demoCurl, seedDemo, type Demo } from './demo';
import { startLocalHost, installSignalHandlers } from './host/host';
import { prettySink } from './pretty-log';
import { startGithubSandbox, type GithubSandbox } from './sandbox/github';

async function main(): Promise<void> {
  const settings = loadSettings();
  const logger = createLogger(prettySink(process.stdout.isTTY), settings.LOG_LEVEL);
  const services = await buildServices(settings, { logger });
  setServices(services);
  if (!services.adapters.receiver) throw new Error('The local host runs queue triggers from the embedded queue: unset ServiceBusConnection__fullyQualifiedNamespace');

  const { definitions } = await import('../functions/index');
  const host = await startLocalHost({ definitions, receiver: services.adapters.receiver, logger, port: settings.PORT });
  let github: GithubSandbox | undefined;
  let demo: Demo | undefined;
  if (settings.SANDBOX === 'on') {
    github = await startGithubSandbox();
    demo = await seedDemo(services, github);
  }
  installSignalHandlers(
    {
      stop: async () => {
        await host.stop();
        await github?.close();
        await services.close();
      },
    },
    { logger },
  );
  printBanner(host.url, services.adminKey, services.adapters.profile, github, demo);
}

function printBanner(url: string, adminKey: string, profile: Record<string, string>, github: GithubSandbox | undefined, demo: Demo | undefined): void {
  const lines = [
    '',
    `Castiel Sync local host on ${url}/api   (adapters: ${Object.entries(profile).map(([k, v]) => `${k}=${v}`).join(', ')})`,
    `  health:     curl ${url}/api/health`,
    `  admin key:  ${adminKey}   (header x-functions-key)`,
    `  runs:       curl -H 'x-functions-key: ${adminKey}' ${url}/api/admin/tenants/demo/integrations/demo-github/runs`,
    `  records:    curl -H 'x-functions-key: ${adminKey}' '${url}/api/admin/tenants/demo/records?limit=5'`,
  ];
  if (github && demo) {
    const curl = demoCurl(url, demo.webhookSecret);
    lines.push(
      `  sandbox:    GitHub at ${github.url}`,
      `  demo:       tenant 'demo', integration 'demo-github', first sync ${demo.runId} queued`,
      '',
      'A signed GitHub webhook (answers 202, then a sync runs):',
      curl.signed,
      '',
      'The same with a tampered body (answers 401):',
      curl.tampered,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`start failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
