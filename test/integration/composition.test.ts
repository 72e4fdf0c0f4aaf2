import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runHealthChecks } from '../../shared/api/health';
import { buildServices } from '../../shared/composition';
import { loadSettings } from '../../shared/config/settings';
import { silentLogger } from '../../shared/observability/logger';

let dir: string;
beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), 'castiel-comp-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

test('with no Azure settings every port gets its embedded adapter, and health is ok', async () => {
  const services = await buildServices(loadSettings({ LOCAL_DATA_DIR: dir }), { logger: silentLogger });
  try {
    expect(services.adapters.profile).toEqual({ store: 'embedded', secrets: 'embedded', kv: 'embedded', queue: 'embedded' });
    expect(services.adapters.receiver).toBeDefined();
    expect(services.adminKey.length).toBeGreaterThanOrEqual(24);
    expect((await runHealthChecks(services.healthChecks)).status).toBe('ok');
  } finally {
    await services.close();
  }
});

test('REDIS_URL selects the Redis key-value adapter against the real Redis', async () => {
  const prefix = `test:comp:${randomUUID()}:`;
  const services = await buildServices(loadSettings({ LOCAL_DATA_DIR: dir, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix }), { logger: silentLogger });
  try {
    expect(services.adapters.profile.kv).toBe('redis');
    expect(await services.adapters.kv.setIfAbsent('probe', 'v', 5_000)).toBe(true);
    expect(await services.adapters.kv.setIfAbsent('probe', 'v', 5_000)).toBe(false);
    await services.adapters.kv.delete('probe');
  } finally {
    await services.close();
  }
});

test('a Redis that is down makes /api/health fail that check (503) instead of hanging', async () => {
  const services = await buildServices(loadSettings({ LOCAL_DATA_DIR: dir, REDIS_URL: 'redis://127.0.0.1:1' }), { logger: silentLogger });
  try {
    const report = await runHealthChecks(services.healthChecks);
    expect(report.status).toBe('failing');
    expect(report.checks.kv?.status).toBe('failing');
    expect(report.checks.store?.status).toBe('ok');
    expect(JSON.stringify(report)).not.toContain('127.0.0.1:1');
  } finally {
    await services.close();
  }
});
