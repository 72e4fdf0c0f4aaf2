/**
 * Incremental pull of a repository's issues and pull requests.
 * https://docs.github.com/rest/issues/issues#list-repository-issues
 *
 * `GET /repos/{o}/{r}/issues?since=&state=all&sort=updated&direction=asc&per_page=100`,
 * following `Link: rel="next"`. `since` is inclusive, so the next run starts
 * at the newest `updated_at` seen and re-reads the records stamped with that
 * same second: GitHub's timestamps have one-second resolution, and a later
 * edit in that second would otherwise be lost. The pipeline's content hash
 * makes the overlap a no-op.
 *
 * An issue edited during a run moves to the end of the ascending order; it is
 * then read on a later page of the same run, so nothing is lost when page
 * offsets shift under us.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../../errors';
import { providerFetch, readJson } from '../../http/provider-fetch';
import type { Cursor, NormalizedRecord, PullContext, PullPage } from '../types';
import { githubFetchOptions, githubHeaders, repoUrl } from './api';
import { stripIdempotencyMarker } from './idempotency';
import { githubIssueListSchema, type GithubConfig, type GithubCredentials, type GithubIssue } from './schemas';

// Kept importable from here: tests and callers predate api.ts.
export { describeGithubError, githubHeaders } from './api';

/** GitHub's maximum page size for this endpoint. */
const PER_PAGE = 100;
const OPERATION = 'GitHub list issues';

/**
 * `since`: lower bound of this run (inclusive). Mid-run only: `next` is the
 * URL of the page still to read, `high` the newest `updated_at` read so far.
 * The last page's cursor is `{since: high}`.
 */
export const githubCursorSchema = z.object({
  since: z.iso.datetime({ offset: true }).optional(),
  next: z.url().optional(),
  high: z.iso.datetime({ offset: true }).optional(),
});
export type GithubCursor = z.infer<typeof githubCursorSchema>;

export async function* pullGithubIssues(
  ctx: PullContext<GithubConfig, GithubCredentials>,
): AsyncGenerator<PullPage> {
  const base = new URL(ctx.baseUrl);
  const start = startingPoint(ctx.cursor, base);
  const { since } = start;
  let high = start.high;
  let url: URL = start.next ?? firstPageUrl(base, ctx.config, since);

  for (;;) {
    const response = await providerFetch(ctx, url, { method: 'GET', headers: githubHeaders(ctx.credentials) }, githubFetchOptions(OPERATION));
    const next = nextLink(response.headers.get('link'), base);
    const parsed = githubIssueListSchema.safeParse(await readJson(response, OPERATION));
    if (!parsed.success) {
      throw new UnrecoverableError(`${OPERATION}: unexpected response shape (${summarise(parsed.error)})`);
    }

    const records = parsed.data.map(toRecord);
    for (const r of records) if (high === undefined || Date.parse(r.updatedAt) > Date.parse(high)) high = r.updatedAt;

    if (next) {
      yield { records, cursor: compact({ since, next: next.href, high }), done: false };
      url = next;
    } else {
      yield { records, cursor: compact({ since: high ?? since }), done: true };
      return;
    }
  }
}

/**
 * `externalId` is the issue's `id` (stable across renumbering by a transfer);
 * `data.number` is what the REST paths take, and push reads it back from
 * there. A body's idempotency marker (push.ts) is our bookkeeping, not the
 * user's content, so it is left out of `data.body`.
 */
export function toRecord(issue: GithubIssue): NormalizedRecord {
  return {
    externalId: String(issue.id),
    entityType: issue.pull_request ? 'pull_request' : 'issue',
    updatedAt: issue.updated_at,
    deleted: false,
    data: {
      number: issue.number,
      title: issue.title,
      state: issue.state,
      body: stripIdempotencyMarker(issue.body ?? null),
      user: issue.user?.login ?? null,
      labels: issue.labels.flatMap((l) => (typeof l === 'string' ? [l] : l.name ? [l.name] : [])),
      html_url: issue.html_url,
      created_at: issue.created_at,
      updated_at: issue.updated_at,
      closed_at: issue.closed_at ?? null,
    },
  };
}

interface StartingPoint {
  since?: string;
  high?: string;
  next?: URL;
}

/**
 * A cursor that does not parse is dropped and the run starts over from
 * scratch: records are idempotent, so a full re-read costs time, not data.
 * A stored `next` on another origin (the integration's base URL changed)
 * restarts from `since` rather than send the token there.
 */
function startingPoint(cursor: Cursor | undefined, base: URL): StartingPoint {
  const parsed = githubCursorSchema.safeParse(cursor ?? {});
  if (!parsed.success) return {};
  const { since, next, high } = parsed.data;
  const out: StartingPoint = {};
  if (since !== undefined) out.since = since;
  if (next !== undefined && new URL(next).origin === base.origin) {
    out.next = new URL(next);
    if (high !== undefined) out.high = high;
  }
  return out;
}

function firstPageUrl(base: URL, config: GithubConfig, since: string | undefined): URL {
  const url = repoUrl(base, config, 'issues');
  const params: Record<string, string> = { state: 'all', sort: 'updated', direction: 'asc', per_page: String(PER_PAGE) };
  if (since !== undefined) params.since = since;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

/**
 * The `rel="next"` target of a `Link` header
 * (https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api).
 * Only followed on the base URL's origin: the request carries the token.
 */
export function nextLink(header: string | null, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!match?.[1] || match[2] === undefined) continue;
    if (!/(?:^|;)\s*rel="?(?:[^";]*\s)?next(?:\s[^";]*)?"?\s*(?:;|$)/.test(match[2])) continue;
    let url: URL;
    try {
      url = new URL(match[1], base);
    } catch {
      throw new UnrecoverableError(`${OPERATION}: unparseable next link`);
    }
    if (url.origin !== base.origin) {
      throw new UnrecoverableError(`${OPERATION}: refusing a next link to another origin (${url.origin})`);
    }
    return url;
  }
  return undefined;
}

function summarise(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

function compact(cursor: Record<string, string | undefined>): Cursor {
  const out: Cursor = {};
  for (const [k, v] of Object.entries(cursor)) if (v !== undefined) out[k] = v;
  return out;
}
