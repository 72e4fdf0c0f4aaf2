/**
 * The Google pull cursor: one part per resource, plus which resource a run
 * in progress is on.
 *
 *   { active?: 'drive' | 'calendar',
 *     drive?:    { mode: 'list', driveId, startPageToken, pageToken? }   // first sync: listing files
 *              | { mode: 'changes', driveId, pageToken },                // next changes page / newStartPageToken
 *     calendar?: { calendarId, syncToken?, pageToken? } }
 *
 * `active` is set only mid-run: a resumed run skips the resources already
 * finished. A part whose drive or calendar no longer matches the config is
 * dropped (that resource starts over with a full sync); a cursor that does
 * not parse is dropped whole — records are idempotent, so a full re-read
 * costs time, not data.
 */
import { z } from 'zod';
import type { Cursor } from '../types';
import type { GoogleConfig } from './schemas';

const token = z.string().min(1).max(4096);

export const driveCursorSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('list'), driveId: z.string().nullable(), startPageToken: token, pageToken: token.optional() }).strict(),
  z.object({ mode: z.literal('changes'), driveId: z.string().nullable(), pageToken: token }).strict(),
]);
export type DriveCursor = z.infer<typeof driveCursorSchema>;

export const calendarCursorSchema = z
  .object({ calendarId: z.string().min(1), syncToken: token.optional(), pageToken: token.optional() })
  .strict();
export type CalendarCursor = z.infer<typeof calendarCursorSchema>;

export const RESOURCES = ['drive', 'calendar'] as const;
export type GoogleResource = (typeof RESOURCES)[number];

export const googleCursorSchema = z
  .object({ active: z.enum(RESOURCES).optional(), drive: driveCursorSchema.optional(), calendar: calendarCursorSchema.optional() })
  .strict();
export type GoogleCursor = z.infer<typeof googleCursorSchema>;

export function parseGoogleCursor(cursor: Cursor | undefined, config: GoogleConfig): GoogleCursor {
  const parsed = googleCursorSchema.safeParse(cursor ?? {});
  if (!parsed.success) return {};
  const out: GoogleCursor = {};
  const { active, drive, calendar } = parsed.data;
  if (drive && config.drive && drive.driveId === (config.drive.driveId ?? null)) out.drive = drive;
  if (calendar && config.calendar && calendar.calendarId === config.calendar.calendarId) out.calendar = calendar;
  if (active !== undefined && enabledResources(config).includes(active)) out.active = active;
  return out;
}

export function enabledResources(config: GoogleConfig): GoogleResource[] {
  return RESOURCES.filter((r) => config[r] !== undefined);
}

/** The cursor as stored: plain JSON, no undefined members. */
export function toCursor(cursor: GoogleCursor): Cursor {
  return JSON.parse(JSON.stringify(cursor)) as Cursor;
}
