import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { InputError } from '../../shared/errors';
import { SecretNameError } from '../../shared/credentials/port';
import type { SecretStore } from '../../shared/credentials/port';

/** A store under test, plus a way to count its I/O (requests sent, files touched). */
export interface SecretsContractSubject {
  store: SecretStore;
  ioCount: () => number;
  cleanup?: () => Promise<void>;
}

/** Unique per test so stores that outlive a test (one server per file) never collide. */
const uniqueName = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;

/**
 * The behaviour every SecretStore adapter must share, so the embedded store is
 * a faithful stand-in for Key Vault. Dates use whole seconds and years before
 * 2038 because that is what Key Vault can store.
 */
export function describeSecretsContract(adapter: string, make: () => Promise<SecretsContractSubject>): void {
  describe(`SecretStore contract: ${adapter}`, () => {
    let subject: SecretsContractSubject;
    let store: SecretStore;

    beforeEach(async () => {
      subject = await make();
      store = subject.store;
    });
    afterEach(async () => {
      await store.close();
      await subject.cleanup?.();
    });

    it('round-trips a value with the version it was written as', async () => {
      const name = uniqueName('round-trip');
      const before = subject.ioCount();
      const written = await store.set(name, 's3cret-value');
      expect(subject.ioCount()).toBeGreaterThan(before); // the I/O counter used below really counts
      expect(written).toMatchObject({ name, value: 's3cret-value', tags: {} });
      expect(written.version).toMatch(/^[0-9a-f]{32}$/);
      await expect(store.get(name)).resolves.toEqual(written);
    });

    it('makes a new version on every write and reads the latest', async () => {
      const name = uniqueName('versions');
      const first = await store.set(name, 'one');
      const second = await store.set(name, 'two');
      expect(second.version).not.toBe(first.version);
      const read = await store.get(name);
      expect(read?.value).toBe('two');
      expect(read?.version).toBe(second.version);
    });

    it('keeps tags, content type and expiry', async () => {
      const name = uniqueName('attrs');
      const expiresOn = new Date('2031-05-06T07:08:09.000Z');
      const tags = { tenantId: 't-1', provider: 'github' };
      const written = await store.set(name, '{"a":1}', { tags, contentType: 'application/json', expiresOn });
      expect(written).toMatchObject({ tags, contentType: 'application/json', expiresOn });
      const read = await store.get(name);
      expect(read).toMatchObject({ tags, contentType: 'application/json' });
      expect(read?.expiresOn?.toISOString()).toBe(expiresOn.toISOString());
    });

    it('keeps expiry at whole seconds, as Key Vault does', async () => {
      const name = uniqueName('exp-ms');
      await store.set(name, 'v', { expiresOn: new Date('2030-01-01T00:00:00.789Z') });
      expect((await store.get(name))?.expiresOn?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    });

    it('gives a new version only the attributes written with it', async () => {
      const name = uniqueName('fresh-attrs');
      await store.set(name, 'one', { tags: { a: 'b' }, contentType: 'text/plain', expiresOn: new Date('2030-01-01T00:00:00Z') });
      await store.set(name, 'two');
      const read = await store.get(name);
      expect(read?.tags).toEqual({});
      expect(read?.contentType).toBeUndefined();
      expect(read?.expiresOn).toBeUndefined();
    });

    it('answers undefined for a secret that never existed', async () => {
      await expect(store.get(uniqueName('missing'))).resolves.toBeUndefined();
    });

    it('treats names case-insensitively, as Key Vault does', async () => {
      const name = uniqueName('Case');
      const written = await store.set(name, 'v1');
      const read = await store.get(name.toUpperCase());
      expect(read?.value).toBe('v1');
      expect(read?.version).toBe(written.version);
    });

    it('deletes every version; a second delete and an unknown name answer false', async () => {
      const name = uniqueName('delete');
      await store.set(name, 'one');
      await store.set(name, 'two');
      await expect(store.delete(name)).resolves.toBe(true);
      await expect(store.get(name)).resolves.toBeUndefined();
      await expect(store.delete(name)).resolves.toBe(false);
      await expect(store.delete(uniqueName('never'))).resolves.toBe(false);
    });

    it('writes again after a delete', async () => {
      const name = uniqueName('reuse');
      const old = await store.set(name, 'old', { tags: { gen: '1' } });
      await store.delete(name);
      const fresh = await store.set(name, 'new', { tags: { gen: '2' } });
      expect(fresh.version).not.toBe(old.version);
      await expect(store.get(name)).resolves.toMatchObject({ value: 'new', version: fresh.version, tags: { gen: '2' } });
    });

    it.each(['', 'under_score', 'with space', 'dot.ted', 'ünïcode', 'a'.repeat(128), '../escape'])(
      'rejects the invalid name %j before any I/O',
      async (bad) => {
        const before = subject.ioCount();
        await expect(store.get(bad)).rejects.toBeInstanceOf(SecretNameError);
        await expect(store.set(bad, 'value')).rejects.toBeInstanceOf(SecretNameError);
        await expect(store.delete(bad)).rejects.toBeInstanceOf(SecretNameError);
        expect(subject.ioCount()).toBe(before);
      },
    );

    it('accepts the longest valid name', async () => {
      const name = `${uniqueName('long')}-${'x'.repeat(127)}`.slice(0, 127);
      await store.set(name, 'v');
      await expect(store.get(name)).resolves.toMatchObject({ value: 'v' });
    });

    it('round-trips unicode and a large JSON document byte for byte', async () => {
      const unicode = 'pässwörd 🔑 — 鍵 \u0000 "quoted" \\ \n end';
      const big = JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ i, token: `tök-${i}-🔒`, pad: 'x'.repeat(30) })) });
      expect(Buffer.byteLength(big)).toBeGreaterThan(15_000);
      const a = uniqueName('unicode');
      const b = uniqueName('big');
      await store.set(a, unicode);
      await store.set(b, big, { contentType: 'application/json' });
      expect((await store.get(a))?.value).toBe(unicode);
      expect((await store.get(b))?.value).toBe(big);
    });

    it('rejects a value over 25 KB without writing it or echoing it', async () => {
      const name = uniqueName('too-big');
      const marker = `MARKER-${randomBytes(8).toString('hex')}`;
      const huge = marker + 'y'.repeat(26 * 1024);
      const before = subject.ioCount();
      const err = await store.set(name, huge).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect(inspect(err)).not.toContain(marker);
      expect(subject.ioCount()).toBe(before);
      await expect(store.get(name)).resolves.toBeUndefined();
    });

    it('rejects an expiry Key Vault cannot store (past 2038-01-19) before any I/O', async () => {
      const before = subject.ioCount();
      await expect(store.set(uniqueName('exp-2040'), 'v', { expiresOn: new Date('2040-01-01T00:00:00Z') })).rejects.toBeInstanceOf(InputError);
      expect(subject.ioCount()).toBe(before);
    });

    it('never puts the value in an error message', async () => {
      const marker = `VALUE-${randomBytes(8).toString('hex')}`;
      const errors: unknown[] = [];
      await store.set('bad_name', marker).catch((e: unknown) => errors.push(e));
      await store.set(uniqueName('bad-exp'), marker, { expiresOn: new Date(Number.NaN) }).catch((e: unknown) => errors.push(e));
      expect(errors).toHaveLength(2);
      for (const e of errors) expect(inspect(e)).not.toContain(marker);
    });

    it('lands every concurrent write', async () => {
      const names = Array.from({ length: 12 }, (_, i) => uniqueName(`par-${i}`));
      const shared = uniqueName('par-shared');
      const results = await Promise.all([
        ...names.map((n, i) => store.set(n, `value-${i}`)),
        ...Array.from({ length: 6 }, (_, i) => store.set(shared, `shared-${i}`)),
      ]);
      for (const [i, n] of names.entries()) expect((await store.get(n))?.value).toBe(`value-${i}`);
      const sharedVersions = results.slice(names.length).map((r) => r.version);
      expect(new Set(sharedVersions).size).toBe(6);
      expect((await store.get(shared))?.value).toMatch(/^shared-\d$/);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
