import { randomUUID } from 'node:crypto';
import { CosmosClient } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';
import { CosmosDocumentStore, createCosmosClient, type CosmosStoreOptions } from '../../shared/storage/cosmos';
import { InMemoryDocumentStore } from '../../shared/storage/memory';
import { CONTAINERS } from '../../shared/storage/names';
import type { DocumentBase } from '../../shared/storage/port';
import { CONTRACT_CONTAINER, describeStoreContract } from '../contract/store.contract';
import { startCosmosServer, type CosmosTestServer } from '../helpers/cosmos-server';

/*
 * The Cosmos adapter runs against @vercel/cosmosdb-server. Where that server
 * differs from real Cosmos DB, the adapter does what real Cosmos needs and
 * still works here:
 * - it ignores the `partitionKey` option on queries and filters only on the
 *   SQL, so the adapter always adds `c["tenantId"] = @tenantId`;
 * - an unparseable continuation token silently restarts the query from the
 *   top (an endless paging loop), so the adapter wraps and checks its tokens;
 * - an If-Match *upsert* of a missing document creates it, so conditional
 *   writes are replaces (404 → 412);
 * - like real Cosmos, ORDER BY on two properties needs a composite index, and
 *   the server honours `indexingPolicy.compositeIndexes`;
 * - a one-property ORDER BY drops documents lacking that property (current
 *   Cosmos returns them first), so no test relies on either behaviour;
 * - it never asks the SDK for a query plan, so cross-partition ORDER BY runs
 *   as one range here; on real Cosmos the SDK fetches a plan and merges
 *   partitions, which its continuation tokens support for streaming ORDER BY;
 * - ETags are bare UUIDs (Cosmos quotes them) and no request is authenticated.
 */

const orderFields: CosmosStoreOptions['orderFields'] = { [CONTRACT_CONTAINER]: ['rank'] };

interface RankDoc extends DocumentBase {
  rank?: number;
}

let server: CosmosTestServer;

beforeAll(async () => {
  server = await startCosmosServer();
});

afterAll(async () => {
  await server.close();
});

function clientFor(s: CosmosTestServer): CosmosClient {
  return createCosmosClient({ endpoint: s.endpoint, key: s.key, agent: s.agent });
}

describeStoreContract('in-memory', () => Promise.resolve({ store: new InMemoryDocumentStore(), cleanup: () => Promise.resolve() }));

describeStoreContract('cosmos (cosmosdb-server)', () => {
  const store = new CosmosDocumentStore(clientFor(server), { databaseId: `db-${randomUUID()}`, orderFields });
  return Promise.resolve({ store, cleanup: () => store.close() });
});

describe('CosmosDocumentStore specifics', () => {
  it('creates the database and every container lazily, on first use', async () => {
    const databaseId = `db-${randomUUID()}`;
    const probe = clientFor(server);
    const store = new CosmosDocumentStore(clientFor(server), { databaseId, orderFields });
    try {
      await expect(probe.database(databaseId).read()).rejects.toMatchObject({ code: 404 });
      await store.ping();
      const { resources } = await probe.database(databaseId).containers.readAll().fetchAll();
      expect(resources.map((c) => c.id).sort()).toEqual(Object.values(CONTAINERS).sort());
      for (const c of resources) expect(c.partitionKey?.paths).toEqual(['/tenantId']);
      const records = resources.find((c) => c.id === CONTRACT_CONTAINER);
      expect(records?.indexingPolicy?.compositeIndexes).toEqual([
        [{ path: '/rank', order: 'ascending' }, { path: '/id', order: 'ascending' }],
        [{ path: '/rank', order: 'descending' }, { path: '/id', order: 'descending' }],
      ]);
      // Idempotent: a second run (another instance starting) changes nothing.
      await CosmosDocumentStore.ensureSchema(probe, { databaseId, orderFields });
    } finally {
      await store.close();
      probe.dispose();
    }
  });

  it('orders undeclared fields alone and still pages exactly once', async () => {
    const store = new CosmosDocumentStore(clientFor(server), { databaseId: `db-${randomUUID()}` });
    try {
      const t = `t-${randomUUID()}`;
      const ranks = [2, 0, 1, 0, 2, 1, 0];
      for (const [i, rank] of ranks.entries()) await store.create<RankDoc>('runs', { id: `r${i}`, tenantId: t, rank });
      const seen: number[] = [];
      const ids = new Set<string>();
      let continuation: string | undefined;
      do {
        const page = await store.query<RankDoc>('runs', t, { orderBy: { field: 'rank', direction: 'desc' }, limit: 2, ...(continuation ? { continuation } : {}) });
        for (const d of page.items) {
          seen.push(d.rank!);
          ids.add(d.id);
        }
        continuation = page.continuation;
      } while (continuation !== undefined);
      expect(seen).toEqual([...ranks].sort().reverse());
      expect(ids.size).toBe(ranks.length);
    } finally {
      await store.close();
    }
  });

  it('strips Cosmos system fields from what it returns and stores', async () => {
    const databaseId = `db-${randomUUID()}`;
    const store = new CosmosDocumentStore(clientFor(server), { databaseId });
    const probe = clientFor(server);
    try {
      const t = `t-${randomUUID()}`;
      const created = await store.create('tenants', { id: 'x', tenantId: t, _ts: 1, etag: 'stale' } as DocumentBase);
      expect(Object.keys(created).sort()).toEqual(['etag', 'id', 'tenantId']);
      const { resource } = await probe.database(databaseId).container('tenants').item('x', t).read<Record<string, unknown>>();
      expect(resource?.etag).toBeUndefined();
      expect(resource?._etag).toBe(created.etag);
    } finally {
      await store.close();
      probe.dispose();
    }
  });

  it('authenticates with a TokenCredential when no key is given', async () => {
    const scopes: string[] = [];
    const credential: TokenCredential = {
      getToken: (scope) => {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return Promise.resolve({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
    const store = new CosmosDocumentStore(createCosmosClient({ endpoint: server.endpoint, credential, agent: server.agent }), { databaseId: `db-${randomUUID()}` });
    try {
      await store.ping();
      expect(scopes.length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('refuses to build a client with neither key nor credential', () => {
    expect(() => createCosmosClient({ endpoint: server.endpoint })).toThrow(/key or a TokenCredential/);
  });

  it('refuses order fields that are not plain identifiers', () => {
    const client = clientFor(server);
    try {
      expect(() => new CosmosDocumentStore(client, { databaseId: 'x', orderFields: { runs: ['a"]'] } })).toThrow(/invalid order field/);
    } finally {
      client.dispose();
    }
  });
});

describe('InMemoryDocumentStore specifics', () => {
  it('resumes after the last item, so inserts between pages neither repeat nor skip', async () => {
    const store = new InMemoryDocumentStore();
    const t = 't';
    for (const id of ['b', 'd', 'f']) await store.create('runs', { id, tenantId: t });
    const first = await store.query('runs', t, { orderBy: { field: 'id', direction: 'asc' }, limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual(['b', 'd']);
    await store.create('runs', { id: 'a', tenantId: t });
    await store.create('runs', { id: 'e', tenantId: t });
    const rest = await store.query('runs', t, { orderBy: { field: 'id', direction: 'asc' }, limit: 10, continuation: first.continuation! });
    expect(rest.items.map((d) => d.id)).toEqual(['e', 'f']);
  });

  it('sorts a missing order field first, as current Cosmos does', async () => {
    const store = new InMemoryDocumentStore();
    await store.create<RankDoc>('runs', { id: 'a', tenantId: 't', rank: 1 });
    await store.create<RankDoc>('runs', { id: 'b', tenantId: 't' });
    const page = await store.query<RankDoc>('runs', 't', { orderBy: { field: 'rank', direction: 'asc' }, limit: 10 });
    expect(page.items.map((d) => d.id)).toEqual(['b', 'a']);
  });

  it('uses quoted ETags', async () => {
    const created = await new InMemoryDocumentStore().create('runs', { id: 'a', tenantId: 't' });
    expect(created.etag).toMatch(/^".+"$/);
  });
});
