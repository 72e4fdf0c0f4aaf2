/**
 * Webhook secret rotation with an overlap window. The new secret goes under a
 * fresh name (no instance has it cached, so it verifies at once everywhere);
 * the integration points at it and keeps the old one as `previous` until the
 * window ends, during which shared/webhooks/secrets.ts verifies with both.
 * The TokenRefresher deletes the previous secret once the window is over.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Integration } from '../domain/types';
import { InputError } from '../errors';
import type { Logger } from '../observability/logger';
import type { ProviderRegistry } from '../providers/types';
import { ConcurrencyError, type Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import type { SecretCache } from './cache';
import { rotatedWebhookSecretName } from './envelope';
import type { SecretStore } from './port';
import { notifyAbout, type NoticeDeps } from './status';

/**
 * One rule for every webhook secret an admin sets (integration PUT/PATCH and
 * rotate): HMAC keys shorter than this are guessable offline from one signed delivery.
 */
export const WEBHOOK_SECRET_MIN_LENGTH = 16;
export const webhookSecretSchema = z
  .string()
  .min(WEBHOOK_SECRET_MIN_LENGTH, `must be at least ${WEBHOOK_SECRET_MIN_LENGTH} characters`)
  .max(1024);

export interface WebhookRotationDeps {
  repos: Repositories;
  secrets: SecretCache;
  /** The store itself, for deleting retired secrets. */
  store: SecretStore;
  providers: ProviderRegistry;
  logger: Logger;
  now: () => Date;
  notice: NoticeDeps;
  onIntegrationChanged?: (integrationId: string) => void;
}

export interface RotationResult {
  integration: Stored<Integration>;
  previousValidUntil?: string;
}

export async function rotateWebhookSecret(
  deps: WebhookRotationDeps,
  ids: { tenantId: string; integrationId: string },
  secret: string,
  overlapHours: number,
): Promise<RotationResult> {
  const current = await deps.repos.getIntegration(ids.tenantId, ids.integrationId);
  if (!current) throw new InputError(404, `Integration '${ids.integrationId}' not found`);
  const provider = deps.providers.get(current.provider);
  if (!provider?.webhook) throw new InputError(409, `Provider '${current.provider}' receives no webhooks`);

  const now = deps.now();
  const name = freshSecretName(current, now);
  await deps.secrets.write(name, secret, {
    tags: { tenant: current.tenantId, integration: current.id, provider: current.provider, kind: 'webhook-secret' },
    contentType: 'text/plain',
  });

  const { etag, previousWebhookSecretName: dropped, previousWebhookSecretUntil: _until, ...rest } = current;
  const previous = current.webhookSecretName;
  const until = previous === undefined ? undefined : new Date(now.getTime() + overlapHours * 3_600_000).toISOString();
  const next: Integration = {
    ...rest,
    webhookSecretName: name,
    ...(previous === undefined || until === undefined ? {} : { previousWebhookSecretName: previous, previousWebhookSecretUntil: until }),
    updatedAt: now.toISOString(),
  };
  let stored: Stored<Integration>;
  try {
    stored = await deps.repos.putIntegration(next, etag);
  } catch (error) {
    // Someone changed the integration meanwhile: nothing points at the new secret, so drop it.
    await deps.store.delete(name).catch(() => false);
    if (error instanceof ConcurrencyError) throw new InputError(409, 'The integration changed concurrently; rotate again');
    throw error;
  }
  deps.onIntegrationChanged?.(current.id);
  // A secret rotated out twice no longer verifies anything.
  if (dropped !== undefined && dropped !== previous) await retireSecret(deps, dropped);

  await notifyAbout(deps.notice, current, {
    kind: 'webhook_secret_rotated',
    severity: 'info',
    title: `Webhook secret of ${current.provider} integration ${current.id} rotated`,
    detail: until === undefined ? 'A webhook secret was set.' : `The previous secret keeps verifying until ${until}; update the provider's webhook settings before then.`,
    dedupeKey: `webhook-secret-rotated:${current.tenantId}:${current.id}:${name}`,
  });
  deps.logger.info('webhook secret rotated', { tenantId: current.tenantId, integrationId: current.id, overlapHours, hadPrevious: previous !== undefined });
  return { integration: stored, ...(until === undefined ? {} : { previousValidUntil: until }) };
}

/**
 * Once the overlap window is over: clear the previous secret from the
 * integration and delete it. Returns true when it retired one.
 */
export async function retireExpiredWebhookSecret(deps: WebhookRotationDeps, integration: Stored<Integration>): Promise<boolean> {
  const name = integration.previousWebhookSecretName;
  const until = integration.previousWebhookSecretUntil;
  if (name === undefined) return false;
  if (until !== undefined && Date.parse(until) > deps.now().getTime()) return false;
  const { etag, previousWebhookSecretName: _name, previousWebhookSecretUntil: _until, ...rest } = integration;
  try {
    await deps.repos.putIntegration({ ...rest, updatedAt: deps.now().toISOString() }, etag);
  } catch (error) {
    if (error instanceof ConcurrencyError) return false; // changed meanwhile: the next pass looks again
    throw error;
  }
  deps.onIntegrationChanged?.(integration.id);
  if (name !== integration.webhookSecretName) await retireSecret(deps, name);
  return true;
}

/** A fresh name for each new secret: a new name is in no instance's cache, so the secret verifies at once everywhere. */
function freshSecretName(ids: { tenantId: string; id: string }, now: Date): string {
  return rotatedWebhookSecretName(ids.tenantId, ids.id, `${now.getTime().toString(36)}${randomBytes(4).toString('hex')}`);
}

type SecretFields = Pick<Integration, 'webhookSecretName' | 'previousWebhookSecretName' | 'previousWebhookSecretUntil'>;

/** The webhook secret fields of an integration document, as they are. */
export function webhookSecretFields(integration: Integration | undefined): SecretFields {
  if (!integration) return {};
  const { webhookSecretName: current, previousWebhookSecretName: previous, previousWebhookSecretUntil: until } = integration;
  return {
    ...(current === undefined ? {} : { webhookSecretName: current }),
    ...(previous === undefined ? {} : { previousWebhookSecretName: previous }),
    ...(until === undefined ? {} : { previousWebhookSecretUntil: until }),
  };
}

export interface StagedWebhookSecret {
  /** The integration's secret fields with the new secret in place. */
  fields: SecretFields;
  /** Written for this change: delete it if the integration write fails. */
  written?: string;
  /** Referenced no more once the integration is written: delete them then. */
  replaced: string[];
}

/**
 * A webhook secret set by an integration PUT or PATCH. It becomes current at
 * once, under a fresh name. A rotation's overlap in progress is kept: the
 * rotated-out secret still verifies until its window ends. The secret it
 * replaces stops verifying (the rotate route is the way to switch with an
 * overlap). The same secret again changes nothing.
 */
export async function stageWebhookSecret(
  deps: { secrets: SecretCache; now: () => Date },
  ids: { tenantId: string; id: string; provider: string },
  existing: Integration | undefined,
  secret: string,
): Promise<StagedWebhookSecret> {
  const kept = webhookSecretFields(existing);
  if (kept.webhookSecretName !== undefined && (await deps.secrets.get(kept.webhookSecretName))?.value === secret) return { fields: kept, replaced: [] };
  const now = deps.now();
  const name = freshSecretName(ids, now);
  await deps.secrets.write(name, secret, {
    tags: { tenant: ids.tenantId, integration: ids.id, provider: ids.provider, kind: 'webhook-secret' },
    contentType: 'text/plain',
  });
  const { webhookSecretName: current, previousWebhookSecretName: previous, previousWebhookSecretUntil: until } = kept;
  const overlapping = previous !== undefined && until !== undefined && Date.parse(until) > now.getTime();
  const fields: SecretFields = { webhookSecretName: name, ...(overlapping ? { previousWebhookSecretName: previous, previousWebhookSecretUntil: until } : {}) };
  const replaced = [current, overlapping ? undefined : previous].filter((n): n is string => n !== undefined && n !== fields.previousWebhookSecretName);
  return { fields, written: name, replaced: [...new Set(replaced)] };
}

/** Delete secrets nothing references any more; never throws (an unreferenced secret is harmless if it lingers). */
export interface RetireDeps {
  store: Pick<SecretStore, 'delete'>;
  secrets: Pick<SecretCache, 'invalidate'>;
  logger: Logger;
}

export async function retireWebhookSecrets(deps: RetireDeps, names: readonly string[]): Promise<void> {
  for (const name of names) await retireSecret(deps, name);
}

async function retireSecret(deps: RetireDeps, name: string): Promise<void> {
  try {
    await deps.store.delete(name);
    deps.secrets.invalidate(name);
  } catch (error) {
    // Unreferenced, so harmless if it lingers; Key Vault keeps deleted secrets recoverable anyway.
    deps.logger.warn('retired webhook secret could not be deleted', { error });
  }
}
