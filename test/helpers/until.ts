/**
 * Poll `probe` until it answers something other than undefined, and return
 * that; fail naming `what` after `ms`. For end-to-end tests that wait on a
 * worker, a queue or a sandbox.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
