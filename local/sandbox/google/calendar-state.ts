/**
 * Calendar in memory: events per calendar and Calendar's sync semantics.
 * https://developers.google.com/calendar/api/guides/sync
 *
 * Every write stamps the event with the next modification number. A full
 * sync lists a snapshot (modifications up to the first page's high-water
 * mark) in modification order, keyset-paged, leaving out cancelled events;
 * its last page hands out a sync token for that mark. An incremental list
 * returns what changed after the token's mark, cancelled events included
 * (with only kind, etag, id and status). Tokens are stateless
 * (see encodeToken) and carry the calendar's generation:
 * `expireSyncTokens()` bumps it and every older token answers 410.
 */
import { createHash } from 'node:crypto';
import { decodeToken, encodeToken, type DataClock } from './http';

export interface EventTime {
  date?: string;
  dateTime?: string;
  timeZone?: string;
}

export interface SandboxEvent {
  kind: 'calendar#event';
  etag: string;
  id: string;
  status: 'confirmed' | 'tentative' | 'cancelled';
  htmlLink: string;
  created: string;
  updated: string;
  summary?: string;
  description?: string;
  location?: string;
  creator: { email: string; self: boolean };
  organizer: { email: string; self: boolean };
  start: EventTime;
  end: EventTime;
  iCalUID: string;
  sequence: number;
  attendees?: { email: string; responseStatus: string; displayName?: string; optional?: boolean }[];
  reminders: { useDefault: boolean };
  eventType: 'default';
  [extra: string]: unknown;
}

interface Stored {
  event: SandboxEvent;
  mseq: number;
}

interface Calendar {
  events: Map<string, Stored>;
  generation: number;
  updated: string;
}

export type ListResult =
  | { ok: true; items: Record<string, unknown>[]; updated: string; nextPageToken?: string; nextSyncToken?: string }
  | { ok: false; status: 400 | 410; location: 'syncToken' | 'pageToken' };

/** Calendar-generated ids are base32hex; client ids must be too, 5–1024 characters. */
export const EVENT_ID = /^[a-v0-9]{5,1024}$/;
const TITLES = ['Standup', '1:1', 'Planning', 'Customer call', 'Lunch & learn', 'Interview', 'Board prep'] as const;

export class CalendarState {
  private readonly calendars = new Map<string, Calendar>();
  private mseq = 0;
  private eventSeq = 0;

  constructor(
    private readonly clock: DataClock,
    private readonly seed: string,
    private readonly owner: string,
    private readonly onChange: (calendarId: string) => void = () => undefined,
  ) {}

  ensure(calendarId: string): Calendar {
    let cal = this.calendars.get(calendarId);
    if (!cal) {
      cal = { events: new Map(), generation: 1, updated: this.clock.peek() };
      this.calendars.set(calendarId, cal);
    }
    return cal;
  }

  has(calendarId: string): boolean {
    return this.calendars.has(calendarId);
  }

  seedEvents(calendarId: string, n: number): SandboxEvent[] {
    const out: SandboxEvent[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.eventSeq + 1;
      const day = new Date(Date.UTC(2024, 0, 2 + Math.floor(k / 3), 9 + (k % 3) * 2));
      const end = new Date(day.getTime() + 30 * 60_000);
      out.push(this.insert(calendarId, { summary: `${TITLES[k % TITLES.length] ?? 'Meeting'} #${k}`, start: { dateTime: day.toISOString() }, end: { dateTime: end.toISOString() } }));
    }
    return out;
  }

  /** Insert; the caller has validated the body and that a client id is free. */
  insert(calendarId: string, body: Partial<SandboxEvent>, clientId?: string): SandboxEvent {
    const cal = this.ensure(calendarId);
    const id = clientId ?? generatedId(`${this.seed}:event:${++this.eventSeq}`);
    if (clientId !== undefined) this.eventSeq++;
    const now = this.clock.tick();
    const event: SandboxEvent = {
      ...body,
      kind: 'calendar#event',
      etag: '',
      id,
      status: body.status ?? 'confirmed',
      htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${id} ${this.owner}`).toString('base64url')}`,
      created: now,
      updated: now,
      creator: { email: this.owner, self: true },
      organizer: { email: this.owner, self: true },
      start: body.start ?? {},
      end: body.end ?? {},
      iCalUID: `${id}@google.com`,
      sequence: 0,
      reminders: { useDefault: true },
      eventType: 'default',
    };
    this.store(calendarId, cal, event, now);
    return event;
  }

  get(calendarId: string, eventId: string): SandboxEvent | undefined {
    return this.calendars.get(calendarId)?.events.get(eventId)?.event;
  }

  /** Merge (PATCH) or replace (PUT) the writable fields. */
  write(calendarId: string, eventId: string, fields: Partial<SandboxEvent>, replace: boolean): SandboxEvent | undefined {
    const cal = this.calendars.get(calendarId);
    const stored = cal?.events.get(eventId);
    if (!cal || !stored) return undefined;
    const now = this.clock.tick();
    const base: SandboxEvent = replace ? { ...pickSystem(stored.event), start: {}, end: {} } : { ...stored.event };
    const event: SandboxEvent = { ...base, ...fields, sequence: stored.event.sequence + 1, updated: now };
    this.store(calendarId, cal, event, now);
    return event;
  }

  /** Deleted events stay as `cancelled` (Calendar keeps them for incremental sync). */
  cancel(calendarId: string, eventId: string): 'ok' | 'missing' | 'gone' {
    const cal = this.calendars.get(calendarId);
    const stored = cal?.events.get(eventId);
    if (!cal || !stored) return 'missing';
    if (stored.event.status === 'cancelled') return 'gone';
    const now = this.clock.tick();
    this.store(calendarId, cal, { ...stored.event, status: 'cancelled', updated: now }, now);
    return 'ok';
  }

  expireSyncTokens(calendarId: string): void {
    this.ensure(calendarId).generation++;
  }

  list(calendarId: string, q: { syncToken?: string; pageToken?: string; maxResults: number; showDeleted: boolean }): ListResult {
    const cal = this.ensure(calendarId);
    let since = 0;
    let incremental = false;
    if (q.syncToken !== undefined) {
      const t = decodeToken(q.syncToken);
      if (!t || t.k !== 's' || t.c !== calendarId || typeof t.h !== 'number' || typeof t.g !== 'number') return { ok: false, status: 400, location: 'syncToken' };
      if (t.g !== cal.generation) return { ok: false, status: 410, location: 'syncToken' };
      since = t.h;
      incremental = true;
    }
    let after = since;
    let high = this.mseq;
    if (q.pageToken !== undefined) {
      const p = decodeToken(q.pageToken);
      if (!p || p.k !== 'p' || p.c !== calendarId || typeof p.a !== 'number' || typeof p.h !== 'number' || typeof p.g !== 'number') {
        return { ok: false, status: 400, location: 'pageToken' };
      }
      // A page token belongs to one query: the same sync token (or none) must come with it.
      if (p.s !== (q.syncToken ?? '')) return { ok: false, status: 400, location: 'pageToken' };
      if (p.g !== cal.generation) return { ok: false, status: 410, location: 'pageToken' };
      after = p.a;
      high = p.h;
    }
    const showCancelled = incremental || q.showDeleted;
    const matching = [...cal.events.values()]
      .filter((s) => s.mseq > after && s.mseq <= high && (showCancelled || s.event.status !== 'cancelled'))
      .sort((a, b) => a.mseq - b.mseq);
    const page = matching.slice(0, q.maxResults);
    const items = page.map((s) => (s.event.status === 'cancelled' ? cancelledView(s.event) : { ...s.event }));
    const base = { ok: true as const, items, updated: cal.updated };
    const last = page.at(-1);
    if (matching.length > q.maxResults && last) {
      return { ...base, nextPageToken: encodeToken({ k: 'p', c: calendarId, a: last.mseq, h: high, g: cal.generation, s: q.syncToken ?? '' }) };
    }
    return { ...base, nextSyncToken: encodeToken({ k: 's', c: calendarId, h: high, g: cal.generation }) };
  }

  private store(calendarId: string, cal: Calendar, event: SandboxEvent, now: string): void {
    const mseq = ++this.mseq;
    // Calendar etags are quoted microsecond-ish counters.
    event.etag = `"${3_400_000_000_000_000 + mseq * 1000}"`;
    cal.events.set(event.id, { event, mseq });
    cal.updated = now;
    this.onChange(calendarId);
  }
}

function cancelledView(e: SandboxEvent): Record<string, unknown> {
  return { kind: e.kind, etag: e.etag, id: e.id, status: e.status };
}

function pickSystem(e: SandboxEvent): SandboxEvent {
  const { kind, etag, id, status, htmlLink, created, updated, creator, organizer, start, end, iCalUID, sequence, reminders, eventType } = e;
  return { kind, etag, id, status, htmlLink, created, updated, creator, organizer, start, end, iCalUID, sequence, reminders, eventType };
}

/** 26 base32hex characters, like Calendar's own ids. */
function generatedId(input: string): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuv';
  const bytes = createHash('sha256').update(input).digest();
  let out = '';
  for (let i = 0; i < 26; i++) out += alphabet.charAt((bytes[i] ?? 0) & 31);
  return out;
}
