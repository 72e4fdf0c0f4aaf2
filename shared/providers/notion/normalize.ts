/**
 * A Notion page as a NormalizedRecord. Property values are flattened to plain
 * JSON (text as a string, a select as its name, people as ids…) so mappings
 * and the content hash see data, not Notion's rich-text formatting.
 * https://developers.notion.com/reference/page-property-values
 *
 * Pages in the trash (`in_trash`, or the older `archived`) are deletions.
 */
import type { NormalizedRecord } from '../types';
import type { NotionPage, NotionPropertyValue } from './schemas';

export const NOTION_ENTITY_TYPE = 'page';

export function pageToRecord(page: NotionPage): NormalizedRecord {
  const properties: Record<string, unknown> = {};
  let title: string | null = null;
  for (const [name, value] of Object.entries(page.properties)) {
    properties[name] = plainValue(value);
    if (value.type === 'title') title = richText(value.title);
  }
  return {
    externalId: page.id,
    entityType: NOTION_ENTITY_TYPE,
    updatedAt: page.last_edited_time,
    deleted: page.in_trash === true || page.archived === true,
    data: {
      title,
      url: page.url ?? null,
      created_time: page.created_time,
      last_edited_time: page.last_edited_time,
      properties,
    },
  };
}

/** The value of one property as plain JSON; types without a plain form keep Notion's value as is. */
export function plainValue(property: NotionPropertyValue): unknown {
  const value = property[property.type];
  switch (property.type) {
    case 'title':
    case 'rich_text':
      return richText(value);
    case 'select':
    case 'status':
      return nameOf(value);
    case 'multi_select':
      return Array.isArray(value) ? value.map(nameOf).filter((n) => n !== null) : [];
    case 'people':
    case 'relation':
      return Array.isArray(value) ? value.map(idOf).filter((n) => n !== null) : [];
    case 'created_by':
    case 'last_edited_by':
      return idOf(value);
    case 'date':
      return dateOf(value);
    case 'formula':
      return formulaOf(value);
    default:
      // number, checkbox, url, email, phone_number, created_time, unique_id, files, rollup…
      return value ?? null;
  }
}

/** Rich text (https://developers.notion.com/reference/rich-text) as its plain text. */
function richText(value: unknown): string {
  if (!Array.isArray(value)) return '';
  return value.map((item) => (isObject(item) && typeof item.plain_text === 'string' ? item.plain_text : '')).join('');
}

function nameOf(value: unknown): string | null {
  return isObject(value) && typeof value.name === 'string' ? value.name : null;
}

function idOf(value: unknown): string | null {
  return isObject(value) && typeof value.id === 'string' ? value.id : null;
}

function dateOf(value: unknown): unknown {
  if (!isObject(value)) return null;
  return { start: value.start ?? null, end: value.end ?? null, time_zone: value.time_zone ?? null };
}

/** A formula's result sits under its own type: `{type: "number", number: 3}`. */
function formulaOf(value: unknown): unknown {
  if (!isObject(value) || typeof value.type !== 'string') return null;
  const result = value[value.type];
  return value.type === 'date' ? dateOf(result) : (result ?? null);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
