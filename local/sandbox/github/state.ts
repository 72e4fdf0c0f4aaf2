/**
 * In-memory state of the GitHub sandbox: repositories with issues, tokens with
 * a primary rate-limit budget, and a data clock. Pure data and rules; the
 * HTTP side lives in router.ts.
 *
 * The data clock is logical and starts at a fixed instant, ticking one second
 * per write, so seeded content (and its `updated_at`) is deterministic.
 * Rate-limit windows use the wall clock, as GitHub's `x-ratelimit-reset` does.
 */

/** GitHub's primary limit for a user token: 5,000 requests an hour
 * (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api). */
export const DEFAULT_TOKEN_LIMIT = 5000;
export const RATE_LIMIT_WINDOW_MS = 60 * 60 * 1000;

export interface SandboxLabel {
  id: number;
  name: string;
  color: string;
}

/** The subset of GitHub's issue object the sandbox serves (same field names and types). */
export interface SandboxIssue {
  id: number;
  node_id: string;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  state_reason: 'completed' | 'not_planned' | 'reopened' | null;
  user: { login: string; id: number; type: 'User' };
  labels: SandboxLabel[];
  comments: number;
  locked: boolean;
  url: string;
  html_url: string;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  pull_request?: { url: string; html_url: string; diff_url: string; patch_url: string; merged_at: string | null };
}

export interface IssuePatch {
  title?: string;
  body?: string | null;
  state?: 'open' | 'closed';
  /** Why it was closed or reopened; defaults to `completed` / `reopened`. */
  stateReason?: 'completed' | 'not_planned' | 'reopened';
  labels?: string[];
}

export interface NewIssue {
  title: string;
  body?: string | null;
  labels?: string[];
  /** Make it a pull request (the issues API lists both). */
  pullRequest?: boolean;
}

interface TokenState {
  limit: number;
  used: number;
  resetAt: number;
  /** Wall-clock expiry (epoch ms) of an expiring OAuth user token; none for PATs. */
  expiresAt?: number;
}

export type BudgetCheck =
  | { ok: true; limit: number; remaining: number; used: number; resetAt: number }
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'exhausted'; limit: number; remaining: 0; used: number; resetAt: number };

const LABELS = ['bug', 'enhancement', 'documentation', 'question'] as const;
const USERS = ['octocat', 'hubot', 'monalisa'] as const;

export class GithubSandboxState {
  private readonly repos = new Map<string, SandboxIssue[]>();
  private readonly tokens = new Map<string, TokenState>();
  /** `owner/repo#number` of issues deleted by an admin: 410 on read, left out of lists. */
  private readonly deleted = new Set<string>();
  private clock: number;
  private writes = 0;
  private nextId = 1_000_000;

  constructor(
    private readonly apiOrigin: () => string,
    clockStart: string,
    private readonly wallClock: () => number,
  ) {
    this.clock = Date.parse(clockStart);
  }

  // ---- repositories and issues -------------------------------------------

  ensureRepo(owner: string, repo: string): SandboxIssue[] {
    const key = repoKey(owner, repo);
    let issues = this.repos.get(key);
    if (!issues) {
      issues = [];
      this.repos.set(key, issues);
    }
    return issues;
  }

  findRepo(owner: string, repo: string): SandboxIssue[] | undefined {
    return this.repos.get(repoKey(owner, repo));
  }

  /**
   * Adds `n` issues with deterministic content: every 5th is a pull request,
   * every 3rd is closed, labels cycle. Each gets a later `updated_at`.
   */
  seedIssues(owner: string, repo: string, n: number): SandboxIssue[] {
    const created: SandboxIssue[] = [];
    for (let i = 0; i < n; i++) {
      const number = this.ensureRepo(owner, repo).length + 1;
      const label = LABELS[number % LABELS.length] ?? 'bug';
      const issue = this.createIssue(owner, repo, {
        title: `Seeded issue #${number}`,
        body: number % 7 === 0 ? null : `Body of seeded issue #${number} in ${owner}/${repo}.`,
        labels: [label],
        pullRequest: number % 5 === 0,
      }, USERS[number % USERS.length] ?? 'octocat');
      if (number % 3 === 0) this.updateIssue(owner, repo, number, { state: 'closed' });
      created.push(issue);
    }
    return created.map((i) => structuredClone(i));
  }

  createIssue(owner: string, repo: string, input: NewIssue, login = 'octocat'): SandboxIssue {
    const issues = this.ensureRepo(owner, repo);
    const number = issues.length + 1;
    const id = this.nextId++;
    const now = this.tick();
    const apiRepo = `${this.apiOrigin()}/repos/${owner}/${repo}`;
    const htmlRepo = `https://github.com/${owner}/${repo}`;
    const issue: SandboxIssue = {
      id,
      node_id: Buffer.from(`I_${id}`).toString('base64'),
      number,
      title: input.title,
      body: input.body ?? null,
      state: 'open',
      state_reason: null,
      user: { login, id: 1 + (login.length % 5), type: 'User' },
      labels: (input.labels ?? []).map((name) => labelFor(name)),
      comments: 0,
      locked: false,
      url: `${apiRepo}/issues/${number}`,
      html_url: `${htmlRepo}/${input.pullRequest ? 'pull' : 'issues'}/${number}`,
      created_at: now,
      updated_at: now,
      closed_at: null,
    };
    if (input.pullRequest) {
      issue.pull_request = {
        url: `${apiRepo}/pulls/${number}`,
        html_url: `${htmlRepo}/pull/${number}`,
        diff_url: `${htmlRepo}/pull/${number}.diff`,
        patch_url: `${htmlRepo}/pull/${number}.patch`,
        merged_at: null,
      };
    }
    issues.push(issue);
    return structuredClone(issue);
  }

  /** Applies a patch and bumps `updated_at`; undefined when there is no such issue. */
  updateIssue(owner: string, repo: string, number: number, patch: IssuePatch): SandboxIssue | undefined {
    const issue = this.findRepo(owner, repo)?.find((i) => i.number === number);
    if (!issue) return undefined;
    const now = this.tick();
    if (patch.title !== undefined) issue.title = patch.title;
    if (patch.body !== undefined) issue.body = patch.body;
    if (patch.labels !== undefined) issue.labels = patch.labels.map((name) => labelFor(name));
    if (patch.state !== undefined && patch.state !== issue.state) {
      issue.state = patch.state;
      issue.closed_at = patch.state === 'closed' ? now : null;
      issue.state_reason = patch.stateReason ?? (patch.state === 'closed' ? 'completed' : 'reopened');
    }
    issue.updated_at = now;
    return structuredClone(issue);
  }

  /** Deletes an issue as a repository admin can (GitHub's REST API cannot); false when there was none. */
  deleteIssue(owner: string, repo: string, number: number): boolean {
    if (!this.findRepo(owner, repo)?.some((i) => i.number === number)) return false;
    this.deleted.add(`${repoKey(owner, repo)}#${number}`);
    this.writes++;
    return true;
  }

  isDeleted(owner: string, repo: string, number: number): boolean {
    return this.deleted.has(`${repoKey(owner, repo)}#${number}`);
  }

  getIssue(owner: string, repo: string, number: number): SandboxIssue | undefined {
    const issue = this.findRepo(owner, repo)?.find((i) => i.number === number);
    return issue && structuredClone(issue);
  }

  // ---- tokens and the primary rate limit ----------------------------------

  addToken(token: string, limit = DEFAULT_TOKEN_LIMIT, expiresAt?: number): void {
    const state: TokenState = { limit, used: 0, resetAt: this.wallClock() + RATE_LIMIT_WINDOW_MS };
    if (expiresAt !== undefined) state.expiresAt = expiresAt;
    this.tokens.set(token, state);
  }

  /** The token stops working at once, as after a revocation in GitHub's settings; true when it existed. */
  revokeToken(token: string): boolean {
    return this.tokens.delete(token);
  }

  /** Uses up the token's budget for the current window. */
  exhaust(token: string): void {
    const state = this.tokenState(token);
    if (state) state.used = state.limit;
  }

  /** Counts one request against the token's budget, or says why it may not be made. */
  spend(token: string): BudgetCheck {
    const state = this.tokenState(token);
    if (!state) return { ok: false, reason: 'unknown' };
    if (state.used >= state.limit) {
      return { ok: false, reason: 'exhausted', limit: state.limit, remaining: 0, used: state.used, resetAt: state.resetAt };
    }
    state.used++;
    return { ok: true, limit: state.limit, remaining: state.limit - state.used, used: state.used, resetAt: state.resetAt };
  }

  private tokenState(token: string): TokenState | undefined {
    const state = this.tokens.get(token);
    // An expired user token answers like an unknown one: 401 Bad credentials.
    if (state?.expiresAt !== undefined && state.expiresAt <= this.wallClock()) return undefined;
    if (state && state.resetAt <= this.wallClock()) {
      state.used = 0;
      state.resetAt = this.wallClock() + RATE_LIMIT_WINDOW_MS;
    }
    return state;
  }

  /** Bumped by every write, so readers can cache derived views (sorted listings). */
  get revision(): number {
    return this.writes;
  }

  private tick(): string {
    this.writes++;
    this.clock += 1000;
    // GitHub's timestamps are whole seconds, `Z`-suffixed.
    return new Date(this.clock).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

function repoKey(owner: string, repo: string): string {
  // Owner and repository names are case-insensitive on GitHub.
  return `${owner.toLowerCase()}/${repo.toLowerCase()}`;
}

function labelFor(name: string): SandboxLabel {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return { id: hash, name, color: (hash & 0xffffff).toString(16).padStart(6, '0') };
}
