import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UnrecoverableError } from '../errors';

export const DEV_KEY_FILE = 'dev-secrets.key';

function decodeKey(base64: string, source: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) throw new UnrecoverableError(`${source} must hold 32 bytes, base64-encoded (got ${key.length})`);
  return key;
}

/**
 * The key for the local secret store. `configuredKey` (LOCAL_SECRETS_KEY,
 * base64) wins when set; otherwise `<dataDir>/dev-secrets.key` is read, or
 * created with mode 0600 on the first local start so a newcomer needs no setup.
 * The file holds base64 text, so it can be pasted into LOCAL_SECRETS_KEY.
 */
export async function loadOrCreateDevKey(dataDir: string, configuredKey?: string): Promise<Buffer> {
  if (configuredKey !== undefined && configuredKey !== '') return decodeKey(configuredKey, 'LOCAL_SECRETS_KEY');
  const file = path.resolve(dataDir, DEV_KEY_FILE);
  try {
    return decodeKey(await fs.readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    // link() creates the name only if absent and with its full content, so a
    // second process starting at the same moment reads our key, never half of it.
    await fs.link(tmp, file);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return decodeKey(await fs.readFile(file, 'utf8'), file);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
