import { randomUUID } from 'node:crypto';
import { InputError } from '../errors';
import type { ContainerName } from './names';
import {
  ConcurrencyError,
  type DocumentBase,
  type DocumentStore,
  type Page,
  type QueryOptions,
  type Stored,
  type WriteOptions,
} from './port';
import { assertValidQuery, decodeContinuation, encodeContinuation, queryFingerprint, toStorable } from './support';

/** One stored item: the JSON text (so nobody can reach in and mutate it) and its ETag. */
interface Entry {
  json: string;
  etag: string;
}

/** Where a page ended: the last item's sort value (absent when undefined), id and tenant. */
interface ResumeKey {
  v?: unknown;
  id: string;
  t: string;
}

interface Row {
  doc: Stored<DocumentBase> & Record<string, unknown>;
  key: ResumeKey;
}

/**
 * In-memory stand-in for Cosmos DB, held to the same contract suite.
 *
 * Like Cosmos: documents live in per-tenant partitions of each container,
 * round-trip through JSON (so Dates become strings, `undefined` disappears),
 * carry an opaque quoted ETag that changes on every write, and queries page
 * with an opaque continuation token. Paging is keyset-based (resume after the
 * last item's sort key), so writes between pages never repeat or skip an
 * unchanged item. Ties in `orderBy` break on id (then tenant, across
 * partitions); `desc` reverses the whole order.
 */
export class InMemoryDocumentStore implements DocumentStore {
  private readonly containers = new Map<ContainerName, Map<string, Map<string, Entry>>>();

  get<T extends DocumentBase>(container: ContainerName, tenantId: string, id: string): Promise<Stored<T> | undefined> {
    const entry = this.partition(container, tenantId, false)?.get(id);
    return Promise.resolve(entry === undefined ? undefined : materialise<T>(entry));
  }

  create<T extends DocumentBase>(container: ContainerName, doc: T): Promise<Stored<T>> {
    return attempt(() => {
      const body = toStorable(doc);
      const partition = this.partition(container, body.tenantId, true);
      if (partition.has(body.id)) throw new ConcurrencyError(409, `${container}/${body.id} already exists`);
      return this.write<T>(partition, body);
    });
  }

  upsert<T extends DocumentBase>(container: ContainerName, doc: T, options?: WriteOptions): Promise<Stored<T>> {
    return attempt(() => {
      const body = toStorable(doc);
      const partition = this.partition(container, body.tenantId, true);
      if (options?.ifMatch !== undefined) checkEtag(partition.get(body.id), options.ifMatch, `${container}/${body.id}`);
      return this.write<T>(partition, body);
    });
  }

  delete(container: ContainerName, tenantId: string, id: string, options?: WriteOptions): Promise<boolean> {
    return attempt(() => {
      const partition = this.partition(container, tenantId, false);
      const entry = partition?.get(id);
      if (options?.ifMatch !== undefined) checkEtag(entry, options.ifMatch, `${container}/${id}`);
      if (partition === undefined || entry === undefined) return false;
      partition.delete(id);
      return true;
    });
  }

  query<T extends DocumentBase>(container: ContainerName, tenantId: string, options: QueryOptions): Promise<Page<Stored<T>>> {
    return attempt(() => {
      const partition = this.partition(container, tenantId, false);
      return this.page<T>(container, tenantId, partition === undefined ? [] : [partition], options);
    });
  }

  queryAll<T extends DocumentBase>(container: ContainerName, options: QueryOptions): Promise<Page<Stored<T>>> {
    return attempt(() => this.page<T>(container, undefined, [...(this.containers.get(container)?.values() ?? [])], options));
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private partition(container: ContainerName, tenantId: string, create: true): Map<string, Entry>;
  private partition(container: ContainerName, tenantId: string, create: false): Map<string, Entry> | undefined;
  private partition(container: ContainerName, tenantId: string, create: boolean): Map<string, Entry> | undefined {
    let tenants = this.containers.get(container);
    if (tenants === undefined) {
      if (!create) return undefined;
      tenants = new Map();
      this.containers.set(container, tenants);
    }
    let partition = tenants.get(tenantId);
    if (partition === undefined && create) {
      partition = new Map();
      tenants.set(tenantId, partition);
    }
    return partition;
  }

  private write<T extends DocumentBase>(partition: Map<string, Entry>, body: DocumentBase): Stored<T> {
    // Quoted like an HTTP ETag (and like Cosmos's); callers must treat it as opaque.
    const entry: Entry = { json: JSON.stringify(body), etag: `"${randomUUID()}"` };
    partition.set(body.id, entry);
    return materialise<T>(entry);
  }

  private page<T extends DocumentBase>(
    container: ContainerName,
    tenantId: string | undefined,
    partitions: Map<string, Entry>[],
    options: QueryOptions,
  ): Page<Stored<T>> {
    assertValidQuery(options);
    const fingerprint = queryFingerprint(container, tenantId, options);
    const after = options.continuation === undefined ? undefined : parseResumeKey(decodeContinuation(options.continuation, fingerprint));
    const where = Object.entries(options.where ?? {});
    const field = options.orderBy?.field;
    const sign = options.orderBy?.direction === 'desc' ? -1 : 1;

    const rows: Row[] = [];
    for (const partition of partitions) {
      for (const entry of partition.values()) {
        const doc = materialise<DocumentBase>(entry) as Row['doc'];
        if (!where.every(([k, v]) => doc[k] === v)) continue;
        const key: ResumeKey = { id: doc.id, t: doc.tenantId };
        if (field !== undefined && doc[field] !== undefined) key.v = doc[field];
        rows.push({ doc, key });
      }
    }
    rows.sort((a, b) => sign * compareKeys(a.key, b.key));
    const start = after === undefined ? 0 : rows.findIndex((r) => sign * compareKeys(r.key, after) > 0);
    const remaining = start < 0 ? [] : rows.slice(start);
    const items = remaining.slice(0, options.limit);
    const last = items.at(-1);
    const page: Page<Stored<T>> = { items: items.map((r) => r.doc as unknown as Stored<T>) };
    if (remaining.length > items.length && last !== undefined) page.continuation = encodeContinuation(fingerprint, last.key);
    return page;
  }
}

/** A fresh copy of the stored document with its ETag. */
function materialise<T extends DocumentBase>(entry: Entry): Stored<T> {
  return { ...(JSON.parse(entry.json) as T), etag: entry.etag };
}

function checkEtag(entry: Entry | undefined, ifMatch: string, what: string): void {
  if (entry === undefined) throw new ConcurrencyError(412, `${what} no longer exists`);
  if (entry.etag !== ifMatch) throw new ConcurrencyError(412, `${what} was modified (ETag mismatch)`);
}

/** Run synchronously (so each operation is atomic) but report failures as rejections, like the Cosmos adapter. */
function attempt<R>(fn: () => R): Promise<R> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

function parseResumeKey(payload: unknown): ResumeKey {
  if (typeof payload === 'object' && payload !== null && 'id' in payload && 't' in payload) {
    const { id, t } = payload;
    if (typeof id === 'string' && typeof t === 'string') {
      const key: ResumeKey = { id, t };
      if ('v' in payload) key.v = payload.v;
      return key;
    }
  }
  throw new InputError(400, 'invalid continuation token: malformed');
}

function compareKeys(a: ResumeKey, b: ResumeKey): number {
  return compareValues(a.v, b.v) || compareStrings(a.id, b.id) || compareStrings(a.t, b.t);
}

/** Cosmos's cross-type ORDER BY order: undefined < null < booleans < numbers < strings < arrays < objects. */
const TYPE_RANK = ['undefined', 'null', 'boolean', 'number', 'string', 'array', 'object'] as const;

function typeRank(v: unknown): number {
  const kind = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  const rank = TYPE_RANK.indexOf(kind as (typeof TYPE_RANK)[number]);
  return rank < 0 ? TYPE_RANK.length : rank;
}

function compareValues(a: unknown, b: unknown): number {
  const byType = typeRank(a) - typeRank(b);
  if (byType !== 0) return Math.sign(byType);
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (a === undefined || a === null) return 0;
  return compareStrings(JSON.stringify(a), JSON.stringify(b));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
