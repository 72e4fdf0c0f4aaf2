import type { DocumentBase } from '../storage/port';

/** Identifiers in URLs and documents: short, URL-safe, no path tricks. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface Tenant extends DocumentBase {
  type: 'tenant';
  name: string;
  createdAt: string;
  updatedAt: string;
}

export type IntegrationStatus = 'active' | 'needs_reauth' | 'disabled';

export interface Integration extends DocumentBase {
  type: 'integration';
  provider: string;
  /** Provider API base; the sandbox or the real provider. */
  baseUrl: string;
  /** Provider-specific, validated by the provider's config schema. */
  config: Record<string, unknown>;
  /** Key Vault secret name holding the credentials (never the credentials). */
  credentialsSecret: string;
  /** Key Vault secret name holding the webhook secret, when set. */
  webhookSecretName?: string;
  /** The secret being rotated out: it still verifies until `previousWebhookSecretUntil`. */
  previousWebhookSecretName?: string;
  previousWebhookSecretUntil?: string;
  /** Minutes between scheduled syncs. */
  scheduleMinutes: number;
  status: IntegrationStatus;
  /** Provider cursor as of the last persisted page. */
  cursor?: Record<string, unknown>;
  lastSyncAt?: string;
  createdAt: string;
  updatedAt: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type RunTrigger = 'schedule' | 'webhook' | 'manual';

export interface RunCounts {
  fetched: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
}

export interface SyncRun extends DocumentBase {
  type: 'run';
  integrationId: string;
  status: RunStatus;
  trigger: RunTrigger;
  counts: RunCounts;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
}

export interface SyncRecord extends DocumentBase {
  type: 'record';
  integrationId: string;
  provider: string;
  entityType: string;
  externalId: string;
  /** Provider's own last-modified time (ISO). */
  updatedAt: string;
  deleted: boolean;
  data: Record<string, unknown>;
  /** sha256 of the canonical JSON of `data` + `deleted`: unchanged records are not rewritten. */
  contentHash: string;
  syncedAt: string;
  lastRunId: string;
}

export function emptyCounts(): RunCounts {
  return { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0 };
}
