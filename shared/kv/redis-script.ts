import type Redis from 'ioredis';

/** What running a script needs from ioredis. */
export type ScriptClient = Pick<Redis, 'evalsha' | 'eval'>;

/**
 * EVALSHA, falling back to EVAL when Redis answers NOSCRIPT: the script cache
 * is empty after a restart, a failover or SCRIPT FLUSH. EVAL caches the
 * script again, so the next call is an EVALSHA hit.
 */
export async function runScript(
  client: ScriptClient,
  script: { text: string; sha: string },
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (e) {
    if (!(e instanceof Error && e.message.startsWith('NOSCRIPT'))) throw e;
    return await client.eval(script.text, keys.length, ...keys, ...args);
  }
}

/** What closing a client needs from ioredis. */
export type ClosableClient = Pick<Redis, 'status' | 'quit' | 'disconnect'>;

/** QUIT when connected; otherwise (never connected, reconnecting, or QUIT failing) just drop the socket. */
export async function closeRedisClient(client: ClosableClient): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect(); // the connection died mid-QUIT
  }
}
