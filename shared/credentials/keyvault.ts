import { SecretClient } from '@azure/keyvault-secrets';
import type { KeyVaultSecret, SecretClientOptions, SetSecretOptions } from '@azure/keyvault-secrets';
import type { TokenCredential } from '@azure/identity';
import { RateLimitedError, RetryableError, UnrecoverableError } from '../errors';
import { REDACTED } from '../observability/logger';
import { assertSecretName } from './port';
import type { SecretStore, SecretValue, SecretWrite } from './port';
import { assertSecretWrite } from './local';

/** The slice of SecretClient the store uses (narrow, so tests can fake it). */
export type SecretClientLike = Pick<
  SecretClient,
  'getSecret' | 'setSecret' | 'beginDeleteSecret' | 'beginRecoverDeletedSecret' | 'listPropertiesOfSecretVersions'
>;

export interface KeyVaultStoreOptions {
  /** Delay between polls of delete / recover operations (the SDK defaults to 2 s). */
  pollIntervalMs?: number;
  /** Name read by `ping()`; a 404 proves reachability and a valid token without needing list rights. */
  pingSecretName?: string;
}

/**
 * Client options the factory passes through. `disableChallengeResourceVerification`
 * lets the SDK accept a challenge from a host outside *.vault.azure.net (the
 * local test server); `tlsOptions: { ca }` or `agent` trusts its self-signed
 * certificate for this client only — never NODE_TLS_REJECT_UNAUTHORIZED.
 */
export type KeyVaultClientOptions = Pick<
  SecretClientOptions,
  'disableChallengeResourceVerification' | 'tlsOptions' | 'agent' | 'retryOptions' | 'serviceVersion'
>;

/** Fields of a RestError we read; duck-typed so we need not depend on core-rest-pipeline directly. */
interface RestErrorLike {
  statusCode?: number;
  code?: string;
  message: string;
  details?: unknown;
  response?: { headers: { get(name: string): string | undefined } };
}

function asRestError(err: unknown): RestErrorLike | undefined {
  return err instanceof Error ? err : undefined;
}

/** Key Vault's own error code nested under `error.innerError.code`, e.g. SecretDisabled. */
function innerCode(err: RestErrorLike): string | undefined {
  const d = err.details as { error?: { innerError?: { code?: unknown } } } | undefined;
  const code = d?.error?.innerError?.code;
  return typeof code === 'string' ? code : undefined;
}

const isDeletedButRecoverable = (e: RestErrorLike): boolean =>
  e.statusCode === 409 && /deleted but recoverable/i.test(e.message);

/**
 * Map an SDK failure to a typed error that says what happens next. The cause
 * is deliberately dropped: a RestError carries the request, whose body holds
 * the secret value on a write. The value is also scrubbed from the message in
 * case a proxy echoes it back.
 */
function toStoreError(op: string, name: string, err: unknown, value?: string): Error {
  const e = asRestError(err);
  const status = e?.statusCode;
  let text = `Key Vault ${op} of secret "${name}" failed: ${status ?? 'no response'}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? 'unknown error'}`;
  // Same floor as the logger's scrubber: very short values would mangle the message.
  if (value !== undefined && value.length >= 6) text = text.split(value).join(REDACTED);
  if (status === 429) {
    const retryAfter = Number(e?.response?.headers.get('retry-after') ?? '');
    return new RateLimitedError(text, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 10_000);
  }
  // No status: the request never got an answer (DNS, TLS, reset). 409 outside the
  // soft-delete case means "being deleted / being recovered", which passes.
  if (status === undefined || status >= 500 || status === 408 || status === 409) return new RetryableError(text);
  return new UnrecoverableError(text);
}

export class KeyVaultSecretStore implements SecretStore {
  private readonly pollIntervalMs: number;
  private readonly pingSecretName: string;

  constructor(private readonly client: SecretClientLike, options: KeyVaultStoreOptions = {}) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.pingSecretName = options.pingSecretName ?? 'castiel-ping';
  }

  async get(name: string): Promise<SecretValue | undefined> {
    assertSecretName(name);
    try {
      return toSecretValue(await this.client.getSecret(name));
    } catch (err) {
      const e = asRestError(err);
      if (e?.statusCode === 404) return undefined;
      // Key Vault refuses to read a disabled current version; fall back to the newest enabled one.
      if (e?.statusCode === 403 && innerCode(e) === 'SecretDisabled') return this.latestEnabled(name);
      throw toStoreError('get', name, err);
    }
  }

  async set(name: string, value: string, options: SecretWrite = {}): Promise<SecretValue> {
    assertSecretWrite(name, value, options);
    const setOptions = toSetOptions(options);
    const write = async (): Promise<SecretValue> => toSecretValue(await this.client.setSecret(name, value, setOptions));
    try {
      return await write();
    } catch (err) {
      const e = asRestError(err);
      if (!e || !isDeletedButRecoverable(e)) throw toStoreError('set', name, err, value);
    }
    // The name is soft-deleted: Key Vault only lets us recover or purge it.
    // Recover (keeps history, needs no purge right) and then write the new version.
    try {
      const poller = await this.client.beginRecoverDeletedSecret(name, { intervalInMs: this.pollIntervalMs });
      await poller.pollUntilDone();
    } catch (err) {
      throw toStoreError('recover', name, err);
    }
    try {
      return await write();
    } catch (err) {
      throw toStoreError('set', name, err, value);
    }
  }

  async delete(name: string): Promise<boolean> {
    assertSecretName(name);
    try {
      const poller = await this.client.beginDeleteSecret(name, { intervalInMs: this.pollIntervalMs });
      await poller.pollUntilDone();
      return true;
    } catch (err) {
      if (asRestError(err)?.statusCode === 404) return false;
      throw toStoreError('delete', name, err);
    }
  }

  async ping(): Promise<void> {
    await this.get(this.pingSecretName);
  }

  /** SecretClient holds no sockets of its own to release (the pipeline's agent is shared). */
  async close(): Promise<void> {
    // Nothing to release.
  }

  private async latestEnabled(name: string): Promise<SecretValue | undefined> {
    let best: { version: string; created: number } | undefined;
    try {
      for await (const p of this.client.listPropertiesOfSecretVersions(name)) {
        if (p.enabled !== true || p.version === undefined) continue;
        // Listing order is not creation order in Key Vault; createdOn has 1 s resolution, so ties go to the later listed.
        const created = p.createdOn?.getTime() ?? 0;
        if (!best || created >= best.created) best = { version: p.version, created };
      }
      if (!best) return undefined;
      return toSecretValue(await this.client.getSecret(name, { version: best.version }));
    } catch (err) {
      if (asRestError(err)?.statusCode === 404) return undefined;
      throw toStoreError('get', name, err);
    }
  }
}

function toSetOptions(options: SecretWrite): SetSecretOptions {
  const { expiresOn, contentType, abortSignal } = options;
  return {
    tags: { ...(options.tags ?? {}) },
    ...(contentType !== undefined ? { contentType } : {}),
    ...(expiresOn !== undefined ? { expiresOn } : {}),
    // The pipeline stops retrying once it fires (credential writers bound writes by their lease).
    ...(abortSignal !== undefined ? { abortSignal } : {}),
  };
}

function toSecretValue(secret: KeyVaultSecret): SecretValue {
  const { value, properties } = secret;
  if (value === undefined || properties.version === undefined) {
    throw new RetryableError(`Key Vault returned secret "${secret.name}" without a value or version`);
  }
  const out: SecretValue = { name: secret.name, value, version: properties.version, tags: { ...(properties.tags ?? {}) } };
  if (properties.contentType !== undefined) out.contentType = properties.contentType;
  if (properties.expiresOn !== undefined) out.expiresOn = properties.expiresOn;
  return out;
}

/**
 * Build the store over a new SecretClient. In Azure pass a
 * ManagedIdentityCredential; in tests, any TokenCredential plus
 * `{ disableChallengeResourceVerification: true, tlsOptions: { ca } }`.
 */
export function createKeyVaultStore(
  vaultUrl: string,
  credential: TokenCredential,
  options: KeyVaultStoreOptions & { client?: KeyVaultClientOptions } = {},
): KeyVaultSecretStore {
  const { client: clientOptions, ...storeOptions } = options;
  return new KeyVaultSecretStore(new SecretClient(vaultUrl, credential, { ...clientOptions }), storeOptions);
}
