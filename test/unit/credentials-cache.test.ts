import { SecretCache } from '../../shared/credentials/cache';
import type { SecretStore, SecretValue, SecretWrite } from '../../shared/credentials/port';

/** A store whose reads wait until the test releases them: a slow Key Vault GET. */
class SlowStore implements SecretStore {
  value: SecretValue | undefined;
  reads = 0;
  private waiting: (() => void)[] = [];
  get(): Promise<SecretValue | undefined> {
    this.reads++;
    const snapshot = this.value;
    return new Promise((resolve) => this.waiting.push(() => { resolve(snapshot); }));
  }
  set(name: string, value: string, options: SecretWrite = {}): Promise<SecretValue> {
    this.value = { name, value, version: `v-${value}`, tags: options.tags ?? {} };
    return Promise.resolve(this.value);
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
  delete(): Promise<boolean> { return Promise.resolve(true); }
  ping(): Promise<void> { return Promise.resolve(); }
  close(): Promise<void> { return Promise.resolve(); }
}

describe('SecretCache', () => {
  let clock = 0;
  const now = (): number => clock;

  it('joins concurrent reads and serves hits until the TTL', async () => {
    const store = new SlowStore();
    store.value = { name: 'n', value: 'one', version: 'v1', tags: {} };
    const cache = new SecretCache(store, 1000, 100, now);
    const a = cache.get('n');
    const b = cache.get('n');
    store.release();
    expect((await a)?.version).toBe('v1');
    expect((await b)?.version).toBe('v1');
    expect(store.reads).toBe(1);
    clock += 999;
    await cache.get('n');
    expect(store.reads).toBe(1);
    clock += 1;
    const c = cache.get('n');
    store.release();
    await c;
    expect(store.reads).toBe(2);
  });

  it('never lets a read that started before a write put the older version back', async () => {
    const store = new SlowStore();
    store.value = { name: 'n', value: 'old', version: 'v-old', tags: {} };
    const cache = new SecretCache(store, 60_000, 100, now);
    const slowRead = cache.get('n'); // snapshot: old
    await cache.write('n', 'new', {});
    store.release();
    expect((await slowRead)?.version).toBe('v-old'); // the caller that asked first gets what it read…
    expect((await cache.get('n'))?.version).toBe('v-new'); // …but the cache keeps the newer write
  });

  it('re-reads from the store on reread, treating names case-insensitively', async () => {
    const store = new SlowStore();
    store.value = { name: 'N', value: 'one', version: 'v1', tags: {} };
    const cache = new SecretCache(store, 60_000, 100, now);
    const first = cache.get('N');
    store.release();
    await first;
    store.value = { name: 'N', value: 'two', version: 'v2', tags: {} };
    const again = cache.reread('n');
    store.release();
    expect((await again)?.version).toBe('v2');
    expect((await cache.get('N'))?.version).toBe('v2');
  });
});
