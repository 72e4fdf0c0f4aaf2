/**
 * `npm start` with REDIS_URL pointing at a Redis that is paused (SIGSTOP) for
 * the whole of the demo seeding: every seeding step times out until Redis is
 * resumed (SIGCONT). The host must log the retries, stay up, and finish
 * seeding once Redis answers again. Redis is this test's own instance.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHostProcess, type HostProcess } from '../helpers/host-process';
import { PrivateRedis } from '../helpers/private-redis';

const KEY = 'demo-stall-admin-key-0123456789';
let redis: PrivateRedis;
let host: HostProcess | undefined;
let dataDir: string;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  dataDir = mkdtempSync(path.join(tmpdir(), 'castiel-stall-'));
});

afterAll(async () => {
  await host?.stop();
  await redis.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a Redis stall during npm start\'s demo seeding is retried and logged; the host stays up and the demo tenant appears', async () => {
  // Paused before start, so the stall covers every seeding step whatever the timing.
  redis.pause();
  host = startHostProcess({ LOCAL_DATA_DIR: dataDir, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `stall-${randomUUID()}:`, ADMIN_API_KEY: KEY });
  const [, base] = await host.waitForOutput(/local host listening on (http:\/\/\S+)/, 20_000);
  await host.waitForOutput(/demo seed: .+? failed \(attempt 1 of \d+\); retrying in \d+ ms/, 20_000);
  // Still failing, and still up: nothing has exited.
  await host.waitForOutput(/demo seed: .+? failed \(attempt 2 of \d+\)/, 20_000);
  expect(host.child.exitCode).toBeNull();

  redis.resume();
  await host.waitForOutput(/A signed github webhook/, 40_000);
  expect(host.child.exitCode).toBeNull();
  const res = await fetch(`${base ?? ''}/api/admin/tenants/demo/integrations/demo-github`, { headers: { 'x-functions-key': KEY } });
  expect(res.status).toBe(200);
  await host.waitForOutput(/sync succeeded \{"tenantId":"demo","integrationId":"demo-github"/, 30_000);
  expect(host.output()).not.toMatch(/demo seed gave up/);
  expect(await host.stop()).toBe(0);
}, 120_000);
