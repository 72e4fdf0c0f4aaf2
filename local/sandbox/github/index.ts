/**
 * A local stand-in for GitHub's issues API and webhook sender. Tests, the
 * benchmarks and `npm start` point a GitHub integration's base URL here.
 *
 *   const gh = await startGithubSandbox({ tokens: { 'ghp_test': {} } });
 *   gh.seedIssues('octo', 'hello', 250);
 *   // ... pull from gh.url ...
 *   await gh.close();
 *
 * It also serves the OAuth web flow (`/login/oauth/authorize`,
 * `/login/oauth/access_token`) for apps registered with `registerOAuthApp`:
 * the tokens it issues work against the API, expire after 8 h of the `now`
 * clock, and rotate on refresh (reuse revokes the family; see oauth.ts).
 */
import { listenSandbox } from '../http-server';
import { GithubOAuthState, type OAuthAppOptions } from './oauth';
import { createGithubRouter, type RouterControls } from './router';
import { DEFAULT_TOKEN_LIMIT, GithubSandboxState, type IssuePatch, type NewIssue, type SandboxIssue } from './state';
import { deliverWebhook, type WebhookDelivery, type WebhookResult } from './webhooks';

export type { SandboxIssue, IssuePatch, NewIssue } from './state';
export type { OAuthAppOptions } from './oauth';
export type { WebhookDelivery, WebhookResult } from './webhooks';

export interface GithubSandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Tokens known from the start, with their hourly budget (default 5,000). */
  tokens?: Record<string, { limit?: number }>;
  /** Status of an exhausted primary limit: GitHub answers 403 or 429. Default 403. */
  rateLimitStatus?: 403 | 429;
  /** Delay before every response. Default 0. */
  latencyMs?: number;
  /** First instant of the data clock (seeded `created_at`/`updated_at`). Default 2024-01-01T00:00:00Z. */
  clockStart?: string;
  /** Wall clock for rate-limit windows and token/code expiry, epoch ms. Default Date.now. */
  now?: () => number;
  /** OAuth apps registered from the start. */
  oauthApps?: OAuthAppOptions[];
}

export interface GithubSandbox {
  /** Base URL to use as the integration's `baseUrl`, e.g. http://127.0.0.1:54321 (no trailing slash). */
  readonly url: string;
  close(): Promise<void>;
  addToken(token: string, options?: { limit?: number }): void;
  /** Any token (PAT, OAuth access or refresh token) stops working at once; false when it was not live. */
  revokeToken(token: string): boolean;
  registerOAuthApp(app: OAuthAppOptions): void;
  /** True once every token from the authorization that issued `token` was revoked (refresh-token or code reuse). */
  isTokenFamilyRevoked(token: string): boolean;
  /** Spend the token's whole budget: its next request gets the exhausted answer until reset. */
  exhaust(token: string): void;
  setLatency(ms: number): void;
  setRateLimitStatus(status: 403 | 429): void;
  /** The next `n` requests answer `status` (before auth), with optional extra headers and message. */
  failNext(n: number, status: number, options?: { headers?: Record<string, string>; message?: string }): void;
  seedIssues(owner: string, repo: string, n: number): SandboxIssue[];
  /** Creates the repository (empty) so its endpoints answer instead of 404. */
  createRepo(owner: string, repo: string): void;
  createIssue(owner: string, repo: string, input: NewIssue): SandboxIssue;
  /** Edits an issue and bumps its `updated_at`; throws when it does not exist. */
  updateIssue(owner: string, repo: string, number: number, patch: IssuePatch): SandboxIssue;
  getIssue(owner: string, repo: string, number: number): SandboxIssue | undefined;
  /** Deletes an issue as an admin can in the UI: reads answer 410, lists leave it out. */
  deleteIssue(owner: string, repo: string, number: number): void;
  /** POST a signed delivery to `url`, as GitHub does. */
  deliverWebhook(delivery: WebhookDelivery): Promise<WebhookResult>;
  /** Every API request served so far: method, path with query, status. */
  requests(): readonly { method: string; path: string; status: number }[];
}

export async function startGithubSandbox(options: GithubSandboxOptions = {}): Promise<GithubSandbox> {
  let origin = '';
  const state = new GithubSandboxState(() => origin, options.clockStart ?? '2024-01-01T00:00:00Z', options.now ?? Date.now);
  for (const [token, t] of Object.entries(options.tokens ?? {})) state.addToken(token, t.limit ?? DEFAULT_TOKEN_LIMIT);
  const oauth = new GithubOAuthState(state, options.now ?? Date.now);
  for (const app of options.oauthApps ?? []) oauth.registerApp(app);

  const controls: RouterControls = {
    latencyMs: options.latencyMs ?? 0,
    rateLimitStatus: options.rateLimitStatus ?? 403,
    failures: [],
    origin: () => origin,
    log: [],
  };
  const handle = createGithubRouter(state, oauth, controls);
  const server = await listenSandbox(handle, options);
  origin = server.origin;

  return {
    url: origin,
    close: () => server.close(),
    addToken: (token, o) => {
      state.addToken(token, o?.limit ?? DEFAULT_TOKEN_LIMIT);
    },
    revokeToken: (token) => oauth.revoke(token),
    registerOAuthApp: (app) => {
      oauth.registerApp(app);
    },
    isTokenFamilyRevoked: (token) => oauth.isFamilyRevoked(token),
    exhaust: (token) => {
      state.exhaust(token);
    },
    setLatency: (ms) => {
      controls.latencyMs = ms;
    },
    setRateLimitStatus: (status) => {
      controls.rateLimitStatus = status;
    },
    failNext: (n, status, o) => {
      const body = JSON.stringify({ message: o?.message ?? defaultMessage(status), documentation_url: 'https://docs.github.com/rest' });
      for (let i = 0; i < n; i++) controls.failures.push({ status, headers: o?.headers ?? {}, body });
    },
    seedIssues: (owner, repo, n) => state.seedIssues(owner, repo, n),
    createRepo: (owner, repo) => {
      state.ensureRepo(owner, repo);
    },
    createIssue: (owner, repo, input) => state.createIssue(owner, repo, input),
    updateIssue: (owner, repo, number, patch) => {
      const issue = state.updateIssue(owner, repo, number, patch);
      if (!issue) throw new Error(`sandbox: no issue ${owner}/${repo}#${number}`);
      return issue;
    },
    getIssue: (owner, repo, number) => state.getIssue(owner, repo, number),
    deleteIssue: (owner, repo, number) => {
      if (!state.deleteIssue(owner, repo, number)) throw new Error(`sandbox: no issue ${owner}/${repo}#${number}`);
    },
    deliverWebhook,
    requests: () => controls.log,
  };
}

function defaultMessage(status: number): string {
  if (status >= 500) return status === 503 ? 'Service Unavailable' : 'Server Error';
  if (status === 403 || status === 429) return 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.';
  return 'Error';
}
