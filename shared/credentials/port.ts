/** A secret as read: the value, and the version it came from. */
export interface SecretValue {
  name: string;
  value: string;
  version: string;
  tags: Record<string, string>;
  contentType?: string;
  expiresOn?: Date;
}

export interface SecretWrite {
  tags?: Record<string, string>;
  contentType?: string;
  expiresOn?: Date;
  /**
   * Abandon the write when this fires (a credential writer's lease ran out):
   * no retry is sent after it, so a writer whose lock expired cannot land a
   * write after the next lock holder has read the secret.
   */
  abortSignal?: AbortSignal;
}

/**
 * Secret store port: Key Vault in Azure, a local store encrypted at rest when
 * embedded. Names follow Key Vault rules: 1–127 of [0-9a-zA-Z-].
 * Each write makes a new version.
 */
export interface SecretStore {
  get(name: string): Promise<SecretValue | undefined>;
  set(name: string, value: string, options?: SecretWrite): Promise<SecretValue>;
  /** Delete all versions; false when absent. */
  delete(name: string): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const SECRET_NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;

export class SecretNameError extends Error {
  constructor(name: string) {
    super(`Invalid secret name (1-127 of 0-9, a-z, A-Z, -): ${JSON.stringify(name.slice(0, 40))}`);
    this.name = 'SecretNameError';
  }
}

export function assertSecretName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) throw new SecretNameError(name);
}
