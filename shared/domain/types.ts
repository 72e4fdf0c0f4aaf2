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
  /**
   * The scheduler's index (ISO): never later than the next time this integration's schedule can be due,
   * so a tick reads only integrations at or past it (sync/schedule.ts). Unset counts as due.
   */
  nextDueAt?: string;
  status: IntegrationStatus;
  /** Provider shape → the tenant's canonical record, per entity type; declared as data. */
  mappings?: MappingSpec;
  /** Entity type → record shard (container); unlisted types go to the default shard. */
  shardMap?: Record<string, string>;
  conflictStrategy: ConflictStrategy;
  /**
   * Where the next run starts: after the last stored page, but never past a
   * deletion not yet applied (a run holding staged deletions keeps its own
   * checkpoint and moves this only when it completes).
   */
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
/** `push`: a pull a local change's push asked for (shared/sync/push-wait.ts), one per integration per short window. */
export type RunTrigger = 'schedule' | 'webhook' | 'manual' | 'push';

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
  /**
   * Soft deletes staged on the run document by earlier versions; new runs keep
   * them in chunk documents instead (`deleteChunks`, see sync/deletions.ts) and
   * leave this empty. Still applied on completion, so a run in flight across an
   * upgrade loses nothing.
   */
  stagedDeletes: StagedDelete[];
  /** Where this run resumes (its own, ahead of the integration's cursor while it holds deletions unapplied). */
  checkpoint?: SyncCheckpoint;
  /** Chunk documents of staged deletions written so far (ids `<runId>.deletes.<n>` in the runs container). */
  deleteChunks?: number;
  /** Chunks applied so far while completing; written with `counts.deleted` in one document. */
  deleteChunksApplied?: number;
  queuedAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** Last time a worker wrote this run: a live run is written at least every page (see the reaper in sync/stale.ts). */
  heartbeatAt?: string;
  /** When a rescheduled run's next message is due. */
  resumeAt?: string;
}

/** A deletion a run has seen and not yet applied. */
export interface StagedDelete {
  shard: string;
  id: string;
  /** The tombstone's provider time: a version stored later and newer than this one supersedes it. */
  updatedAt?: string;
}

/** A run's resume point: written with its counts and chunk count in one run document. */
export interface SyncCheckpoint {
  /** The provider cursor after the run's last stored page. */
  cursor: Record<string, unknown>;
  /** What the cursor points into (provider, base URL, config): if an admin changes it, the run restarts from the integration's cursor. */
  basis: string;
  /** The last page is stored: only applying the staged deletions and completing remain. */
  done: boolean;
}

/**
 * Up to MAX_DELETES_PER_CHUNK staged deletions of one run, kept in the runs
 * container (partition = tenant). No `integrationId` field on purpose: run
 * listings filter on it, so chunks never show up as runs.
 */
export interface StagedDeleteChunk extends DocumentBase {
  type: 'run-deletes';
  runId: string;
  seq: number;
  deletes: StagedDelete[];
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
  /** Which staged chunk (`<runId>#<seq>`) applied this soft delete: an apply redone after a crash counts it once. */
  deletedBy?: string;
}

export interface LocalChange {
  /** The record as it reads with the change applied (what the API shows as pending). */
  data: Record<string, unknown>;
  updatedAt: string;
  op: 'create' | 'update' | 'delete';
  idempotencyKey: string;
  /**
   * The fields the change touched, with their new values: all a push sends
   * (a patch), so fields nobody edited are never written back with stale
   * values. Edits made before the push accumulate here. Absent on changes
   * stored before patches were recorded: a push then sends the fields whose
   * value differs from the record's data (shared/sync/push-operation.ts).
   */
  patch?: Record<string, unknown>;
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
