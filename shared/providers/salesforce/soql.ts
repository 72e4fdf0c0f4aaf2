/**
 * SOQL for the incremental pull, Salesforce datetimes, and turning rows into
 * NormalizedRecords.
 * https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm
 */
import type { NormalizedRecord } from '../types';
import type { QueryRecord, SalesforceConfig, SalesforceObjectConfig } from './schemas';

/** Selected on every object: the record id, the watermark and the tombstone flag. */
const SYSTEM_FIELDS = ['Id', 'SystemModstamp', 'IsDeleted'] as const;

/**
 * `SELECT Id, SystemModstamp, IsDeleted, … FROM {T} [WHERE SystemModstamp > ts]
 * ORDER BY SystemModstamp ASC, Id ASC`. Object and field names were checked
 * against the API-name pattern when the config was parsed, and the literal is
 * built from a Date, so nothing from outside reaches the query unchecked.
 * The Id tie-break keeps the order stable within one second.
 */
export function incrementalQuery(object: SalesforceObjectConfig, config: SalesforceConfig, since: string | undefined): string {
  const seen = new Set<string>();
  const fields: string[] = [];
  for (const f of [...SYSTEM_FIELDS, ...object.fields]) {
    // SOQL refuses a field selected twice, and field names are case-insensitive.
    if (seen.has(f.toLowerCase())) continue;
    seen.add(f.toLowerCase());
    fields.push(f);
  }
  const where = since === undefined ? '' : ` WHERE SystemModstamp > ${soqlDateTime(Date.parse(since) - config.overlapSeconds * 1000)}`;
  return `SELECT ${fields.join(', ')} FROM ${object.name}${where} ORDER BY SystemModstamp ASC, Id ASC`;
}

/** A SOQL dateTime literal, `2024-01-01T00:00:00Z` (SOQL has no fractional seconds). */
export function soqlDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * `2024-01-01T00:00:00.000+0000` (how the REST API writes datetimes) as ISO
 * 8601 in UTC, `2024-01-01T00:00:00.000Z`. Input was matched by `sfDateTime`.
 */
export function isoFromSalesforce(value: string): string {
  const normalized = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(normalized);
  if (Number.isNaN(ms)) throw new RangeError('not a Salesforce datetime');
  return new Date(ms).toISOString();
}

/** The later of two ISO instants (either may be missing). */
export function later(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

export function recordFromRow(entityType: string, row: QueryRecord): NormalizedRecord {
  return {
    externalId: row.Id,
    entityType,
    updatedAt: isoFromSalesforce(row.SystemModstamp),
    deleted: row.IsDeleted === true,
    data: withoutAttributes(row),
  };
}

/** A row of the deleted feed: only the id and when it went. */
export function recordFromDeletion(entityType: string, id: string, deletedDate: string): NormalizedRecord {
  return { externalId: id, entityType, updatedAt: isoFromSalesforce(deletedDate), deleted: true, data: { Id: id } };
}

/**
 * Rows (and the relationship objects inside them) carry an `attributes`
 * object with the type and REST URL: metadata, not data.
 */
function withoutAttributes(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'attributes') continue;
    out[key] = v !== null && typeof v === 'object' && !Array.isArray(v) ? withoutAttributes(v as Record<string, unknown>) : v;
  }
  return out;
}
