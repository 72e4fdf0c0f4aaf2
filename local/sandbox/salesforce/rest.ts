/**
 * The REST resources of the sandbox, under `/services/data/vNN.0`:
 * query / queryAll with query locators, sObject rows (create, read, update,
 * delete), upsert by external id, and the deleted feed. Error bodies are
 * Salesforce's `[{"message", "errorCode"}]` arrays.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm
 */
import { parseSfDateTime, salesforceId, scalarText, sfDateTime } from './ids';
import { fieldValue, parseSoql, runSoql } from './soql';
import type { ObjectSchema, SalesforceSandboxState, SandboxRecord } from './state';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RestDeps {
  state: SalesforceSandboxState;
  locators: Locators;
  now(): number;
}

/** Query batch sizes: 200–2,000, default 2,000 (Sforce-Query-Options). */
const DEFAULT_BATCH = 2000;
const MIN_BATCH = 200;
/** The deleted feed reaches back 15 days. */
const DELETED_REACH_MS = 15 * 24 * 60 * 60 * 1000;

export function sfError(status: number, errorCode: string, message: string): Reply {
  return { status, body: [{ message, errorCode }] };
}

const notFound = (): Reply => sfError(404, 'NOT_FOUND', 'The requested resource does not exist');

/**
 * Server-side cursors of queries with more rows than a batch. Idle ones die
 * after 15 minutes; a user keeps at most `maxOpen`, the oldest evicted first.
 */
export class Locators {
  private readonly open = new Map<string, { rows: unknown[]; batch: number; lastUsed: number }>();
  private seq = 1;

  constructor(private readonly now: () => number, private readonly maxOpen: number, private readonly idleMs: number) {}

  page(version: string, rows: unknown[], batch: number, offset = 0, id?: string): Reply {
    const end = offset + batch;
    const body: Record<string, unknown> = { totalSize: rows.length, done: end >= rows.length, records: rows.slice(offset, end) };
    if (end < rows.length) {
      const locator = id ?? this.store(rows, batch);
      // queryAll's locators come back under /query/ too, as the docs note.
      body.nextRecordsUrl = `/services/data/v${version}/query/${locator}-${end}`;
    } else if (id !== undefined) {
      this.open.delete(id);
    }
    return { status: 200, body };
  }

  more(version: string, id: string, offset: number): Reply {
    const entry = this.open.get(id);
    if (!entry || this.now() - entry.lastUsed > this.idleMs || offset > entry.rows.length) {
      this.open.delete(id);
      return sfError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    }
    entry.lastUsed = this.now();
    return this.page(version, entry.rows, entry.batch, offset, id);
  }

  expireAll(): void {
    this.open.clear();
  }

  private store(rows: unknown[], batch: number): string {
    const id = salesforceId('01g', this.seq++);
    this.open.set(id, { rows, batch, lastUsed: this.now() });
    while (this.open.size > this.maxOpen) {
      const oldest = this.open.keys().next().value;
      if (oldest === undefined) break;
      this.open.delete(oldest);
    }
    return id;
  }
}

export async function handleRest(deps: RestDeps, version: string, method: string, url: URL, rest: string, headers: { queryOptions?: string; ifUnmodifiedSince?: string }, readBody: () => Promise<unknown>): Promise<Reply> {
  const parts = rest.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [resource, a, b, c] = parts;
  if ((resource === 'query' || resource === 'queryAll') && method === 'GET') {
    if (a !== undefined) {
      const m = /^([A-Za-z0-9]{18})-(\d+)$/.exec(a);
      return m?.[1] && m[2] && parts.length === 2 ? deps.locators.more(version, m[1], Number(m[2])) : notFound();
    }
    const q = url.searchParams.get('q');
    if (q === null) return sfError(400, 'MALFORMED_QUERY', 'A query string has to be specified');
    return query(deps, version, q, resource === 'queryAll', batchSize(headers.queryOptions));
  }
  if (resource !== 'sobjects' || a === undefined) return notFound();
  const schema = deps.state.schema(a);
  if (!schema) return sfError(404, 'NOT_FOUND', `The requested resource does not exist`);

  if (b === undefined) {
    if (method !== 'POST') return notFound();
    const body = await readBody();
    if (!isRecord(body)) return sfError(400, 'JSON_PARSER_ERROR', 'The request body is not a JSON object');
    const check = deps.state.checkWrite(schema, body, true);
    if (!check.ok) return sfError(400, check.code, check.message);
    const created = deps.state.create(schema, check.values);
    return { status: 201, body: { id: created.Id, success: true, errors: [] } };
  }
  if (b === 'deleted' && c === undefined && method === 'GET') return deleted(deps, schema, url);
  if (c !== undefined) return upsert(deps, schema, method, b, c, readBody);
  return row(deps, version, schema, method, b, readBody, headers.ifUnmodifiedSince);
}

function query(deps: RestDeps, version: string, soql: string, all: boolean, batch: number): Reply {
  const parsed = parseSoql(soql, deps.state);
  if ('code' in parsed) return sfError(400, parsed.code, parsed.message);
  const rows = runSoql(parsed, deps.state.rows(parsed.object).filter((r) => all || !r.IsDeleted)).map((r) => {
    const out: Record<string, unknown> = { attributes: attributes(version, r) };
    for (const f of parsed.fields) out[f] = fieldValue(r, f);
    return out;
  });
  return deps.locators.page(version, rows, batch);
}

async function row(deps: RestDeps, version: string, schema: ObjectSchema, method: string, id: string, readBody: () => Promise<unknown>, ifUnmodifiedSince?: string): Promise<Reply> {
  if (!/^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$/.test(id)) return sfError(400, 'MALFORMED_ID', `${schema.name} ID: id value of incorrect type: ${id}`);
  const record = deps.state.find(schema, id);
  if (!record) return notFound();
  if (record.IsDeleted) return sfError(404, 'ENTITY_IS_DELETED', 'entity is deleted');
  if (method === 'GET') return { status: 200, body: full(version, schema, record) };
  if (method === 'DELETE') {
    deps.state.remove(record);
    return { status: 204 };
  }
  if (method !== 'PATCH') return sfError(405, 'METHOD_NOT_ALLOWED', `HTTP Method '${method}' not allowed. Allowed are GET,PATCH,DELETE`);
  const precondition = unmodifiedSince(record, ifUnmodifiedSince);
  if (precondition) return precondition;
  const body = await readBody();
  if (!isRecord(body)) return sfError(400, 'JSON_PARSER_ERROR', 'The request body is not a JSON object');
  const check = deps.state.checkWrite(schema, body, false);
  if (!check.ok) return sfError(400, check.code, check.message);
  deps.state.update(record, check.values);
  return { status: 204 };
}

async function upsert(deps: RestDeps, schema: ObjectSchema, method: string, fieldName: string, value: string, readBody: () => Promise<unknown>): Promise<Reply> {
  const field = schema.fields.get(fieldName.toLowerCase());
  if (!field || !schema.externalIds.has(field)) {
    return sfError(404, 'NOT_FOUND', `Provided external ID field does not exist or is not accessible: ${fieldName}`);
  }
  if (method !== 'PATCH') return notFound();
  const body = await readBody();
  if (!isRecord(body)) return sfError(400, 'JSON_PARSER_ERROR', 'The request body is not a JSON object');
  const given = Object.entries(body).find(([k]) => k.toLowerCase() === field.toLowerCase())?.[1];
  if (given !== undefined && scalarText(given) !== value) return sfError(400, 'INVALID_FIELD', `The value of the external ID field in the URL doesn't match the body`);
  const matches = deps.state.byExternalId(schema, field, value);
  if (matches.length > 1) return { status: 300, body: matches.map((m) => `/services/data/sobjects/${schema.name}/${m.Id}`) };
  const existing = matches[0];
  const check = deps.state.checkWrite(schema, { ...body, [field]: value }, existing === undefined);
  if (!check.ok) return sfError(400, check.code, check.message);
  if (existing) {
    deps.state.update(existing, check.values);
    return { status: 200, body: { id: existing.Id, success: true, errors: [], created: false } };
  }
  const created = deps.state.create(schema, check.values);
  return { status: 201, body: { id: created.Id, success: true, errors: [], created: true } };
}

/** GET /sobjects/{T}/deleted/?start=&end= — seconds ignored, 15 days back at most, start a minute before end. */
function deleted(deps: RestDeps, schema: ObjectSchema, url: URL): Reply {
  const startRaw = url.searchParams.get('start');
  const endRaw = url.searchParams.get('end');
  const start = startRaw === null ? undefined : parseSfDateTime(startRaw);
  const end = endRaw === null ? undefined : parseSfDateTime(endRaw);
  if (start === undefined || end === undefined) return sfError(400, 'MISSING_ARGUMENT', 'start and end must be dateTimes');
  const [from, to] = [floorMinute(start), floorMinute(end)];
  if (to - from <= 60_000) return sfError(400, 'INVALID_REPLICATION_DATE', 'startDate must chronologically precede endDate by more than one minute');
  const earliest = Math.max(floorMinute(deps.now() - DELETED_REACH_MS), deps.state.deleteLogStart);
  if (from < earliest) return sfError(400, 'INVALID_REPLICATION_DATE', `startDate is before earliestDateAvailable ${sfDateTime(earliest)}`);
  const covered = Math.min(to, floorMinute(deps.now()));
  return {
    status: 200,
    body: {
      deletedRecords: deps.state.deletions(schema.name, from, covered).map((d) => ({ id: d.id, deletedDate: sfDateTime(d.at) })),
      earliestDateAvailable: sfDateTime(earliest),
      latestDateCovered: sfDateTime(covered),
    },
  };
}

/**
 * If-Unmodified-Since on a PATCH: 412 when the record was modified after the
 * date (compared with LastModifiedDate, to the second, as HTTP dates go); an
 * unparsable date is a 400. The error body's code is the sandbox's choice
 * (Salesforce documents the status, not the body).
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_conditional_requests.htm
 */
function unmodifiedSince(record: SandboxRecord, header: string | undefined): Reply | undefined {
  if (header === undefined) return undefined;
  const since = Date.parse(header);
  if (Number.isNaN(since) || !/GMT$/.test(header.trim())) return sfError(400, 'INVALID_HEADER_TYPE', 'If-Unmodified-Since must be an HTTP date');
  const modified = Math.floor((parseSfDateTime(record.LastModifiedDate) ?? 0) / 1000) * 1000;
  return modified > since ? sfError(412, 'PRECONDITION_FAILED', 'The record was modified after the If-Unmodified-Since date') : undefined;
}

function attributes(version: string, r: SandboxRecord): { type: string; url: string } {
  return { type: r.type, url: `/services/data/v${version}/sobjects/${r.type}/${r.Id}` };
}

function full(version: string, schema: ObjectSchema, r: SandboxRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: attributes(version, r) };
  for (const f of schema.fields.values()) out[f] = fieldValue(r, f);
  return out;
}

function batchSize(header: string | undefined): number {
  const m = header ? /batchSize=(\d+)/i.exec(header) : null;
  const n = m?.[1] ? Number(m[1]) : DEFAULT_BATCH;
  return Math.min(DEFAULT_BATCH, Math.max(MIN_BATCH, n));
}

function floorMinute(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
