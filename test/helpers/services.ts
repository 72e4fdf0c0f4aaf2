import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServices, type ServiceOverrides, type Services } from '../../shared/composition';
import { loadSettings } from '../../shared/config/settings';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { createLogger, type LogFields, type LogLevel } from '../../shared/observability/logger';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface CapturedLog {
  level: LogLevel;
  message: string;
  fields: LogFields;
}

export interface TestServices {
  services: Services;
  queue: EmbeddedQueue;
  logs: CapturedLog[];
  dataDir: string;
  cleanup(): Promise<void>;
}

/** Services on the embedded adapters, a temp data dir and a capturing logger. */
export async function embeddedServices(env: Record<string, string> = {}, overrides: ServiceOverrides = {}): Promise<TestServices> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'castiel-test-'));
  // The sandboxes and test servers listen on 127.0.0.1: open loopback to provider calls (a test may pass 'off').
  const settings = loadSettings({ LOCAL_DATA_DIR: dataDir, ADMIN_API_KEY: TEST_ADMIN_KEY, WEBHOOK_COALESCE_SECONDS: '0', EGRESS_ALLOW_LOCAL: 'sandbox', ...env });
  const logs: CapturedLog[] = [];
  const logger = createLogger((level, message, fields) => logs.push({ level, message, fields }), 'debug');
  const queue = (overrides.adapters?.queue as EmbeddedQueue | undefined) ?? new EmbeddedQueue();
  const services = await buildServices(settings, { logger, ...overrides, adapters: { queue, receiver: queue, ...overrides.adapters } });
  return {
    services,
    queue,
    logs,
    dataDir,
    cleanup: async () => {
      await services.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
