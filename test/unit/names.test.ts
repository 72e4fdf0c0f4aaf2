/**
 * One source of truth for names: the constants in shared/ against local.settings.sample.json, host.json
 * and the infrastructure.
 *
 * The infrastructure is read from infra/main.json, the ARM template the real Bicep compiler writes
 * (`npm run infra:build`; .ci/run fails when it is stale), so no Bicep is parsed here. What moved from value
 * checks to expression checks: a value Azure only knows at deployment time stays an ARM expression in the
 * JSON (an endpoint, the identity's ids, a Key Vault secret URI), so those checks match the expression text
 * (which output or resource it reads, which format it builds) instead of a value. Names, queue and container
 * settings, partition keys, TTL, the setting keys, literal setting values and the runtime are literals or
 * single `variables()`/`parameters()` references and are still checked as values (test/helpers/arm-template.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_SETTINGS, loadSettings, settingsSchema } from '../../shared/config/settings';
import { DUPLICATE_DETECTION_WINDOW_MS, MAX_DELIVERY_COUNT, QUEUES } from '../../shared/messaging/names';
import { CONTAINERS, PARTITION_KEY_PATH } from '../../shared/storage/names';
import { SERVICE_BUS_CONNECTION } from '../../functions/definitions';
import { ORDER_FIELDS } from '../../shared/adapters';
import { at, flatten, isExpression, loadMainTemplate, namesOf, resolve, ROOT, type ArmResource } from '../helpers/arm-template';

// ---------------------------------------------------------------- helpers

function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function readJson(rel: string): Record<string, unknown> {
  return asRecord(JSON.parse(readFileSync(join(ROOT, rel), 'utf8')) as unknown, rel);
}

/** Names `where` lacks and names it has beyond `expected`, sorted, labelled for a readable Jest diff. */
function drift(where: string, expected: Iterable<string>, actual: Iterable<string>): Record<string, string[]> {
  const e = new Set(expected);
  const a = new Set(actual);
  return { [`missing from ${where}`]: [...e].filter((n) => !a.has(n)).sort(), [`extra in ${where}`]: [...a].filter((n) => !e.has(n)).sort() };
}

function noDrift(where: string): Record<string, string[]> {
  return { [`missing from ${where}`]: [], [`extra in ${where}`]: [] };
}

function duplicates(names: string[]): string[] {
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
}

/** ISO 8601 duration (days and time parts) in ms. */
function durationMs(iso: unknown): number | undefined {
  const m = typeof iso === 'string' ? /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(iso) : null;
  if (!m) return undefined;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [number, number, number, number];
  return (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
}

const schemaKeys = Object.keys(settingsSchema.shape);

/** Schema settings that only the local runtime reads, with why Azure must not set them. */
const LOCAL_ONLY: Record<string, string> = {
  PORT: 'the local host port; the Functions host owns HTTP in Azure',
  SANDBOX: 'the local provider sandbox',
  LOCAL_SECRETS_KEY: 'the local secret store; Key Vault is used in Azure',
  LOCAL_DATA_DIR: 'the local data directory',
  COSMOS_KEY: 'Cosmos key auth is disabled in Azure; the identity has a data-plane role',
};

/** Never set in Azure: AZURE_CLIENT_ID changes DefaultAzureCredential app-wide; the rest are deprecated on Flex Consumption. */
const FORBIDDEN_IN_AZURE = ['AZURE_CLIENT_ID', 'FUNCTIONS_WORKER_RUNTIME', 'FUNCTIONS_EXTENSION_VERSION', 'WEBSITE_RUN_FROM_PACKAGE', 'WEBSITE_CONTENTSHARE', 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'];

/** Settings whose values are secrets: app settings must hold Key Vault references to these secrets. */
const SECRET_SETTINGS: Record<string, { secret: string; output: string }> = {
  ADMIN_API_KEY: { secret: 'admin-api-key', output: 'adminApiKeySecretUri' },
  OAUTH_STATE_KEY: { secret: 'oauth-state-key', output: 'oauthStateKeySecretUri' },
};

// Read lazily, so a malformed main.json fails the tests that need it, with the reason.
let resources: ArmResource[] | undefined;
const infra = (): ArmResource[] => (resources ??= flatten(loadMainTemplate()));
const ofType = (type: string): ArmResource[] => infra().filter((r) => r.type.toLowerCase() === type.toLowerCase());

/** Every instance of every resource of `type`, with its (last) name segment and copy index. */
function named(type: string): { r: ArmResource; name: string; index: number }[] {
  return ofType(type).flatMap((r) => namesOf(r).map((name, index) => ({ r, name, index })));
}

/** The one module deployment named `name` (e.g. castiel-functionapp). */
function moduleNamed(name: string): ArmResource {
  const found = ofType('Microsoft.Resources/deployments').filter((d) => d.name === name);
  expect(found.map((d) => d.name)).toEqual([name]);
  return found[0]!;
}

/** A reference to a module output, as the compiler writes it: reference(resourceId('Microsoft.Resources/deployments', '<module>'), …).outputs.<name>.value */
const outputOf = (module: string, output: string): RegExp =>
  new RegExp(`reference\\(resourceId\\('Microsoft\\.Resources/deployments', '${module}'\\), '[^']+'\\)\\.outputs\\.${output}\\.value`);

// ---------------------------------------------------------------- tests

describe('local.settings.sample.json', () => {
  const sample = readJson('local.settings.sample.json');
  const values = asRecord(sample.Values, 'local.settings.sample.json Values');

  it('lists exactly the settings schema keys plus HOST_SETTINGS', () => {
    const where = 'local.settings.sample.json (vs settingsSchema + HOST_SETTINGS)';
    expect(drift(where, [...schemaKeys, ...HOST_SETTINGS], Object.keys(values))).toEqual(noDrift(where));
  });

  it('is a valid, unencrypted settings file whose values are strings', () => {
    expect(sample.IsEncrypted).toBe(false);
    expect(Object.entries(values).filter(([, v]) => typeof v !== 'string').map(([k]) => k)).toEqual([]);
    expect(values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
  });

  it('parses with the settings schema and selects the embedded profile', () => {
    const settings = loadSettings(values as Record<string, string>);
    expect(settings.ServiceBusConnection__fullyQualifiedNamespace).toBeUndefined();
    expect(settings.COSMOS_ENDPOINT).toBeUndefined();
    expect(settings.KEY_VAULT_URL).toBeUndefined();
  });
});

describe('infra: the compiled template', () => {
  it('declares no Azure Cache for Redis (retiring) and lists no keys anywhere', () => {
    expect(ofType('Microsoft.Cache/redis')).toEqual([]);
    expect(readFileSync(join(ROOT, 'infra', 'main.json'), 'utf8')).not.toMatch(/\blist(Keys|ConnectionStrings|Secrets)\s*\(/);
  });
});

describe('infra: Service Bus queues', () => {
  const queues = (): ReturnType<typeof named> => named('Microsoft.ServiceBus/namespaces/queues');

  it('declares exactly the queues in QUEUES, once each', () => {
    const names = queues().map((q) => q.name);
    const where = 'infra Service Bus queues (vs QUEUES)';
    expect(drift(where, Object.values(QUEUES), names)).toEqual(noDrift(where));
    expect(duplicates(names)).toEqual([]);
  });

  it('matches the delivery and duplicate-detection settings the code assumes', () => {
    for (const { r, name } of queues()) {
      const prop = (path: string): unknown => resolve(at(r.properties, path), r.scope);
      expect({
        queue: name,
        maxDeliveryCount: prop('maxDeliveryCount'),
        requiresDuplicateDetection: prop('requiresDuplicateDetection'),
        duplicateDetectionWindowMs: durationMs(prop('duplicateDetectionHistoryTimeWindow')),
        deadLetteringOnMessageExpiration: prop('deadLetteringOnMessageExpiration'),
      }).toEqual({
        queue: name,
        maxDeliveryCount: MAX_DELIVERY_COUNT,
        requiresDuplicateDetection: true,
        duplicateDetectionWindowMs: DUPLICATE_DETECTION_WINDOW_MS,
        deadLetteringOnMessageExpiration: true,
      });
    }
  });
});

describe('infra: Cosmos DB', () => {
  const containers = (): ReturnType<typeof named> => named('Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers');

  it('declares exactly the containers in CONTAINERS, once each', () => {
    const names = containers().map((c) => c.name);
    const where = 'infra Cosmos containers (vs CONTAINERS)';
    expect(drift(where, Object.values(CONTAINERS), names)).toEqual(noDrift(where));
    expect(duplicates(names)).toEqual([]);
  });

  it(`partitions every container on ${PARTITION_KEY_PATH} and enables item-level TTL`, () => {
    for (const { r, name, index } of containers()) {
      const paths = at(r.properties, 'resource.partitionKey.paths');
      const ttl = resolve(at(r.properties, 'resource.defaultTtl'), r.scope);
      expect({
        container: name,
        id: resolve(at(r.properties, 'resource.id'), r.scope, index),
        partitionKeyPaths: Array.isArray(paths) ? paths.map((p) => resolve(p, r.scope, index)) : paths,
        // -1: TTL on without a default expiry, so a document's own `ttl` works.
        ttlEnabled: typeof ttl === 'number' && (ttl === -1 || ttl > 0),
      }).toEqual({ container: name, id: name, partitionKeyPaths: [PARTITION_KEY_PATH], ttlEnabled: true });
    }
  });

  it('declares a composite index for every ORDER_FIELDS entry (Cosmos needs one to ORDER BY field, id)', () => {
    const [first] = containers();
    const scope = first!.r.scope;
    // Value check: the per-container sort field the module indexes.
    const declared = asRecord(resolve("[variables('orderFields')]", scope), 'cosmos orderFields');
    expect(Object.fromEntries(Object.entries(declared).map(([c, f]) => [c, [f]]))).toEqual(Object.fromEntries(Object.entries(ORDER_FIELDS).map(([c, f]) => [c, [...f]])));
    // Expression check: each container takes its own entry of a map built from orderFields (a lambda in ARM).
    for (const { r } of containers()) {
      expect(at(r.properties, 'resource.indexingPolicy.compositeIndexes')).toBe("[variables('compositeIndexes')[variables('containerNames')[copyIndex()]]]");
    }
    expect(scope.template.variables.compositeIndexes).toEqual(expect.stringMatching(/^\[toObject\(variables\('containerNames'\),.*variables\('orderFields'\)/));
  });

  it('names the database as the COSMOS_DATABASE default', () => {
    const dbs = named('Microsoft.DocumentDB/databaseAccounts/sqlDatabases').map((d) => d.name);
    expect(dbs).toEqual([settingsSchema.shape.COSMOS_DATABASE.parse(undefined)]);
  });
});

describe('infra: function app settings', () => {
  const functionApp = (): ArmResource => moduleNamed('castiel-functionapp');
  const appSettings = (): Record<string, unknown> => asRecord(resolve("[parameters('appSettings')]", functionApp().nested!), 'appSettings passed to castiel-functionapp');

  it('are passed to the function app module as one object and applied to the site as its appsettings', () => {
    expect(Object.keys(appSettings()).length).toBeGreaterThan(0);
    const configs = ofType('Microsoft.Web/sites/config').filter((r) => namesOf(r)[0] === 'appsettings');
    expect(configs).toHaveLength(1);
    // Expression check: the module's appSettings, plus what only the site knows.
    expect(configs[0]!.properties).toEqual(expect.stringMatching(/^\[union\(parameters\('appSettings'\), /));
  });

  it('only exempts schema keys that exist', () => {
    expect(Object.keys(LOCAL_ONLY).filter((k) => !schemaKeys.includes(k))).toEqual([]);
  });

  /** Set by modules/functionapp.bicep itself, where the value first exists (the site's own host name). */
  const SET_BY_SITE_MODULE = ['PUBLIC_BASE_URL'];

  it('the site module sets the settings only it can know', () => {
    const config = ofType('Microsoft.Web/sites/config').find((r) => namesOf(r)[0] === 'appsettings');
    for (const key of SET_BY_SITE_MODULE) {
      const set = typeof config?.properties === 'string' && config.properties.includes(`createObject('${key}', format('https://{0}', reference(resourceId('Microsoft.Web/sites', parameters('name')), `);
      expect({ key, set }).toEqual({ key, set: true });
    }
  });

  it('set every Azure-relevant key the settings schema reads', () => {
    const required = schemaKeys.filter((k) => !(k in LOCAL_ONLY) && !SET_BY_SITE_MODULE.includes(k));
    const settings = appSettings();
    expect({ 'missing from appSettings in infra/main.bicep': required.filter((k) => !(k in settings)) }).toEqual({ 'missing from appSettings in infra/main.bicep': [] });
  });

  it('leave local-only, deprecated and global-identity settings unset', () => {
    const forbidden = [...Object.keys(LOCAL_ONLY), ...FORBIDDEN_IN_AZURE];
    expect({ 'set but must not be': Object.keys(appSettings()).filter((n) => forbidden.includes(n)) }).toEqual({ 'set but must not be': [] });
  });

  it('hold literal values the settings schema accepts', () => {
    // Deployment-time values (expressions) are left out; each literal must parse as its key's schema does.
    const shape: Record<string, { safeParse(v: unknown): { success: boolean } }> = settingsSchema.shape;
    const literals = Object.entries(appSettings()).filter(([k, v]) => k in shape && typeof v === 'string' && !isExpression(v));
    expect(literals.length).toBeGreaterThan(5);
    expect(literals.filter(([k, v]) => !shape[k]!.safeParse(v).success).map(([k]) => k)).toEqual([]);
  });

  it('keep secrets in Key Vault: secret settings are Key Vault references to the secrets the vault module writes', () => {
    const settings = appSettings();
    const vaultSecrets = named('Microsoft.KeyVault/vaults/secrets').map((s) => s.name);
    const vault = moduleNamed('castiel-keyvault').nested!;
    for (const [key, { secret, output }] of Object.entries(SECRET_SETTINGS)) {
      const value = settings[key];
      // Expression checks: a Key Vault reference built from the vault module's secret URI output, which is that secret's.
      expect({
        key,
        keyVaultReference: typeof value === 'string' && value.startsWith("[format('@Microsoft.KeyVault(SecretUri={0})', ") && outputOf('castiel-keyvault', output).test(value),
        secretDeclared: vaultSecrets.includes(secret),
        outputIsSecretUri: String(vault.template.outputs[output]?.value).includes(`'${secret}'`),
      }).toEqual({ key, keyVaultReference: true, secretDeclared: true, outputIsSecretUri: true });
    }
  });

  it('connect to Azure Managed Redis over TLS with Entra ID, as the identity the database grants access to', () => {
    const settings = appSettings();
    const redis = moduleNamed('castiel-redis');
    const [db] = ofType('Microsoft.Cache/redisEnterprise/databases');
    const prop = (path: string): unknown => resolve(at(db!.properties, path), db!.scope);
    expect({
      clientProtocol: prop('clientProtocol'),
      port: prop('port'),
      clusteringPolicy: prop('clusteringPolicy'),
      accessKeysAuthentication: prop('accessKeysAuthentication'),
      REDIS_AUTH: settings.REDIS_AUTH,
    }).toEqual({ clientProtocol: 'Encrypted', port: 10000, clusteringPolicy: 'EnterpriseCluster', accessKeysAuthentication: 'Disabled', REDIS_AUTH: 'entra' });
    // Expression checks: the URL is rediss://<the cluster host>:<the database port>, with no password in it.
    expect(settings.REDIS_URL).toEqual(expect.stringMatching(/^\[format\('rediss:\/\/\{0\}:\{1\}', /));
    expect(outputOf('castiel-redis', 'hostName').test(String(settings.REDIS_URL)) && outputOf('castiel-redis', 'port').test(String(settings.REDIS_URL))).toBe(true);
    // The Redis username is the identity's object id, the same one the access policy assignment names.
    const [assignment] = ofType('Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments');
    expect(resolve(at(assignment!.properties, 'accessPolicyName'), assignment!.scope)).toBe('default');
    const grantedTo = resolve(at(assignment!.properties, 'user.objectId'), assignment!.scope);
    expect(grantedTo).toEqual(expect.stringMatching(/userAssignedIdentities.*\.principalId\]$/));
    expect(settings.REDIS_ENTRA_USERNAME).toBe(grantedTo);
    expect(redis.nested?.passed?.principalId?.value).toBe(grantedTo);
  });

  it('use identity-based connections for Service Bus and host storage, all with the one identity', () => {
    const settings = appSettings();
    const names = Object.keys(settings);
    expect(names).toEqual(expect.arrayContaining([`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`, `${SERVICE_BUS_CONNECTION}__clientId`]));
    expect(settings[`${SERVICE_BUS_CONNECTION}__credential`]).toBe('managedidentity');
    // HOST_SETTINGS: AzureWebJobsStorage, identity-based in Azure.
    expect(names.some((n) => n === 'AzureWebJobsStorage__accountName' || n === 'AzureWebJobsStorage__blobServiceUri')).toBe(true);
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    // Expression check: every client id is the user-assigned identity's clientId.
    const clientIds = ['AzureWebJobsStorage__clientId', `${SERVICE_BUS_CONNECTION}__clientId`, 'MANAGED_IDENTITY_CLIENT_ID'].map((k) => settings[k]);
    expect(new Set(clientIds).size).toBe(1);
    expect(clientIds[0]).toEqual(expect.stringMatching(/userAssignedIdentities.*\.clientId\]$/));
  });

  it('run the Flex Consumption app on the runtime the sample names (FUNCTIONS_WORKER_RUNTIME), Node 22, as the identity', () => {
    const sites = ofType('Microsoft.Web/sites');
    expect(sites).toHaveLength(1);
    const site = sites[0]!;
    const sampleRuntime = asRecord(readJson('local.settings.sample.json').Values, 'Values').FUNCTIONS_WORKER_RUNTIME;
    expect({
      name: resolve(at(site.properties, 'functionAppConfig.runtime.name'), site.scope),
      version: resolve(at(site.properties, 'functionAppConfig.runtime.version'), site.scope),
      identity: at(site.identity, 'type'),
      keyVaultReferenceIdentity: at(site.properties, 'keyVaultReferenceIdentity'),
    }).toEqual({ name: sampleRuntime, version: '22', identity: 'UserAssigned', keyVaultReferenceIdentity: "[parameters('identityId')]" });
  });
});

describe('host.json', () => {
  const host = readJson('host.json');
  const extensions = asRecord(host.extensions, 'host.json extensions');
  const serviceBus = asRecord(extensions.serviceBus, 'host.json extensions.serviceBus');

  it('uses host version 2.0 and extension bundle [4.*, 5.0.0)', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('configures the Service Bus 5.x extension with flat settings, not the 4.x option blocks', () => {
    expect(Object.keys(serviceBus)).toEqual(expect.arrayContaining(['prefetchCount', 'maxConcurrentCalls', 'autoCompleteMessages', 'maxAutoLockRenewalDuration', 'clientRetryOptions']));
    const legacy: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (typeof v !== 'object' || v === null) return;
      for (const [k, child] of Object.entries(v)) {
        if (['messageHandlerOptions', 'sessionHandlerOptions', 'batchOptions'].includes(k)) legacy.push(`${path}.${k}`);
        walk(child, `${path}.${k}`);
      }
    };
    walk(host, 'host');
    expect(legacy).toEqual([]);
  });

  it('serves HTTP under /api, as the local host does', () => {
    expect(asRecord(extensions.http, 'host.json extensions.http').routePrefix).toBe('api');
  });
});
