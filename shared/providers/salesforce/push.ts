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
 */
import { createHash } from 'node:crypto';
import { UnrecoverableError } from '../../errors';
import { readJson } from '../../http/provider-fetch';
import type { PushOperation, PushResult, PushSupport } from '../types';
import { connect, type Clock, type SalesforceApi, type SalesforceContext } from './api';
import { API_NAME, RECORD_ID, saveResultSchema, type SalesforceConfig, type SalesforceCredentials, type SalesforceObjectConfig } from './schemas';

/**
 * External ID values go in the URL path: keys made of these characters go
 * as they are (255 is the longest Text external id); anything else is hashed
 * to a stable 64-character hex value, so the same key always hits the same record.
 */
// At least one letter or digit: `.` and `..` alone would walk the URL path.
const SAFE_KEY = /^(?=.*[A-Za-z0-9])[A-Za-z0-9._:-]{1,255}$/;
/** Read-only or identifying fields a write body must not carry. */
const NOT_WRITABLE = new Set(['id', 'systemmodstamp', 'isdeleted', 'attributes']);

export function pushSalesforce(now: Clock): PushSupport<SalesforceConfig, SalesforceCredentials> {
  return {
    // The writable objects are the config's (`objects[].name`): they differ per integration.
    entityTypes: [],
    async apply(ctx: SalesforceContext, operation: PushOperation): Promise<PushResult> {
      const object = ctx.config.objects.find((o) => o.name === operation.entityType);
      if (!object) throw new UnrecoverableError(`Salesforce push: ${operation.entityType} is not one of this integration's objects`);
      const api = await connect(ctx, now);
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

async function create(api: SalesforceApi, object: SalesforceObjectConfig, operation: PushOperation): Promise<PushResult> {
  const op = `Salesforce create ${object.name}`;
  const { response } = await api.request(api.path('sobjects', object.name), jsonBody('POST', writable(operation.payload)), op);
  return { externalId: await savedId(response, op) };
}

async function upsert(api: SalesforceApi, object: SalesforceObjectConfig, field: string, operation: PushOperation): Promise<PushResult> {
  const op = `Salesforce upsert ${object.name}`;
  // The key is in the URL; the same field in the body is refused when it differs.
  const body = Object.fromEntries(Object.entries(writable(operation.payload)).filter(([key]) => key.toLowerCase() !== field.toLowerCase()));
  const { response } = await api.request(api.path('sobjects', object.name, field, externalIdValue(operation.idempotencyKey)), jsonBody('PATCH', body), op);
  return { externalId: await savedId(response, op) };
}

async function update(api: SalesforceApi, object: SalesforceObjectConfig, operation: PushOperation): Promise<PushResult> {
  const id = recordIdOf(operation, 'update');
  await api.request(api.path('sobjects', object.name, id), jsonBody('PATCH', writable(operation.payload)), `Salesforce update ${object.name}`);
  return { externalId: id };
}

async function remove(api: SalesforceApi, object: SalesforceObjectConfig, operation: PushOperation): Promise<PushResult> {
  const id = recordIdOf(operation, 'delete');
  await api.request(api.path('sobjects', object.name, id), { method: 'DELETE' }, `Salesforce delete ${object.name}`, ['ENTITY_IS_DELETED', 'NOT_FOUND']);
  return { externalId: id };
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
