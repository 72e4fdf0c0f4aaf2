/**
 * Writes to sObjects through the REST API.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/using_resources_working_with_records.htm
 *
 * - create: `POST /sobjects/{T}` → 201 `{id, success, errors}`. With an
 *   External ID field configured for the object, an upsert instead:
 *   `PATCH /sobjects/{T}/{field}/{idempotency key}` → 201 created / 200
 *   updated (`created` from API 46.0). A retried create then finds the
 *   record it made the first time, so creates are idempotent; without that
 *   field Salesforce has no way to tell, and a retry may duplicate.
 *   https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
 * - update: `PATCH /sobjects/{T}/{id}` → 204. Idempotent by nature.
 * - delete: `DELETE /sobjects/{T}/{id}` → 204. A retry answers 404
 *   ENTITY_IS_DELETED (in the recycle bin) or NOT_FOUND: both count as done.
 *
 * Conditional writes. With `seen`, an update carries `If-Unmodified-Since`
 * (the SystemModstamp we saw, as an HTTP date): Salesforce answers 412 when
 * the record was modified after it, and the push becomes a PushConflictError.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/intro_rest_conditional_requests.htm
 * HTTP dates have whole seconds, as Salesforce's datetimes do. DELETE takes
 * no conditional header (same page), so a delete re-reads the record first
 * and compares SystemModstamp: the remaining window is that round trip.
 * After a create or update the record is read back (one SOQL query of the
 * integration's fields), so the version stored is Salesforce's own
 * SystemModstamp, never our clock: the next conditional write compares like
 * with like.
 */
import { createHash } from 'node:crypto';
import { UnrecoverableError } from '../../errors';
import { readJson } from '../../http/provider-fetch';
import { changedSince, PushConflictError } from '../push-conflict';
import type { NormalizedRecord, PushOperation, PushResult, PushSupport } from '../types';
import { connect, type Clock, type SalesforceApi, type SalesforceContext } from './api';
import { API_NAME, queryResultSchema, RECORD_ID, saveResultSchema, type SalesforceConfig, type SalesforceCredentials, type SalesforceObjectConfig } from './schemas';
import { recordFromRow } from './soql';

/**
 * External ID values go in the URL path: keys made of these characters go
 * as they are (255 is the longest Text external id); anything else is hashed
 * to a stable 64-character hex value, so the same key always hits the same record.
 */
// At least one letter or digit: `.` and `..` alone would walk the URL path.
const SAFE_KEY = /^(?=.*[A-Za-z0-9])[A-Za-z0-9._:-]{1,255}$/;
/** Read-only or identifying fields a write body must not carry (dropped from a body). */
const NOT_WRITABLE = new Set(['id', 'systemmodstamp', 'isdeleted', 'attributes']);
/** Audit fields Salesforce sets itself: an edit of one is refused at the API. */
const SYSTEM_SET = new Set([...NOT_WRITABLE, 'createddate', 'createdbyid', 'lastmodifieddate', 'lastmodifiedbyid']);

export function pushSalesforce(now: Clock): PushSupport<SalesforceConfig, SalesforceCredentials> {
  return {
    // The writable objects are the config's (`objects[].name`): they differ per integration.
    entityTypes: [],
    entityTypesFor: (config) => config.objects.map((o) => o.name),
    writable: (_entityType, field) => API_NAME.test(field) && !SYSTEM_SET.has(field.toLowerCase()),
    conditional: true,
    async apply(ctx: SalesforceContext, operation: PushOperation): Promise<PushResult> {
      const object = ctx.config.objects.find((o) => o.name === operation.entityType);
      if (!object) throw new UnrecoverableError(`Salesforce push: ${operation.entityType} is not one of this integration's objects`);
      // Note the status of the last answer: a 412 to a conditional write is a conflict, not a failure.
      const status = { last: 0 };
      const peek: typeof fetch = async (input, init) => {
        const response = await ctx.fetch(input, init);
        status.last = response.status;
        return response;
      };
      const api = withStatus(await connect({ ...ctx, fetch: peek }, now), status);
      switch (operation.op) {
        case 'create':
          return object.externalIdField === undefined ? create(api, object, operation) : upsert(api, object, object.externalIdField, operation);
        case 'update':
          return update(api, object, operation);
        case 'delete':
          return remove(api, object, operation);
      }
    },
  };
}

interface StatusApi extends SalesforceApi {
  /** The HTTP status of the last answer (a thrown error's too). */
  lastStatus(): number;
}

function withStatus(api: SalesforceApi, status: { last: number }): StatusApi {
  return { ...api, lastStatus: () => status.last };
}

async function create(api: StatusApi, object: SalesforceObjectConfig, operation: PushOperation): Promise<PushResult> {
  const op = `Salesforce create ${object.name}`;
  const { response } = await api.request(api.path('sobjects', object.name), jsonBody('POST', writable(operation.payload)), op);
  return readBack(api, object, await savedId(response, op));
}

async function upsert(api: SalesforceApi, object: SalesforceObjectConfig, field: string, operation: PushOperation): Promise<PushResult> {
  const op = `Salesforce upsert ${object.name}`;
  // The key is in the URL; the same field in the body is refused when it differs.
  const body = Object.fromEntries(Object.entries(writable(operation.payload)).filter(([key]) => key.toLowerCase() !== field.toLowerCase()));
  const { response } = await api.request(api.path('sobjects', object.name, field, externalIdValue(operation.idempotencyKey)), jsonBody('PATCH', body), op);
  return readBack(api, object, await savedId(response, op));
}

async function update(api: StatusApi, object: SalesforceObjectConfig, operation: PushOperation): Promise<PushResult> {
  const id = recordIdOf(operation, 'update');
  const body = writable(operation.payload);
  if (Object.keys(body).length === 0) throw new UnrecoverableError(`Salesforce update ${object.name}: nothing to write`);
  const init = jsonBody('PATCH', body);
  if (operation.seen) init.headers = { ...(init.headers as Record<string, string>), 'if-unmodified-since': httpDate(operation.seen.updatedAt) };
  try {
    await api.request(api.path('sobjects', object.name, id), init, `Salesforce update ${object.name}`);
  } catch (error) {
    if (api.lastStatus() === 412) throw new PushConflictError(`Salesforce ${object.name} ${id}: modified at the provider after ${operation.seen?.updatedAt ?? 'the version last seen'}`);
    throw error;
  }
  return readBack(api, object, id);
}

async function remove(api: StatusApi, object: SalesforceObjectConfig, operation: PushOperation): Promise<PushResult> {
  const id = recordIdOf(operation, 'delete');
  if (operation.seen) {
    // DELETE takes no conditional header: re-read, and refuse when the record moved on since we saw it.
    const current = await readRow(api, object, id);
    if (!current || current.deleted) return { externalId: id };
    const reason = changedSince(operation.seen, current, {});
    if (reason !== undefined) throw new PushConflictError(`Salesforce ${object.name} ${id}: ${reason}`, current);
  }
  await api.request(api.path('sobjects', object.name, id), { method: 'DELETE' }, `Salesforce delete ${object.name}`, ['ENTITY_IS_DELETED', 'NOT_FOUND']);
  return { externalId: id };
}

/** The record as the pull reads it (the integration's fields), after our write: Salesforce's own SystemModstamp becomes the stored version. */
async function readBack(api: SalesforceApi, object: SalesforceObjectConfig, id: string): Promise<PushResult> {
  const record = await readRow(api, object, id);
  if (!record) return { externalId: id };
  return { externalId: id, version: record.updatedAt, updatedAt: record.updatedAt, record };
}

async function readRow(api: SalesforceApi, object: SalesforceObjectConfig, id: string): Promise<NormalizedRecord | undefined> {
  const fields: string[] = [];
  for (const f of ['Id', 'SystemModstamp', 'IsDeleted', ...object.fields]) if (!fields.some((g) => g.toLowerCase() === f.toLowerCase())) fields.push(f);
  // The id was checked against RECORD_ID (letters and digits only): safe inside the quotes.
  const soql = `SELECT ${fields.join(', ')} FROM ${object.name} WHERE Id = '${id}'`;
  const operation = `Salesforce read ${object.name}`;
  const { response } = await api.request(`${api.path('queryAll')}/?${new URLSearchParams({ q: soql }).toString()}`, { method: 'GET' }, operation);
  const parsed = queryResultSchema.safeParse(await readJson(response, operation));
  if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape`);
  const row = parsed.data.records[0];
  return row === undefined ? undefined : recordFromRow(object.name, row);
}

/** An HTTP date (whole seconds, GMT), as If-Unmodified-Since takes it. */
function httpDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new UnrecoverableError('Salesforce push: the version last seen has no valid time');
  return new Date(ms).toUTCString();
}

/** The value used in the upsert URL for an idempotency key. */
export function externalIdValue(idempotencyKey: string): string {
  return SAFE_KEY.test(idempotencyKey) ? idempotencyKey : createHash('sha256').update(idempotencyKey, 'utf8').digest('hex');
}

function recordIdOf(operation: PushOperation, op: string): string {
  const id = operation.externalId;
  if (id === undefined || !RECORD_ID.test(id)) throw new UnrecoverableError(`Salesforce ${op}: needs the record's Salesforce id`);
  return id;
}

/** The payload's fields, checked as API names; system fields dropped. */
function writable(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(payload)) {
    if (NOT_WRITABLE.has(key.toLowerCase())) continue;
    if (!API_NAME.test(key)) throw new UnrecoverableError(`Salesforce push: "${key.slice(0, 80)}" is not a field API name`);
    out[key] = value;
  }
  return out;
}

function jsonBody(method: string, body: Record<string, unknown>): RequestInit {
  return { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

async function savedId(response: Response, operation: string): Promise<string> {
  const parsed = saveResultSchema.safeParse(await readJson(response, operation));
  if (!parsed.success || !parsed.data.success) throw new UnrecoverableError(`${operation}: unexpected response (no record id)`);
  return parsed.data.id;
}
