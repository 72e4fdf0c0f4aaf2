import { registerSecretValue } from '../observability/logger';
import type { SecretStore, SecretValue } from './port';

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
 */
export class SecretCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<SecretValue | undefined>>();

  constructor(
    private readonly store: SecretStore,
    private readonly ttlMs = 60_000,
    private readonly missTtlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(name: string): Promise<SecretValue | undefined> {
    const hit = this.entries.get(name);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const pending = this.inflight.get(name);
    if (pending) return pending;
    const read = this.store
      .get(name)
      .then((value) => {
        if (value) registerSecretValue(value.value);
        this.entries.set(name, { value, expiresAt: this.now() + (value ? this.ttlMs : this.missTtlMs) });
        return value;
      })
      .finally(() => this.inflight.delete(name));
    this.inflight.set(name, read);
    return read;
  }

  async set(name: string, value: string, tags: Record<string, string>): Promise<SecretValue> {
    registerSecretValue(value);
    const written = await this.store.set(name, value, { tags, contentType: 'application/json' });
    this.entries.set(name, { value: written, expiresAt: this.now() + this.ttlMs });
    return written;
  }

  invalidate(name: string): void {
    this.entries.delete(name);
  }
}
