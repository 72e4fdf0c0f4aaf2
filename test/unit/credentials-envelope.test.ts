import fc from 'fast-check';
import {
  credentialWriteOptions,
  mergeRefreshed,
  oauthClientSecretName,
  parseStoredCredential,
  registerCredentialStrings,
  rotatedWebhookSecretName,
  serializeCredential,
  type CredentialContent,
} from '../../shared/credentials/envelope';
import { SECRET_NAME_PATTERN, type SecretValue } from '../../shared/credentials/port';
import { secretNameFor } from '../../shared/domain/ids';
import { ID_PATTERN } from '../../shared/domain/types';
import { AuthError } from '../../shared/errors';
import { scrub } from '../../shared/observability/logger';
import type { ProviderDefinition } from '../../shared/providers/types';
import { createFakeOAuthProvider } from '../helpers/fake-oauth-provider';

const provider: ProviderDefinition = createFakeOAuthProvider();
const NOW = new Date('2026-03-01T12:00:00Z');
const integration = { tenantId: 'acme', id: 'int-1' };
const oauth = { type: 'oauth', accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: NOW.getTime() + 3_600_000, clientId: 'c', clientSecret: 's' };
const secret = (value: string): SecretValue => ({ name: 'cred-x', value, version: 'v1', tags: {} });

describe('credential envelope', () => {
  it('reads back what it writes, with the generation and the provider-stated access expiry', () => {
    const content: CredentialContent = { kind: 'oauth', credentials: oauth, createdAt: '2026-01-01T00:00:00.000Z', maxAgeDays: 30 };
    const parsed = parseStoredCredential(secret(serializeCredential('fakeoauth', 7, content, NOW)), provider);
    expect(parsed).toMatchObject({ version: 'v1', generation: 7, kind: 'oauth', credentials: oauth, createdAt: content.createdAt, updatedAt: NOW.toISOString(), maxAgeDays: 30 });
    expect(parsed.accessExpiresAt).toBe(oauth.expiresAt);
  });

  it('reads raw provider JSON written before envelopes as generation 0', () => {
    const parsed = parseStoredCredential(secret(JSON.stringify({ type: 'api_key', apiKey: 'k-123456' })), provider);
    expect(parsed).toMatchObject({ kind: 'legacy', generation: 0, credentials: { type: 'api_key', apiKey: 'k-123456' } });
  });

  it('turns unreadable values into an AuthError that names paths, never values', () => {
    const marker = 'VALUE-MARKER-4242';
    expect(() => parseStoredCredential(secret(`{"broken": "${marker}"`), provider)).toThrow(AuthError);
    const wrong = serializeCredential('fakeoauth', 1, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 42, note: marker }, createdAt: NOW.toISOString() }, NOW);
    let error: unknown;
    try {
      parseStoredCredential(secret(wrong), provider);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/apiKey/);
    expect((error as Error).message).not.toContain(marker);
  });

  it('sets Key Vault expiry only where the whole credential dies then', () => {
    const refreshable = credentialWriteOptions(integration, provider, 3, { kind: 'oauth', credentials: oauth, createdAt: NOW.toISOString() });
    expect(refreshable.expiresOn).toBeUndefined();
    expect(refreshable.tags).toEqual({ tenant: 'acme', integration: 'int-1', provider: 'fakeoauth', kind: 'oauth', generation: '3' });
    expect(refreshable.contentType).toBe('application/json');

    const stated = credentialWriteOptions(integration, provider, 1, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k' }, createdAt: NOW.toISOString(), expiresAt: '2026-06-01T00:00:00Z' });
    expect(stated.expiresOn?.toISOString()).toBe('2026-06-01T00:00:00.000Z');

    // An OAuth token stored as a static kind cannot be refreshed: its access expiry is the end.
    const unrefreshable = credentialWriteOptions(integration, provider, 1, { kind: 'internal-token', credentials: oauth, createdAt: NOW.toISOString() });
    expect(unrefreshable.expiresOn?.getTime()).toBe(oauth.expiresAt);

    const beyond2038 = credentialWriteOptions(integration, provider, 1, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k' }, createdAt: NOW.toISOString(), expiresAt: '2040-01-01T00:00:00Z' });
    expect(beyond2038.expiresOn).toBeUndefined();
  });

  it('keeps the old refresh token when a refresh response has none', () => {
    const next = { type: 'oauth', accessToken: 'at-2', refreshToken: undefined, expiresAt: 5, clientId: 'c', clientSecret: 's' };
    expect(mergeRefreshed(oauth, next)).toEqual({ ...oauth, accessToken: 'at-2', expiresAt: 5 });
    expect(mergeRefreshed(oauth, { ...next, refreshToken: 'rt-2' })).toMatchObject({ refreshToken: 'rt-2' });
  });

  it('registers secret-looking strings with the log scrubber, not type names', () => {
    registerCredentialStrings({ type: 'service_account', privateKey: 'pk-short-1', clientEmail: 'a@b.c', nested: { token: 'tok-abc-123' } });
    expect(scrub('key pk-short-1 and tok-abc-123')).toBe('key [redacted] and [redacted]');
    expect(scrub('service_account a@b.c')).toBe('service_account a@b.c');
  });
});

describe('secret names', () => {
  const id = fc.stringMatching(ID_PATTERN);

  it('are valid Key Vault names and differ between credentials of one integration', () => {
    fc.assert(
      fc.property(id, id, (tenantId, integrationId) => {
        const names = [
          secretNameFor('cred', tenantId, integrationId),
          secretNameFor('whsec', tenantId, integrationId),
          oauthClientSecretName(tenantId, integrationId),
          rotatedWebhookSecretName(tenantId, integrationId, 'mabc123def0'),
        ];
        return names.every((n) => SECRET_NAME_PATTERN.test(n)) && new Set(names).size === names.length;
      }),
    );
  });

  it('do not collide across tenant/integration splits', () => {
    expect(oauthClientSecretName('ab', 'c')).not.toBe(oauthClientSecretName('a', 'bc'));
  });
});
