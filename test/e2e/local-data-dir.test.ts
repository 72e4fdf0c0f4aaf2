/**
 * Two local hosts from one checkout: the local secret store rewrites
 * `secrets.enc.json` whole, so two hosts on one LOCAL_DATA_DIR would lose each
 * other's secrets. The second refuses to start and names the first; a lock
 * left by a killed host is taken over; separate folders run side by side.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostUrl, startHostProcess, type HostProcess } from '../helpers/host-process';

const started: HostProcess[] = [];
const dirs: string[] = [];

function newDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'castiel-datadir-'));
  dirs.push(dir);
  return dir;
}

function start(dataDir: string): HostProcess {
  const host = startHostProcess({ SANDBOX: 'off', LOCAL_DATA_DIR: dataDir });
  started.push(host);
  return host;
}

/** 'refused' with its exit code, or 'started' once it prints its banner. */
async function outcome(host: HostProcess): Promise<string> {
  return Promise.race([host.exited.then((code) => `exited ${String(code)}`), hostUrl(host, 30_000).then(() => 'started')]);
}

afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('a second host on the same LOCAL_DATA_DIR refuses to start and names the first; once the first stops, it starts', async () => {
  const dir = newDir();
  const first = start(dir);
  const firstUrl = await hostUrl(first);

  const second = start(dir);
  expect(await outcome(second)).toBe('exited 1');
  expect(second.output()).toContain(`LOCAL_DATA_DIR ${dir} is in use by another local host (pid ${String(first.child.pid)}, ${firstUrl}`);
  expect(second.output()).not.toMatch(/start failed|at .*\.js:\d+/);
  // The first is unharmed.
  expect((await fetch(`${firstUrl}/api/health`)).status).toBe(200);

  expect(await first.stop()).toBe(0);
  const third = start(dir);
  expect(await outcome(third)).toBe('started');
}, 90_000);

test('a lock left by a killed host is taken over', async () => {
  const dir = newDir();
  const first = start(dir);
  await hostUrl(first);
  first.child.kill('SIGKILL');
  await first.exited;
  expect(await outcome(start(dir))).toBe('started');
}, 90_000);

test('hosts on different data dirs run side by side', async () => {
  const [a, b] = [start(newDir()), start(newDir())];
  expect(await Promise.all([outcome(a), outcome(b)])).toEqual(['started', 'started']);
}, 90_000);
