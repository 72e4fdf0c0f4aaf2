/**
 * Reads and guarded writes of credential secrets.
 *
 * Key Vault has no If-Match on secrets, so a write cannot be made conditional
 * on the version it replaces. The guard is built from three parts:
 * 1. Every writer of a credential secret (refresh, OAuth connect, admin
 *    write) holds the credential's lease (lock.ts) while it writes.
 * 2. Right before writing, the writer checks that it still holds the lease
 *    with time left, and re-reads the secret: if the latest version is not
 *    the one it based its write on, something newer is there and the write
 *    is dropped. Never overwrite; re-read and yield.
 * 3. The write itself is aborted when the lease ends (SecretWrite.abortSignal),
 *    so a writer stalled past its lease (GC pause, slow provider) can never
 *    land a write after the next holder has taken the lock and read the secret.
 * The value's monotonic `generation` orders versions whose random ids cannot
 * be ordered: each write is basis + 1, and a reader that ever sees it go
 * backwards (a write outside this protocol) logs an error.
 */
import type { Integration } from '../domain/types';
import { RateLimitedError, RetryableError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ProviderDefinition } from '../providers/types';
import type { SecretCache } from './cache';
import {
  credentialWriteOptions,
  parseStoredCredential,
  serializeCredential,
  type CredentialContent,
  type StoredCredential,
} from './envelope';
import type { CredentialLocks, Lease } from './lock';
import type { SecretValue } from './port';

/** What a write is based on: the version read under the lease (undefined when there was no secret). */
export interface WriteBasis {
  version: string | undefined;
  generation: number;
}

export type GuardedWrite =
  | { ok: true; credential: StoredCredential }
  | { ok: false; reason: 'lease-lost' | 'superseded' };

/** Store errors worth another try within the lease. */
const WRITE_ATTEMPTS = 3;

export class CredentialStore {
  /** Highest generation this process has seen per secret: a lower one later means a write broke the protocol. */
  private readonly highest = new Map<string, number>();

  constructor(
    private readonly secrets: SecretCache,
    private readonly locks: CredentialLocks,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {}

  /** Cached read (per-instance TTL): the hot path. */
  async read(integration: Integration, provider: ProviderDefinition): Promise<StoredCredential | undefined> {
    return this.parse(integration, provider, await this.secrets.get(integration.credentialsSecret));
  }

  /** Read from the store now (after an auth failure, under or around a lease). */
  async readFresh(integration: Integration, provider: ProviderDefinition): Promise<StoredCredential | undefined> {
    return this.parse(integration, provider, await this.secrets.reread(integration.credentialsSecret));
  }

  /** The basis for an admin write: only the version and generation, so even an unreadable secret can be replaced. */
  async readBasis(integration: Integration): Promise<WriteBasis> {
    const raw = await this.secrets.reread(integration.credentialsSecret);
    return { version: raw?.version, generation: raw ? peekGeneration(raw) : 0 };
  }

  /**
   * Write `content` as generation basis + 1 — only while `lease` is held and
   * the secret's latest version is still `basis.version`. Otherwise nothing
   * is written and the reason is returned.
   */
  async writeGuarded(
    lease: Lease,
    integration: Integration,
    provider: ProviderDefinition,
    basis: WriteBasis,
    content: CredentialContent,
  ): Promise<GuardedWrite> {
    const name = integration.credentialsSecret;
    if (!(await this.locks.stillHeld(lease))) return { ok: false, reason: 'lease-lost' };
    const latest = await this.secrets.reread(name);
    if (latest?.version !== basis.version) return { ok: false, reason: 'superseded' };
    const generation = Math.max(basis.generation, this.highest.get(name.toLowerCase()) ?? 0) + 1;
    const value = serializeCredential(provider.key, generation, content, this.now());
    const options = { ...credentialWriteOptions(integration, provider, generation, content), abortSignal: lease.writeSignal };
    let written: SecretValue | undefined;
    for (let attempt = 1; written === undefined; attempt++) {
      try {
        written = await this.secrets.write(name, value, options);
      } catch (error) {
        const transient = error instanceof RetryableError || error instanceof RateLimitedError;
        if (!transient || attempt >= WRITE_ATTEMPTS || lease.writeSignal.aborted) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
    return { ok: true, credential: this.note(parseStoredCredential(written, provider)) };
  }

  private parse(integration: Integration, provider: ProviderDefinition, secret: SecretValue | undefined): StoredCredential | undefined {
    if (!secret) return undefined;
    return this.note(parseStoredCredential(secret, provider), integration);
  }

  private note(credential: StoredCredential, integration?: Integration): StoredCredential {
    const key = credential.secretName.toLowerCase();
    const highest = this.highest.get(key) ?? 0;
    if (credential.kind !== 'legacy' && credential.generation < highest) {
      this.logger.error('credential generation went backwards: a write bypassed the lease', {
        integrationId: integration?.id,
        generation: credential.generation,
        highestSeen: highest,
      });
    }
    if (credential.generation > highest) this.highest.set(key, credential.generation);
    return credential;
  }
}

/** Generation of a stored value without validating the credentials (0 for legacy or unreadable values). */
function peekGeneration(secret: SecretValue): number {
  try {
    const parsed: unknown = JSON.parse(secret.value);
    if (parsed !== null && typeof parsed === 'object' && 'generation' in parsed) {
      const g = parsed.generation;
      if (typeof g === 'number' && Number.isInteger(g) && g >= 0) return g;
    }
  } catch {
    // Unreadable values are replaced from generation 0.
  }
  return 0;
}
