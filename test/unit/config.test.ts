import { ConfigError, loadSettings } from '../../shared/config/settings';

test('defaults give the embedded profile with nothing set', () => {
  const s = loadSettings({});
  expect(s).toMatchObject({ PORT: 7071, LOG_LEVEL: 'info', SANDBOX: 'on', WEBHOOK_MAX_BODY_BYTES: 1024 * 1024 });
  expect(s.COSMOS_ENDPOINT).toBeUndefined();
});

test('one error lists every bad variable by name, without their values', () => {
  let error: unknown;
  try {
    loadSettings({ PORT: 'eighty', LOG_LEVEL: 'loud', REDIS_URL: 'http://nope', ADMIN_API_KEY: 'short-secret' });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems.join('\n');
  for (const key of ['PORT', 'LOG_LEVEL', 'REDIS_URL', 'ADMIN_API_KEY']) expect(problems).toContain(key);
  expect((error as Error).message).not.toContain('short-secret');
});

test('the Azure profile (Service Bus set) requires the other Azure settings', () => {
  expect(() => loadSettings({ ServiceBusConnection__fullyQualifiedNamespace: 'castiel.servicebus.windows.net' })).toThrow(
    /COSMOS_ENDPOINT[\s\S]*KEY_VAULT_URL[\s\S]*REDIS_URL[\s\S]*ADMIN_API_KEY/,
  );
});

test('an unresolved Key Vault reference is refused, not used as a key', () => {
  expect(() => loadSettings({ ADMIN_API_KEY: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/admin-api-key)' })).toThrow(
    /ADMIN_API_KEY: is an unresolved Key Vault reference/,
  );
});

test('empty strings count as unset (local.settings.json leaves optional Azure settings empty)', () => {
  expect(loadSettings({ COSMOS_ENDPOINT: '', KEY_VAULT_URL: '' }).COSMOS_ENDPOINT).toBeUndefined();
});
