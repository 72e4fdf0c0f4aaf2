/**
 * `npm start` as a child process (dist/ is built by test/global-setup.js):
 * its output, its base URL, its exit, and its memory as the kernel counts it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export interface HostProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  waitForOutput(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM (drain) and wait for the exit; SIGKILL if it takes longer than `ms`. */
  stop(ms?: number): Promise<number | null>;
}

export function startHostProcess(env: Record<string, string>): HostProcess {
  const child = spawn(process.execPath, ['dist/local/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const append = (d: Buffer): void => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));

  const waitForOutput = (pattern: RegExp, ms: number): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        listeners.delete(check);
        clearTimeout(deadline);
      };
      const check = (): void => {
        const m = output.match(pattern);
        if (m) {
          done();
          resolve(m);
        }
      };
      const deadline = setTimeout(() => {
        done();
        reject(new Error(`no ${String(pattern)} within ${ms} ms in output:\n${output}`));
      }, ms);
      listeners.add(check);
      check();
    });

  const stop = async (ms = 10_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return { child, output: () => output, waitForOutput, exited, stop };
}

/** The base URL (no /api) from the start-up banner. */
export async function hostUrl(host: HostProcess, ms = 20_000): Promise<string> {
  const [, url] = await host.waitForOutput(/local host on (http:\/\/\S+)\/api/, ms);
  if (url === undefined) throw new Error('no URL in the banner');
  return url;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/**
 * Peak memory of a process over a piece of work, exactly: writing 5 to
 * /proc/<pid>/clear_refs resets its peak RSS (VmHWM) to the current RSS, and
 * VmHWM afterwards is the highest RSS reached meanwhile (Linux; no sampling).
 */
export async function peakRssGrowthBytes(pid: number, work: () => Promise<void>): Promise<number> {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const before = statusKb(pid, 'VmRSS');
  await work();
  return (statusKb(pid, 'VmHWM') - before) * 1024;
}
