/**
 * Page property values in the Notion sandbox: a data source's schema, the
 * request format a create or update sends, and the response format pages are
 * served in. https://developers.notion.com/reference/page-property-values
 *
 * Only the types the sandbox seeds are writable (title, rich_text, number,
 * select, status, multi_select, checkbox, date, url). As in Notion, an
 * unknown select option is created on write; an unknown status is an error.
 */

export type PropertyType = 'title' | 'rich_text' | 'number' | 'select' | 'status' | 'multi_select' | 'checkbox' | 'date' | 'url';

export interface SelectOption {
  id: string;
  name: string;
  color: string;
}

export interface PropertySchema {
  id: string;
  name: string;
  type: PropertyType;
  options?: SelectOption[];
}

/** A property value as pages serve it: `{id, type, <type>: value}`. */
export type StoredValue = Record<string, unknown> & { id: string; type: PropertyType };

export type WriteResult = { ok: true; value: StoredValue } | { ok: false; message: string };

/** Rich text content limit (https://developers.notion.com/reference/request-limits#limits-for-property-values). */
const MAX_TEXT = 2000;
const MAX_ARRAY = 100;
const COLORS = ['default', 'gray', 'brown', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'red'] as const;
const ANNOTATIONS = { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The empty value of a property: what a page has for a property it was never given. */
export function emptyValue(schema: PropertySchema): StoredValue {
  const empty: Record<PropertyType, unknown> = {
    title: [], rich_text: [], number: null, select: null, status: null, multi_select: [], checkbox: false, date: null, url: null,
  };
  return { id: schema.id, type: schema.type, [schema.type]: empty[schema.type] };
}

/** Converts one request-format value (`{"number": 3}` or `{"type": "number", "number": 3}`). */
export function writeValue(schema: PropertySchema, input: unknown): WriteResult {
  const at = `body.properties.${schema.name}`;
  if (!isObject(input) || !(schema.type in input)) return fail(`${schema.name} is expected to be ${schema.type}.`);
  if (input.type !== undefined && input.type !== schema.type) return fail(`${schema.name} is expected to be ${schema.type}.`);
  const raw = input[schema.type];
  const ok = (v: unknown): WriteResult => ({ ok: true, value: { id: schema.id, type: schema.type, [schema.type]: v } });
  switch (schema.type) {
    case 'title':
    case 'rich_text': {
      const items = richText(raw, `${at}.${schema.type}`);
      return typeof items === 'string' ? fail(items) : ok(items);
    }
    case 'number':
      return raw === null || (typeof raw === 'number' && Number.isFinite(raw)) ? ok(raw) : fail(`${at}.number should be a number or \`null\`, instead was \`${show(raw)}\`.`);
    case 'checkbox':
      return typeof raw === 'boolean' ? ok(raw) : fail(`${at}.checkbox should be a boolean, instead was \`${show(raw)}\`.`);
    case 'url':
      return raw === null || (typeof raw === 'string' && raw.length <= MAX_TEXT) ? ok(raw) : fail(`${at}.url should be a string or \`null\`, instead was \`${show(raw)}\`.`);
    case 'date':
      return dateValue(raw, at, ok);
    case 'select':
    case 'status': {
      if (raw === null) return ok(null);
      const option = optionFor(schema, raw);
      return typeof option === 'string' ? fail(option) : ok(option);
    }
    case 'multi_select': {
      if (!Array.isArray(raw) || raw.length > MAX_ARRAY) return fail(`${at}.multi_select should be an array of at most ${MAX_ARRAY} options.`);
      const options: SelectOption[] = [];
      for (const item of raw) {
        const option = optionFor(schema, item);
        if (typeof option === 'string') return fail(option);
        if (!options.some((o) => o.id === option.id)) options.push(option);
      }
      return ok(options);
    }
  }
}

/** The plain value of a stored property, for filters and sorts. */
export function plain(value: StoredValue | undefined): string | number | boolean | null | string[] {
  if (!value) return null;
  const v = value[value.type];
  switch (value.type) {
    case 'title':
    case 'rich_text':
      return Array.isArray(v) ? v.map((i) => (isObject(i) && typeof i.plain_text === 'string' ? i.plain_text : '')).join('') : '';
    case 'select':
    case 'status':
      return isObject(v) && typeof v.name === 'string' ? v.name : null;
    case 'multi_select':
      return Array.isArray(v) ? v.map((o) => (isObject(o) && typeof o.name === 'string' ? o.name : '')) : [];
    case 'date':
      return isObject(v) && typeof v.start === 'string' ? v.start : null;
    default:
      return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : null;
  }
}

/** Rich text in the request format → the response format, or an error message. */
function richText(raw: unknown, at: string): Record<string, unknown>[] | string {
  if (!Array.isArray(raw)) return `${at} should be an array, instead was \`${show(raw)}\`.`;
  if (raw.length > MAX_ARRAY) return `${at}.length should be ≤ \`${MAX_ARRAY}\`, instead was \`${raw.length}\`.`;
  const out: Record<string, unknown>[] = [];
  for (const [i, item] of raw.entries()) {
    const text = isObject(item) ? item.text : undefined;
    if (!isObject(text) || typeof text.content !== 'string') return `${at}[${i}].text.content should be defined, instead was \`undefined\`.`;
    if (text.content.length > MAX_TEXT) return `${at}[${i}].text.content.length should be ≤ \`${MAX_TEXT}\`, instead was \`${text.content.length}\`.`;
    const link = isObject(text.link) && typeof text.link.url === 'string' ? { url: text.link.url } : null;
    const annotations = isObject(item) && isObject(item.annotations) ? { ...ANNOTATIONS, ...item.annotations } : { ...ANNOTATIONS };
    out.push({ type: 'text', text: { content: text.content, link }, annotations, plain_text: text.content, href: link?.url ?? null });
  }
  return out;
}

function dateValue(raw: unknown, at: string, ok: (v: unknown) => WriteResult): WriteResult {
  if (raw === null) return ok(null);
  if (!isObject(raw) || typeof raw.start !== 'string' || Number.isNaN(Date.parse(raw.start))) {
    return fail(`${at}.date.start should be a valid ISO 8601 date string, instead was \`${show(isObject(raw) ? raw.start : raw)}\`.`);
  }
  const end = typeof raw.end === 'string' && !Number.isNaN(Date.parse(raw.end)) ? raw.end : null;
  return ok({ start: raw.start, end, time_zone: typeof raw.time_zone === 'string' ? raw.time_zone : null });
}

/** `{name}` or `{id}` → an option; select creates missing names, status does not. */
function optionFor(schema: PropertySchema, raw: unknown): SelectOption | string {
  const options = (schema.options ??= []);
  if (!isObject(raw)) return `body.properties.${schema.name}.${schema.type} should be an object or \`null\`, instead was \`${show(raw)}\`.`;
  const found = options.find((o) => (typeof raw.id === 'string' && o.id === raw.id) || (typeof raw.name === 'string' && o.name === raw.name));
  if (found) return { ...found };
  if (schema.type === 'status' || typeof raw.name !== 'string' || raw.name.length === 0 || raw.name.length > 100 || raw.name.includes(',')) {
    return schema.type === 'status' ? `Invalid status option. Status option "${show(raw.name)}" does not exist".` : `Invalid select option: ${show(raw.name)}.`;
  }
  const option = { id: `opt-${options.length + 1}-${schema.id}`, name: raw.name, color: COLORS[options.length % COLORS.length] ?? 'default' };
  options.push(option);
  return { ...option };
}

function fail(message: string): WriteResult {
  return { ok: false, message };
}

function show(value: unknown): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
