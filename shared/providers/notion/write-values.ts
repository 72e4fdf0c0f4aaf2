/**
 * Property values for writes. The pull flattens page properties to plain
 * JSON (normalize.ts: a title as its text, a select as its name, people as
 * ids), so an edit of a pulled record — or of a mapped field read from
 * `properties.X` — arrives in that plain shape. Notion's PATCH takes its
 * request format, which depends on the property's type; the type comes from
 * the page (or data source) the push reads first. A value already in the
 * request format (`{"number": 3}`) is passed through unchanged.
 * https://developers.notion.com/reference/page-property-values
 */
import { UnrecoverableError } from '../../errors';

/** Notion caps a rich text item's content at 2,000 characters (https://developers.notion.com/reference/request-limits). */
const MAX_TEXT = 2000;

/** Property types with a plain form the pull produces and a write accepts; the rest (formula, rollup, created_time…) are read-only. */
const WRITABLE_TYPES = new Set(['title', 'rich_text', 'number', 'checkbox', 'select', 'status', 'multi_select', 'url', 'email', 'phone_number', 'date', 'people', 'relation']);

/** One property's value in the request format, for a property of `type`. */
export function requestValue(name: string, type: string, value: unknown): Record<string, unknown> {
  if (isObject(value) && Object.hasOwn(value, type)) return value;
  if (!WRITABLE_TYPES.has(type)) throw new UnrecoverableError(`Notion push: property ${name.slice(0, 100)} (${type.slice(0, 40)}) cannot be written`);
  const wrong = (): never => { throw new UnrecoverableError(`Notion push: property ${name.slice(0, 100)} (${type}) cannot take that value`); };
  switch (type) {
    case 'title':
    case 'rich_text':
      if (value === null) return { [type]: [] };
      if (typeof value !== 'string') return wrong();
      return { [type]: chunks(value).map((content) => ({ type: 'text', text: { content } })) };
    case 'number':
      return value === null || (typeof value === 'number' && Number.isFinite(value)) ? { number: value } : wrong();
    case 'checkbox':
      return typeof value === 'boolean' ? { checkbox: value } : wrong();
    case 'select':
    case 'status':
      if (value === null) return { [type]: null };
      return typeof value === 'string' ? { [type]: { name: value } } : wrong();
    case 'multi_select':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? { multi_select: value.map((n) => ({ name: n })) } : wrong();
    case 'people':
    case 'relation':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? { [type]: value.map((id) => ({ id })) } : wrong();
    case 'date':
      if (value === null) return { date: null };
      if (typeof value === 'string') return { date: { start: value } };
      return isObject(value) && typeof value.start === 'string' ? { date: withoutNulls(value) } : wrong();
    default:
      // url, email, phone_number: a string or null.
      return value === null || typeof value === 'string' ? { [type]: value } : wrong();
  }
}

/** Long text goes as several rich text items: each is capped, the whole is not. */
function chunks(text: string): string[] {
  if (text.length <= MAX_TEXT) return [text];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += MAX_TEXT) out.push(text.slice(i, i + MAX_TEXT));
  return out;
}

function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
