/**
 * One source of truth for names: the constants in shared/ against
 * local.settings.sample.json, host.json and the Bicep in infra/.
 *
 * There is no Bicep compiler here, so a small reader below parses the subset of
 * Bicep that infra/ uses (declarations, object/array literals, `[for …]` loops,
 * string interpolation) and resolves plain references to `var`s, `param`
 * defaults and loop variables in the same file. Anything it cannot resolve
 * fails the test with the file and line, rather than passing silently.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { HOST_SETTINGS, loadSettings, settingsSchema } from '../../shared/config/settings';
import { DUPLICATE_DETECTION_WINDOW_MS, MAX_DELIVERY_COUNT, QUEUES } from '../../shared/messaging/names';
import { CONTAINERS, PARTITION_KEY_PATH } from '../../shared/storage/names';
import { SERVICE_BUS_CONNECTION } from '../../functions/definitions';
import { ORDER_FIELDS } from '../../shared/adapters';

const ROOT_FOR_ORDER = join(__dirname, '..', '..');

const ROOT = join(__dirname, '..', '..');

// ---------------------------------------------------------------- Bicep reader

type BicepValue =
  | { kind: 'string'; value: string; interpolated: boolean }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' }
  | { kind: 'object'; props: Map<string, BicepValue> }
  | { kind: 'array'; items: BicepValue[] }
  | { kind: 'expr'; text: string };

interface Decl {
  symbol: string;
  /** Resource type (`Microsoft.X/y`) or module path. */
  target: string;
  loop?: { item: string; index?: string; source: BicepValue };
  body: BicepValue;
  file: BicepFile;
  line: number;
}

interface BicepFile {
  path: string;
  vars: Map<string, BicepValue>;
  params: Map<string, BicepValue>;
  resources: Decl[];
  modules: Decl[];
}

type Env = ReadonlyMap<string, BicepValue>;

const OPENERS = '{([';
const CLOSERS = '})]';

function parseError(file: string, src: string, pos: number, message: string): Error {
  const line = src.slice(0, pos).split('\n').length;
  return new Error(`${file}:${line}: ${message}`);
}

/** Index just past the string literal starting at `start` (handles ''' strings, escapes and ${…}). */
function endOfString(src: string, start: number, file: string): number {
  if (src.startsWith("'''", start)) {
    const end = src.indexOf("'''", start + 3);
    if (end < 0) throw parseError(file, src, start, 'unterminated multi-line string');
    return end + 3;
  }
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') i += 2;
    else if (c === "'") return i + 1;
    else if (c === '$' && src[i + 1] === '{') i = scanTo(src, i + 2, file, (ch, depth) => depth < 0 && ch === '}') + 1;
    else i += 1;
  }
  throw parseError(file, src, start, 'unterminated string');
}

/**
 * Scan code from `start`, skipping strings and tracking bracket depth, until
 * `stop(char, depth)` holds; a closer at depth 0 is reported with depth -1.
 */
function scanTo(src: string, start: number, file: string, stop: (ch: string, depth: number) => boolean): number {
  let depth = 0;
  let i = start;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === "'") {
      i = endOfString(src, i, file);
      continue;
    }
    if (CLOSERS.includes(c)) {
      if (depth === 0) {
        if (stop(c, -1)) return i;
        throw parseError(file, src, i, `unbalanced '${c}'`);
      }
      depth -= 1;
    } else if (stop(c, depth)) {
      return i;
    } else if (OPENERS.includes(c)) {
      depth += 1;
    }
    i += 1;
  }
  if (stop('', -1)) return i;
  throw parseError(file, src, start, 'unexpected end of file');
}

/** Blank out // and /* comments, keeping strings and line numbers intact. */
function stripComments(src: string, file: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    if (src[i] === "'") {
      const end = endOfString(src, i, file);
      out += src.slice(i, end);
      i = end;
    } else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i += 1;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += src.charAt(i);
      i += 1;
    }
  }
  return out;
}

function decodeString(raw: string): BicepValue {
  if (raw.startsWith("'''")) return { kind: 'string', value: raw.slice(3, -3), interpolated: false };
  const body = raw.slice(1, -1);
  const interpolated = /(^|[^\\])\$\{/.test(body);
  const value = interpolated ? body : body.replace(/\\(.)/g, (_m, ch: string) => ({ n: '\n', r: '\r', t: '\t' })[ch] ?? ch);
  return { kind: 'string', value, interpolated };
}

class Reader {
  pos = 0;
  constructor(
    private readonly src: string,
    private readonly file: BicepFile,
  ) {}

  private fail(message: string): never {
    throw parseError(this.file.path, this.src, this.pos, message);
  }
  private lineAt(pos: number): number {
    return this.src.slice(0, pos).split('\n').length;
  }
  private peek(): string {
    return this.src.charAt(this.pos);
  }
  private skipInline(): void {
    while (/[ \t\r]/.test(this.peek()) && this.pos < this.src.length) this.pos += 1;
  }
  private skipAll(extra = ''): void {
    while (this.pos < this.src.length && (/\s/.test(this.peek()) || extra.includes(this.peek()))) this.pos += 1;
  }
  private ident(): string | undefined {
    const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(this.src.slice(this.pos, this.pos + 200));
    if (m) this.pos += m[0].length;
    return m?.[0];
  }
  private expect(token: string): void {
    this.skipInline();
    if (!this.src.startsWith(token, this.pos)) this.fail(`expected '${token}'`);
    this.pos += token.length;
  }
  private stringLiteral(): string {
    this.skipInline();
    if (this.peek() !== "'") this.fail('expected a string literal');
    const end = endOfString(this.src, this.pos, this.file.path);
    const value = decodeString(this.src.slice(this.pos, end));
    this.pos = end;
    if (value.kind !== 'string' || value.interpolated) this.fail('expected a plain string literal');
    return value.value;
  }
  /** Raw text up to the first char at depth 0 for which `stop` holds. */
  private rawUntil(stop: (ch: string, depth: number) => boolean): string {
    const start = this.pos;
    this.pos = scanTo(this.src, this.pos, this.file.path, stop);
    return this.src.slice(start, this.pos).trim();
  }
  private expression(): BicepValue {
    const text = this.rawUntil((ch, depth) => depth <= 0 && (ch === '\n' || ch === ',' || ch === '' || depth < 0));
    if (text === '') this.fail('expected a value');
    return { kind: 'expr', text };
  }

  value(): BicepValue {
    this.skipInline();
    const start = this.pos;
    let literal: BicepValue | undefined;
    const c = this.peek();
    if (c === '{') literal = this.object();
    else if (c === '[' && !/^\[\s*for\s/.test(this.src.slice(this.pos, this.pos + 40))) literal = this.array();
    else if (c === "'") {
      const end = endOfString(this.src, this.pos, this.file.path);
      literal = decodeString(this.src.slice(this.pos, end));
      this.pos = end;
    } else {
      const m = /^(-?\d+(?:\.\d+)?|true|false|null)(?![\w.(])/.exec(this.src.slice(this.pos, this.pos + 40));
      if (m?.[1] !== undefined) {
        this.pos += m[1].length;
        const t = m[1];
        literal = t === 'null' ? { kind: 'null' } : t === 'true' || t === 'false' ? { kind: 'bool', value: t === 'true' } : { kind: 'number', value: Number(t) };
      }
    }
    if (literal !== undefined) {
      this.skipInline();
      // A literal followed by more (`'a' == b ? …`, `{…}.x`) is an expression.
      if (this.pos >= this.src.length || '\n,}])'.includes(this.peek())) return literal;
      this.pos = start;
    }
    return this.expression();
  }

  private object(): BicepValue {
    this.expect('{');
    const props = new Map<string, BicepValue>();
    for (;;) {
      this.skipAll(',');
      if (this.pos >= this.src.length) this.fail("unterminated '{'");
      if (this.peek() === '}') {
        this.pos += 1;
        return { kind: 'object', props };
      }
      let key: string;
      if (this.peek() === "'") {
        const end = endOfString(this.src, this.pos, this.file.path);
        const decoded = decodeString(this.src.slice(this.pos, end));
        key = decoded.kind === 'string' ? decoded.value : '';
        this.pos = end;
      } else {
        key = this.ident() ?? this.fail('expected a property name');
        this.skipInline();
        if (key === 'resource' && this.peek() !== ':') {
          this.resource();
          continue;
        }
      }
      this.expect(':');
      props.set(key, this.value());
    }
  }

  private array(): BicepValue {
    this.expect('[');
    const items: BicepValue[] = [];
    for (;;) {
      this.skipAll(',');
      if (this.pos >= this.src.length) this.fail("unterminated '['");
      if (this.peek() === ']') {
        this.pos += 1;
        return { kind: 'array', items };
      }
      items.push(this.value());
    }
  }

  /** `= {…}`, `= if (…) {…}` or `= [for x in xs: {…}]` after a resource/module head. */
  private declBody(symbol: string, target: string, line: number): Decl {
    this.expect('=');
    this.skipInline();
    let loop: Decl['loop'];
    const inLoop = this.peek() === '[';
    if (inLoop) {
      this.pos += 1;
      this.skipAll();
      if (this.ident() !== 'for') this.fail("expected 'for'");
      this.skipInline();
      let item: string;
      let index: string | undefined;
      if (this.peek() === '(') {
        this.pos += 1;
        this.skipInline();
        item = this.ident() ?? this.fail('expected a loop variable');
        this.expect(',');
        this.skipInline();
        index = this.ident() ?? this.fail('expected a loop index');
        this.expect(')');
      } else {
        item = this.ident() ?? this.fail('expected a loop variable');
      }
      this.skipInline();
      if (this.ident() !== 'in') this.fail("expected 'in'");
      this.skipInline();
      const sourceText = this.rawUntil((ch, depth) => depth === 0 && ch === ':');
      this.pos += 1;
      const sourceReader = new Reader(sourceText, this.file);
      loop = { item, source: sourceReader.value(), ...(index === undefined ? {} : { index }) };
      this.skipAll();
    }
    if (this.src.startsWith('if', this.pos) && /^if\s*\(/.test(this.src.slice(this.pos, this.pos + 10))) {
      this.pos += 2;
      this.expect('(');
      this.rawUntil((ch, depth) => depth < 0 && ch === ')');
      this.pos += 1;
      this.skipAll();
    }
    const body = this.object();
    if (inLoop) {
      this.skipAll();
      this.expect(']');
    }
    return { symbol, target, body, file: this.file, line, ...(loop === undefined ? {} : { loop }) };
  }

  private resource(parentType?: string): void {
    const line = this.lineAt(this.pos);
    this.skipInline();
    const symbol = this.ident() ?? this.fail('expected a resource name');
    const typeAndVersion = this.stringLiteral();
    let type = typeAndVersion.split('@')[0] ?? '';
    if (parentType !== undefined && !type.includes('/')) type = `${parentType}/${type}`;
    this.skipInline();
    if (this.src.startsWith('existing', this.pos)) this.pos += 'existing'.length;
    this.file.resources.push(this.declBody(symbol, type, line));
  }

  file_(): void {
    for (;;) {
      this.skipAll();
      if (this.pos >= this.src.length) return;
      if (this.peek() === '@') {
        this.pos += 1;
        this.ident();
        this.skipInline();
        if (this.peek() === '(') {
          this.pos = scanTo(this.src, this.pos + 1, this.file.path, (ch, depth) => depth < 0 && ch === ')') + 1;
        }
        continue;
      }
      const keyword = this.ident() ?? this.fail('expected a declaration');
      this.skipInline();
      switch (keyword) {
        case 'var':
        case 'param': {
          const name = this.ident() ?? this.fail(`expected a ${keyword} name`);
          if (keyword === 'param') {
            this.rawUntil((ch, depth) => depth <= 0 && (ch === '=' || ch === '\n' || ch === ''));
            if (this.peek() !== '=') break;
          }
          this.expect('=');
          (keyword === 'var' ? this.file.vars : this.file.params).set(name, this.value());
          break;
        }
        case 'resource':
          this.resource();
          break;
        case 'module': {
          const line = this.lineAt(this.pos);
          const symbol = this.ident() ?? this.fail('expected a module name');
          const path = this.stringLiteral();
          this.file.modules.push(this.declBody(symbol, path, line));
          break;
        }
        case 'output':
        case 'targetScope':
        case 'metadata':
        case 'type':
        case 'func':
        case 'import':
        case 'extension':
          // Not needed by the checks: skip the statement.
          this.rawUntil((ch, depth) => depth <= 0 && (ch === '\n' || ch === ''));
          break;
        default:
          this.fail(`unknown declaration '${keyword}'`);
      }
    }
  }
}

function parseBicep(path: string): BicepFile {
  const rel = relative(ROOT, path);
  const file: BicepFile = { path: rel, vars: new Map(), params: new Map(), resources: [], modules: [] };
  new Reader(stripComments(readFileSync(path, 'utf8'), rel), file).file_();
  return file;
}

/** Follow plain references (`x`, `x.y.z`) to vars, param defaults and loop variables. */
function resolve(v: BicepValue | undefined, file: BicepFile, env: Env, depth = 0): BicepValue | undefined {
  if (v?.kind !== 'expr' || depth > 20) return v;
  const [head, ...path] = v.text.split('.');
  if (head === undefined || !/^[A-Za-z_]\w*$/.test(head) || !path.every((p) => /^[A-Za-z_]\w*$/.test(p))) return undefined;
  let cur = resolve(env.get(head) ?? file.vars.get(head) ?? file.params.get(head), file, env, depth + 1);
  for (const p of path) cur = cur?.kind === 'object' ? resolve(cur.props.get(p), file, env, depth + 1) : undefined;
  return cur;
}

/** The property at a dotted path of a declaration's body, resolved in one loop instance. */
function prop(decl: Decl, env: Env, path: string): BicepValue | undefined {
  let cur: BicepValue | undefined = decl.body;
  for (const p of path.split('.')) {
    cur = resolve(cur, decl.file, env);
    cur = cur?.kind === 'object' ? cur.props.get(p) : undefined;
  }
  return resolve(cur, decl.file, env);
}

function literal(v: BicepValue | undefined): string | number | boolean | null | undefined {
  if (v === undefined) return undefined;
  if (v.kind === 'string') return v.interpolated ? undefined : v.value;
  if (v.kind === 'number' || v.kind === 'bool') return v.value;
  return v.kind === 'null' ? null : undefined;
}

/** One environment per loop iteration (a single empty one without a loop). */
function instances(decl: Decl): Env[] {
  if (decl.loop === undefined) return [new Map()];
  const { item, index, source } = decl.loop;
  const items = resolve(source, decl.file, new Map());
  if (items?.kind !== 'array') {
    const text = source.kind === 'expr' ? source.text : source.kind;
    throw new Error(`${decl.file.path}:${decl.line}: cannot resolve the loop source '${text}' of '${decl.symbol}' to an array literal in the same file`);
  }
  return items.items.map((it, i) => new Map<string, BicepValue>([[item, it], ...(index === undefined ? [] : [[index, { kind: 'number', value: i } as BicepValue] as const])]));
}

function nameOf(decl: Decl, env: Env): string {
  const name = literal(prop(decl, env, 'name'));
  if (typeof name !== 'string') {
    throw new Error(`${decl.file.path}:${decl.line}: cannot resolve the name of '${decl.symbol}' (${decl.target}); keep it a literal or a var in the same file`);
  }
  return name;
}

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );
}

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

/** Settings whose values are secrets: app settings must hold Key Vault references, not values. */
const SECRET_SETTINGS = ['ADMIN_API_KEY', 'REDIS_URL'];

// Parsed lazily, so a parse error fails the tests that need infra/, with its file and line.
let parsedInfra: BicepFile[] | undefined;
const infra = (): BicepFile[] => (parsedInfra ??= bicepFiles(join(ROOT, 'infra')).map(parseBicep));
const ofType = (type: string): Decl[] => infra().flatMap((f) => f.resources).filter((r) => r.target.toLowerCase() === type.toLowerCase());

/** Every instance of every resource of `type`, with its resolved name. */
function named(type: string): { decl: Decl; env: Env; name: string }[] {
  return ofType(type).flatMap((decl) => instances(decl).map((env) => ({ decl, env, name: nameOf(decl, env) })));
}

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

describe('infra: Service Bus queues', () => {
  const queues = (): ReturnType<typeof named> => named('Microsoft.ServiceBus/namespaces/queues');

  it('declares exactly the queues in QUEUES, once each', () => {
    const names = queues().map((q) => q.name);
    const where = 'infra Service Bus queues (vs QUEUES)';
    expect(drift(where, Object.values(QUEUES), names)).toEqual(noDrift(where));
    expect(duplicates(names)).toEqual([]);
  });

  it('matches the delivery and duplicate-detection settings the code assumes', () => {
    for (const { decl, env, name } of queues()) {
      const props = {
        queue: name,
        maxDeliveryCount: literal(prop(decl, env, 'properties.maxDeliveryCount')),
        requiresDuplicateDetection: literal(prop(decl, env, 'properties.requiresDuplicateDetection')),
        duplicateDetectionWindowMs: durationMs(literal(prop(decl, env, 'properties.duplicateDetectionHistoryTimeWindow'))),
        deadLetteringOnMessageExpiration: literal(prop(decl, env, 'properties.deadLetteringOnMessageExpiration')),
      };
      expect(props).toEqual({
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
    for (const { decl, env, name } of containers()) {
      const paths = prop(decl, env, 'properties.resource.partitionKey.paths');
      const ttl = literal(prop(decl, env, 'properties.resource.defaultTtl'));
      expect({
        container: name,
        id: literal(prop(decl, env, 'properties.resource.id')),
        partitionKeyPaths: paths?.kind === 'array' ? paths.items.map((p) => literal(resolve(p, decl.file, env))) : paths,
        // -1: TTL on without a default expiry, so a document's own `ttl` works.
        ttlEnabled: typeof ttl === 'number' && (ttl === -1 || ttl > 0),
      }).toEqual({ container: name, id: name, partitionKeyPaths: [PARTITION_KEY_PATH], ttlEnabled: true });
    }
  });

  it('declares a composite index for every ORDER_FIELDS entry (Cosmos needs one to ORDER BY field, id)', () => {
    const text = readFileSync(join(ROOT_FOR_ORDER, 'infra', 'modules', 'cosmos.bicep'), 'utf8');
    const block = /var orderFields = \{([^}]*)\}/.exec(text)?.[1] ?? '';
    const declared: Record<string, string[]> = {};
    for (const m of block.matchAll(/^\s*'?([A-Za-z-]+)'?:\s*'([A-Za-z]+)'\s*$/gm)) declared[m[1] ?? ''] = [m[2] ?? ''];
    expect(declared).toEqual(Object.fromEntries(Object.entries(ORDER_FIELDS).map(([c, f]) => [c, [...f]])));
    expect(text).toMatch(/compositeIndexes: compositeIndexes\[containerName\]/);
  });

  it('names the database as the COSMOS_DATABASE default', () => {
    const dbs = named('Microsoft.DocumentDB/databaseAccounts/sqlDatabases').map((d) => d.name);
    expect(dbs).toEqual([settingsSchema.shape.COSMOS_DATABASE.parse(undefined)]);
  });
});

describe('infra: function app settings', () => {
  const main = (): BicepFile | undefined => infra().find((f) => f.path === join('infra', 'main.bicep'));
  const appSettingsValue = (): BicepValue | undefined => main()?.vars.get('appSettings');
  const appSettings = (): Map<string, BicepValue> => {
    const v = appSettingsValue();
    return v?.kind === 'object' ? v.props : new Map<string, BicepValue>();
  };

  it('are declared as `var appSettings = { … }` in infra/main.bicep and applied to the site', () => {
    expect(appSettingsValue()?.kind).toBe('object');
    const passedToModule = (main()?.modules ?? []).some((m) => {
      const params = prop(m, new Map(), 'params');
      const v = params?.kind === 'object' ? params.props.get('appSettings') : undefined;
      return v?.kind === 'expr' && v.text === 'appSettings';
    });
    expect(passedToModule).toBe(true);
    const configs = ofType('Microsoft.Web/sites/config').filter((r) => literal(prop(r, new Map(), 'name')) === 'appsettings');
    expect(configs).toHaveLength(1);
  });

  it('only exempts schema keys that exist', () => {
    expect(Object.keys(LOCAL_ONLY).filter((k) => !schemaKeys.includes(k))).toEqual([]);
  });

  /** Set by modules/functionapp.bicep itself, where the value first exists (the site's own host name). */
  const SET_BY_SITE_MODULE = ['PUBLIC_BASE_URL'];

  it('the site module sets the settings only it can know', () => {
    const module = readFileSync(join(ROOT, 'infra', 'modules', 'functionapp.bicep'), 'utf8');
    for (const key of SET_BY_SITE_MODULE) expect({ key, set: new RegExp(`\\b${key}: 'https://\\$\\{site\\.properties\\.defaultHostName\\}'`).test(module) }).toEqual({ key, set: true });
  });

  it('set every Azure-relevant key the settings schema reads', () => {
    const required = schemaKeys.filter((k) => !(k in LOCAL_ONLY) && !SET_BY_SITE_MODULE.includes(k));
    const settings = appSettings();
    expect({ 'missing from appSettings in infra/main.bicep': required.filter((k) => !settings.has(k)) }).toEqual({ 'missing from appSettings in infra/main.bicep': [] });
  });

  it('leave local-only, deprecated and global-identity settings unset', () => {
    const forbidden = [...Object.keys(LOCAL_ONLY), ...FORBIDDEN_IN_AZURE];
    expect({ 'set but must not be': [...appSettings().keys()].filter((n) => forbidden.includes(n)) }).toEqual({ 'set but must not be': [] });
  });

  it('keep secrets in Key Vault: secret settings are Key Vault references, no keys are listed inline', () => {
    const settings = appSettings();
    for (const key of SECRET_SETTINGS) {
      const v = settings.get(key);
      expect({ key, keyVaultReference: v?.kind === 'string' && v.value.startsWith('@Microsoft.KeyVault(') }).toEqual({ key, keyVaultReference: true });
    }
    const inline = [...settings].filter(([, v]) => /\blist(Keys|ConnectionStrings|Secrets)\s*\(/.test(v.kind === 'expr' ? v.text : v.kind === 'string' ? v.value : ''));
    expect(inline.map(([k]) => k)).toEqual([]);
  });

  it('use identity-based connections for Service Bus and host storage', () => {
    const settings = appSettings();
    const names = [...settings.keys()];
    const credential = (prefix: string): unknown => literal(settings.get(`${prefix}__credential`));
    expect(names).toEqual(expect.arrayContaining([`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`, `${SERVICE_BUS_CONNECTION}__clientId`]));
    expect(credential(SERVICE_BUS_CONNECTION)).toBe('managedidentity');
    // HOST_SETTINGS: AzureWebJobsStorage, identity-based in Azure.
    expect(names.some((n) => n === 'AzureWebJobsStorage__accountName' || n === 'AzureWebJobsStorage__blobServiceUri')).toBe(true);
    expect(names).toContain('AzureWebJobsStorage__clientId');
    expect(credential('AzureWebJobsStorage')).toBe('managedidentity');
  });

  it('run the Flex Consumption app on the runtime the sample names (FUNCTIONS_WORKER_RUNTIME), Node 22', () => {
    const sites = ofType('Microsoft.Web/sites');
    expect(sites).toHaveLength(1);
    const site = sites[0]!;
    const sampleRuntime = asRecord(readJson('local.settings.sample.json').Values, 'Values').FUNCTIONS_WORKER_RUNTIME;
    expect({
      name: literal(prop(site, new Map(), 'properties.functionAppConfig.runtime.name')),
      version: literal(prop(site, new Map(), 'properties.functionAppConfig.runtime.version')),
    }).toEqual({ name: sampleRuntime, version: '22' });
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

describe('the Bicep reader (self-check, so a drift cannot pass unnoticed)', () => {
  it('reads loop-declared names, comments and interpolated strings', () => {
    const src = [
      "var names = [ // trailing comment",
      "  'a'",
      "  /* block */ 'b'",
      ']',
      "var pk = '/tenantId'",
      "resource q 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [for n in names: {",
      "  name: n",
      "  properties: { maxDeliveryCount: 10, label: '${n}-x // not a comment' }",
      '}]',
      "resource c 'X/containers@1' = {",
      "  name: 'c1'",
      '  properties: {',
      '    resource: {',
      '      paths: [',
      '        pk',
      '      ]',
      "      ok: empty(names) ? 'x' : 'y'",
      '    }',
      '  }',
      '}',
    ].join('\n');
    const file: BicepFile = { path: 'inline.bicep', vars: new Map(), params: new Map(), resources: [], modules: [] };
    new Reader(stripComments(src, file.path), file).file_();
    const [q, c] = file.resources;
    expect(q && instances(q).map((env) => nameOf(q, env))).toEqual(['a', 'b']);
    expect(q && literal(prop(q, new Map(), 'properties.maxDeliveryCount'))).toBe(10);
    const paths = c && prop(c, new Map(), 'properties.resource.paths');
    expect(paths?.kind === 'array' && c ? paths.items.map((p) => literal(resolve(p, c.file, new Map()))) : paths).toEqual(['/tenantId']);
  });
});
