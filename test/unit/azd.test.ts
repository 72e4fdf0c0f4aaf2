/**
 * `azd up` from a clean checkout, on paper: every piece the Azure Developer CLI reads is present and agrees
 * with the others. azure.yaml names the service and how it is built; the compiled template (infra/main.json)
 * tags the function app with that service name and outputs what azd stores; infra/main.parameters.json fills
 * every required parameter from the azd environment; .funcignore keeps the package to what the worker loads.
 *
 * YAML, .gitignore-style matching and semver ranges are read with js-yaml, ignore and semver (devDependencies); the
 * rest of the dev toolchain installs them too; their output is validated here like any unknown input.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { z } from 'zod';
import { at, flatten, loadMainTemplate, resolve, ROOT, type ArmResource } from '../helpers/arm-template';

const requireDev = createRequire(__filename);
const yaml = requireDev('js-yaml') as { load(text: string): unknown };
const ignore = requireDev('ignore') as () => { add(patterns: string): { ignores(path: string): boolean } };
const semver = requireDev('semver') as { satisfies(version: string, range: string): boolean; major(version: string): number; minVersion(range: string): { version: string } | null };

const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

const hookSchema = z.object({ run: z.string(), shell: z.enum(['sh', 'pwsh']).optional() }).loose();
const azureYamlSchema = z.object({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  infra: z.object({ provider: z.literal('bicep'), path: z.string(), module: z.string() }).loose().optional(),
  services: z.record(
    z.string(),
    z
      .object({
        project: z.string(),
        language: z.string(),
        host: z.string(),
        remoteBuild: z.boolean().optional(),
        hooks: z.record(z.string(), hookSchema).optional(),
      })
      .loose(),
  ),
});

const packageSchema = z.object({
  main: z.string(),
  engines: z.object({ node: z.string() }),
  devDependencies: z.record(z.string(), z.string()),
});

const azureYaml = azureYamlSchema.parse(yaml.load(read('azure.yaml')));
const pkg = packageSchema.parse(JSON.parse(read('package.json')) as unknown);
const template = loadMainTemplate();
const resources = flatten(template);
const ofType = (type: string): ArmResource[] => resources.filter((r) => r.type === type);

describe('azure.yaml', () => {
  it('has one service, api: this folder, TypeScript on a function app, deployed as built here', () => {
    expect(Object.keys(azureYaml.services)).toEqual(['api']);
    const api = azureYaml.services.api!;
    expect({ project: api.project, language: api.language, host: api.host, remoteBuild: api.remoteBuild }).toEqual({ project: '.', language: 'ts', host: 'function', remoteBuild: false });
  });

  it('builds from a clean install before packaging and ships production dependencies only', () => {
    const hooks = azureYaml.services.api!.hooks ?? {};
    const prepackage = hooks.prepackage?.run ?? '';
    expect(prepackage.split('&&').map((s) => s.trim())).toEqual(['npm ci', 'npm run build', 'npm prune --omit=dev']);
    // The working copy gets its dev dependencies back afterwards.
    expect(hooks.postpackage?.run).toMatch(/^npm install\b/);
  });

  it('points at the Bicep entry point whose compiled template and parameters file exist', () => {
    const infra = azureYaml.infra ?? { path: 'infra', module: 'main' };
    for (const ext of ['bicep', 'json', 'parameters.json']) expect({ ext, exists: existsSync(join(ROOT, infra.path, `${infra.module}.${ext}`)) }).toEqual({ ext, exists: true });
  });
});

describe('the function app azd deploys to', () => {
  it('is the one resource tagged azd-service-name with the azure.yaml service name', () => {
    const [service] = Object.keys(azureYaml.services);
    const sites = ofType('Microsoft.Web/sites');
    expect(sites).toHaveLength(1);
    const site = sites[0]!;
    // Expression check: the site's tags add azd-service-name from the module's serviceName parameter.
    expect(site.tags).toEqual(expect.stringContaining("createObject('azd-service-name', parameters('serviceName'))"));
    expect(resolve("[parameters('serviceName')]", site.scope)).toBe(service);
    // No other resource carries the tag (azd refuses a service that matches two resources).
    const others = resources.filter((r) => r !== site && JSON.stringify(r.tags ?? null).includes('azd-service-name'));
    expect(others.map((r) => r.type)).toEqual([]);
  });

  it('runs Node 22, which the engines range admits along with the Node that runs these tests', () => {
    const site = ofType('Microsoft.Web/sites')[0]!;
    const runtime = String(resolve(at(site.properties, 'functionAppConfig.runtime.version'), site.scope));
    expect(runtime).toBe('22');
    expect(semver.satisfies(`${runtime}.12.0`, pkg.engines.node)).toBe(true);
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
    // Types for the deployed runtime (a Node 22 API used on Node 20 fails the tests, which run on Node 20 here).
    expect(semver.major(semver.minVersion(pkg.devDependencies['@types/node'] ?? '')?.version ?? '0.0.0')).toBe(Number(runtime));
  });

  it('keeps the HTTP group warm on Flex Consumption (always-ready instances, a parameter that defaults to one)', () => {
    const site = ofType('Microsoft.Web/sites')[0]!;
    expect(at(site.properties, 'functionAppConfig.scaleAndConcurrency.alwaysReady')).toEqual(
      expect.stringContaining("createObject('name', 'http', 'instanceCount', parameters('alwaysReadyHttpInstances'))"),
    );
    // The module's value is main.bicep's parameter, which defaults to one instance.
    expect(site.scope.passed?.alwaysReadyHttpInstances?.value).toBe("[parameters('alwaysReadyHttpInstances')]");
    expect(resolve("[parameters('alwaysReadyHttpInstances')]", site.scope)).toBe(1);
  });
});

describe('infra/main.json for azd', () => {
  it('outputs what azd and its templates read', () => {
    const [service] = Object.keys(azureYaml.services);
    const prefix = `SERVICE_${service!.toUpperCase()}`;
    expect(Object.keys(template.outputs)).toEqual(expect.arrayContaining(['AZURE_LOCATION', 'AZURE_TENANT_ID', 'AZURE_RESOURCE_GROUP', `${prefix}_NAME`, `${prefix}_URI`]));
    expect(template.outputs.AZURE_LOCATION?.value).toBe("[parameters('location')]");
    expect(template.outputs.AZURE_TENANT_ID?.value).toBe('[tenant().tenantId]');
  });

  it('takes every parameter without a default, and every secret, from the azd environment', () => {
    const file = z
      .object({ parameters: z.record(z.string(), z.object({ value: z.unknown() })) })
      .parse(JSON.parse(read('infra/main.parameters.json')) as unknown);
    const given = file.parameters;
    expect({ unknown: Object.keys(given).filter((k) => !(k in template.parameters)) }).toEqual({ unknown: [] });
    const required = Object.entries(template.parameters).filter(([, p]) => !('defaultValue' in p)).map(([k]) => k);
    expect({ 'required but not in main.parameters.json': required.filter((k) => !(k in given)) }).toEqual({ 'required but not in main.parameters.json': [] });
    expect(given.environmentName?.value).toBe('${AZURE_ENV_NAME}');
    expect(given.location?.value).toBe('${AZURE_LOCATION}');
    // A secure parameter is never a literal in the file: only a reference to an azd environment value.
    const secure = Object.entries(template.parameters).filter(([, p]) => p.type.toLowerCase() === 'securestring').map(([k]) => k);
    expect(secure.sort()).toEqual(['adminApiKey', 'oauthStateKey']);
    const envReference: unknown = expect.stringMatching(/^\$\{[A-Z][A-Z0-9_]*\}$/);
    for (const k of secure) expect({ k, value: given[k]?.value }).toEqual({ k, value: envReference });
  });
});

describe('.funcignore', () => {
  const rules = ignore().add(read('.funcignore'));

  it("keeps what the worker loads: host.json, package.json, dist/ and node_modules", () => {
    expect(pkg.main).toMatch(/^dist\/functions\/\*\.js$/);
    const kept = ['host.json', 'package.json', 'package-lock.json', 'dist/functions/index.js', 'dist/functions/WebhookReceiver.js', 'dist/shared/kv/redis.js', 'node_modules/ioredis/built/index.js', 'node_modules/some-lib/test/fixture.js', 'node_modules/some-lib/local/x.js'];
    expect(kept.filter((p) => rules.ignores(p))).toEqual([]);
    // The glob in "main" names files under a folder the package keeps, which the build writes.
    expect(rules.ignores(pkg.main.replace(/\*\.js$/, 'index.js'))).toBe(false);
    expect(existsSync(join(ROOT, pkg.main.replace(/^dist\//, '').replace(/\*\.js$/, 'index.ts')))).toBe(true);
  });

  it('leaves out tests, benches, TypeScript sources, local data, tools, the local host and settings', () => {
    const dropped = [
      'test/unit/azd.test.ts',
      'bench/run.ts',
      'functions/index.ts',
      'shared/kv/redis.ts',
      'dist/shared/kv/redis.js.map',
      'dist/local/main.js',
      'dist/bench/run.js',
      'local/main.ts',
      '.data/dev-secrets.key',
      '.tools/nuget/azure.bicep.commandline.linux-x64/0.49.2/tools/bicep',
      'local.settings.json',
      'tsconfig.json',
      'infra/main.bicep',
      'azure.yaml',
    ];
    expect(dropped.filter((p) => !rules.ignores(p))).toEqual([]);
  });
});
