/**
 * The SOQL the sandbox understands: enough for replication queries.
 *
 *   SELECT f1, f2 FROM Object [WHERE f op literal (AND f op literal)*]
 *   [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST] (, …)*] [LIMIT n]
 *
 * Names are case-insensitive; datetime literals are unquoted ISO 8601 with
 * `Z` or an offset; errors carry Salesforce's codes (MALFORMED_QUERY,
 * INVALID_FIELD, INVALID_TYPE).
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
 */
import { parseSfDateTime, scalarText } from './ids';
import type { ObjectSchema, SalesforceSandboxState, SandboxRecord } from './state';

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=';
type Literal = { kind: 'datetime'; ms: number } | { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'boolean'; value: boolean } | { kind: 'null' };

export interface SoqlQuery {
  object: ObjectSchema;
  /** Canonical field names, in the order selected. */
  fields: string[];
  where: { field: string; op: Op; value: Literal }[];
  orderBy: { field: string; descending: boolean; nullsLast: boolean }[];
  limit?: number;
}

export interface SoqlError {
  code: 'MALFORMED_QUERY' | 'INVALID_FIELD' | 'INVALID_TYPE';
  message: string;
}

const DATETIME_FIELDS = new Set(['CreatedDate', 'LastModifiedDate', 'SystemModstamp']);
const TOKEN = /\s*(?:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))|(-?\d+(?:\.\d+)?)|('(?:[^'\\]|\\.)*')|(!=|<=|>=|=|<|>)|(,)|([A-Za-z_][A-Za-z0-9_.]*))/y;

interface Token {
  kind: 'datetime' | 'number' | 'string' | 'op' | 'comma' | 'word';
  text: string;
}

export function parseSoql(soql: string, state: SalesforceSandboxState): SoqlQuery | SoqlError {
  const tokens = tokenize(soql);
  if (!Array.isArray(tokens)) return tokens;
  let i = 0;
  const peekWord = (word: string): boolean => tokens[i]?.kind === 'word' && tokens[i]?.text.toUpperCase() === word;
  const malformed = (what: string): SoqlError => ({ code: 'MALFORMED_QUERY', message: `unexpected token: '${tokens[i]?.text ?? '<EOF>'}' (expected ${what})` });

  if (!peekWord('SELECT')) return malformed('SELECT');
  i++;
  const selected: string[] = [];
  for (;;) {
    const t = tokens[i];
    if (t?.kind !== 'word' || t.text.toUpperCase() === 'FROM') return malformed('a field');
    selected.push(t.text);
    i++;
    if (tokens[i]?.kind !== 'comma') break;
    i++;
  }
  if (!peekWord('FROM')) return malformed('FROM');
  i++;
  const objectName = tokens[i];
  if (objectName?.kind !== 'word') return malformed('an object name');
  i++;
  const object = state.schema(objectName.text);
  if (!object) {
    return { code: 'INVALID_TYPE', message: `sObject type '${objectName.text}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.` };
  }

  const fields: string[] = [];
  for (const name of selected) {
    const field = resolveField(object, name);
    if (typeof field !== 'string') return field;
    if (fields.includes(field)) return { code: 'MALFORMED_QUERY', message: `duplicate field selected: ${field}` };
    fields.push(field);
  }
  const query: SoqlQuery = { object, fields, where: [], orderBy: [] };

  if (peekWord('WHERE')) {
    do {
      i++;
      const f = tokens[i];
      const op = tokens[i + 1];
      const v = tokens[i + 2];
      if (f?.kind !== 'word' || op?.kind !== 'op' || !v) return malformed('a condition');
      const field = resolveField(object, f.text);
      if (typeof field !== 'string') return field;
      const value = literal(v);
      if (!value) return malformed('a value');
      if (DATETIME_FIELDS.has(field) !== (value.kind === 'datetime') && value.kind !== 'null') {
        return { code: 'INVALID_FIELD', message: `value of filter criterion for field '${field}' must be of type ${DATETIME_FIELDS.has(field) ? 'dateTime' : 'its own type'} and should not be enclosed in quotes` };
      }
      query.where.push({ field, op: op.text as Op, value });
      i += 3;
    } while (peekWord('AND'));
  }
  if (peekWord('ORDER')) {
    i++;
    if (!peekWord('BY')) return malformed('BY');
    do {
      i++;
      const f = tokens[i];
      if (f?.kind !== 'word') return malformed('a field');
      const field = resolveField(object, f.text);
      if (typeof field !== 'string') return field;
      i++;
      let descending = false;
      if (peekWord('ASC') || peekWord('DESC')) descending = tokens[i++]?.text.toUpperCase() === 'DESC';
      // Salesforce sorts nulls first by default, whatever the direction.
      let nullsLast = false;
      if (peekWord('NULLS')) {
        i++;
        if (!peekWord('FIRST') && !peekWord('LAST')) return malformed('FIRST or LAST');
        nullsLast = tokens[i++]?.text.toUpperCase() === 'LAST';
      }
      query.orderBy.push({ field, descending, nullsLast });
    } while (tokens[i]?.kind === 'comma');
  }
  if (peekWord('LIMIT')) {
    i++;
    const n = tokens[i];
    if (n?.kind !== 'number' || !/^\d+$/.test(n.text)) return malformed('a number');
    query.limit = Number(n.text);
    i++;
  }
  if (i !== tokens.length) return malformed('the end of the query');
  return query;
}

export function runSoql(query: SoqlQuery, rows: readonly SandboxRecord[]): SandboxRecord[] {
  const matching = rows.filter((r) => query.where.every((c) => test(fieldValue(r, c.field), c.op, c.value)));
  matching.sort((a, b) => {
    for (const o of query.orderBy) {
      const c = compareValues(fieldValue(a, o.field), fieldValue(b, o.field), o.nullsLast);
      if (c !== 0) return o.descending ? -c : c;
    }
    return 0;
  });
  return query.limit === undefined ? matching : matching.slice(0, query.limit);
}

export function fieldValue(record: SandboxRecord, field: string): unknown {
  switch (field) {
    case 'Id':
      return record.Id;
    case 'IsDeleted':
      return record.IsDeleted;
    case 'CreatedDate':
      return record.CreatedDate;
    case 'LastModifiedDate':
      return record.LastModifiedDate;
    case 'SystemModstamp':
      return record.SystemModstamp;
    default:
      return record.values[field] ?? null;
  }
}

function resolveField(object: ObjectSchema, name: string): string | SoqlError {
  if (name.includes('.')) return { code: 'INVALID_FIELD', message: `Didn't understand relationship '${name.split('.')[0] ?? ''}' in field path.` };
  const field = object.fields.get(name.toLowerCase());
  if (field) return field;
  return {
    code: 'INVALID_FIELD',
    message: `No such column '${name}' on entity '${object.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`,
  };
}

function tokenize(soql: string): Token[] | SoqlError {
  const tokens: Token[] = [];
  let at = 0;
  const kinds = ['datetime', 'number', 'string', 'op', 'comma', 'word'] as const;
  while (at < soql.length) {
    if (soql.slice(at).trim() === '') break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(soql);
    if (!m) return { code: 'MALFORMED_QUERY', message: `unexpected character at position ${at}` };
    const index = (m.slice(1) as (string | undefined)[]).findIndex((g) => g !== undefined);
    const kind = kinds[index];
    if (kind === undefined) return { code: 'MALFORMED_QUERY', message: `unexpected character at position ${at}` };
    tokens.push({ kind, text: m[index + 1] ?? '' });
    at = TOKEN.lastIndex;
  }
  return tokens;
}

function literal(t: Token): Literal | undefined {
  if (t.kind === 'datetime') {
    const ms = parseSfDateTime(t.text);
    return ms === undefined ? undefined : { kind: 'datetime', ms };
  }
  if (t.kind === 'number') return { kind: 'number', value: Number(t.text) };
  if (t.kind === 'string') return { kind: 'string', value: t.text.slice(1, -1).replace(/\\(.)/g, '$1') };
  if (t.kind === 'word') {
    const w = t.text.toLowerCase();
    if (w === 'true' || w === 'false') return { kind: 'boolean', value: w === 'true' };
    if (w === 'null') return { kind: 'null' };
  }
  return undefined;
}

function test(actual: unknown, op: Op, expected: Literal): boolean {
  if (expected.kind === 'null') return op === '=' ? actual === null : op === '!=' ? actual !== null : false;
  if (actual === null) return op === '!=';
  const want = expected.kind === 'datetime' ? expected.ms : expected.value;
  const have = expected.kind === 'datetime' && typeof actual === 'string' ? parseSfDateTime(actual) ?? NaN : actual;
  const c = compareValues(have, want, false);
  switch (op) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

function compareValues(a: unknown, b: unknown, nullsLast: boolean): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : nullsLast ? 1 : -1;
  if (b === null || b === undefined) return nullsLast ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const [x, y] = [scalarText(a), scalarText(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}
