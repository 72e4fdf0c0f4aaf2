/**
 * The filter and sort language of `POST /v1/data_sources/{id}/query`, as far
 * as the sandbox needs it:
 * https://developers.notion.com/reference/filter-data-source-entries
 * https://developers.notion.com/reference/sort-data-source-entries
 *
 * - timestamp filters on created_time / last_edited_time (equals, before,
 *   after, on_or_before, on_or_after), compared at Notion's minute resolution;
 * - property filters on title, rich_text, number, checkbox, select, status,
 *   multi_select; `and` / `or` compounds;
 * - timestamp and property sorts. Without sorts the order is created_time
 *   descending (Notion leaves it unspecified). Ties break on page id, so
 *   every ordering is total and a cursor marks one exact position.
 *
 * Anything else is a string: the validation_error message to answer with.
 */
import { isObject, plain, type PropertySchema } from './properties';
import type { SandboxPage } from './state';

export type Predicate = (page: SandboxPage) => boolean;
type Scalar = string | number | boolean | null;
export type SortKey = Scalar[];

export interface Ordering {
  key(page: SandboxPage): SortKey;
  compare(a: SortKey, b: SortKey): number;
}

const TIMESTAMPS = ['created_time', 'last_edited_time'] as const;
type Timestamp = (typeof TIMESTAMPS)[number];

export function compileFilter(filter: unknown, schema: readonly PropertySchema[]): Predicate | string {
  if (filter === undefined) return () => true;
  if (!isObject(filter)) return 'body failed validation: body.filter should be an object.';
  for (const op of ['and', 'or'] as const) {
    if (op in filter) {
      const parts = filter[op];
      if (!Array.isArray(parts)) return `body failed validation: body.filter.${op} should be an array.`;
      const compiled: Predicate[] = [];
      for (const part of parts) {
        const p = compileFilter(part, schema);
        if (typeof p === 'string') return p;
        compiled.push(p);
      }
      return op === 'and' ? (page) => compiled.every((p) => p(page)) : (page) => compiled.some((p) => p(page));
    }
  }
  if (typeof filter.timestamp === 'string') return timestampFilter(filter, filter.timestamp);
  if (typeof filter.property === 'string') return propertyFilter(filter, filter.property, schema);
  return 'body failed validation: body.filter should define `property`, `timestamp`, `and` or `or`.';
}

function timestampFilter(filter: Record<string, unknown>, name: string): Predicate | string {
  if (!isTimestamp(name)) return `body failed validation: body.filter.timestamp should be \`created_time\` or \`last_edited_time\`, instead was \`${name}\`.`;
  const condition = filter[name];
  if (!isObject(condition)) return `body failed validation: body.filter.${name} should be defined.`;
  const entries = Object.entries(condition);
  const [op, raw] = entries[0] ?? [];
  const at = typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (entries.length !== 1 || op === undefined || Number.isNaN(at)) return `body failed validation: body.filter.${name} should hold one condition with an ISO 8601 date.`;
  const test = dateComparison(op);
  if (!test) return `body failed validation: body.filter.${name}.${op} is not a supported condition.`;
  return (page) => test(Date.parse(page[name]), at);
}

function dateComparison(op: string): ((value: number, at: number) => boolean) | undefined {
  const tests: Record<string, (value: number, at: number) => boolean> = {
    equals: (v, a) => v === a,
    before: (v, a) => v < a,
    after: (v, a) => v > a,
    on_or_before: (v, a) => v <= a,
    on_or_after: (v, a) => v >= a,
  };
  return tests[op];
}

function propertyFilter(filter: Record<string, unknown>, name: string, schema: readonly PropertySchema[]): Predicate | string {
  const property = schema.find((p) => p.name === name || p.id === name);
  if (!property) return `Could not find property with name or id: ${name}`;
  // A title can be filtered as rich_text too.
  const key = property.type === 'title' && 'rich_text' in filter ? 'rich_text' : property.type;
  const condition = filter[key];
  if (!isObject(condition)) return `body failed validation: body.filter.${key} should be defined, instead was \`undefined\`.`;
  const entries = Object.entries(condition);
  const [op, expected] = entries[0] ?? [];
  if (entries.length !== 1 || op === undefined) return `body failed validation: body.filter.${key} should hold exactly one condition.`;
  const test = valueComparison(op, expected);
  if (!test) return `body failed validation: body.filter.${key}.${op} is not a supported condition.`;
  return (page) => test(plain(page.properties[property.name]));
}

function valueComparison(op: string, expected: unknown): ((value: ReturnType<typeof plain>) => boolean) | undefined {
  const empty = (v: ReturnType<typeof plain>): boolean => v === null || v === '' || (Array.isArray(v) && v.length === 0);
  const num = (v: ReturnType<typeof plain>, f: (a: number, b: number) => boolean): boolean =>
    typeof v === 'number' && typeof expected === 'number' && f(v, expected);
  const text = (v: ReturnType<typeof plain>): string => (Array.isArray(v) ? v.join(',') : String(v ?? ''));
  const tests: Record<string, (v: ReturnType<typeof plain>) => boolean> = {
    equals: (v) => v === expected,
    does_not_equal: (v) => v !== expected,
    contains: (v) => (Array.isArray(v) ? v.includes(String(expected)) : text(v).includes(String(expected))),
    does_not_contain: (v) => (Array.isArray(v) ? !v.includes(String(expected)) : !text(v).includes(String(expected))),
    starts_with: (v) => text(v).startsWith(String(expected)),
    ends_with: (v) => text(v).endsWith(String(expected)),
    is_empty: (v) => empty(v),
    is_not_empty: (v) => !empty(v),
    greater_than: (v) => num(v, (a, b) => a > b),
    less_than: (v) => num(v, (a, b) => a < b),
    greater_than_or_equal_to: (v) => num(v, (a, b) => a >= b),
    less_than_or_equal_to: (v) => num(v, (a, b) => a <= b),
  };
  return tests[op];
}

export function compileSorts(sorts: unknown, schema: readonly PropertySchema[]): Ordering | string {
  if (sorts === undefined) sorts = [{ timestamp: 'created_time', direction: 'descending' }];
  if (!Array.isArray(sorts)) return 'body failed validation: body.sorts should be an array.';
  const keys: { get: (page: SandboxPage) => Scalar; sign: number }[] = [];
  for (const [i, sort] of sorts.entries()) {
    if (!isObject(sort) || (sort.direction !== 'ascending' && sort.direction !== 'descending')) {
      return `body failed validation: body.sorts[${i}].direction should be \`ascending\` or \`descending\`.`;
    }
    const sign = sort.direction === 'ascending' ? 1 : -1;
    if (typeof sort.timestamp === 'string') {
      const name = sort.timestamp;
      if (!isTimestamp(name)) return `body failed validation: body.sorts[${i}].timestamp should be \`created_time\` or \`last_edited_time\`.`;
      keys.push({ get: (page) => Date.parse(page[name]), sign });
    } else if (typeof sort.property === 'string') {
      const property = schema.find((p) => p.name === sort.property || p.id === sort.property);
      if (!property) return `Could not find sort property with name or id: ${sort.property}`;
      keys.push({ get: (page) => scalar(plain(page.properties[property.name])), sign });
    } else {
      return `body failed validation: body.sorts[${i}] should define \`property\` or \`timestamp\`.`;
    }
  }
  return {
    key: (page) => [...keys.map((k) => k.get(page)), page.id],
    compare: (a, b) => {
      for (const [i, k] of keys.entries()) {
        const c = compareScalar(a[i] ?? null, b[i] ?? null);
        if (c !== 0) return k.sign * c;
      }
      return compareScalar(a[keys.length] ?? null, b[keys.length] ?? null);
    },
  };
}

function isTimestamp(name: string): name is Timestamp {
  return (TIMESTAMPS as readonly string[]).includes(name);
}

function scalar(value: ReturnType<typeof plain>): Scalar {
  return Array.isArray(value) ? value.join(',') : value;
}

/** Empty values sort last, as in Notion's UI. */
function compareScalar(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}
