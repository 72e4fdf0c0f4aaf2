import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * One local host per data directory. The local secret store rewrites
 * `secrets.enc.json` whole on every write and queues writers only within one
 * process, so two hosts on one LOCAL_DATA_DIR would silently lose each other's
 * secrets. The first host takes `host.lock` (created exclusively); a second
 * one refuses to start and names the first. A lock whose process is gone (a
 * crash, kill -9) is taken over. (Two hosts started in the same instant over
 * a stale lock could both take it over; a dev tool accepts that narrow race
 * rather than depend on a native flock.)
 */
export const LOCK_FILE = 'host.lock';

const lockSchema = z.object({ pid: z.number().int().positive(), startedAt: z.string(), url: z.string().optional() });
type LockInfo = z.infer<typeof lockSchema>;

export class DataDirInUseError extends Error {
  constructor(readonly dir: string, readonly holder: LockInfo) {
    super(
      `LOCAL_DATA_DIR ${dir} is in use by another local host (pid ${holder.pid}${holder.url ? `, ${holder.url}` : ''}, started ${holder.startedAt}). ` +
        'Stop that one, or give this one its own folder: LOCAL_DATA_DIR=<dir>.',
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Record where this host listens, so a refused second host can say which one holds the folder. */
  describe(url: string): void;
  /** Remove the lock if it is still ours. Idempotent; also runs at process exit. */
  release(): void;
}

export function lockDataDir(dir: string): DataDirLock {
  const absolute = path.resolve(dir);
  mkdirSync(absolute, { recursive: true, mode: 0o700 });
  const file = path.join(absolute, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  // Written aside, then linked into place: link fails if the lock exists, and
  // a reader never sees a half-written lock (which it would take for stale).
  const draft = `${file}.${process.pid}.tmp`;
  writeFileSync(draft, JSON.stringify(mine), { mode: 0o600 });
  try {
    // Two rounds: the second follows the removal of a lock whose process is gone.
    for (let round = 0; round < 2; round++) {
      try {
        linkSync(draft, file);
        return held(file, mine);
      } catch (error) {
        if (!isCode(error, 'EEXIST')) throw error;
      }
      const holder = readLock(file);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) throw new DataDirInUseError(absolute, holder);
      // Stale (its process is gone) or unreadable: take it over.
      removeIfPresent(file);
    }
    throw new Error(`Could not take ${file}: another process keeps recreating it`);
  } finally {
    removeIfPresent(draft);
  }
}

function held(file: string, mine: LockInfo): DataDirLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (readLock(file)?.pid === process.pid) removeIfPresent(file);
  };
  process.once('exit', release);
  return {
    file,
    describe: (url) => {
      if (released) return;
      // Replaced whole by a rename, for the same reason as above.
      const draft = `${file}.${process.pid}.tmp`;
      writeFileSync(draft, JSON.stringify({ ...mine, url }), { mode: 0o600 });
      renameSync(draft, file);
    },
    release,
  };
}

function readLock(file: string): LockInfo | undefined {
  try {
    const parsed = lockSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 only checks: ESRCH means gone; EPERM means alive under another user. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
