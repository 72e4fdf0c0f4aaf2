import { CosmosClient, ErrorResponse } from '@azure/cosmos';
import type { Container, Database, FeedOptions, IndexingPolicy, RequestOptions, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'node:https';
import { InputError, RateLimitedError, RetryableError } from '../errors';
import { CONTAINERS, PARTITION_KEY_PATH, type ContainerName } from './names';
import {
  ConcurrencyError,
  type DocumentBase,
  type DocumentStore,
  type Page,
  type QueryOptions,
  type Stored,
  type WriteOptions,
} from './port';
import { FIELD_NAME, SYSTEM_FIELDS, assertValidQuery, omitKeys, decodeContinuation, encodeContinuation, queryFingerprint, toStorable } from './support';

export interface CosmosConnection {
  endpoint: string;
  /** Account key; when absent, `credential` (managed identity in Azure) is used. */
  key?: string;
  credential?: TokenCredential;
  /** Only for tests against a local server with a self-signed certificate. */
  agent?: Agent;
}

/** A client with key auth when a key is given, else Entra ID via the credential. */
export function createCosmosClient(connection: CosmosConnection): CosmosClient {
  const base = { endpoint: connection.endpoint, userAgentSuffix: 'castiel-sync', ...(connection.agent ? { agent: connection.agent } : {}) };
  if (connection.key !== undefined) return new CosmosClient({ ...base, key: connection.key });
  if (connection.credential !== undefined) return new CosmosClient({ ...base, aadCredentials: connection.credential });
  throw new Error('Cosmos DB needs either a key or a TokenCredential');
}

export interface CosmosStoreOptions {
  databaseId: string;
  /**
   * Fields each container's queries order by, when ties must break on id as
   * they do in the in-memory store. Cosmos only serves a two-property ORDER BY
   * (`field, id`) from a composite index, so these get composite indexes
   * (both directions) when the container is created, and queries on them add
   * the id tie-breaker. Other fields are ordered alone: ties then come back in
   * Cosmos's internal order (stable, and paging stays exact). Containers that
   * already exist are not altered: infra/ must declare the same indexes.
   */
  orderFields?: Partial<Record<ContainerName, readonly string[]>>;
}

/**
 * DocumentStore over Azure Cosmos DB (NoSQL), partition key `/tenantId`.
 *
 * The store owns the client: `close()` disposes it. The database and
 * containers are created (if missing) on first use, never at import or
 * construction, so module load stays cheap for the Functions host.
 */
export class CosmosDocumentStore implements DocumentStore {
  private ready: Promise<Database> | undefined;

  constructor(
    private readonly client: CosmosClient,
    private readonly options: CosmosStoreOptions,
  ) {
    for (const fields of Object.values(options.orderFields ?? {})) {
      for (const field of fields) if (!FIELD_NAME.test(field)) throw new Error(`invalid order field ${JSON.stringify(field)}`);
    }
  }

  /**
   * Create the database and every container in CONTAINERS when missing.
   * Reads first (createIfNotExists), so with infra already deployed this only
   * needs data-plane read rights, which is all a managed identity gets.
   */
  static async ensureSchema(client: CosmosClient, options: CosmosStoreOptions): Promise<Database> {
    const { database } = await client.databases.createIfNotExists({ id: options.databaseId });
    await Promise.all(
      Object.values(CONTAINERS).map((id) => {
        const indexingPolicy = compositeIndexPolicy(options.orderFields?.[id]);
        return database.containers.createIfNotExists({
          id,
          partitionKey: { paths: [PARTITION_KEY_PATH] },
          ...(indexingPolicy ? { indexingPolicy } : {}),
        });
      }),
    );
    return database;
  }

  async get<T extends DocumentBase>(container: ContainerName, tenantId: string, id: string): Promise<Stored<T> | undefined> {
    const c = await this.container(container);
    try {
      const { resource } = await c.item(id, tenantId).read<Record<string, unknown>>();
      return resource === undefined ? undefined : fromCosmos<T>(resource);
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw translate(e);
    }
  }

  async create<T extends DocumentBase>(container: ContainerName, doc: T): Promise<Stored<T>> {
    const body = toStorable(doc);
    const c = await this.container(container);
    try {
      return fromCosmos<T>(required((await c.items.create(body)).resource));
    } catch (e) {
      if (statusOf(e) === 409) throw new ConcurrencyError(409, `${container}/${body.id} already exists`);
      throw translate(e);
    }
  }

  async upsert<T extends DocumentBase>(container: ContainerName, doc: T, options?: WriteOptions): Promise<Stored<T>> {
    const body = toStorable(doc);
    const c = await this.container(container);
    try {
      if (options?.ifMatch === undefined) return fromCosmos<T>(required((await c.items.upsert(body)).resource));
      // A conditional write is a replace, not an upsert: Cosmos (and the test
      // server) would happily create a missing doc on an If-Match upsert,
      // while the caller's ETag says it expected one to be there.
      const { resource } = await c.item(body.id, body.tenantId).replace(body, ifMatch(options.ifMatch));
      return fromCosmos<T>(required(resource));
    } catch (e) {
      const status = statusOf(e);
      if (status === 412) throw new ConcurrencyError(412, `${container}/${body.id} was modified (ETag mismatch)`);
      if (status === 404) throw new ConcurrencyError(412, `${container}/${body.id} no longer exists`);
      throw translate(e);
    }
  }

  async delete(container: ContainerName, tenantId: string, id: string, options?: WriteOptions): Promise<boolean> {
    const c = await this.container(container);
    try {
      await c.item(id, tenantId).delete(options?.ifMatch === undefined ? {} : ifMatch(options.ifMatch));
      return true;
    } catch (e) {
      const status = statusOf(e);
      if (status === 412) throw new ConcurrencyError(412, `${container}/${id} was modified (ETag mismatch)`);
      if (status === 404) {
        if (options?.ifMatch !== undefined) throw new ConcurrencyError(412, `${container}/${id} no longer exists`);
        return false;
      }
      throw translate(e);
    }
  }

  query<T extends DocumentBase>(container: ContainerName, tenantId: string, options: QueryOptions): Promise<Page<Stored<T>>> {
    return this.page<T>(container, tenantId, options);
  }

  queryAll<T extends DocumentBase>(container: ContainerName, options: QueryOptions): Promise<Page<Stored<T>>> {
    return this.page<T>(container, undefined, options);
  }

  /** Reads the database (creating the schema first if this is the first call). */
  async ping(): Promise<void> {
    const database = await this.database();
    try {
      await database.read();
    } catch (e) {
      throw translate(e);
    }
  }

  close(): Promise<void> {
    this.client.dispose();
    return Promise.resolve();
  }

  private database(): Promise<Database> {
    // Cache the schema check, but not its failure: the next call tries again.
    this.ready ??= CosmosDocumentStore.ensureSchema(this.client, this.options).catch((e: unknown) => {
      this.ready = undefined;
      throw translate(e);
    });
    return this.ready;
  }

  private async container(name: ContainerName): Promise<Container> {
    return (await this.database()).container(name);
  }

  /**
   * One page per call (`fetchNext`). Pages can be shorter than `limit`, even
   * empty, with a continuation: Cosmos stops early on its per-request budget,
   * so callers page until `continuation` is absent.
   */
  private async page<T extends DocumentBase>(container: ContainerName, tenantId: string | undefined, options: QueryOptions): Promise<Page<Stored<T>>> {
    assertValidQuery(options);
    const fingerprint = queryFingerprint(container, tenantId, options);
    const resume = options.continuation === undefined ? undefined : decodeContinuation(options.continuation, fingerprint);
    if (resume !== undefined && typeof resume !== 'string') throw new InputError(400, 'invalid continuation token: malformed');

    const c = await this.container(container);
    const feed: FeedOptions = { maxItemCount: options.limit };
    // Without a partition key the SDK fans out across partitions (queryAll).
    if (tenantId !== undefined) feed.partitionKey = tenantId;
    if (resume !== undefined) feed.continuationToken = resume;
    try {
      const response = await c.items.query<Record<string, unknown>>(this.sql(container, tenantId, options), feed).fetchNext();
      const page: Page<Stored<T>> = { items: response.resources.map((r) => fromCosmos<T>(r)) };
      if (response.continuationToken) page.continuation = encodeContinuation(fingerprint, response.continuationToken);
      return page;
    } catch (e) {
      // A token that decoded fine but that Cosmos refuses (expired, tampered).
      if (statusOf(e) === 400 && resume !== undefined) throw new InputError(400, 'invalid continuation token: rejected by Cosmos DB');
      throw translate(e);
    }
  }

  /**
   * Parameterised SQL: values only ever travel as parameters; field names
   * (checked against FIELD_NAME by assertValidQuery) go in as `c["name"]`.
   */
  private sql(container: ContainerName, tenantId: string | undefined, options: QueryOptions): SqlQuerySpec {
    const clauses: string[] = [];
    const parameters: SqlParameter[] = [];
    // The partition filter is redundant with `partitionKey` on real Cosmos,
    // but the test server ignores that option and filters only on the SQL.
    if (tenantId !== undefined) {
      clauses.push('c["tenantId"] = @tenantId');
      parameters.push({ name: '@tenantId', value: tenantId });
    }
    Object.entries(options.where ?? {}).forEach(([field, value], i) => {
      clauses.push(`c["${field}"] = @p${i}`);
      parameters.push({ name: `@p${i}`, value });
    });
    let query = 'SELECT * FROM c';
    if (clauses.length > 0) query += ` WHERE ${clauses.join(' AND ')}`;
    const orderBy = options.orderBy;
    if (orderBy !== undefined) {
      const dir = orderBy.direction === 'desc' ? 'DESC' : 'ASC';
      query += ` ORDER BY c["${orderBy.field}"] ${dir}`;
      const tieBreak = orderBy.field !== 'id' && (this.options.orderFields?.[container] ?? []).includes(orderBy.field);
      if (tieBreak) query += `, c["id"] ${dir}`;
    }
    return { query, parameters };
  }
}

function compositeIndexPolicy(fields: readonly string[] | undefined): IndexingPolicy | undefined {
  const ordered = (fields ?? []).filter((f) => f !== 'id');
  if (ordered.length === 0) return undefined;
  return {
    compositeIndexes: ordered.flatMap((field) =>
      (['ascending', 'descending'] as const).map((order) => [
        { path: `/${field}`, order },
        { path: '/id', order },
      ]),
    ),
  };
}

function ifMatch(etag: string): RequestOptions {
  return { accessCondition: { type: 'IfMatch', condition: etag } };
}

/** The caller's document: Cosmos's system fields dropped, `_etag` exposed as `etag`. */
function fromCosmos<T extends DocumentBase>(resource: Record<string, unknown>): Stored<T> {
  const etag = resource._etag;
  if (typeof etag !== 'string') throw new Error('Cosmos DB returned a document without an _etag');
  return { ...(omitKeys(resource, SYSTEM_FIELDS) as unknown as T), etag };
}

function required<R>(resource: R | undefined): R {
  if (resource === undefined) throw new Error('Cosmos DB returned no document body');
  return resource;
}

function statusOf(e: unknown): number | undefined {
  return e instanceof ErrorResponse && typeof e.code === 'number' ? e.code : undefined;
}

/** Transient Cosmos failures become typed errors (after the SDK's own retries gave up). */
function translate(e: unknown): unknown {
  if (!(e instanceof ErrorResponse)) return e;
  const status = statusOf(e);
  if (status === 429) return new RateLimitedError('Cosmos DB throttled the request', e.retryAfterInMs ?? 1000, { cause: e });
  const transient = status === 408 || status === 410 || status === 449 || status === 500 || status === 503;
  // String codes are socket errors (ECONNRESET, ETIMEDOUT...) the SDK already retried.
  if (transient || typeof e.code === 'string') return new RetryableError(`Cosmos DB unavailable (${String(e.code)})`, { cause: e });
  return e;
}
