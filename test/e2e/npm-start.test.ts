/**
 * What a newcomer does: build, start the app on its embedded defaults, check
 * health, watch the demo sync complete, paste the printed curl (202) and its
 * tampered twin (401), then Ctrl-C (SIGTERM) for a clean drain and exit 0.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
let child: ChildProcess;
let output = '';
let dataDir: string;

function waitForOutput(pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => { reject(new Error(`no ${String(pattern)} in output:\n${output}`)); }, ms);
    const check = (): void => {
      const m = output.match(pattern);
      if (m) {
        clearTimeout(deadline);
        child.stdout?.off('data', check);
        resolve(m);
      }
    };
    child.stdout?.on('data', check);
    check();
  });
}

// dist/ is built once by test/global-setup.js.
beforeAll(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'castiel-start-'));
  child = spawn(process.execPath, ['dist/local/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOCAL_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
}, 120_000);

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

test('npm start: healthy, demo sync completes, printed curls answer 202 and 401, SIGTERM drains and exits 0', async () => {
  const [, base] = await waitForOutput(/local host on (http:\/\/\S+)\/api/, 15_000);
  const health = await fetch(`${base}/api/health`);
  expect(health.status).toBe(200);

  await waitForOutput(/sync succeeded.*"created":120/, 15_000);

  const signed = (await waitForOutput(/signed github webhook \(answers 2xx, then a sync runs\):\n([\s\S]+?)\n\n/, 5_000))[1] ?? '';
  const tampered = (await waitForOutput(/github delivery with a tampered body \(answers 401\):\n([\s\S]+?)\n\n/, 5_000))[1] ?? '';
  expect(execFileSync('bash', ['-c', signed], { encoding: 'utf8' })).toMatch(/^HTTP\/1\.1 202/);
  expect(execFileSync('bash', ['-c', tampered], { encoding: 'utf8' })).toMatch(/^HTTP\/1\.1 401/);
  // The accepted delivery becomes a webhook-triggered sync once its coalescing window closes.
  await waitForOutput(/sync succeeded[^\n]*"fetched":1[,}][^\n]*\n[\s\S]*$/, 15_000);

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toMatch(/local host stopped/);
}, 60_000);
