/**
 * A lease on one credential across instances: a Redis key set with SET NX PX
 * (KeyValueStore.setIfAbsent) holding a random token, released with a
 * compare-and-delete. The holder bounds every side effect by the lease: the
 * token request is aborted before the lease ends (leaving time to persist),
 * and the secret write is aborted when it ends. The lease end is measured on
 * this process's monotonic clock from *before* the SET was sent, so it never
 * falls after the moment Redis expires the key.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { acquireLease, releaseLease } from '../kv/lease';
import type { KeyValueStore } from '../kv/port';

export interface LockOptions {
  /** Lease length. Must exceed a token request (15 s timeout in oauth.ts) plus a Key Vault write. */
  ttlMs: number;
  /** Kept free at the end of the lease for the secret write: the token request is aborted this long before. */
  writeReserveMs: number;
  /** Safety margin before Redis would expire the key: the write is aborted this long before. */
  marginMs: number;
}

/** 60 s: four times the token request timeout, so a slow provider still leaves time to persist. */
export const DEFAULT_LOCK_OPTIONS: LockOptions = { ttlMs: 60_000, writeReserveMs: 15_000, marginMs: 2_000 };

export interface Lease {
  readonly key: string;
  readonly token: string;
  /** Fires when the token request must give up (lease end minus the write reserve). */
  readonly requestSignal: AbortSignal;
  /** Fires when nothing more may be written on this lease. */
  readonly writeSignal: AbortSignal;
  /** Milliseconds left before `writeSignal` fires. */
  remainingMs(): number;
  /** Cancel the lease's timers (called on release). */
  dispose(): void;
}

export const credentialLockKey = (secretName: string): string => `lock:cred:{${secretName.toLowerCase()}}`;

export class CredentialLocks {
  constructor(
    private readonly kv: KeyValueStore,
    private readonly options: LockOptions = DEFAULT_LOCK_OPTIONS,
  ) {
    if (options.writeReserveMs + options.marginMs >= options.ttlMs) throw new RangeError('lock ttlMs must exceed writeReserveMs + marginMs');
  }

  /** Take the lease, or undefined when another holder has it. */
  async tryAcquire(secretName: string): Promise<Lease | undefined> {
    const key = credentialLockKey(secretName);
    const token = randomUUID();
    const started = performance.now();
    // A SET that times out may still land when Redis resumes: acquireLease cleans our token up then.
    if (!(await acquireLease(this.kv, { key, holder: token }, this.options.ttlMs))) return undefined;
    const writeEnd = started + this.options.ttlMs - this.options.marginMs;
    const requestEnd = writeEnd - this.options.writeReserveMs;
    const request = new AbortController();
    const write = new AbortController();
    const timers = [
      setTimeout(() => { request.abort(new Error('credential lease: token request window over')); }, Math.max(0, requestEnd - performance.now())),
      setTimeout(() => { write.abort(new Error('credential lease over')); }, Math.max(0, writeEnd - performance.now())),
    ];
    // Never keep a process alive for a lease timer.
    for (const t of timers) t.unref();
    return {
      key,
      token,
      requestSignal: request.signal,
      writeSignal: write.signal,
      remainingMs: () => Math.max(0, writeEnd - performance.now()),
      dispose: () => {
        for (const t of timers) clearTimeout(t);
      },
    };
  }

  /** Still ours, with time left to write: local clock first, then Redis (the key may have been deleted). */
  async stillHeld(lease: Lease): Promise<boolean> {
    if (lease.remainingMs() <= 0 || lease.writeSignal.aborted) return false;
    return (await this.kv.get(lease.key)) === lease.token;
  }

  /** Release only our own lease: if it lapsed and someone else took the key, theirs stays. When Redis fails, keep trying in the background. */
  async release(lease: Lease): Promise<void> {
    lease.dispose();
    await releaseLease(this.kv, { key: lease.key, holder: lease.token }, this.options.ttlMs);
  }
}
