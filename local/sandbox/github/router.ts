/**
 * HTTP side of the GitHub sandbox: the issues endpoints with GitHub's auth,
 * rate-limit headers, pagination and error shapes.
 * https://docs.github.com/rest/issues/issues
 */
import { parseJsonOrUndefined } from '../../../shared/http/json';
import { readBodyLimited } from '../http-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GithubOAuthState } from './oauth';
import { createOAuthRoutes } from './oauth-routes';
import type { GithubSandboxState, IssuePatch, NewIssue, SandboxIssue } from './state';

const DOCS = 'https://docs.github.com/rest';
const RATE_LIMIT_DOCS = 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api';
/** `per_page` default and ceiling (https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api). */
const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;
const MAX_BODY_BYTES = 1024 * 1024;

export interface InjectedFailure {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Knobs the router reads on every request; the sandbox's controls set them. */
export interface RouterControls {
  latencyMs: number;
  rateLimitStatus: 403 | 429;
  failures: InjectedFailure[];
  origin(): string;
  log: { method: string; path: string; status: number }[];
}

type Headers = Record<string, string>;
export interface Reply {
  status: number;
  body: unknown;
  headers?: Headers;
}

const ISSUES = /^\/repos\/([^/]+)\/([^/]+)\/issues$/;
const ISSUE = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/;

export function createGithubRouter(state: GithubSandboxState, oauth: GithubOAuthState, controls: RouterControls) {
  const handleOAuth = createOAuthRoutes(oauth);
  // Sorting every issue on every request made a 100k-issue repo quadratic to page through:
  // the sorted listing is cached until the next write.
  const listings = new Map<string, { revision: number; entries: { issue: SandboxIssue; updatedMs: number }[] }>();
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', controls.origin());
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      reply = await route(method, url, req);
    } catch {
      reply = { status: 500, body: { message: 'Server Error' } };
    }
    if (controls.latencyMs > 0) await new Promise((r) => setTimeout(r, controls.latencyMs));
    controls.log.push({ method, path: url.pathname + url.search, status: reply.status });
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
    res.end(body);
  };

  async function route(method: string, url: URL, req: IncomingMessage): Promise<Reply> {
    const failure = controls.failures.shift();
    if (failure) return { status: failure.status, body: failure.body, headers: failure.headers };

    // The OAuth web flow takes no API token and has no API rate-limit headers.
    const oauthReply = await handleOAuth(method, url, req);
    if (oauthReply) return oauthReply;

    const token = bearer(req.headers.authorization);
    if (token === undefined) return error(401, 'Requires authentication');
    const budget = state.spend(token);
    if (!budget.ok && budget.reason === 'unknown') return error(401, 'Bad credentials');
    const rl = rateLimitHeaders(budget);
    if (!budget.ok) {
      // Primary limit spent: 403 (or 429) with remaining 0, as GitHub answers.
      return { ...error(controls.rateLimitStatus, 'API rate limit exceeded for user ID 1.', RATE_LIMIT_DOCS), headers: rl };
    }

    const reply = await dispatch(method, url, req);
    return { ...reply, headers: { ...rl, ...reply.headers } };
  }

  async function dispatch(method: string, url: URL, req: IncomingMessage): Promise<Reply> {
    const list = ISSUES.exec(url.pathname);
    if (list?.[1] && list[2]) {
      const [owner, repo] = [decodeURIComponent(list[1]), decodeURIComponent(list[2])];
      if (!state.findRepo(owner, repo)) return error(404, 'Not Found');
      if (method === 'GET') return listIssues(owner, repo, url);
      if (method === 'POST') return createIssue(owner, repo, await readJson(req));
      return error(404, 'Not Found');
    }
    const one = ISSUE.exec(url.pathname);
    if (one?.[1] && one[2] && one[3]) {
      const [owner, repo, number] = [decodeURIComponent(one[1]), decodeURIComponent(one[2]), Number(one[3])];
      // https://docs.github.com/rest/issues/issues#get-an-issue: 410 for an issue deleted from a repository you can read.
      if (state.isDeleted(owner, repo, number)) return error(410, 'This issue was deleted');
      if (method === 'GET') return found(state.getIssue(owner, repo, number));
      if (method === 'PATCH') {
        const body = await readJson(req);
        if (body === undefined) return error(400, 'Problems parsing JSON');
        return found(state.updateIssue(owner, repo, number, issuePatch(body)));
      }
    }
    return error(404, 'Not Found');
  }

  function sortedListing(owner: string, repo: string, stateFilter: string, sort: string, direction: string): { issue: SandboxIssue; updatedMs: number }[] {
    const cacheKey = `${owner}/${repo}|${stateFilter}|${sort}|${direction}`;
    const hit = listings.get(cacheKey);
    if (hit?.revision === state.revision) return hit.entries;
    const sign = direction === 'asc' ? 1 : -1;
    const entries = (state.findRepo(owner, repo) ?? [])
      .filter((i) => !state.isDeleted(owner, repo, i.number) && (stateFilter === 'all' || i.state === stateFilter))
      .map((issue) => ({
        issue,
        updatedMs: Date.parse(issue.updated_at),
        key: sort === 'updated' ? Date.parse(issue.updated_at) : sort === 'comments' ? issue.comments : Date.parse(issue.created_at),
      }))
      .sort((a, b) => sign * (a.key - b.key || a.issue.id - b.issue.id));
    listings.set(cacheKey, { revision: state.revision, entries });
    return entries;
  }

  function listIssues(owner: string, repo: string, url: URL): Reply {
    const q = url.searchParams;
    const stateFilter = q.get('state') ?? 'open';
    const sort = q.get('sort') ?? 'created';
    const direction = q.get('direction') ?? 'desc';
    const since = q.get('since');
    const perPage = Math.min(MAX_PER_PAGE, positiveInt(q.get('per_page')) ?? DEFAULT_PER_PAGE);
    const page = positiveInt(q.get('page')) ?? 1;
    if (!['open', 'closed', 'all'].includes(stateFilter)) return validationFailed('state');
    if (!['created', 'updated', 'comments'].includes(sort)) return validationFailed('sort');
    if (!['asc', 'desc'].includes(direction)) return validationFailed('direction');
    const sinceMs = since === null ? undefined : Date.parse(since);
    if (sinceMs !== undefined && Number.isNaN(sinceMs)) return validationFailed('since');

    // GitHub's `since` is inclusive: "updated at or after".
    const matching = sortedListing(owner, repo, stateFilter, sort, direction)
      .filter((e) => sinceMs === undefined || e.updatedMs >= sinceMs)
      .map((e) => e.issue);

    const lastPage = Math.max(1, Math.ceil(matching.length / perPage));
    const items = matching.slice((page - 1) * perPage, page * perPage);
    const link = linkHeader(url, page, lastPage);
    return { status: 200, body: items, headers: link ? { link } : {} };
  }

  function createIssue(owner: string, repo: string, body: unknown): Reply {
    if (body === undefined) return error(400, 'Problems parsing JSON');
    const input = newIssue(body);
    if (!input) return validationFailed('title');
    const issue = state.createIssue(owner, repo, input);
    return { status: 201, body: issue, headers: { location: issue.url } };
  }

  /** `Link` with absolute URLs on the sandbox origin, like api.github.com's. */
  function linkHeader(url: URL, page: number, lastPage: number): string | undefined {
    const at = (p: number): string => {
      const u = new URL(url.pathname + url.search, controls.origin());
      u.searchParams.set('page', String(p));
      return u.href;
    };
    const parts: string[] = [];
    if (page > 1) parts.push(`<${at(page - 1)}>; rel="prev"`);
    if (page < lastPage) parts.push(`<${at(page + 1)}>; rel="next"`, `<${at(lastPage)}>; rel="last"`);
    if (page > 1) parts.push(`<${at(1)}>; rel="first"`);
    return parts.length > 0 ? parts.join(', ') : undefined;
  }
}

function error(status: number, message: string, documentation = DOCS): Reply {
  return { status, body: { message, documentation_url: documentation, status: String(status) } };
}

function validationFailed(field: string): Reply {
  return {
    status: 422,
    body: { message: 'Validation Failed', errors: [{ resource: 'Issue', field, code: 'invalid' }], documentation_url: DOCS, status: '422' },
  };
}

function found(issue: SandboxIssue | undefined): Reply {
  return issue ? { status: 200, body: issue } : error(404, 'Not Found');
}

function rateLimitHeaders(b: { limit: number; remaining: number; used: number; resetAt: number }): Headers {
  return {
    'x-ratelimit-limit': String(b.limit),
    'x-ratelimit-remaining': String(b.remaining),
    'x-ratelimit-used': String(b.used),
    'x-ratelimit-reset': String(Math.ceil(b.resetAt / 1000)),
    'x-ratelimit-resource': 'core',
  };
}

/** GitHub takes both `Bearer <t>` and the older `token <t>`. */
function bearer(header: string | undefined): string | undefined {
  const match = header ? /^(?:bearer|token)\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

function positiveInt(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 ? n : undefined;
}

/** The body as JSON, or undefined when it is not JSON (or too large). */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBodyLimited(req, MAX_BODY_BYTES);
  if (raw === undefined) return undefined;
  return parseJsonOrUndefined(raw.toString('utf8'));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
}

function newIssue(body: unknown): NewIssue | undefined {
  if (!isObject(body) || typeof body.title !== 'string' || body.title.length === 0) return undefined;
  const input: NewIssue = { title: body.title };
  if (typeof body.body === 'string' || body.body === null) input.body = body.body;
  const labels = stringArray(body.labels);
  if (labels) input.labels = labels;
  return input;
}

function issuePatch(body: unknown): IssuePatch {
  const patch: IssuePatch = {};
  if (!isObject(body)) return patch;
  if (typeof body.title === 'string') patch.title = body.title;
  if (typeof body.body === 'string' || body.body === null) patch.body = body.body;
  if (body.state === 'open' || body.state === 'closed') patch.state = body.state;
  if (body.state_reason === 'completed' || body.state_reason === 'not_planned' || body.state_reason === 'reopened') patch.stateReason = body.state_reason;
  const labels = stringArray(body.labels);
  if (labels) patch.labels = labels;
  return patch;
}
