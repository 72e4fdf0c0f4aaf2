/**
 * Calendar v3 events as the sandbox serves them: list (full and sync-token
 * incremental), insert (client-chosen ids, 409 on a duplicate), get, patch,
 * update, delete (410 when already deleted), watch, channels.stop.
 * https://developers.google.com/calendar/api/v3/reference/events
 */
import { EVENT_ID, type CalendarState, type EventTime, type SandboxEvent } from './calendar-state';
import type { Channels } from './channels';
import { googleError, invalidParam, isObject, notFound, parseJsonObject, positiveInt, type Reply } from './http';

/** events.list `maxResults`: default 250, at most 2,500. */
const DEFAULT_MAX_RESULTS = 250;
const MAX_MAX_RESULTS = 2500;
/** Parameters a sync token cannot be combined with (https://developers.google.com/calendar/api/v3/reference/events/list). */
const NOT_WITH_SYNC_TOKEN = ['iCalUID', 'orderBy', 'privateExtendedProperty', 'q', 'sharedExtendedProperty', 'timeMin', 'timeMax', 'updatedMin'];

export interface CalendarRouteContext {
  calendar: CalendarState;
  channels: Channels;
  origin: () => string;
  maxPageSize: () => number;
}

const EVENTS = /^\/calendar\/v3\/calendars\/([^/]+)\/events$/;
const EVENT = /^\/calendar\/v3\/calendars\/([^/]+)\/events\/([^/]+)$/;
const WATCH = /^\/calendar\/v3\/calendars\/([^/]+)\/events\/watch$/;

/** Whether a request changes events (and so needs a write scope). */
export function isCalendarWrite(method: string, path: string): boolean {
  return method !== 'GET' && (EVENTS.test(path) || EVENT.test(path)) && !WATCH.test(path);
}

/**
 * `If-Match` on an event write: 412 `conditionNotMet` unless the header names
 * the event's current etag (or `*`), as Calendar answers.
 * https://developers.google.com/calendar/api/guides/version-resources
 */
function preconditionFailed(event: SandboxEvent | undefined, ifMatch: string | undefined): Reply | undefined {
  if (ifMatch === undefined || event === undefined) return undefined;
  const tags = ifMatch.split(',').map((t) => t.trim());
  if (tags.includes('*') || tags.includes(event.etag)) return undefined;
  return googleError(412, 'conditionNotMet', 'Precondition Failed', { location: 'If-Match', locationType: 'header' });
}

export function routeCalendar(ctx: CalendarRouteContext, method: string, url: URL, body: Buffer | undefined, ifMatch?: string): Reply {
  const path = url.pathname;
  if (path === '/calendar/v3/channels/stop' && method === 'POST') {
    const b = parseJsonObject(body);
    return b && typeof b.id === 'string' && typeof b.resourceId === 'string' && ctx.channels.stop(b.id, b.resourceId) ? { status: 204 } : notFound();
  }
  const watch = WATCH.exec(path);
  if (watch?.[1] && method === 'POST') {
    const calendarId = decodeURIComponent(watch[1]);
    if (!ctx.calendar.has(calendarId)) return notFound();
    const opened = ctx.channels.open(parseJsonObject(body), {
      kind: 'calendar',
      calendarId,
      resourceUri: `${ctx.origin()}/calendar/v3/calendars/${encodeURIComponent(calendarId)}/events?alt=json`,
    });
    if (!opened.ok) return googleError(400, 'invalid', opened.message);
    const c = opened.channel;
    return { status: 200, body: { kind: 'api#channel', id: c.id, resourceId: c.resourceId, resourceUri: c.resourceUri, ...(c.token === undefined ? {} : { token: c.token }), expiration: String(c.expiration) } };
  }
  const list = EVENTS.exec(path);
  if (list?.[1]) {
    const calendarId = decodeURIComponent(list[1]);
    if (!ctx.calendar.has(calendarId)) return notFound();
    if (method === 'GET') return listEvents(ctx, calendarId, url.searchParams);
    if (method === 'POST') return insert(ctx, calendarId, parseJsonObject(body));
    return notFound();
  }
  const one = EVENT.exec(path);
  if (one?.[1] && one[2]) {
    const [calendarId, eventId] = [decodeURIComponent(one[1]), decodeURIComponent(one[2])];
    if (!ctx.calendar.has(calendarId)) return notFound();
    if (method === 'GET') {
      const event = ctx.calendar.get(calendarId, eventId);
      return event ? { status: 200, body: event } : notFound();
    }
    if (method === 'DELETE' || method === 'PATCH' || method === 'PUT') {
      const failed = preconditionFailed(ctx.calendar.get(calendarId, eventId), ifMatch);
      if (failed) return failed;
    }
    if (method === 'DELETE') {
      const r = ctx.calendar.cancel(calendarId, eventId);
      return r === 'ok' ? { status: 204 } : r === 'gone' ? googleError(410, 'deleted', 'Resource has been deleted') : notFound();
    }
    if (method === 'PATCH' || method === 'PUT') {
      const input = parseJsonObject(body);
      if (!input) return googleError(400, 'parseError', 'Parse Error');
      const fields = writable(input);
      if (typeof fields === 'string') return googleError(400, 'invalid', fields);
      if (method === 'PUT' && (!fields.start || !fields.end)) return googleError(400, 'required', fields.start ? 'Missing end time.' : 'Missing start time.');
      const event = ctx.calendar.write(calendarId, eventId, fields, method === 'PUT');
      return event ? { status: 200, body: event } : notFound();
    }
  }
  return notFound();
}

function listEvents(ctx: CalendarRouteContext, calendarId: string, q: URLSearchParams): Reply {
  const max = positiveInt(q.get('maxResults'), MAX_MAX_RESULTS);
  if (max === 'invalid') return invalidParam('maxResults');
  const syncToken = q.get('syncToken') ?? undefined;
  if (syncToken !== undefined && NOT_WITH_SYNC_TOKEN.some((p) => q.has(p))) {
    return googleError(400, 'invalid', 'Sync token cannot be used with other request restrictions.', { domain: 'calendar', location: 'syncToken', locationType: 'parameter' });
  }
  const query: Parameters<CalendarState['list']>[1] = {
    maxResults: Math.min(max ?? DEFAULT_MAX_RESULTS, ctx.maxPageSize()),
    showDeleted: q.get('showDeleted') === 'true',
  };
  if (syncToken !== undefined) query.syncToken = syncToken;
  const pageToken = q.get('pageToken');
  if (pageToken !== null) query.pageToken = pageToken;
  const r = ctx.calendar.list(calendarId, query);
  if (!r.ok) {
    return r.status === 410
      ? googleError(410, 'fullSyncRequired', 'Sync token is no longer valid, a full sync is required.', { domain: 'calendar', location: r.location, locationType: 'parameter' })
      : invalidParam(r.location);
  }
  const out: Record<string, unknown> = {
    kind: 'calendar#events',
    etag: `"${Date.parse(r.updated)}"`,
    summary: calendarId,
    updated: r.updated,
    timeZone: 'UTC',
    accessRole: 'owner',
    defaultReminders: [{ method: 'popup', minutes: 10 }],
    items: r.items,
  };
  if (r.nextPageToken !== undefined) out.nextPageToken = r.nextPageToken;
  if (r.nextSyncToken !== undefined) out.nextSyncToken = r.nextSyncToken;
  return { status: 200, body: out };
}

function insert(ctx: CalendarRouteContext, calendarId: string, input: Record<string, unknown> | undefined): Reply {
  if (!input) return googleError(400, 'parseError', 'Parse Error');
  const fields = writable(input);
  if (typeof fields === 'string') return googleError(400, 'invalid', fields);
  if (!fields.start) return googleError(400, 'required', 'Missing start time.');
  if (!fields.end) return googleError(400, 'required', 'Missing end time.');
  let id: string | undefined;
  if (input.id !== undefined) {
    if (typeof input.id !== 'string' || !EVENT_ID.test(input.id)) return googleError(400, 'invalid', 'Invalid resource id value.');
    if (ctx.calendar.get(calendarId, input.id)) return googleError(409, 'duplicate', 'The requested identifier already exists.');
    id = input.id;
  }
  return { status: 200, body: ctx.calendar.insert(calendarId, fields, id) };
}

/** The writable fields of an event; read-only ones (etag, created…) are ignored, as Google does. */
function writable(input: Record<string, unknown>): Partial<SandboxEvent> | string {
  const out: Partial<SandboxEvent> = {};
  for (const key of ['summary', 'description', 'location', 'colorId', 'transparency', 'visibility'] as const) {
    const v = input[key];
    if (v === undefined) continue;
    if (typeof v !== 'string') return `Invalid value for: ${key}`;
    out[key] = v;
  }
  if (input.status !== undefined) {
    if (input.status !== 'confirmed' && input.status !== 'tentative' && input.status !== 'cancelled') return 'Invalid value for: status';
    out.status = input.status;
  }
  for (const key of ['start', 'end'] as const) {
    if (input[key] === undefined) continue;
    const t = eventTime(input[key]);
    if (!t) return `Invalid ${key} time.`;
    out[key] = t;
  }
  if (input.attendees !== undefined) {
    if (!Array.isArray(input.attendees)) return 'Invalid value for: attendees';
    const attendees: NonNullable<SandboxEvent['attendees']> = [];
    for (const a of input.attendees as unknown[]) {
      if (!isObject(a) || typeof a.email !== 'string') return 'Invalid attendee email.';
      attendees.push({ email: a.email, responseStatus: 'needsAction', ...(typeof a.displayName === 'string' ? { displayName: a.displayName } : {}), ...(a.optional === true ? { optional: true } : {}) });
    }
    out.attendees = attendees;
  }
  for (const key of ['recurrence', 'extendedProperties'] as const) if (input[key] !== undefined) out[key] = input[key];
  return out;
}

function eventTime(value: unknown): EventTime | undefined {
  if (!isObject(value)) return undefined;
  const { date, dateTime, timeZone } = value;
  const hasDate = typeof date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(date);
  const hasDateTime = typeof dateTime === 'string' && !Number.isNaN(Date.parse(dateTime));
  if (hasDate === hasDateTime) return undefined;
  const t: EventTime = hasDate ? { date } : { dateTime: dateTime as string };
  if (typeof timeZone === 'string') t.timeZone = timeZone;
  return t;
}
