import { randomUUID } from 'node:crypto';
import { InputError } from '../../shared/errors';
import type { ContainerName } from '../../shared/storage/names';
import { ConcurrencyError, type DocumentBase, type Filter, type DocumentStore, type QueryOptions, type Stored } from '../../shared/storage/port';

/** Container the suite writes to; adapters under test must order `rank` with the id tie-breaker there. */
export const CONTRACT_CONTAINER: ContainerName = 'records';

interface TestDoc extends DocumentBase {
  kind: string;
  rank: number;
  flag?: boolean;
  batch?: string;
  data?: Record<string, unknown>;
}

const C = CONTRACT_CONTAINER;
const newId = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const doc = (tenantId: string, id: string, extra: Partial<TestDoc> = {}): TestDoc => ({ id, tenantId, kind: 'item', rank: 0, ...extra });
const key = (d: DocumentBase) => `${d.tenantId}/${d.id}`;

/** Pages until the end; checks each page honours `limit` and that paging terminates. */
async function pageAll(fetch: (o: QueryOptions) => Promise<{ items: Stored<TestDoc>[]; continuation?: string }>, options: QueryOptions): Promise<Stored<TestDoc>[]> {
  const all: Stored<TestDoc>[] = [];
  let continuation: string | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await fetch(continuation === undefined ? options : { ...options, continuation });
    expect(page.items.length).toBeLessThanOrEqual(options.limit);
    all.push(...page.items);
    continuation = page.continuation;
    if (continuation === undefined) return all;
    expect(typeof continuation).toBe('string');
  }
  throw new Error('paging did not terminate');
}

/** Expected (rank, id) order, ascending; `desc` is the exact reverse. */
const byRankThenId = (a: TestDoc, b: TestDoc) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function describeStoreContract(name: string, makeStore: () => Promise<{ store: DocumentStore; cleanup(): Promise<void> }>): void {
  describe(`DocumentStore contract: ${name}`, () => {
    let store: DocumentStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    describe('documents', () => {
      it('round-trips a document and exposes a string etag', async () => {
        const t = newId('t');
        const created = await store.create(C, doc(t, 'a', { rank: 7, flag: true }));
        expect(created).toEqual({ id: 'a', tenantId: t, kind: 'item', rank: 7, flag: true, etag: expect.any(String) as unknown });
        expect(created.etag.length).toBeGreaterThan(0);
        const read = await store.get<TestDoc>(C, t, 'a');
        expect(read).toEqual(created);
        expect(Object.keys(read!).filter((k) => k.startsWith('_'))).toEqual([]);
      });

      it('returns undefined for a missing document', async () => {
        await expect(store.get(C, newId('t'), 'nope')).resolves.toBeUndefined();
      });

      it('upsert creates, then replaces whole documents with a new etag each time', async () => {
        const t = newId('t');
        const first = await store.upsert(C, doc(t, 'u', { flag: true }));
        const second = await store.upsert(C, doc(t, 'u', { rank: 2 }));
        expect(second.etag).not.toBe(first.etag);
        const read = await store.get<TestDoc>(C, t, 'u');
        expect(read).toEqual({ id: 'u', tenantId: t, kind: 'item', rank: 2, etag: second.etag });
        expect(read).not.toHaveProperty('flag');
      });

      it('writing back a read document does not store its old etag', async () => {
        const t = newId('t');
        const created = await store.create(C, doc(t, 'w'));
        const rewritten = await store.upsert(C, { ...created, rank: 5 });
        expect(rewritten.etag).not.toBe(created.etag);
        expect((await store.get<TestDoc>(C, t, 'w'))?.etag).toBe(rewritten.etag);
      });

      it('preserves nested data as JSON does', async () => {
        const t = newId('t');
        const data = { nested: { deep: { list: [1, 'two', { three: 3 }, null], empty: {} } }, unicode: 'zß水🚀', big: 2 ** 52, neg: -0.5, nil: null };
        await store.create(C, doc(t, 'n', { data }));
        const read = await store.get<TestDoc>(C, t, 'n');
        expect(read?.data).toEqual(data);
        // Stored as JSON, like Cosmos: Dates become ISO strings, undefined fields vanish.
        const when = new Date('2024-05-06T07:08:09.000Z');
        await store.upsert(C, doc(t, 'n', { data: { when, gone: undefined } as unknown as Record<string, unknown> }));
        expect((await store.get<TestDoc>(C, t, 'n'))?.data).toEqual({ when: '2024-05-06T07:08:09.000Z' });
      });

      it('hands out copies: callers cannot mutate stored state', async () => {
        const t = newId('t');
        const input = doc(t, 'c', { data: { list: [1] } });
        const created = await store.create(C, input);
        (input.data!.list as number[]).push(2);
        created.rank = 99;
        (created.data!.list as number[]).push(3);
        const read = await store.get<TestDoc>(C, t, 'c');
        expect(read?.rank).toBe(0);
        expect(read?.data).toEqual({ list: [1] });
        read!.kind = 'changed';
        const page = await store.query<TestDoc>(C, t, { limit: 10 });
        page.items[0]!.kind = 'changed too';
        expect((await store.get<TestDoc>(C, t, 'c'))?.kind).toBe('item');
      });

      it('rejects ids Cosmos cannot store, and stores nothing', async () => {
        const t = newId('t');
        await expect(store.create(C, doc(t, 'a/b'))).rejects.toThrow(InputError);
        await expect(store.upsert(C, doc(t, ''))).rejects.toThrow(InputError);
        expect((await store.query(C, t, { limit: 10 })).items).toEqual([]);
      });

      it('keeps tenants in separate partitions', async () => {
        const [a, b] = [newId('t'), newId('t')];
        await store.create(C, doc(a, 'same', { rank: 1 }));
        await store.create(C, doc(b, 'same', { rank: 2 }));
        expect((await store.get<TestDoc>(C, a, 'same'))?.rank).toBe(1);
        expect((await store.get<TestDoc>(C, b, 'same'))?.rank).toBe(2);
        await expect(store.delete(C, a, 'same')).resolves.toBe(true);
        expect(await store.get(C, a, 'same')).toBeUndefined();
        expect((await store.get<TestDoc>(C, b, 'same'))?.rank).toBe(2);
        expect((await store.query<TestDoc>(C, b, { limit: 10 })).items.map(key)).toEqual([`${b}/same`]);
      });
    });

    describe('concurrency', () => {
      it('create on an existing id is a 409 and leaves the document alone', async () => {
        const t = newId('t');
        const first = await store.create(C, doc(t, 'x', { rank: 1 }));
        const err: unknown = await store.create(C, doc(t, 'x', { rank: 2 })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConcurrencyError);
        expect((err as ConcurrencyError).status).toBe(409);
        expect(await store.get(C, t, 'x')).toEqual(first);
      });

      it('upsert with a stale etag is a 412; with the current one it writes (no lost update)', async () => {
        const t = newId('t');
        const base = await store.create(C, doc(t, 'x', { rank: 1 }));
        const winner = await store.upsert(C, { ...base, rank: 2 }, { ifMatch: base.etag });
        const err: unknown = await store.upsert(C, { ...base, rank: 3 }, { ifMatch: base.etag }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConcurrencyError);
        expect((err as ConcurrencyError).status).toBe(412);
        expect(await store.get(C, t, 'x')).toEqual(winner);
      });

      it('delete with a stale etag is a 412; with the current one it deletes', async () => {
        const t = newId('t');
        const base = await store.create(C, doc(t, 'x'));
        const current = await store.upsert(C, { ...base, rank: 1 });
        await expect(store.delete(C, t, 'x', { ifMatch: base.etag })).rejects.toMatchObject({ name: 'ConcurrencyError', status: 412 });
        expect(await store.get(C, t, 'x')).toEqual(current);
        await expect(store.delete(C, t, 'x', { ifMatch: current.etag })).resolves.toBe(true);
        expect(await store.get(C, t, 'x')).toBeUndefined();
      });

      it('delete without ifMatch reports whether anything was there', async () => {
        const t = newId('t');
        await store.create(C, doc(t, 'x'));
        await expect(store.delete(C, t, 'x')).resolves.toBe(true);
        await expect(store.delete(C, t, 'x')).resolves.toBe(false);
      });

      it('ifMatch on a missing document is a 412 and creates nothing', async () => {
        const t = newId('t');
        const gone = await store.create(C, doc(t, 'g'));
        await store.delete(C, t, 'g');
        await expect(store.upsert(C, doc(t, 'g'), { ifMatch: gone.etag })).rejects.toMatchObject({ name: 'ConcurrencyError', status: 412 });
        await expect(store.delete(C, t, 'g', { ifMatch: gone.etag })).rejects.toMatchObject({ name: 'ConcurrencyError', status: 412 });
        expect(await store.get(C, t, 'g')).toBeUndefined();
      });
    });

    describe('queries', () => {
      // Ranks with ties; ids inserted out of order so id order is not insertion order.
      const seed = async (t: string, batch?: string) => {
        const ranks = [3, 1, 2, 1, 3, 2, 1, 0, 2, 3];
        const docs = ranks.map((rank, i) => doc(t, `d${(i * 7) % 10}`, { rank, flag: i % 2 === 0, kind: i < 6 ? 'a' : 'b', ...(batch ? { batch } : {}) }));
        for (const d of docs) await store.create(C, d);
        return docs;
      };

      it('filters on equality of strings, numbers and booleans, ANDed and type-strict', async () => {
        const t = newId('t');
        const docs = await seed(t);
        const ids = async (where: Filter) => (await store.query<TestDoc>(C, t, { where, limit: 100 })).items.map((d) => d.id).sort();
        const expected = (f: (d: TestDoc) => boolean) => docs.filter(f).map((d) => d.id).sort();
        expect(await ids({ kind: 'a' })).toEqual(expected((d) => d.kind === 'a'));
        expect(await ids({ rank: 1 })).toEqual(expected((d) => d.rank === 1));
        expect(await ids({ flag: false, kind: 'b' })).toEqual(expected((d) => !d.flag && d.kind === 'b'));
        expect(await ids({ rank: '1' })).toEqual([]);
        expect(await ids({ kind: 'none' })).toEqual([]);
      });

      it('orders by a field both ways, ties broken by id', async () => {
        const t = newId('t');
        const sorted = (await seed(t)).sort(byRankThenId).map((d) => d.id);
        const asc = await store.query<TestDoc>(C, t, { orderBy: { field: 'rank', direction: 'asc' }, limit: 100 });
        expect(asc.items.map((d) => d.id)).toEqual(sorted);
        expect(asc.continuation).toBeUndefined();
        const desc = await store.query<TestDoc>(C, t, { orderBy: { field: 'rank', direction: 'desc' }, limit: 100 });
        expect(desc.items.map((d) => d.id)).toEqual([...sorted].reverse());
      });

      it('pages through every item exactly once, in order', async () => {
        const t = newId('t');
        const docs = await seed(t);
        for (const direction of ['asc', 'desc'] as const) {
          const sorted = [...docs].sort(byRankThenId).map((d) => d.id);
          const all = await pageAll((o) => store.query(C, t, o), { orderBy: { field: 'rank', direction }, limit: 3 });
          expect(all.map((d) => d.id)).toEqual(direction === 'asc' ? sorted : sorted.reverse());
        }
        const unordered = await pageAll((o) => store.query(C, t, o), { limit: 4 });
        expect(unordered.map((d) => d.id).sort()).toEqual(docs.map((d) => d.id).sort());
        const filtered = await pageAll((o) => store.query(C, t, o), { where: { kind: 'a' }, orderBy: { field: 'id', direction: 'asc' }, limit: 1 });
        expect(filtered.map((d) => d.id)).toEqual(docs.filter((d) => d.kind === 'a').map((d) => d.id).sort());
      });

      it('limit is exact when more items remain', async () => {
        const t = newId('t');
        await seed(t);
        const page = await store.query<TestDoc>(C, t, { orderBy: { field: 'rank', direction: 'asc' }, limit: 4 });
        expect(page.items).toHaveLength(4);
        expect(page.continuation).toEqual(expect.any(String));
      });

      it('queryAll spans tenants, exactly once across pages', async () => {
        const batch = newId('batch');
        const tenants = [newId('t'), newId('t'), newId('t')];
        const docs: TestDoc[] = [];
        for (const [i, t] of tenants.entries()) {
          for (let j = 0; j < 4; j++) {
            const d = doc(t, `q${i}${j}`, { rank: j % 2, batch });
            await store.create(C, d);
            docs.push(d);
          }
        }
        await store.create(C, doc(newId('t'), 'other-batch', { batch: newId('batch') }));
        const everything = await pageAll((o) => store.queryAll(C, o), { where: { batch }, limit: 5 });
        expect(everything.map(key).sort()).toEqual(docs.map(key).sort());
        const ordered = await pageAll((o) => store.queryAll(C, o), { where: { batch }, orderBy: { field: 'rank', direction: 'desc' }, limit: 5 });
        expect(ordered.map(key)).toEqual([...docs].sort(byRankThenId).reverse().map(key));
        expect((await store.queryAll<TestDoc>(C, { where: { batch, rank: 1 }, limit: 100 })).items).toHaveLength(6);
      });

      it('rejects garbage and foreign continuation tokens with a clear error', async () => {
        const [t, u] = [newId('t'), newId('t')];
        await seed(t);
        const options: QueryOptions = { orderBy: { field: 'rank', direction: 'asc' }, limit: 2 };
        const { continuation } = await store.query(C, t, options);
        expect(continuation).toBeDefined();
        for (const bad of ['garbage!!', 'Z2FyYmFnZQ', continuation!.slice(0, -5), '']) {
          await expect(store.query(C, t, { ...options, continuation: bad })).rejects.toThrow(/continuation/);
        }
        await expect(store.query(C, t, { ...options, continuation: 'not a token' })).rejects.toThrow(InputError);
        await expect(store.query(C, u, { ...options, continuation: continuation! })).rejects.toThrow(/different query/);
        await expect(store.query(C, t, { ...options, where: { kind: 'a' }, continuation: continuation! })).rejects.toThrow(/different query/);
        await expect(store.queryAll(C, { ...options, continuation: continuation! })).rejects.toThrow(/different query/);
        // The real token still works, with any page size.
        expect((await store.query(C, t, { ...options, limit: 100, continuation: continuation! })).items).toHaveLength(8);
      });

      it('rejects limits outside 1..1000 and unsafe field names', async () => {
        const t = newId('t');
        for (const limit of [0, -1, 1001, 1.5, Number.NaN]) {
          await expect(store.query(C, t, { limit })).rejects.toThrow(InputError);
        }
        await expect(store.query(C, t, { limit: 1000 })).resolves.toEqual({ items: [] });
        const injection = 'kind"] = "a" OR 1=1 --';
        await expect(store.query(C, t, { where: { [injection]: 'x' }, limit: 10 })).rejects.toThrow(InputError);
        await expect(store.queryAll(C, { orderBy: { field: 'rank DESC', direction: 'asc' }, limit: 10 })).rejects.toThrow(InputError);
      });

      it('treats values as data, never as query text', async () => {
        const t = newId('t');
        await store.create(C, doc(t, 'v', { kind: `a' OR 1=1 --` }));
        await store.create(C, doc(t, 'w', { kind: 'a' }));
        const page = await store.query<TestDoc>(C, t, { where: { kind: `a' OR 1=1 --` }, limit: 10 });
        expect(page.items.map((d) => d.id)).toEqual(['v']);
      });
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
