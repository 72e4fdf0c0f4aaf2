/**
 * The issue endpoints push needs, each one request through providerFetch:
 * get, create, update, and a bounded scan of the most recently created
 * issues. https://docs.github.com/rest/issues/issues
 *
 * Redirects are never followed: GitHub answers 301 for an issue transferred
 * to another repository, and following it would read (or PATCH) an issue
 * outside the integration's repository.
 */
import { UnrecoverableError } from '../../errors';
import { providerFetch, readJson } from '../../http/provider-fetch';
import type { CallContext } from '../types';
import { githubFetchOptions, githubHeaders, repoUrl } from './api';
import { nextLink } from './pull';
import { githubIssueListSchema, githubIssueSchema, type GithubConfig, type GithubCredentials, type GithubIssue } from './schemas';

export type GithubCallContext = CallContext<GithubConfig, GithubCredentials>;

/** The fields `POST /issues` and `PATCH /issues/{n}` take that push writes. */
export interface IssueWrite {
  title?: string;
  body?: string | null;
  state?: 'open' | 'closed';
  /** https://docs.github.com/rest/issues/issues#update-an-issue: `completed`, `not_planned` or `reopened`. */
  state_reason?: 'completed' | 'not_planned' | 'reopened';
  labels?: string[];
}

/**
 * "Get an issue" answers 410 for an issue deleted from the repository and
 * 301 for one transferred out of it; a 404 may just be missing access, so it
 * is not counted as gone.
 */
const GONE = new Set([301, 410]);
/** The list endpoint's largest page (https://docs.github.com/rest/issues/issues#list-repository-issues). */
const PER_PAGE = 100;

/** The issue, or `gone` when it was deleted or moved out of the repository. */
export async function getIssue(ctx: GithubCallContext, number: number): Promise<GithubIssue | 'gone'> {
  const operation = 'GitHub get issue';
  let status = 0;
  const peek: typeof fetch = async (input, init) => {
    const response = await ctx.fetch(input, init);
    status = response.status;
    return response;
  };
  try {
    const response = await providerFetch(
      { ...ctx, fetch: peek },
      repoUrl(ctx.baseUrl, ctx.config, `issues/${number}`),
      { method: 'GET', headers: githubHeaders(ctx.credentials), redirect: 'manual' },
      githubFetchOptions(operation),
    );
    return parseIssue(await readJson(response, operation), operation);
  } catch (e) {
    if (GONE.has(status)) return 'gone';
    throw e;
  }
}

export async function createIssue(ctx: GithubCallContext, write: IssueWrite & { title: string }): Promise<GithubIssue> {
  return send(ctx, 'POST', 'issues', write, 'GitHub create issue');
}

export async function updateIssue(ctx: GithubCallContext, number: number, write: IssueWrite): Promise<GithubIssue> {
  return send(ctx, 'PATCH', `issues/${number}`, write, 'GitHub update issue');
}

/**
 * The first issue (or pull request) matching `predicate` among the `pages`
 * × 100 most recently created in the repository, newest first.
 */
export async function findRecentIssue(
  ctx: GithubCallContext,
  predicate: (issue: GithubIssue) => boolean,
  pages: number,
): Promise<GithubIssue | undefined> {
  const operation = 'GitHub list recent issues';
  const base = new URL(ctx.baseUrl);
  let url: URL | undefined = repoUrl(base, ctx.config, 'issues');
  for (const [k, v] of Object.entries({ state: 'all', sort: 'created', direction: 'desc', per_page: String(PER_PAGE) })) {
    url.searchParams.set(k, v);
  }
  for (let page = 0; page < pages && url; page++) {
    const response = await providerFetch(
      ctx,
      url,
      { method: 'GET', headers: githubHeaders(ctx.credentials), redirect: 'manual' },
      githubFetchOptions(operation),
    );
    const next = nextLink(response.headers.get('link'), base);
    const parsed = githubIssueListSchema.safeParse(await readJson(response, operation));
    if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape`);
    const match = parsed.data.find(predicate);
    if (match) return match;
    url = next;
  }
  return undefined;
}

async function send(ctx: GithubCallContext, method: 'POST' | 'PATCH', rest: string, write: IssueWrite, operation: string): Promise<GithubIssue> {
  const response = await providerFetch(
    ctx,
    repoUrl(ctx.baseUrl, ctx.config, rest),
    {
      method,
      headers: { ...githubHeaders(ctx.credentials), 'Content-Type': 'application/json' },
      body: JSON.stringify(write),
      redirect: 'manual',
    },
    githubFetchOptions(operation),
  );
  return parseIssue(await readJson(response, operation), operation);
}

function parseIssue(body: unknown, operation: string): GithubIssue {
  const parsed = githubIssueSchema.safeParse(body);
  if (!parsed.success) throw new UnrecoverableError(`${operation}: unexpected response shape`);
  return parsed.data;
}
