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

test('npm start: healthy, every provider syncs, printed curls answer 2xx and 401 and trigger syncs, SIGTERM drains and exits 0', async () => {
  const [, base] = await waitForOutput(/local host on (http:\/\/\S+)\/api/, 15_000);
  const health = await fetch(`${base}/api/health`);
  expect(health.status).toBe(200);

  // Every provider's first sync completes, and its printed curls answer 2xx (signed) and 401 (tampered).
  for (const provider of ['github', 'slack', 'notion', 'salesforce', 'google']) {
    await waitForOutput(new RegExp(`sync succeeded \\{"tenantId":"demo","integrationId":"demo-${provider}"`), 15_000);
    const signed = (await waitForOutput(new RegExp(`signed ${provider} webhook \\(answers 2xx, then a sync runs\\):\\n([\\s\\S]+?)\\n\\n`), 5_000))[1] ?? '';
    const tampered = (await waitForOutput(new RegExp(`${provider} delivery with a tampered body \\(answers 401\\):\\n([\\s\\S]+?)\\n\\n`), 5_000))[1] ?? '';
    expect([provider, execFileSync('bash', ['-c', signed], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\r\n')[0]]).toEqual([provider, expect.stringMatching(/^HTTP\/1\.1 20[02]/)]);
    expect([provider, execFileSync('bash', ['-c', tampered], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\r\n')[0]]).toEqual([provider, expect.stringMatching(/^HTTP\/1\.1 401/)]);
  }
  // Each accepted delivery becomes a webhook-triggered sync once its coalescing window closes.
  const [, adminKey] = await waitForOutput(/admin key:\s+(\S+)/, 1_000);
  for (const provider of ['github', 'slack', 'notion', 'salesforce', 'google']) {
    const deadline = Date.now() + 15_000;
    let triggers: string[] = [];
    while (Date.now() < deadline) {
      const res = await fetch(`${base}/api/admin/tenants/demo/integrations/demo-${provider}/runs`, { headers: { 'x-functions-key': adminKey ?? '' } });
      const runs = ((await res.json()) as { items: { trigger: string; status: string }[] }).items;
      triggers = runs.filter((r) => r.status === 'succeeded').map((r) => r.trigger);
      if (triggers.includes('webhook')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect([provider, triggers]).toEqual([provider, expect.arrayContaining(['manual', 'webhook'])]);
  }

  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toMatch(/local host stopped/);
}, 60_000);
