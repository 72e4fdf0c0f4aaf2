/**
 * Token refresh, once per credential across every instance:
 * - in-process: concurrent callers join one in-flight refresh (a map by secret);
 * - across instances: the credential's lease (lock.ts). After taking it — and
 *   after failing to take it — the secret is re-read: another instance may
 *   have refreshed already, and then its result is used as it is;
 * - the refreshed credentials are persisted (guarded write, store.ts) before
 *   any caller gets them: a rotating provider has already killed the old
 *   refresh token, so tokens that are not stored must not be used either;
 * - invalid_grant / revoked: the version is marked refused (no instance asks
 *   again), the integration needs_reauth, one notification, no retries;
 * - anything else: a cooldown with backoff (failures.ts); the integration is
 *   marked only when failures persist over several days.
 */
import { performance } from 'node:perf_hooks';
import { canonicalJson } from '../domain/ids';
import type { Integration } from '../domain/types';
import { AuthError, describeError, RateLimitedError, RetryableError, UnrecoverableError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ProviderDefinition } from '../providers/types';
import { mergeRefreshed, REFRESHABLE_KINDS, type StoredCredential } from './envelope';
import type { RefreshFailures } from './failures';
import type { CredentialLocks, Lease } from './lock';
import type { CredentialStore } from './store';

/** True when a credential is good enough for the caller (not due, or a newer version than the one that failed). */
export type Want = (credential: StoredCredential) => boolean;

export interface RefreshTimings {
  /** How long a caller waits on another instance's refresh before giving up (retryable). */
  waitMs: number;
  /** Re-read interval while another instance holds the lease. */
  pollMs: number;
}

export interface RefreshHooks {
  /** The provider refused the credential (first time for this version). */
  refused(integration: Integration, credential: StoredCredential, reason: string): Promise<void>;
  /** Transient failures persisted over several days. */
  escalated(integration: Integration, days: readonly string[]): Promise<void>;
}

export interface RefreshDeps {
  store: CredentialStore;
  locks: CredentialLocks;
  failures: RefreshFailures;
  hooks: RefreshHooks;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
  timings: RefreshTimings;
}

export const canRefresh = (provider: ProviderDefinition, credential: StoredCredential): boolean =>
  provider.auth?.refresh !== undefined && REFRESHABLE_KINDS.includes(credential.kind);

/** A fetch whose every request is also aborted by the lease: a token request never outlives it. */
export function leaseBoundFetch(base: typeof fetch, lease: AbortSignal): typeof fetch {
  return (input, init) => base(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, lease]) : lease });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RefreshCoordinator {
  private readonly inflight = new Map<string, Promise<StoredCredential>>();

  constructor(private readonly deps: RefreshDeps) {}

  /** A credential that satisfies `want`, refreshing it (once per process and across instances) if needed. */
  async ensure(integration: Integration, provider: ProviderDefinition, want: Want): Promise<StoredCredential> {
    const key = integration.credentialsSecret.toLowerCase();
    for (let joined = 0; joined < 3; joined++) {
      const pending = this.inflight.get(key);
      if (!pending) break;
      const result = await pending;
      if (want(result)) return result;
    }
    const run = this.run(integration, provider, want).finally(() => {
      if (this.inflight.get(key) === run) this.inflight.delete(key);
    });
    this.inflight.set(key, run);
    return run;
  }

  private async run(integration: Integration, provider: ProviderDefinition, want: Want): Promise<StoredCredential> {
    const { locks } = this.deps;
    const deadline = performance.now() + this.deps.timings.waitMs;
    let current = await this.readRequired(integration, provider);
    if (want(current)) return current;
    for (;;) {
      await this.checkGates(integration, current);
      const lease = await locks.tryAcquire(integration.credentialsSecret);
      if (lease) {
        try {
          return await this.refreshHolding(lease, integration, provider, want);
        } finally {
          await locks.release(lease).catch((error: unknown) => {
            this.deps.logger.warn('credential lease release failed (it expires by itself)', { integrationId: integration.id, error });
          });
        }
      }
      // Someone else is refreshing: their result may already be stored.
      current = await this.readRequired(integration, provider);
      if (want(current)) return current;
      if (performance.now() >= deadline) throw new RetryableError('Another instance is still refreshing this credential; retry shortly');
      await sleep(this.deps.timings.pollMs);
    }
  }

  private async refreshHolding(lease: Lease, integration: Integration, provider: ProviderDefinition, want: Want): Promise<StoredCredential> {
    const { store, logger } = this.deps;
    // Re-read under the lease: the previous holder may have just written.
    const current = await this.readRequired(integration, provider);
    if (want(current)) return current;
    await this.checkGates(integration, current);
    const auth = provider.auth;
    if (!auth?.refresh || !canRefresh(provider, current)) {
      throw await this.failure(integration, current, new AuthError('the credentials were rejected and cannot be refreshed'));
    }
    const config = provider.configSchema.safeParse(integration.config);
    if (!config.success) throw new UnrecoverableError('Integration config is invalid');

    let next: unknown;
    try {
      next = await auth.refresh({ baseUrl: integration.baseUrl, config: config.data, fetch: leaseBoundFetch(this.deps.fetch, lease.requestSignal) }, current.credentials);
    } catch (error) {
      throw await this.failure(integration, current, error);
    }
    const merged = provider.credentialsSchema.safeParse(mergeRefreshed(current.credentials, next));
    if (!merged.success) throw await this.failure(integration, current, new UnrecoverableError(`${provider.key} refresh returned credentials its schema rejects`));
    // Static credentials come back unchanged (e.g. a token that needs no refresh): nothing to store, and
    // a rejected one cannot be fixed this way — storing it again would only loop callers through 401s.
    if (canonicalJson(merged.data) === canonicalJson(current.credentials)) {
      throw await this.failure(integration, current, new AuthError('the provider cannot renew these credentials'));
    }

    const result = await store.writeGuarded(lease, integration, provider, current, {
      kind: current.kind === 'legacy' ? 'oauth' : current.kind,
      credentials: merged.data,
      createdAt: current.createdAt ?? this.deps.now().toISOString(),
      ...(current.expiresAt === undefined ? {} : { expiresAt: new Date(current.expiresAt).toISOString() }),
      ...(current.maxAgeDays === undefined ? {} : { maxAgeDays: current.maxAgeDays }),
    });
    if (!result.ok) {
      // Our lease lapsed or newer credentials arrived: theirs win, ours are dropped unused.
      logger.warn('refreshed credentials discarded: the lease was lost or newer credentials were stored', { integrationId: integration.id, reason: result.reason });
      const latest = await this.readRequired(integration, provider);
      if (latest.version !== current.version) return latest;
      throw new RetryableError('Credential refresh lost its lease before it could be stored; retry');
    }
    await this.deps.failures.clear(integration.credentialsSecret);
    logger.info('credentials refreshed', { integrationId: integration.id, generation: result.credential.generation });
    return result.credential;
  }

  /** Refused versions fail at once; a cooling-down credential is retried when the cooldown ends. */
  private async checkGates(integration: Integration, current: StoredCredential): Promise<void> {
    const name = integration.credentialsSecret;
    if (await this.deps.failures.isRefused(name, current.version)) {
      throw new AuthError('The provider refused these credentials; reconnect the integration');
    }
    const wait = await this.deps.failures.cooldownMs(name, this.deps.now().getTime());
    if (wait > 0) throw new RateLimitedError('Token refresh is cooling down after a failure', wait);
  }

  private async failure(integration: Integration, current: StoredCredential, error: unknown): Promise<Error> {
    const { failures, hooks, logger } = this.deps;
    const name = integration.credentialsSecret;
    if (error instanceof AuthError) {
      await failures.clear(name);
      if (await failures.markRefused(name, current.version)) await hooks.refused(integration, current, error.message);
      logger.warn('token refresh refused; integration needs re-authorisation', { integrationId: integration.id, reason: error.message });
      return new AuthError(`Token refresh refused: ${error.message}`);
    }
    const now = this.deps.now().getTime();
    const record = await failures.record(name, now);
    if (record.escalate) await hooks.escalated(integration, record.days);
    const reason = describeError(error);
    logger.warn('token refresh failed; cooling down', { integrationId: integration.id, reason, consecutive: record.consecutive, days: record.days.length });
    return new RateLimitedError(`Token refresh failed (${reason}); next attempt after the cooldown`, Math.max(1000, record.nextAttemptAt - now));
  }

  private async readRequired(integration: Integration, provider: ProviderDefinition): Promise<StoredCredential> {
    const credential = await this.deps.store.readFresh(integration, provider);
    if (!credential) throw new AuthError('No credentials are stored for this integration');
    return credential;
  }
}
