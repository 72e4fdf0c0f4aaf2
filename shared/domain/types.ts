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
  /** Minutes between scheduled syncs (used when `scheduleCron` is unset). */
  scheduleMinutes: number;
  /** Six-field NCRONTAB (UTC) schedule; overrides `scheduleMinutes`. */
  scheduleCron?: string;
  /** Last schedule slot a job was enqueued for: a timer firing again for the slot enqueues nothing. */
  lastScheduledSlot?: string;
  status: IntegrationStatus;
  /** Provider shape → the tenant's canonical record, per entity type; declared as data. */
  mappings?: MappingSpec;
  /** Entity type → record shard (container); unlisted types go to the default shard. */
  shardMap?: Record<string, string>;
  conflictStrategy: ConflictStrategy;
  /** Provider cursor as of the last persisted page. */
  cursor?: Record<string, unknown>;
  lastSyncAt?: string;
  createdAt: string;
  updatedAt: string;
}

export type ConflictStrategy = 'provider-wins' | 'local-wins' | 'newest-wins' | 'manual';

/** One canonical field: where it comes from in the provider record's data, and what it must be. */
export interface FieldMapping {
  /** Dot path into the provider data, e.g. `user.login` or `labels.0`. */
  from: string;
  type?: 'string' | 'number' | 'boolean' | 'datetime' | 'array' | 'object' | undefined;
  required?: boolean | undefined;
}

/** entity type → canonical field → mapping. Entity types without a mapping keep the provider data. */
export type MappingSpec = Record<string, Record<string, FieldMapping>>;

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type RunTrigger = 'schedule' | 'webhook' | 'manual';

export const PHASES = [
  'queued',
  'authorizing',
  'fetching',
  'transforming',
  'validating',
  'deduplicating',
  'sharding',
  'resolving_conflicts',
  'persisting',
  'completing',
] as const;
export type PhaseName = (typeof PHASES)[number];

export interface PhaseState {
  name: PhaseName;
  status: 'pending' | 'running' | 'done' | 'failed';
  startedAt?: string;
  finishedAt?: string;
}

export interface RunCounts {
  fetched: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  invalid: number;
  conflicts: number;
}

export interface InvalidRecordReport {
  entityType: string;
  externalId: string;
  reason: string;
}

export interface SyncRun extends DocumentBase {
  type: 'run';
  integrationId: string;
  status: RunStatus;
  trigger: RunTrigger;
  /** Resync from scratch: the cursor is ignored (records are kept, unchanged ones not rewritten). */
  full?: boolean;
  phase: PhaseName;
  phases: PhaseState[];
  counts: RunCounts;
  /** The first invalid records with their reasons (bounded). */
  invalid: InvalidRecordReport[];
  /** Soft deletes seen during the run, applied only when it completes (never on a failed or partial run). */
  stagedDeletes: { shard: string; id: string }[];
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** Last time a worker wrote this run: a live run is written at least every page (see the reaper in sync/stale.ts). */
  heartbeatAt?: string;
  /** When a rescheduled run's next message is due. */
  resumeAt?: string;
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
  /** sha256 of the provider's version as last synced: unchanged records are not rewritten. */
  contentHash: string;
  syncedAt: string;
  lastRunId: string;
  /** A local change (admin write) not yet confirmed pushed to the provider. */
  local?: LocalChange;
  /** Provider version/etag after our last successful push. */
  pushedVersion?: string;
}

export interface LocalChange {
  data: Record<string, unknown>;
  updatedAt: string;
  op: 'create' | 'update' | 'delete';
  idempotencyKey: string;
}

/** A record changed both locally and at the provider, parked for an admin (strategy `manual`). */
export interface Conflict extends DocumentBase {
  type: 'conflict';
  integrationId: string;
  recordId: string;
  shard: string;
  entityType: string;
  externalId: string;
  status: 'open' | 'resolved';
  local: LocalChange;
  provider: { data: Record<string, unknown>; updatedAt: string; deleted: boolean; contentHash: string };
  createdAt: string;
  resolvedAt?: string;
  resolution?: 'local' | 'provider' | 'merge';
}

export function emptyCounts(): RunCounts {
  return { fetched: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, invalid: 0, conflicts: 0 };
}
