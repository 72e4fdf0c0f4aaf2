/**
 * The TokenRefresher pass (timer, every 5 minutes, one instance at a time):
 * - refreshes access tokens expiring within REFRESH_WINDOW_MS, through the
 *   same single-flight path workers use on demand;
 * - reports (and notifies, once a day) credentials near their stated expiry
 *   and long-lived secrets due or overdue for rotation under their policy;
 * - retires webhook secrets whose rotation overlap window has ended.
 */
import type { Integration } from '../domain/types';
import { AuthError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry } from '../providers/types';
import type { Stored } from '../storage/port';
import { mapLimit } from '../sync/concurrency';
import type { Repositories } from '../storage/repositories';
import type { SecretCache } from './cache';
import { REFRESHABLE_KINDS } from './envelope';
import { readOAuthClient } from './oauth-client';
import { expiryState, rotationStatus, type PolicyKind } from './policies';
import type { CredentialService } from './service';
import { notifyAbout } from './status';
import { retireExpiredWebhookSecret, type WebhookRotationDeps } from './webhook-rotation';

/** Tokens expiring within this window are due for refresh. */
export const REFRESH_WINDOW_MS = 15 * 60 * 1000;
/** Integrations handled at once: refreshes are network-bound, and the provider limits are per integration. */
const CONCURRENCY = 4;
const DAY_MS = 24 * 60 * 60_000;

export interface TokenRefresherDeps {
  repos: Repositories;
  credentials: CredentialService;
  providers: ProviderRegistry;
  webhookRotation: WebhookRotationDeps;
  secrets: SecretCache;
  logger: Logger;
  now: () => Date;
}

export type AttentionReason = 'near-expiry' | 'expired' | 'rotation-due' | 'rotation-overdue' | 'needs-reauth';

/** One credential that needs a human: ids and dates only. */
export interface Attention {
  tenantId: string;
  integrationId: string;
  /** Which credential; absent when the integration as a whole needs an admin. */
  credential?: PolicyKind;
  reason: AttentionReason;
  at?: string;
}

export interface TokenRefresherReport {
  scanned: number;
  refreshed: number;
  failed: number;
  reauthRequired: number;
  webhookSecretsRetired: number;
  attention: Attention[];
}

export async function runTokenRefresher(deps: TokenRefresherDeps): Promise<TokenRefresherReport> {
  const report: TokenRefresherReport = { scanned: 0, refreshed: 0, failed: 0, reauthRequired: 0, webhookSecretsRetired: 0, attention: [] };
  for await (const page of deps.repos.integrationPages()) {
    await mapLimit(page, CONCURRENCY, async (integration) => {
      report.scanned++;
      await visit(deps, integration, report).catch((error: unknown) => {
        report.failed++;
        deps.logger.error('token refresher: integration failed', { integrationId: integration.id, error });
      });
    });
  }
  deps.logger.info('token refresher pass', {
    scanned: report.scanned,
    refreshed: report.refreshed,
    failed: report.failed,
    reauthRequired: report.reauthRequired,
    webhookSecretsRetired: report.webhookSecretsRetired,
    attention: report.attention.length,
  });
  return report;
}

async function visit(deps: TokenRefresherDeps, integration: Stored<Integration>, report: TokenRefresherReport): Promise<void> {
  const provider = deps.providers.get(integration.provider);
  if (!provider) return;
  if (await retireExpiredWebhookSecret(deps.webhookRotation, integration)) report.webhookSecretsRetired++;
  if (integration.status === 'needs_reauth') {
    report.attention.push({ tenantId: integration.tenantId, integrationId: integration.id, reason: 'needs-reauth' });
    return;
  }
  if (integration.status !== 'active') return;

  try {
    const outcome = await deps.credentials.refreshIfDue(integration, REFRESH_WINDOW_MS);
    if (outcome === 'refreshed') report.refreshed++;
  } catch (error) {
    if (error instanceof AuthError) report.reauthRequired++;
    else report.failed++;
    // Already logged and (for refusals) notified by the refresh path; the next pass tries again after the cooldown.
  }
  await checkPolicies(deps, integration, report);
}

async function checkPolicies(deps: TokenRefresherDeps, integration: Integration, report: TokenRefresherReport): Promise<void> {
  const now = deps.now();
  const credential = await deps.credentials.store.read(integration, deps.credentials.provider(integration)).catch(() => undefined);
  if (credential) {
    const kind: PolicyKind = credential.kind;
    // A refreshable token's access expiry is routine; only an end of life nobody renews is worth a report.
    const refreshable = REFRESHABLE_KINDS.includes(credential.kind) && deps.credentials.provider(integration).auth?.refresh !== undefined;
    const end = credential.expiresAt ?? (refreshable ? undefined : credential.accessExpiresAt);
    await attend(deps, integration, report, kind, expiry(end, now), end);
    const rotation = rotationStatus(kind, credential.createdAt, credential.maxAgeDays, now);
    await attend(deps, integration, report, kind, rotation.state === 'due' ? 'rotation-due' : rotation.state === 'overdue' ? 'rotation-overdue' : undefined, rotation.rotateBy === undefined ? undefined : Date.parse(rotation.rotateBy));
  }
  const client = await readOAuthClient(deps.secrets, integration).catch(() => undefined);
  if (client) {
    const end = client.expiresAt === undefined ? undefined : Date.parse(client.expiresAt);
    await attend(deps, integration, report, 'oauth-client', expiry(end, now), end);
    const rotation = rotationStatus('oauth-client', client.createdAt, client.maxAgeDays, now);
    await attend(deps, integration, report, 'oauth-client', rotation.state === 'due' ? 'rotation-due' : rotation.state === 'overdue' ? 'rotation-overdue' : undefined, rotation.rotateBy === undefined ? undefined : Date.parse(rotation.rotateBy));
  }
}

function expiry(end: number | undefined, now: Date): 'near-expiry' | 'expired' | undefined {
  const state = expiryState(end, now);
  return state === 'near' ? 'near-expiry' : state === 'expired' ? 'expired' : undefined;
}

const NOTICE_TEXT: Record<Exclude<AttentionReason, 'needs-reauth'>, { kind: 'credential_expiring' | 'rotation_due' | 'rotation_overdue'; severity: 'warning' | 'critical'; verb: string }> = {
  'near-expiry': { kind: 'credential_expiring', severity: 'warning', verb: 'expires' },
  expired: { kind: 'credential_expiring', severity: 'critical', verb: 'expired' },
  'rotation-due': { kind: 'rotation_due', severity: 'warning', verb: 'reaches its maximum age' },
  'rotation-overdue': { kind: 'rotation_overdue', severity: 'critical', verb: 'passed its maximum age' },
};

async function attend(
  deps: TokenRefresherDeps,
  integration: Integration,
  report: TokenRefresherReport,
  credential: PolicyKind,
  reason: Exclude<AttentionReason, 'needs-reauth'> | undefined,
  at: number | undefined,
): Promise<void> {
  if (reason === undefined) return;
  const when = at === undefined ? undefined : new Date(at).toISOString();
  report.attention.push({ tenantId: integration.tenantId, integrationId: integration.id, credential, reason, ...(when === undefined ? {} : { at: when }) });
  const text = NOTICE_TEXT[reason];
  await notifyAbout(deps.credentials.noticeDeps(), integration, {
    kind: text.kind,
    severity: text.severity,
    title: `The ${credential} credential of ${integration.provider} integration ${integration.id} ${text.verb}${when === undefined ? '' : ` (${when})`}`,
    detail: 'Replace it through the admin API before it stops working.',
    dedupeKey: `${reason}:${integration.tenantId}:${integration.id}:${credential}`,
    // A reminder a day, not one every five minutes.
    oncePerMs: DAY_MS,
  });
}
