/**
 * Calendar events, incrementally with sync tokens.
 * https://developers.google.com/calendar/api/guides/sync
 *
 * A full sync lists every event (`events.list` without a sync token),
 * following `nextPageToken`; the last page carries `nextSyncToken`, stored
 * for the next run, which sends `syncToken` (and the same token with every
 * `pageToken` of that run). An incremental answer always includes deleted
 * events (`status: cancelled`) → deleted records.
 *
 * 410 GONE means the sync token (or a page token) is no longer valid: drop
 * it and start a full sync in the same run, yielding everything again.
 */
import { UnrecoverableError } from '../../errors';
import type { NormalizedRecord } from '../types';
import type { GoogleApi } from './api';
import type { CalendarCursor } from './cursor';
import type { ResourcePage } from './pull-drive';
import { calendarEventListSchema, type CalendarEvent } from './schemas';

/** The documented default page size (the maximum is 2,500); a page is a checkpoint. */
const MAX_RESULTS = '250';
/** A token can go stale again mid-resync; more than this many restarts in one run is a provider fault. */
const MAX_RESTARTS = 2;
const OPERATION = 'Google Calendar list events';

export async function* pullCalendar(api: GoogleApi, calendarId: string, start: CalendarCursor | undefined): AsyncGenerator<ResourcePage<CalendarCursor>> {
  let cursor: CalendarCursor = start ?? { calendarId };
  let restarts = 0;
  const path = `calendar/v3/calendars/${encodeURIComponent(calendarId)}/events`;

  for (;;) {
    const url = api.url(path, { maxResults: MAX_RESULTS, syncToken: cursor.syncToken, pageToken: cursor.pageToken });
    const res = await api.request({ url, method: 'GET', operation: OPERATION, accept: [410] });
    if (res.status === 410) {
      if (cursor.syncToken === undefined && cursor.pageToken === undefined) {
        throw new UnrecoverableError(`${OPERATION}: HTTP 410 on a full sync`);
      }
      if (++restarts > MAX_RESTARTS) throw new UnrecoverableError(`${OPERATION}: sync token invalidated ${restarts} times in one run`);
      cursor = { calendarId };
      continue;
    }
    const page = await api.parse(res, calendarEventListSchema, OPERATION);
    const fallback = page.updated ?? new Date(api.rt.now()).toISOString();
    const records = page.items.map((e) => eventRecord(e, calendarId, fallback));
    if (page.nextPageToken !== undefined) {
      cursor = { ...cursor, pageToken: page.nextPageToken };
      yield { records, cursor, final: false };
      continue;
    }
    cursor = page.nextSyncToken === undefined ? { calendarId } : { calendarId, syncToken: page.nextSyncToken };
    yield { records, cursor, final: true };
    return;
  }
}

/**
 * A cancelled event in an incremental answer may carry only id and status;
 * its time is then the collection's `updated`.
 */
export function eventRecord(event: CalendarEvent, calendarId: string, fallbackUpdated: string): NormalizedRecord {
  return {
    externalId: event.id,
    entityType: 'event',
    updatedAt: event.updated ?? fallbackUpdated,
    deleted: event.status === 'cancelled',
    data: {
      calendarId,
      status: event.status ?? null,
      summary: event.summary ?? null,
      description: event.description ?? null,
      location: event.location ?? null,
      start: event.start ?? null,
      end: event.end ?? null,
      htmlLink: event.htmlLink ?? null,
      iCalUID: event.iCalUID ?? null,
      recurringEventId: event.recurringEventId ?? null,
      organizer: event.organizer?.email ?? null,
      attendees: (event.attendees ?? []).map((a) => ({ email: a.email ?? null, responseStatus: a.responseStatus ?? null })),
      created: event.created ?? null,
      updated: event.updated ?? null,
      etag: event.etag ?? null,
    },
  };
}
