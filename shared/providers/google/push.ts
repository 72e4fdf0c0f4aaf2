/**
 * Calendar events written back: insert, patch, delete.
 * https://developers.google.com/calendar/api/v3/reference/events
 *
 * Creates are idempotent by construction: the event `id` is derived from
 * the idempotency key (Calendar accepts client-chosen ids of 5–1024
 * base32hex characters, a–v and 0–9), so a retried create answers 409
 * `duplicate` and is treated as done — the existing event is read back.
 * Updates are PATCHes (same payload twice, same result). Deleting an event
 * already gone (404, or 410 `deleted`) is done as well.
 *
 * Conditional writes. With `seen`, an update or delete first reads the event
 * and compares it with the version we saw (a later `updated`, or a patched
 * field holding another value: PushConflictError), then writes with
 * `If-Match: <that read's etag>`, so a change between the read and the write
 * is refused by Google with 412 (also a PushConflictError). Nothing is left
 * uncovered: the etag names exactly the version the comparison passed.
 * https://developers.google.com/calendar/api/guides/version-resources
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RetryableError, UnrecoverableError } from '../../errors';
import { changedSince, PushConflictError } from '../push-conflict';
import type { CallContext, PushOperation, PushResult, PushSupport } from '../types';
import { apiContextFrom, GoogleApi } from './api';
import { eventRecord } from './pull-calendar';
import type { GoogleRuntime } from './runtime';
import { calendarEventSchema, type CalendarEvent, type GoogleConfig, type GoogleCredentials } from './schemas';

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

/** 52 base32hex characters from SHA-256 of the key: deterministic, inside Calendar's id rules. */
export function eventIdFor(idempotencyKey: string): string {
  const digest = createHash('sha256').update(`castiel-sync:${idempotencyKey}`).digest();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of digest) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32HEX.charAt((buffer >>> (bits - 5)) & 31);
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32HEX.charAt((buffer << (5 - bits)) & 31);
  return out;
}

const eventTime = z
  .object({ date: z.iso.date().optional(), dateTime: z.iso.datetime({ offset: true }).optional(), timeZone: z.string().min(1).max(100).optional() })
  .strict()
  .refine((t) => (t.date === undefined) !== (t.dateTime === undefined), 'exactly one of date or dateTime');

/** The event fields we write; anything else in a payload is refused rather than silently sent. */
const eventFields = {
  summary: z.string().max(8192).optional(),
  description: z.string().max(65_536).optional(),
  location: z.string().max(8192).optional(),
  start: eventTime.optional(),
  end: eventTime.optional(),
  status: z.enum(['confirmed', 'tentative', 'cancelled']).optional(),
  transparency: z.enum(['opaque', 'transparent']).optional(),
  visibility: z.enum(['default', 'public', 'private', 'confidential']).optional(),
  colorId: z.string().max(8).optional(),
  recurrence: z.array(z.string().max(2048)).max(50).optional(),
  attendees: z.array(z.object({ email: z.email(), displayName: z.string().max(512).optional(), optional: z.boolean().optional() }).strict()).max(500).optional(),
  extendedProperties: z
    .object({ private: z.record(z.string(), z.string()).optional(), shared: z.record(z.string(), z.string()).optional() })
    .strict()
    .optional(),
};
export const eventPatchSchema = z.object(eventFields).strict();
export const eventCreateSchema = eventPatchSchema.refine((e) => e.start !== undefined && e.end !== undefined, 'start and end are required');

export function googlePush(rt: GoogleRuntime): PushSupport<GoogleConfig, GoogleCredentials> {
  return {
    entityTypes: ['event'],
    writable: (entityType, field) => entityType === 'event' && Object.hasOwn(eventFields, field),
    conditional: true,
    apply: (ctx, operation) => applyEventOperation(ctx, operation, rt),
  };
}

export async function applyEventOperation(
  ctx: CallContext<GoogleConfig, GoogleCredentials>,
  operation: PushOperation,
  rt: GoogleRuntime,
): Promise<PushResult> {
  if (operation.entityType !== 'event') throw new UnrecoverableError(`Google push: entity type '${operation.entityType}' is read-only`);
  const calendarId = ctx.config.calendar?.calendarId;
  if (calendarId === undefined) throw new UnrecoverableError('Google push: no calendar is configured for this integration');
  const api = new GoogleApi(apiContextFrom(ctx), rt);
  const events = `calendar/v3/calendars/${encodeURIComponent(calendarId)}/events`;
  const one = (id: string): URL => api.url(`${events}/${encodeURIComponent(id)}`);

  if (operation.op === 'create') {
    const body = payload(eventCreateSchema, operation.payload, 'create');
    const id = eventIdFor(operation.idempotencyKey);
    const op = 'Google Calendar insert event';
    const res = await api.request({ url: api.url(events), method: 'POST', body: { ...body, id }, operation: op, accept: [409] });
    if (res.status !== 409) return result(await api.parse(res, calendarEventSchema, op), calendarId);
    // Created by an earlier attempt: read it back so the caller gets its version.
    const getOp = 'Google Calendar get event';
    const existing = await api.request({ url: one(id), method: 'GET', operation: getOp, accept: [404] });
    if (existing.status === 404) throw new RetryableError(`${op}: id exists but the event is not readable yet`);
    return result(await api.parse(existing, calendarEventSchema, getOp), calendarId);
  }

  const externalId = operation.externalId;
  if (externalId === undefined || externalId.length === 0) throw new UnrecoverableError(`Google push: ${operation.op} needs the event id`);
  const body = operation.op === 'update' ? payload(eventPatchSchema, operation.payload, 'update') : undefined;
  let ifMatch: Record<string, string> = {};
  if (operation.seen) {
    const getOp = 'Google Calendar get event';
    const res = await api.request({ url: one(externalId), method: 'GET', operation: getOp, accept: [404, 410] });
    if (res.status === 404 || res.status === 410) {
      if (operation.op === 'delete') return { externalId };
      throw new UnrecoverableError(`Google push: event ${externalId} no longer exists`);
    }
    const current = await api.parse(res, calendarEventSchema, getOp);
    const remote = eventRecord(current, calendarId, operation.seen.updatedAt);
    if (operation.op === 'delete' && remote.deleted) return { externalId };
    const reason = changedSince(operation.seen, remote, operation.op === 'update' ? operation.payload : {});
    if (reason !== undefined) throw new PushConflictError(`Google event ${externalId}: ${reason}`, remote);
    if (current.etag !== undefined) ifMatch = { 'if-match': current.etag };
  }
  const conflict = (): PushConflictError => new PushConflictError(`Google event ${externalId}: changed at the provider between the read and the write (412)`);
  if (operation.op === 'update') {
    const op = 'Google Calendar patch event';
    const res = await api.request({ url: one(externalId), method: 'PATCH', body, operation: op, headers: ifMatch, accept: [412] });
    if (res.status === 412) throw conflict();
    return result(await api.parse(res, calendarEventSchema, op), calendarId);
  }
  const res = await api.request({ url: one(externalId), method: 'DELETE', operation: 'Google Calendar delete event', headers: ifMatch, accept: [404, 410, 412] });
  if (res.status === 412) throw conflict();
  return { externalId };
}

function payload<T>(schema: z.ZodType<T>, value: Record<string, unknown>, op: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UnrecoverableError(`Google push: invalid event payload for ${op} (${issues.join('; ')})`);
  }
  return parsed.data;
}

function result(event: CalendarEvent, calendarId: string): PushResult {
  const out: PushResult = { externalId: event.id };
  if (event.etag !== undefined) out.version = event.etag;
  if (event.updated !== undefined) {
    out.updatedAt = event.updated;
    out.record = eventRecord(event, calendarId, event.updated);
  }
  return out;
}
