import type { KeyValueStore } from '../../shared/kv/port';

/** One store under test, plus the means to let time pass. */
export interface KvHarness {
  store: KeyValueStore;
  /** Let `ms` pass: advances a fake clock in memory, sleeps for real Redis. */
  advance(ms: number): Promise<void>;
  /** Remove everything the test wrote and release connections. */
  dispose(): Promise<void>;
}

/**
 * The KeyValueStore contract: both implementations must pass it unchanged, so
 * the in-memory store is a faithful stand-in for Redis (SET NX PX, PTTL,
 * compare-and-delete) rather than a toy.
 */
export function describeKvContract(name: string, make: () => Promise<KvHarness>): void {
  describe(`KeyValueStore contract: ${name}`, () => {
    let h: KvHarness;
    let store: KeyValueStore;

    beforeEach(async () => {
      h = await make();
      store = h.store;
    });

    afterEach(async () => {
      await h.dispose();
    });

    it('get answers undefined for a missing key and the value once set', async () => {
      expect(await store.get('missing')).toBeUndefined();
      await store.set('k', 'v1', 10_000);
      expect(await store.get('k')).toBe('v1');
      await store.set('k', 'v2', 10_000);
      expect(await store.get('k')).toBe('v2');
    });

    it('round-trips the empty string and non-ASCII text exactly', async () => {
      await store.set('empty', '', 10_000);
      await store.set('text', 'zürich ✓ 東京 \n "quoted"', 10_000);
      expect(await store.get('empty')).toBe('');
      expect(await store.get('text')).toBe('zürich ✓ 東京 \n "quoted"');
    });

    it('setIfAbsent sets only when absent and leaves an existing value alone', async () => {
      expect(await store.setIfAbsent('lock', 'owner-a', 10_000)).toBe(true);
      expect(await store.setIfAbsent('lock', 'owner-b', 10_000)).toBe(false);
      expect(await store.get('lock')).toBe('owner-a');
    });

    it('setIfAbsent under a race of 100 concurrent callers lets exactly one win', async () => {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.setIfAbsent('race', `owner-${i}`, 10_000)));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await store.get('race')).toBe(`owner-${winners[0]!}`);
    });

    it('expires keys after their TTL, after which setIfAbsent succeeds again', async () => {
      await store.set('short', 'v', 100);
      expect(await store.setIfAbsent('short-nx', 'a', 100)).toBe(true);
      await h.advance(250);
      expect(await store.get('short')).toBeUndefined();
      expect(await store.ttlMs('short')).toBeUndefined();
      expect(await store.setIfAbsent('short-nx', 'b', 10_000)).toBe(true);
      expect(await store.get('short-nx')).toBe('b');
    });

    it('ttlMs reports the remaining TTL, and undefined for a missing key', async () => {
      await store.set('t', 'v', 10_000);
      const ttl = await store.ttlMs('t');
      expect(ttl).toBeGreaterThan(9_000);
      expect(ttl).toBeLessThanOrEqual(10_000);
      await h.advance(200);
      expect(await store.ttlMs('t')).toBeLessThan(ttl!);
      expect(await store.ttlMs('missing')).toBeUndefined();
    });

    it('set replaces the TTL along with the value', async () => {
      await store.set('t', 'v', 100);
      await store.set('t', 'v2', 60_000);
      await h.advance(250);
      expect(await store.get('t')).toBe('v2');
      expect(await store.ttlMs('t')).toBeGreaterThan(50_000);
    });

    it('deleteIfEquals deletes only when the value matches', async () => {
      await store.set('lock', 'owner-a', 10_000);
      expect(await store.deleteIfEquals('lock', 'owner-b')).toBe(false);
      expect(await store.get('lock')).toBe('owner-a');
      expect(await store.deleteIfEquals('lock', 'owner-a')).toBe(true);
      expect(await store.get('lock')).toBeUndefined();
      expect(await store.deleteIfEquals('lock', 'owner-a')).toBe(false);
      expect(await store.deleteIfEquals('never-set', '')).toBe(false);
    });

    it('expireIfEquals renews only the holder’s own lease', async () => {
      await store.set('lease', 'owner-a', 200);
      expect(await store.expireIfEquals('lease', 'owner-b', 60_000)).toBe(false);
      expect(await store.expireIfEquals('lease', 'owner-a', 60_000)).toBe(true);
      await h.advance(400);
      expect(await store.get('lease')).toBe('owner-a');
      expect(await store.ttlMs('lease')).toBeGreaterThan(50_000);
      expect(await store.expireIfEquals('gone', 'owner-a', 60_000)).toBe(false);
      expect(await store.get('gone')).toBeUndefined();
    });

    it('a holder whose lock lapsed cannot release the next holder’s lock', async () => {
      expect(await store.setIfAbsent('lock', 'first', 100)).toBe(true);
      await h.advance(250);
      expect(await store.setIfAbsent('lock', 'second', 10_000)).toBe(true);
      expect(await store.deleteIfEquals('lock', 'first')).toBe(false);
      expect(await store.get('lock')).toBe('second');
    });

    it('delete removes a key and is a no-op for a missing one', async () => {
      await store.set('k', 'v', 10_000);
      await store.delete('k');
      await store.delete('k');
      expect(await store.get('k')).toBeUndefined();
    });

    it('rejects a TTL that is not a positive number and writes nothing', async () => {
      for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await expect(store.set('bad', 'v', bad)).rejects.toThrow(RangeError);
        await expect(store.setIfAbsent('bad', 'v', bad)).rejects.toThrow(RangeError);
      }
      expect(await store.get('bad')).toBeUndefined();
    });

    it('rounds a fractional TTL up to whole milliseconds rather than failing', async () => {
      expect(await store.setIfAbsent('frac', 'v', 5_000.4)).toBe(true);
      expect(await store.ttlMs('frac')).toBeLessThanOrEqual(5_001);
    });

    it('increment counts within a fixed window that starts at the first increment', async () => {
      expect(await store.increment('{i1}:n', 1, 1_000)).toBe(1);
      expect(await store.increment('{i1}:n', 4, 60_000)).toBe(5);
      // The later, longer TTL does not extend the window.
      expect(await store.ttlMs('{i1}:n')).toBeLessThanOrEqual(1_000);
      await h.advance(1_100);
      expect(await store.increment('{i1}:n', 2, 1_000)).toBe(2);
    });

    it('pushBounded keeps the newest members within the count and byte bounds and answers the evicted, oldest first', async () => {
      const bounds = { maxCount: 3, maxBytes: 100 };
      expect(await store.pushBounded('{i2}:idx', 'a', 10, bounds, 10_000)).toEqual([]);
      expect(await store.pushBounded('{i2}:idx', 'b', 10, bounds, 10_000)).toEqual([]);
      expect(await store.pushBounded('{i2}:idx', 'c', 10, bounds, 10_000)).toEqual([]);
      expect(await store.pushBounded('{i2}:idx', 'd', 10, bounds, 10_000)).toEqual(['a']);
      // 'e' takes 75 bytes: b goes for the count, and then c, d, e total 95 ≤ 100 bytes.
      expect(await store.pushBounded('{i2}:idx', 'e', 75, bounds, 10_000)).toEqual(['b']);
      // A member bigger than the byte bound evicts everything, itself last.
      expect(await store.pushBounded('{i2}:idx', 'f|with|bars', 500, bounds, 10_000)).toEqual(['c', 'd', 'e', 'f|with|bars']);
      expect(await store.pushBounded('{i2}:idx', 'g', 1, bounds, 10_000)).toEqual([]);
    });

    it('ping resolves while the store is usable', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('rejects operations after close', async () => {
      await store.close();
      await expect(store.get('k')).rejects.toThrow();
      await expect(store.setIfAbsent('k', 'v', 1000)).rejects.toThrow();
    });
  });
}
