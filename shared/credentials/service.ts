/**
 * The credentials module's face to the rest of the app. Workers call
 * `getAccessCredentials` before a provider call and `onAuthFailure` when one
 * answers 401; the TokenRefresher calls `refreshIfDue`; the admin API and the
 * OAuth callback call `replace`.
 */
import { performance } from 'node:perf_hooks';
import type { Integration } from '../domain/types';
import { AuthError, RetryableError } from '../errors';
import type { KeyValueStore } from '../kv/port';
import type { NotificationSink } from '../notifications/port';
import type { Logger } from '../observability/logger';
import type { ProviderDefinition, ProviderRegistry } from '../providers/types';
import type { Repositories } from '../storage/repositories';
import type { SecretCache } from './cache';
import type { CredentialContent, StoredCredential } from './envelope';
import { RefreshFailures } from './failures';
import { CredentialLocks, DEFAULT_LOCK_OPTIONS, type Lease, type LockOptions } from './lock';
import { canRefresh, RefreshCoordinator, type RefreshTimings } from './refresh';
import { notifyAbout, setIntegrationStatus } from './status';
import { CredentialStore } from './store';

export interface CredentialServiceOptions {
  lock: LockOptions;
  /** Refresh on use when the access token expires within this. */
  useSkewMs: number;
  timings: RefreshTimings;
}

export const DEFAULT_CREDENTIAL_OPTIONS: CredentialServiceOptions = {
  lock: DEFAULT_LOCK_OPTIONS,
  // A minute covers clock skew and a request in flight when the token expires.
  useSkewMs: 60_000,
  // Within the lease length: a waiter gives up no earlier than a stuck holder's lease ends.
  timings: { waitMs: 65_000, pollMs: 250 },
};

export interface CredentialServiceDeps {
  /** The per-instance cache shared with webhooks and sync, so invalidation is coherent. */
  secrets: SecretCache;
  kv: KeyValueStore;
  repos: Repositories;
  providers: ProviderRegistry;
  notifications: NotificationSink;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
  /** An integration document changed here (status): drop per-instance caches of it. */
  onIntegrationChanged?: (integrationId: string) => void;
  options?: Partial<CredentialServiceOptions>;
}

/** What a worker hands to the provider, plus the version it came from (for onAuthFailure). */
export interface AccessCredentials {
  credentials: unknown;
  version: string;
  generation: number;
  /** Access-token expiry (epoch ms) when known. */
  expiresAt?: number;
}

export type AuthFailureOutcome =
  /** Another instance had already stored newer credentials: call again with them. */
  | 'reread'
  /** This call refreshed the token: call again. */
  | 'refreshed'
  /** The integration is marked needs_reauth and a notification went out: stop. */
  | 'reauth_required';

export type RefreshIfDue = 'fresh' | 'refreshed' | 'not-refreshable' | 'missing';

const access = (c: StoredCredential): AccessCredentials => ({
  credentials: c.credentials,
  version: c.version,
  generation: c.generation,
  ...(c.accessExpiresAt === undefined ? {} : { expiresAt: c.accessExpiresAt }),
});

export class CredentialService {
  readonly store: CredentialStore;
  readonly failures: RefreshFailures;
  readonly locks: CredentialLocks;
  private readonly refresher: RefreshCoordinator;
  private readonly options: CredentialServiceOptions;

  constructor(private readonly deps: CredentialServiceDeps) {
    this.options = { ...DEFAULT_CREDENTIAL_OPTIONS, ...deps.options };
    this.locks = new CredentialLocks(deps.kv, this.options.lock);
    this.store = new CredentialStore(deps.secrets, this.locks, deps.logger, deps.now);
    this.failures = new RefreshFailures(deps.kv);
    this.refresher = new RefreshCoordinator({
      store: this.store,
      locks: this.locks,
      failures: this.failures,
      logger: deps.logger,
      fetch: deps.fetch,
      now: deps.now,
      timings: this.options.timings,
      hooks: {
        refused: (integration, credential, reason) => this.markNeedsReauth(integration, 'reauth_required', `The provider refused the stored credentials (${reason}). Reconnect the integration.`, `reauth:${integration.tenantId}:${integration.id}:${credential.version}`),
        escalated: (integration, days) => this.markNeedsReauth(integration, 'refresh_failing', `Token refresh has failed on ${days.length} separate days (${days.join(', ')}). Check the provider, then reconnect.`, `refresh-failing:${integration.tenantId}:${integration.id}:${days.join(',')}`),
      },
    });
  }

  provider(integration: Integration): ProviderDefinition {
    const provider = this.deps.providers.get(integration.provider);
    if (!provider) throw new AuthError(`Provider '${integration.provider}' is not registered`);
    return provider;
  }

  /** Current credentials (cached); refreshed first when the access token is about to expire. */
  async getAccessCredentials(integration: Integration): Promise<AccessCredentials> {
    const provider = this.provider(integration);
    const current = await this.store.read(integration, provider);
    if (!current) throw new AuthError('No credentials are stored for this integration');
    const now = this.deps.now().getTime();
    const skew = this.options.useSkewMs;
    const due = current.accessExpiresAt !== undefined && current.accessExpiresAt - now <= skew;
    if (!due || !canRefresh(provider, current)) return access(current);
    try {
      return access(await this.refresher.ensure(integration, provider, (c) => c.accessExpiresAt === undefined || c.accessExpiresAt - this.deps.now().getTime() > skew));
    } catch (error) {
      // Still valid for a moment: use it, the next call (or the TokenRefresher) tries again.
      if (error instanceof AuthError || (current.accessExpiresAt ?? 0) <= now) throw error;
      this.deps.logger.warn('token refresh failed; using the current token until it expires', { integrationId: integration.id });
      return access(current);
    }
  }

  /**
   * A provider call answered 401 with `used`. Re-read (another instance may
   * have refreshed); otherwise refresh once; otherwise the integration needs
   * re-authorisation. Transient refresh failures throw (RateLimitedError
   * carries the cooldown) so the caller reschedules.
   */
  async onAuthFailure(integration: Integration, used: Pick<AccessCredentials, 'version'>): Promise<AuthFailureOutcome> {
    const provider = this.provider(integration);
    let fresh: StoredCredential | undefined;
    try {
      fresh = await this.store.readFresh(integration, provider);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      await this.markNeedsReauth(integration, 'reauth_required', error.message, `reauth:${integration.tenantId}:${integration.id}:unreadable`);
      return 'reauth_required';
    }
    if (!fresh) {
      await this.markNeedsReauth(integration, 'reauth_required', 'No credentials are stored for this integration.', `reauth:${integration.tenantId}:${integration.id}:missing`);
      return 'reauth_required';
    }
    if (fresh.version !== used.version) return 'reread';
    try {
      await this.refresher.ensure(integration, provider, (c) => c.version !== used.version);
      return 'refreshed';
    } catch (error) {
      if (error instanceof AuthError) return 'reauth_required';
      throw error;
    }
  }

  /** For the TokenRefresher: refresh when the access token expires within `windowMs`. */
  async refreshIfDue(integration: Integration, windowMs: number): Promise<RefreshIfDue> {
    const provider = this.provider(integration);
    const current = await this.store.read(integration, provider);
    if (!current) return 'missing';
    if (!canRefresh(provider, current)) return 'not-refreshable';
    const dueAt = (c: StoredCredential): boolean => c.accessExpiresAt !== undefined && c.accessExpiresAt - this.deps.now().getTime() <= windowMs;
    if (!dueAt(current)) return 'fresh';
    const result = await this.refresher.ensure(integration, provider, (c) => !dueAt(c));
    return result.version === current.version ? 'fresh' : 'refreshed';
  }

  /**
   * Store new credentials from an admin or an OAuth connect: a new
   * generation under the lease, refusal and failure history cleared, the
   * integration active again. Credentials must already be validated.
   */
  async replace(integration: Integration, content: CredentialContent): Promise<StoredCredential> {
    const provider = this.provider(integration);
    const lease = await this.acquireWithin(integration.credentialsSecret);
    let written: StoredCredential;
    try {
      const basis = await this.store.readBasis(integration);
      const result = await this.store.writeGuarded(lease, integration, provider, basis, content);
      if (!result.ok) throw new RetryableError('The credentials changed while they were being replaced; retry');
      written = result.credential;
    } finally {
      await this.locks.release(lease).catch(() => undefined);
    }
    await Promise.all([this.failures.clear(integration.credentialsSecret), this.failures.clearRefused(integration.credentialsSecret)]);
    // New credentials are a re-authorisation; an integration an admin disabled stays disabled.
    await setIntegrationStatus(this.deps.repos, { tenantId: integration.tenantId, integrationId: integration.id }, 'active', this.deps.now(), ['needs_reauth']);
    this.deps.onIntegrationChanged?.(integration.id);
    return written;
  }

  /** Mark the integration needs_reauth and notify once for `dedupeKey`. */
  async markNeedsReauth(integration: Integration, kind: 'reauth_required' | 'refresh_failing', detail: string, dedupeKey: string): Promise<void> {
    await setIntegrationStatus(this.deps.repos, { tenantId: integration.tenantId, integrationId: integration.id }, 'needs_reauth', this.deps.now());
    this.deps.onIntegrationChanged?.(integration.id);
    await notifyAbout(this.noticeDeps(), integration, {
      kind,
      severity: 'critical',
      title: `${integration.provider} integration ${integration.id} needs to be reconnected`,
      detail,
      dedupeKey,
      // Once per refused version (or failing streak) across instances.
      oncePerMs: 7 * 24 * 60 * 60_000,
    });
  }

  noticeDeps(): { notifications: NotificationSink; logger: Logger; now: () => Date; kv: KeyValueStore } {
    return { notifications: this.deps.notifications, logger: this.deps.logger, now: this.deps.now, kv: this.deps.kv };
  }

  private async acquireWithin(secretName: string): Promise<Lease> {
    const deadline = performance.now() + this.options.timings.waitMs;
    for (;;) {
      const lease = await this.locks.tryAcquire(secretName);
      if (lease) return lease;
      if (performance.now() >= deadline) throw new RetryableError('The credentials are being refreshed; retry shortly');
      await new Promise((resolve) => setTimeout(resolve, this.options.timings.pollMs));
    }
  }
}
