import { registerSecretValue } from '../observability/logger';
import type { SecretStore, SecretValue, SecretWrite } from './port';

interface Entry {
  value: SecretValue | undefined;
  expiresAt: number;
}

/**
 * Per-instance, short-lived secret cache. The webhook path reads a secret on
 * every delivery; Key Vault throttles long before our ingest target, so reads
 * are cached for `ttlMs` (absent secrets for a shorter time) and re-read after
 * `invalidate` (e.g. on an auth failure). Every value read is registered with
 * the logger's scrubber so it can never reach a log line.
 *
 * Each name has an epoch that every write, `remember` and `invalidate` bumps:
 * a read that started before one of those never stores its (older) result,
 * so a slow read cannot put a stale version back after a refresh wrote a new one.
 */
export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, { epoch: number; read: Promise<SecretValue | undefined> }>();
  private readonly epochs = new Map<string, number>();

  constructor(
    private readonly store: SecretStore,
    private readonly ttlMs = 60_000,
    private readonly missTtlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string): Promise<SecretValue | undefined> {
    const key = name.toLowerCase();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const epoch = this.epoch(key);
    const pending = this.inflight.get(key);
    if (pending?.epoch === epoch) return pending.read;
    const read = this.store
      .get(name)
      .then((value) => {
        if (value) registerSecretValue(value.value);
        if (this.epoch(key) === epoch) this.put(key, value);
        return value;
      })
      .finally(() => {
        if (this.inflight.get(key)?.read === read) this.inflight.delete(key);
      });
    this.inflight.set(key, { epoch, read });
    return read;
  }

  /** Read from the store now, bypassing (and then refreshing) the cache: after an auth failure, under a lock. */
  async reread(name: string): Promise<SecretValue | undefined> {
    this.invalidate(name);
    return this.get(name);
  }

  async set(name: string, value: string, tags: Record<string, string>): Promise<SecretValue> {
    return this.write(name, value, { tags, contentType: 'application/json' });
  }

  /** Write through the cache with every SecretWrite option (expiry, content type, abort signal). */
  async write(name: string, value: string, options: SecretWrite): Promise<SecretValue> {
    registerSecretValue(value);
    const written = await this.store.set(name, value, options);
    this.remember(written);
    return written;
  }

  /** Cache a value this instance just wrote or read under a lock; older in-flight reads will not replace it. */
  remember(value: SecretValue): void {
    registerSecretValue(value.value);
    const key = value.name.toLowerCase();
    this.bump(key);
    this.put(key, value);
  }

  invalidate(name: string): void {
    const key = name.toLowerCase();
    this.bump(key);
    this.entries.delete(key);
  }

  private put(key: string, value: SecretValue | undefined): void {
    this.entries.set(key, { value, expiresAt: this.now() + (value ? this.ttlMs : this.missTtlMs) });
  }

  private epoch(key: string): number {
    return this.epochs.get(key) ?? 0;
  }

  private bump(key: string): void {
    this.epochs.set(key, this.epoch(key) + 1);
  }
}
