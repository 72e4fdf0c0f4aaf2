/**
 * Incremental pull of the configured sObjects, one after another.
 *
 * Query phase: `queryAll` (deleted rows included, with `IsDeleted`)
 * `… WHERE SystemModstamp > :since ORDER BY SystemModstamp`, then
 * `nextRecordsUrl` while `done` is false, up to 2,000 rows a page.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm
 *
 * Deleted phase (objects with `deletedFeed`): `/sobjects/{T}/deleted/?start=&end=`
 * catches hard deletes that queryAll no longer returns once the recycle bin
 * is emptied. The feed covers 15 days, ignores seconds, and needs more than
 * a minute between start and end.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm
 *
 * One PullPage per provider page. The cursor keeps a watermark per object
 * (`since`, `deletedUntil`) and, mid-run, where the run is (`run`): the
 * objects finished and the locator of the next page. A query locator
 * expires after 15 minutes idle; resuming with a dead one re-queries from
 * the newest SystemModstamp read, which the ascending order makes safe.
 */
import { z } from 'zod';
import { RetryableError, UnrecoverableError } from '../../errors';
import { readJson } from '../../http/provider-fetch';
import type { Cursor, PullContext, PullPage } from '../types';
import { connect, type Clock, type SalesforceApi } from './api';
import { incrementalQuery, isoFromSalesforce, later, recordFromDeletion, recordFromRow } from './soql';
import {
  deletedResultSchema,
  queryResultSchema,
  type SalesforceConfig,
  type SalesforceCredentials,
  type SalesforceObjectConfig,
} from './schemas';

/** Salesforce's largest query batch (and its default). */
const BATCH_SIZE = 2000;
/** The deleted feed's reach (15 days), less an hour so a window never starts past its edge. */
const DELETED_FEED_REACH_MS = 15 * 24 * 60 * 60 * 1000 - 60 * 60 * 1000;
/** start must precede end by more than a minute once both lose their seconds. */
const MIN_DELETED_WINDOW_MS = 2 * 60 * 1000;
const MAX_LOCATOR_RESTARTS = 3;
const LOCATOR_PATH = /^\/services\/data\/v\d{2,3}\.0\/(?:query|queryAll)\/[A-Za-z0-9]{15,18}-\d{1,9}$/;

const iso = z.iso.datetime({ offset: true });
const markSchema = z.object({ since: iso.optional(), deletedUntil: iso.optional() });
type Mark = z.infer<typeof markSchema>;
const runSchema = z.object({
  /** Objects finished in this run. */
  done: z.array(z.string()),
  /** The object under way: its phase, the next locator, the newest SystemModstamp read. */
  current: z
    .object({
      object: z.string(),
      phase: z.enum(['query', 'deleted']),
      startedAt: iso,
      next: z.string().regex(LOCATOR_PATH).optional(),
      high: iso.optional(),
    })
    .optional(),
});
type Run = z.infer<typeof runSchema>;
type Current = NonNullable<Run['current']>;

export const salesforceCursorSchema = z.object({ objects: z.record(z.string(), markSchema).optional(), run: runSchema.optional() });

type Ctx = PullContext<SalesforceConfig, SalesforceCredentials>;

export function pullSalesforce(now: Clock) {
  return async function* pull(ctx: Ctx): AsyncGenerator<PullPage> {
    const api = await connect(ctx, now);
    const { marks, run } = startingPoint(ctx.cursor, ctx.config);
    const done = [...(run?.done ?? [])];
    const todo = ctx.config.objects.filter((o) => !done.includes(o.name));

    const cursor = (current?: Current): Cursor => {
      const finished = current === undefined && todo.every((o) => done.includes(o.name));
      return finished ? { objects: { ...marks } } : { objects: { ...marks }, run: current ? { done: [...done], current } : { done: [...done] } };
    };

    if (todo.length === 0) {
      yield { records: [], cursor: cursor(), done: true };
      return;
    }
    for (const [index, object] of todo.entries()) {
      const isLast = index === todo.length - 1;
      const resume = run?.current?.object === object.name ? run.current : undefined;
      const mark: Mark = marks[object.name] ?? {};
      const startedAt = resume?.startedAt ?? new Date(now()).toISOString();

      if (resume?.phase !== 'deleted') {
        let high = resume?.high;
        const restarts = { count: 0 };
        let page = await firstPage(api, ctx.config, object, mark, resume, restarts);
        for (;;) {
          const records = page.records.map((row) => recordFromRow(object.name, row));
          for (const r of records) high = later(high, r.updatedAt);
          if (!page.done && page.nextRecordsUrl !== undefined) {
            if (!LOCATOR_PATH.test(page.nextRecordsUrl)) throw new UnrecoverableError('Salesforce query: unexpected nextRecordsUrl');
            const current: Current = { object: object.name, phase: 'query', startedAt, next: page.nextRecordsUrl, ...(high ? { high } : {}) };
            yield { records, cursor: cursor(current), done: false };
            page = await nextPage(api, ctx.config, object, page.nextRecordsUrl, high ?? mark.since, restarts);
            continue;
          }
          const updated: Mark = { ...mark };
          const since = later(mark.since, high);
          if (since !== undefined) updated.since = since;
          // Deletions are followed from the first run on; that run itself reads nothing from the feed.
          if (object.deletedFeed && mark.deletedUntil === undefined) updated.deletedUntil = startedAt;
          marks[object.name] = updated;
          if (deletedWindow(object, mark, now()) !== undefined) {
            yield { records, cursor: cursor({ object: object.name, phase: 'deleted', startedAt }), done: false };
            break;
          }
          done.push(object.name);
          yield { records, cursor: cursor(), done: isLast };
          break;
        }
        if (done.includes(object.name)) continue;
      }

      const result = await readDeleted(api, object, marks[object.name] ?? {}, now());
      marks[object.name] = result.mark;
      done.push(object.name);
      yield { records: result.records, cursor: cursor(), done: isLast };
    }
  };
}

type QueryPage = z.infer<typeof queryResultSchema>;

async function firstPage(
  api: SalesforceApi,
  config: SalesforceConfig,
  object: SalesforceObjectConfig,
  mark: Mark,
  resume: Current | undefined,
  restarts: { count: number },
): Promise<QueryPage> {
  if (resume?.next !== undefined) return nextPage(api, config, object, resume.next, resume.high ?? mark.since, restarts);
  return query(api, config, object, mark.since);
}

/**
 * A locator page. A dead locator (idle 15 minutes, or evicted: a user keeps
 * at most 10 open) restarts the query from `from`, the newest row read.
 */
async function nextPage(
  api: SalesforceApi,
  config: SalesforceConfig,
  object: SalesforceObjectConfig,
  path: string,
  from: string | undefined,
  restarts: { count: number },
): Promise<QueryPage> {
  const operation = `Salesforce query ${object.name}`;
  const { response, tolerated } = await api.request(path, { method: 'GET', headers: batchHeader() }, operation, ['INVALID_QUERY_LOCATOR']);
  if (tolerated === undefined) return parsePage(response, object);
  // Locators that die over and over (another client churning them) would loop forever: try again later.
  if (++restarts.count > MAX_LOCATOR_RESTARTS) throw new RetryableError(`${operation}: query locators keep expiring`);
  return query(api, config, object, from);
}

async function query(api: SalesforceApi, config: SalesforceConfig, object: SalesforceObjectConfig, since: string | undefined): Promise<QueryPage> {
  const soql = incrementalQuery(object, config, since);
  const path = `${api.path('queryAll')}/?${new URLSearchParams({ q: soql }).toString()}`;
  const { response } = await api.request(path, { method: 'GET', headers: batchHeader() }, `Salesforce query ${object.name}`);
  return parsePage(response, object);
}

async function parsePage(response: Response, object: SalesforceObjectConfig): Promise<QueryPage> {
  const operation = `Salesforce query ${object.name}`;
  const parsed = queryResultSchema.safeParse(await readJson(response, operation));
  if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape (${summarise(parsed.error)})`);
  return parsed.data;
}

/** https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_queryoptions.htm */
function batchHeader(): Record<string, string> {
  return { 'sforce-query-options': `batchSize=${BATCH_SIZE}` };
}

interface DeletedWindow {
  start: string;
  end: string;
}

/** The deleted-feed window for this run, or undefined when the feed is off or the window too short. */
function deletedWindow(object: SalesforceObjectConfig, mark: Mark, nowMs: number): DeletedWindow | undefined {
  if (!object.deletedFeed || mark.deletedUntil === undefined) return undefined;
  // Deletions older than the feed's reach are gone from it; start at its edge.
  const start = floorMinute(Math.max(Date.parse(mark.deletedUntil), nowMs - DELETED_FEED_REACH_MS));
  const end = floorMinute(nowMs);
  if (end - start < MIN_DELETED_WINDOW_MS) return undefined;
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}

async function readDeleted(api: SalesforceApi, object: SalesforceObjectConfig, mark: Mark, nowMs: number): Promise<{ records: PullPage['records']; mark: Mark }> {
  const window = deletedWindow(object, mark, nowMs);
  if (!window) return { records: [], mark };
  const operation = `Salesforce deleted ${object.name}`;
  const path = `${api.path('sobjects', object.name, 'deleted')}/?${new URLSearchParams({ start: window.start, end: window.end }).toString()}`;
  const { response, tolerated } = await api.request(path, { method: 'GET' }, operation, ['INVALID_REPLICATION_DATE']);
  if (tolerated !== undefined) {
    // The delete log was purged past our window: Salesforce's advice is a
    // full re-read. Dropping the watermarks makes the next run one.
    return { records: [], mark: {} };
  }
  const parsed = deletedResultSchema.safeParse(await readJson(response, operation));
  if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape (${summarise(parsed.error)})`);
  const covered = parsed.data.latestDateCovered;
  // latestDateCovered is where the next window must start (changes still in flight at `end` are after it).
  const until = covered === undefined ? window.end : isoFromSalesforce(covered);
  return {
    records: parsed.data.deletedRecords.map((d) => recordFromDeletion(object.name, d.id, d.deletedDate)),
    mark: { ...mark, deletedUntil: until },
  };
}

/**
 * A cursor that does not parse starts a full run: records are idempotent, so
 * a re-read costs time, not data. Marks of objects no longer configured are
 * kept out.
 */
function startingPoint(cursor: Cursor | undefined, config: SalesforceConfig): { marks: Record<string, Mark>; run: Run | undefined } {
  const parsed = salesforceCursorSchema.safeParse(cursor ?? {});
  if (!parsed.success) return { marks: {}, run: undefined };
  const names = new Set(config.objects.map((o) => o.name));
  const marks: Record<string, Mark> = {};
  for (const [name, mark] of Object.entries(parsed.data.objects ?? {})) if (names.has(name)) marks[name] = mark;
  const run = parsed.data.run;
  if (!run) return { marks, run: undefined };
  return { marks, run: { ...run, done: run.done.filter((n) => names.has(n)) } };
}

function floorMinute(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

function summarise(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
