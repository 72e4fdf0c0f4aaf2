import { fork, type ChildProcess } from 'node:child_process';

/**
 * Runs a bench fixture (host, sandbox) in its own process, so the load
 * generator and the system under test don't share one event loop. The child
 * sends one `ready` message with what the parent needs.
 */
export async function startChild<T>(
  script: string,
  parse: (message: unknown) => T,
  env: Record<string, string> = {},
): Promise<{ info: T; child: ChildProcess; stop(): Promise<void> }> {
  // BENCH_CHILD_ARGS passes node flags to the fixture, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
  const execArgv = (process.env.BENCH_CHILD_ARGS ?? '').split(' ').filter(Boolean);
  const child = fork(script, [], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const info = await new Promise<T>((resolve, reject) => {
    child.once('message', (m) => {
      try {
        resolve(parse(m));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
    child.once('exit', (code) => { reject(new Error(`${script} exited with ${code ?? 'signal'} before it was ready`)); });
  });
  return {
    info,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) { resolve(); return; }
        child.once('exit', () => { resolve(); });
        child.kill('SIGTERM');
      }),
  };
}
