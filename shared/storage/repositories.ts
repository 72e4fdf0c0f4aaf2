import type { Conflict, Integration, StagedDeleteChunk, SyncRecord, SyncRun, Tenant } from '../domain/types';
import { CONTAINERS, type RecordShard } from './names';
import { ConcurrencyError, type DocumentBase, type DocumentStore, type Page, type Stored } from './port';

/** Maps an integration id (globally unique) to its tenant; see CONTAINERS.integrationIndex. */
export interface IntegrationIndexEntry extends DocumentBase {
  type: 'integration-index';
  /** Same as `id`: this container is partitioned by integration. */
  ownerTenantId: string;
  provider: string;
}

export interface DeadLetterDoc extends DocumentBase {
  type: 'dead-letter';
  queue: string;
  messageId: string;
  reason: string;
  description: string;
  body: unknown;
  parkedAt: string;
  requeuedAt?: string;
}

/** Deterministic, so a page redone after a crash overwrites its own chunk. */
export const stagedDeletesId = (runId: string, seq: number): string => `${runId}.deletes.${seq}`;

/** Thin typed access to the store; no business rules here. */
export class Repositories {
  constructor(readonly store: DocumentStore) {}

  getTenant(tenantId: string): Promise<Stored<Tenant> | undefined> {
    return this.store.get<Tenant>(CONTAINERS.tenants, tenantId, tenantId);
  }

  putTenant(tenant: Tenant): Promise<Stored<Tenant>> {
    return this.store.upsert(CONTAINERS.tenants, tenant);
  }

  getIntegration(tenantId: string, integrationId: string): Promise<Stored<Integration> | undefined> {
    return this.store.get<Integration>(CONTAINERS.integrations, tenantId, integrationId);
  }

  putIntegration(integration: Integration, ifMatch?: string): Promise<Stored<Integration>> {
    return this.store.upsert(CONTAINERS.integrations, integration, ifMatch === undefined ? {} : { ifMatch });
  }

  async lookupIntegrationOwner(integrationId: string): Promise<Stored<IntegrationIndexEntry> | undefined> {
    return this.store.get<IntegrationIndexEntry>(CONTAINERS.integrationIndex, integrationId, integrationId);
  }

  /**
   * Claim a globally unique integration id for a tenant, atomically: the index
   * entry is created only if absent (Cosmos create = a unique id per
   * partition), so of two tenants racing for a new id exactly one wins. True
   * when the id is (now) the tenant's; false when another tenant owns it.
   */
  async claimIntegrationId(integrationId: string, ownerTenantId: string, provider: string): Promise<boolean> {
    const entry: IntegrationIndexEntry = { id: integrationId, tenantId: integrationId, type: 'integration-index', ownerTenantId, provider };
    try {
      await this.store.create(CONTAINERS.integrationIndex, entry);
      return true;
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
    }
    const owner = await this.lookupIntegrationOwner(integrationId);
    if (owner?.ownerTenantId !== ownerTenantId) return false;
    // Ours already; keep the provider current (an update may change it), guarded by the ETag read.
    if (owner.provider !== provider) await this.store.upsert(CONTAINERS.integrationIndex, { ...entry }, { ifMatch: owner.etag });
    return true;
  }

  putIntegrationIndex(integrationId: string, ownerTenantId: string, provider: string): Promise<Stored<IntegrationIndexEntry>> {
    return this.store.upsert<IntegrationIndexEntry>(CONTAINERS.integrationIndex, {
      id: integrationId,
      tenantId: integrationId,
      type: 'integration-index',
      ownerTenantId,
      provider,
    });
  }

  /** Every integration of every tenant, a page at a time (scheduler, token refresher). */
  async *integrationPages(pageSize = 100): AsyncGenerator<Stored<Integration>[]> {
    let continuation: string | undefined;
    do {
      const page = await this.listAllIntegrations(pageSize, continuation);
      continuation = page.continuation;
      yield page.items;
    } while (continuation !== undefined);
  }

  /**
   * Integrations whose `nextDueAt` is at or before `dueBy` (or unset: due), a
   * page at a time, earliest first. The query orders by `nextDueAt` (unset
   * sorts first, in Cosmos as in memory) and the scan stops at the first
   * integration not yet due, so when nothing is due it costs one page.
   * `read` counts what the page read, including the one that ended the scan.
   */
  async *dueIntegrationPages(dueBy: string, pageSize = 100): AsyncGenerator<{ due: Stored<Integration>[]; read: number }> {
    let continuation: string | undefined;
    do {
      const page = await this.store.queryAll<Integration>(CONTAINERS.integrations, {
        where: { type: 'integration' },
        orderBy: { field: 'nextDueAt', direction: 'asc' },
        limit: pageSize,
        ...(continuation === undefined ? {} : { continuation }),
      });
      const end = page.items.findIndex((i) => i.nextDueAt !== undefined && i.nextDueAt > dueBy);
      const due = end < 0 ? page.items : page.items.slice(0, end);
      yield { due, read: end < 0 ? page.items.length : end + 1 };
      if (end >= 0) return;
      continuation = page.continuation;
    } while (continuation !== undefined);
  }

  /**
   * How many records match in one shard, counting up to `cap` (then `cap` is
   * returned: "at least"). Pages through the documents, so callers keep the
   * cap small; the admin API uses it before a shard-map change.
   */
  async countRecords(tenantId: string, where: Record<string, string>, shard: RecordShard, cap: number): Promise<number> {
    let count = 0;
    let continuation: string | undefined;
    do {
      const page = await this.store.query<SyncRecord>(shard, tenantId, {
        where: { type: 'record', ...where },
        limit: Math.min(1000, Math.max(1, cap - count)),
        ...(continuation === undefined ? {} : { continuation }),
      });
      count += page.items.length;
      continuation = page.continuation;
    } while (continuation !== undefined && count < cap);
    return Math.min(count, cap);
  }

  listAllIntegrations(limit: number, continuation?: string): Promise<Page<Stored<Integration>>> {
    return this.store.queryAll<Integration>(CONTAINERS.integrations, {
      where: { type: 'integration' },
      limit,
      ...(continuation === undefined ? {} : { continuation }),
    });
  }

  getRun(tenantId: string, runId: string): Promise<Stored<SyncRun> | undefined> {
    return this.store.get<SyncRun>(CONTAINERS.runs, tenantId, runId);
  }

  createRun(run: SyncRun): Promise<Stored<SyncRun>> {
    return this.store.create(CONTAINERS.runs, run);
  }

  putRun(run: SyncRun, ifMatch?: string): Promise<Stored<SyncRun>> {
    return this.store.upsert(CONTAINERS.runs, run, ifMatch === undefined ? {} : { ifMatch });
  }

  listRuns(tenantId: string, integrationId: string, limit: number, continuation?: string): Promise<Page<Stored<SyncRun>>> {
    return this.store.query<SyncRun>(CONTAINERS.runs, tenantId, {
      where: { integrationId },
      orderBy: { field: 'queuedAt', direction: 'desc' },
      limit,
      ...(continuation === undefined ? {} : { continuation }),
    });
  }

  /** A run's n-th chunk of staged deletions (kept beside the run, in its container and partition). */
  getStagedDeletes(tenantId: string, runId: string, seq: number): Promise<Stored<StagedDeleteChunk> | undefined> {
    return this.store.get<StagedDeleteChunk>(CONTAINERS.runs, tenantId, stagedDeletesId(runId, seq));
  }

  putStagedDeletes(chunk: Omit<StagedDeleteChunk, 'id' | 'type'>): Promise<Stored<StagedDeleteChunk>> {
    return this.store.upsert<StagedDeleteChunk>(CONTAINERS.runs, { ...chunk, id: stagedDeletesId(chunk.runId, chunk.seq), type: 'run-deletes' });
  }

  deleteStagedDeletes(tenantId: string, runId: string, seq: number): Promise<boolean> {
    return this.store.delete(CONTAINERS.runs, tenantId, stagedDeletesId(runId, seq));
  }

  getRecord(tenantId: string, id: string, shard: RecordShard = CONTAINERS.records): Promise<Stored<SyncRecord> | undefined> {
    return this.store.get<SyncRecord>(shard, tenantId, id);
  }

  putRecord(record: SyncRecord, ifMatch?: string, shard: RecordShard = CONTAINERS.records): Promise<Stored<SyncRecord>> {
    return this.store.upsert(shard, record, ifMatch === undefined ? {} : { ifMatch });
  }

  listRecords(
    tenantId: string,
    where: Record<string, string>,
    limit: number,
    continuation?: string,
    shard: RecordShard = CONTAINERS.records,
  ): Promise<Page<Stored<SyncRecord>>> {
    return this.store.query<SyncRecord>(shard, tenantId, {
      where: { type: 'record', ...where },
      orderBy: { field: 'updatedAt', direction: 'asc' },
      limit,
      ...(continuation === undefined ? {} : { continuation }),
    });
  }

  getConflict(tenantId: string, id: string): Promise<Stored<Conflict> | undefined> {
    return this.store.get<Conflict>(CONTAINERS.conflicts, tenantId, id);
  }

  putConflict(conflict: Conflict, ifMatch?: string): Promise<Stored<Conflict>> {
    return this.store.upsert(CONTAINERS.conflicts, conflict, ifMatch === undefined ? {} : { ifMatch });
  }

  listConflicts(tenantId: string, where: Record<string, string>, limit: number, continuation?: string): Promise<Page<Stored<Conflict>>> {
    return this.store.query<Conflict>(CONTAINERS.conflicts, tenantId, {
      where: { type: 'conflict', ...where },
      orderBy: { field: 'createdAt', direction: 'desc' },
      limit,
      ...(continuation === undefined ? {} : { continuation }),
    });
  }

  parkDeadLetter(doc: DeadLetterDoc, ifMatch?: string): Promise<Stored<DeadLetterDoc>> {
    return this.store.upsert(CONTAINERS.deadLetters, doc, ifMatch === undefined ? {} : { ifMatch });
  }

  getDeadLetter(tenantId: string, id: string): Promise<Stored<DeadLetterDoc> | undefined> {
    return this.store.get<DeadLetterDoc>(CONTAINERS.deadLetters, tenantId, id);
  }

  listDeadLetters(tenantId: string, limit: number, continuation?: string): Promise<Page<Stored<DeadLetterDoc>>> {
    return this.store.query<DeadLetterDoc>(CONTAINERS.deadLetters, tenantId, {
      orderBy: { field: 'parkedAt', direction: 'desc' },
      limit,
      ...(continuation === undefined ? {} : { continuation }),
    });
  }
}
