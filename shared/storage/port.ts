import type { ContainerName } from './names';

/** Every stored document: partitioned by tenant, identified within its container. */
export interface DocumentBase {
  id: string;
  tenantId: string;
}

/** A document as read back: `etag` is the optimistic-concurrency token. */
export type Stored<T extends DocumentBase> = T & { etag: string };

export interface WriteOptions {
  /** Write only when the stored ETag still equals this one (HTTP If-Match). */
  ifMatch?: string;
}

export type Filter = Record<string, string | number | boolean>;

export interface QueryOptions {
  /** Equality on top-level fields, ANDed. */
  where?: Filter;
  orderBy?: { field: string; direction: 'asc' | 'desc' };
  /** Page size (1–1000). */
  limit: number;
  continuation?: string;
}

export interface Page<T> {
  items: T[];
  continuation?: string;
}

/** Thrown when If-Match fails (412) or a create meets an existing id (409). */
export class ConcurrencyError extends Error {
  constructor(readonly status: 409 | 412, message: string) {
    super(message);
    this.name = 'ConcurrencyError';
  }
}

/**
 * Document store port. Cosmos DB (NoSQL) in Azure, in-memory when embedded.
 * One contract suite runs on both.
 */
export interface DocumentStore {
  get<T extends DocumentBase>(container: ContainerName, tenantId: string, id: string): Promise<Stored<T> | undefined>;
  /** Create; ConcurrencyError(409) when the id exists. */
  create<T extends DocumentBase>(container: ContainerName, doc: T): Promise<Stored<T>>;
  /** Create or replace; with `ifMatch`, ConcurrencyError(412) when the ETag moved or the doc is gone. */
  upsert<T extends DocumentBase>(container: ContainerName, doc: T, options?: WriteOptions): Promise<Stored<T>>;
  /** Delete; false when it did not exist. ConcurrencyError(412) on an ETag mismatch. */
  delete(container: ContainerName, tenantId: string, id: string, options?: WriteOptions): Promise<boolean>;
  /** Query one tenant's partition. */
  query<T extends DocumentBase>(container: ContainerName, tenantId: string, options: QueryOptions): Promise<Page<Stored<T>>>;
  /** Query across all partitions (scheduler, token refresher). */
  queryAll<T extends DocumentBase>(container: ContainerName, options: QueryOptions): Promise<Page<Stored<T>>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
