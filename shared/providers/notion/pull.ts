/**
 * Incremental pull of a data source's pages.
 * https://developers.notion.com/reference/query-a-data-source
 *
 * `POST /v1/data_sources/{id}/query` with
 *   filter: last_edited_time on_or_after `since`
 *   sorts:  last_edited_time ascending
 *   page_size 100 (the maximum), start_cursor ← next_cursor while has_more.
 *
 * Overlap. `last_edited_time` is rounded down to the minute, so an edit later
 * in the minute of the newest page read keeps that same timestamp. The next
 * run therefore starts `on_or_after` that minute (the high-water mark, floored
 * to the minute) and re-reads its pages; the pipeline's content hash drops
 * the ones that did not change.
 *
 * Deletions. A query leaves trashed pages out unless asked for them with
 * `in_trash: true` (a body parameter of the query in notion-sdk-js; that the
 * default excludes the trash is unverified against the live API), so a run
 * reads two phases with the same filter: `live` pages, then `trash` (each
 * page in the trash is a deleted record). Should Notion list trashed pages
 * in the live phase too, they still come out as deletions, read twice.
 *
 * Cursor. Mid-run: `{since, phase, next, high}` — the phase being read, the
 * start_cursor of its next page, and the newest `last_edited_time` read so
 * far. The last page's cursor is `{since: floor(high)}`, the next run's start.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../../errors';
import type { Cursor, NormalizedRecord, PullContext, PullPage } from '../types';
import { notionRequest, summariseIssues, type NotionCall } from './api';
import { pageToRecord } from './normalize';
import { notionListSchema, notionPageSchema, type NotionConfig, type NotionCredentials } from './schemas';

/** The query endpoint's maximum page size. */
export const NOTION_PAGE_SIZE = 100;
const OPERATION = 'Notion query data source';
const timestamp = z.iso.datetime({ offset: true });

export const notionCursorSchema = z.object({
  since: timestamp.optional(),
  phase: z.enum(['live', 'trash']).optional(),
  next: z.string().min(1).max(512).optional(),
  high: timestamp.optional(),
});
export type NotionCursor = z.infer<typeof notionCursorSchema>;
type Phase = 'live' | 'trash';

export async function* pullNotionPages(ctx: PullContext<NotionConfig, NotionCredentials>): AsyncGenerator<PullPage> {
  const start = startingPoint(ctx.cursor);
  const { since } = start;
  let { phase, next, high } = start;
  const call: NotionCall = { ...ctx };

  for (;;) {
    const body = queryBody(since, phase, next);
    const parsed = notionListSchema.safeParse(await notionRequest(call, 'POST', queryPath(ctx.config), OPERATION, body));
    if (!parsed.success) throw new UnrecoverableError(`${OPERATION}: unexpected response shape (${summariseIssues(parsed.error.issues)})`);
    const records = parsed.data.results.flatMap(toRecords);
    for (const r of records) if (high === undefined || Date.parse(r.updatedAt) > Date.parse(high)) high = r.updatedAt;

    const more = parsed.data.has_more ? parsed.data.next_cursor : null;
    if (more !== null) {
      yield { records, cursor: compact({ since, phase, next: more, high }), done: false };
      next = more;
    } else if (phase === 'live') {
      yield { records, cursor: compact({ since, phase: 'trash', high }), done: false };
      phase = 'trash';
      next = undefined;
    } else {
      const newest = high ?? since;
      yield { records, cursor: compact({ since: newest === undefined ? undefined : floorToMinute(newest) }), done: true };
      return;
    }
  }
}

export function queryPath(config: NotionConfig): string {
  return `data_sources/${encodeURIComponent(config.dataSourceId)}/query`;
}

export function queryBody(since: string | undefined, phase: Phase, startCursor: string | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {
    sorts: [{ timestamp: 'last_edited_time', direction: 'ascending' }],
    page_size: NOTION_PAGE_SIZE,
  };
  if (since !== undefined) body.filter = { timestamp: 'last_edited_time', last_edited_time: { on_or_after: since } };
  if (phase === 'trash') body.in_trash = true;
  if (startCursor !== undefined) body.start_cursor = startCursor;
  return body;
}

/** Pages become records; other results (data sources listed by a wiki) are not synced. */
function toRecords(result: { object: string }): NormalizedRecord[] {
  if (result.object !== 'page') return [];
  const page = notionPageSchema.safeParse(result);
  if (!page.success) throw new UnrecoverableError(`${OPERATION}: unexpected page shape (${summariseIssues(page.error.issues)})`);
  return [pageToRecord(page.data)];
}

/** `2024-05-01T10:42:37.120Z` → `2024-05-01T10:42:00.000Z`: Notion's own resolution. */
export function floorToMinute(iso: string): string {
  const ms = Date.parse(iso);
  return new Date(ms - (((ms % 60_000) + 60_000) % 60_000)).toISOString();
}

interface StartingPoint {
  since?: string;
  phase: Phase;
  next?: string;
  high?: string;
}

/**
 * A cursor that does not parse is dropped and the run starts over: records
 * are idempotent, so a full re-read costs time, not data. A `next` without
 * its phase is ignored (the run restarts the live phase from `since`).
 */
function startingPoint(cursor: Cursor | undefined): StartingPoint {
  const parsed = notionCursorSchema.safeParse(cursor ?? {});
  if (!parsed.success) return { phase: 'live' };
  const { since, phase, next, high } = parsed.data;
  const out: StartingPoint = { phase: phase ?? 'live' };
  if (since !== undefined) out.since = since;
  if (phase !== undefined) {
    if (next !== undefined) out.next = next;
    if (high !== undefined) out.high = high;
  }
  return out;
}

function compact(cursor: Record<string, string | undefined>): Cursor {
  const out: Cursor = {};
  for (const [k, v] of Object.entries(cursor)) if (v !== undefined) out[k] = v;
  return out;
}
