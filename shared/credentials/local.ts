import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { InputError, RetryableError, UnrecoverableError } from '../errors';
import { assertSecretName } from './port';
import type { SecretStore, SecretValue, SecretWrite } from './port';

/**
 * Key Vault rejects secret values over 25 KB
 * (https://learn.microsoft.com/azure/key-vault/general/service-limits); the
 * embedded store enforces the same so code that works locally works in Azure.
 */
export const MAX_SECRET_VALUE_BYTES = 25 * 1024;

/**
 * The Key Vault SDK serialises `exp` as `seconds | 0`, a signed 32-bit int: a
 * date past 2038-01-19 would silently become one in 1901. Both stores refuse it.
 */
const MAX_EXPIRES_MS = 2 ** 31 * 1000;

/**
 * Checks shared by both adapters, before any I/O, so a bad write fails the
 * same way locally and in Azure. Messages name the secret, never the value.
 */
export function assertSecretWrite(name: string, value: string, options: SecretWrite): void {
  assertSecretName(name);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_SECRET_VALUE_BYTES) {
    throw new InputError(413, `Secret "${name}" is ${bytes} bytes; the limit is ${MAX_SECRET_VALUE_BYTES}`);
  }
  if (options.expiresOn !== undefined) {
    const ms = options.expiresOn.getTime();
    if (!Number.isFinite(ms) || ms <= 0 || ms >= MAX_EXPIRES_MS) {
      throw new InputError(400, `expiresOn for secret "${name}" must be a valid date between 1970 and 2038-01-19`);
    }
  }
}
export const LOCAL_SECRETS_FILE = 'secrets.enc.json';
const FORMAT = 'castiel-local-secrets/v1';
const KEY_CHECK_PLAINTEXT = 'castiel local secret store key check';

const sealedSchema = z.object({ iv: z.string(), tag: z.string(), data: z.string() });
const versionSchema = z.object({
  id: z.string(),
  sealed: sealedSchema,
  tags: z.record(z.string(), z.string()),
  contentType: z.string().optional(),
  expiresOn: z.iso.datetime().optional(),
  createdOn: z.iso.datetime(),
});
const fileSchema = z.object({
  format: z.literal(FORMAT),
  keyCheck: sealedSchema,
  // Keyed by lower-cased name: Key Vault names are case-insensitive.
  secrets: z.record(z.string(), z.object({ name: z.string(), versions: z.array(versionSchema) })),
});
type Sealed = z.infer<typeof sealedSchema>;
type StoredVersion = z.infer<typeof versionSchema>;
type StoreFile = z.infer<typeof fileSchema>;

export interface LocalSecretStoreOptions {
  /** Directory holding the store file (created 0700 on first write). */
  dir: string;
  /** 32-byte AES-256 key, e.g. from `loadOrCreateDevKey`. */
  key: Buffer;
  /** Versions kept per secret. Unlike Key Vault we prune, because the whole file is rewritten on every set. */
  maxVersions?: number;
  fileName?: string;
}

/**
 * Writers queue per file path (not per instance), so two stores opened on the
 * same directory in one process still cannot lose each other's writes.
 * Cross-process writers are not supported: the local host is one process.
 */
const fileLocks = new Map<string, Promise<void>>();

async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const previous = fileLocks.get(file) ?? Promise.resolve();
  const run = previous.then(fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  fileLocks.set(file, tail);
  try {
    return await run;
  } finally {
    if (fileLocks.get(file) === tail) fileLocks.delete(file);
  }
}

/**
 * Embedded secret store: one JSON file, every value sealed with AES-256-GCM
 * (random 12-byte IV per value, 16-byte auth tag). The name and version are
 * bound in as additional authenticated data, so a value cannot be moved to
 * another slot without failing authentication. Tags and content type stay in
 * clear, as they are not secret in Key Vault either.
 */
export class LocalSecretStore implements SecretStore {
  readonly file: string;
  private readonly key: Buffer;
  private readonly maxVersions: number;

  constructor(options: LocalSecretStoreOptions) {
    if (options.key.length !== 32) throw new UnrecoverableError('LocalSecretStore key must be 32 bytes (AES-256)');
    this.key = Buffer.from(options.key);
    this.file = path.resolve(options.dir, options.fileName ?? LOCAL_SECRETS_FILE);
    this.maxVersions = Math.max(1, options.maxVersions ?? 25);
  }

  async get(name: string): Promise<SecretValue | undefined> {
    assertSecretName(name);
    const entry = (await this.load())?.secrets[name.toLowerCase()];
    const latest = entry?.versions.at(-1);
    if (!entry || !latest) return undefined;
    return this.open(entry.name, latest);
  }

  async set(name: string, value: string, options: SecretWrite = {}): Promise<SecretValue> {
    assertSecretWrite(name, value, options);
    const expiresOn = options.expiresOn === undefined ? undefined : toWholeSeconds(options.expiresOn).toISOString();
    return withFileLock(this.file, async () => {
      // Checked once the file lock is ours: a writer whose lease ran out while queued must not land.
      if (options.abortSignal?.aborted === true) throw new RetryableError(`Write of secret "${name}" was aborted`);
      const store = (await this.load()) ?? this.emptyFile();
      const key = name.toLowerCase();
      const entry = store.secrets[key] ?? { name, versions: [] };
      const id = randomBytes(16).toString('hex');
      const version: StoredVersion = {
        id,
        sealed: this.seal(value, valueAad(key, id)),
        tags: { ...(options.tags ?? {}) },
        createdOn: new Date().toISOString(),
      };
      if (options.contentType !== undefined) version.contentType = options.contentType;
      if (expiresOn !== undefined) version.expiresOn = expiresOn;
      entry.versions = [...entry.versions, version].slice(-this.maxVersions);
      store.secrets[key] = entry;
      await this.save(store);
      return toSecretValue(entry.name, value, version);
    });
  }

  async delete(name: string): Promise<boolean> {
    assertSecretName(name);
    return withFileLock(this.file, async () => {
      const store = await this.load();
      const key = name.toLowerCase();
      if (!store?.secrets[key]) return false;
      // No soft-delete locally: the versions are gone, and a later set starts afresh.
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a record keyed by secret name
      delete store.secrets[key];
      await this.save(store);
      return true;
    });
  }

  /** Proves the directory is usable and, if a file exists, that our key opens it. */
  async ping(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    await this.load();
  }

  /** Waits for queued writes so a shutdown never truncates the file mid-rename. */
  async close(): Promise<void> {
    await (fileLocks.get(this.file) ?? Promise.resolve());
  }

  private async load(): Promise<StoreFile | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: StoreFile;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch {
      throw new UnrecoverableError(`Local secret store ${this.file} is not a valid ${FORMAT} file`);
    }
    // Checked up front so a wrong key is reported as such, not as a failure on one secret.
    if (this.unseal(parsed.keyCheck, 'key-check') !== KEY_CHECK_PLAINTEXT) {
      throw new UnrecoverableError(
        `Local secret store ${this.file} was encrypted with a different key: set LOCAL_SECRETS_KEY (or restore dev-secrets.key) ` +
          'to the key it was created with, or move the file away to start empty',
      );
    }
    return parsed;
  }

  /** Write to a temp file, fsync, then rename: readers see the old or the new file, never half of one. */
  private async save(store: StoreFile): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(store, null, 1), 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  private emptyFile(): StoreFile {
    return { format: FORMAT, keyCheck: this.seal(KEY_CHECK_PLAINTEXT, 'key-check'), secrets: {} };
  }

  private open(name: string, version: StoredVersion): SecretValue {
    const value = this.unseal(version.sealed, valueAad(name.toLowerCase(), version.id));
    if (value === undefined) {
      throw new UnrecoverableError(`Secret "${name}" version ${version.id} failed authentication: ${this.file} was altered`);
    }
    return toSecretValue(name, value, version);
  }

  private seal(plaintext: string, aad: string): Sealed {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  /** undefined when authentication fails (wrong key or altered bytes); never garbage. */
  private unseal(sealed: Sealed, aad: string): string | undefined {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

const valueAad = (key: string, versionId: string): string => `secret:${key}:${versionId}`;

/** Key Vault keeps `exp` as Unix seconds; truncate the same way so both stores return the same date. */
function toWholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

function toSecretValue(name: string, value: string, v: StoredVersion): SecretValue {
  const out: SecretValue = { name, value, version: v.id, tags: { ...v.tags } };
  if (v.contentType !== undefined) out.contentType = v.contentType;
  if (v.expiresOn !== undefined) out.expiresOn = new Date(v.expiresOn);
  return out;
}
