/**
 * A local stand-in for Notion's API (data source query, pages, OAuth) and its
 * webhook sender. Tests, the benchmarks and `npm start` point a Notion
 * integration's base URL here.
 *
 *   const notion = await startNotionSandbox({ tokens: { ntn_test: {} } });
 *   const { id } = notion.createDataSource();
 *   notion.seedPages(id, 250);
 *   // ... pull from notion.url ...
 *   await notion.close();
 *
 * Misbehaviour controls: latency, injected failures (5xx bursts), 429 storms,
 * 529 overloads, exhausted budgets, revoked tokens, read-only tokens.
 */
import { listenSandbox } from '../http-server';
import { NotionOAuth, type OAuthClientRecord } from './oauth';
import { createNotionRouter, type RouterControls } from './router';
import { NotionSandboxState, type SandboxPage, type TokenOptions } from './state';
import {
  deliverNotionWebhook,
  newVerificationToken,
  pageEventPayload,
  sendVerificationToken,
  type NotionWebhookDelivery,
  type NotionWebhookResult,
} from './webhooks';

export type { SandboxPage, TokenOptions } from './state';
export type { NotionWebhookDelivery, NotionWebhookResult } from './webhooks';
export type { OAuthClientRecord } from './oauth';

export interface NotionSandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Tokens known from the start. */
  tokens?: Record<string, TokenOptions>;
  /** Delay before every response. Default 0. */
  latencyMs?: number;
  /** Seed of every generated id. Same seed, same calls → same data. */
  seed?: string;
  /** First instant of the data clock. Default 2025-01-06T09:00:00.000Z. */
  clockStart?: string;
  /** Data-clock step per write, in seconds. Default 20 (three writes per minute). */
  tickSeconds?: number;
  /** Wall clock for request budgets and code expiry, epoch ms. Default Date.now. */
  now?: () => number;
}

export interface NotionSandbox {
  /** Base URL for the integration's `baseUrl`, e.g. http://127.0.0.1:54321 (paths start with /v1). */
  readonly url: string;
  close(): Promise<void>;
  addToken(token: string, options?: TokenOptions): void;
  /** The token answers 401 from now on. */
  revokeToken(token: string): void;
  isTokenActive(token: string): boolean;
  /** Spend the token's current 60-second window: its next request gets a 429 until the window ends. */
  exhaust(token: string): void;
  setLatency(ms: number): void;
  /** The next `n` requests answer `status` with a Notion error body (before auth). */
  failNext(n: number, status: number, options?: { code?: string; message?: string; headers?: Record<string, string> }): void;
  /** The next `n` requests answer 429 rate_limited with `Retry-After: retryAfterSeconds` (default 1). */
  rateLimitStorm(n: number, retryAfterSeconds?: number): void;
  /** The next `n` requests answer 529 service_overload, with Retry-After when given. */
  overload(n: number, retryAfterSeconds?: number): void;
  createDataSource(options?: { id?: string; title?: string }): { id: string; databaseId: string };
  /** `n` pages with deterministic content; every 10th is in the trash. */
  seedPages(dataSourceId: string, n: number): SandboxPage[];
  /** Create a page with request-format property values (as `POST /v1/pages` takes them). */
  createPage(dataSourceId: string, properties: Record<string, unknown>): SandboxPage;
  /** Update request-format property values and bump `last_edited_time`. */
  updatePage(pageId: string, properties: Record<string, unknown>): SandboxPage;
  /** Move a page to the trash (or back out of it). */
  trashPage(pageId: string, inTrash?: boolean): SandboxPage;
  getPage(pageId: string): SandboxPage | undefined;
  registerOAuthClient(client: OAuthClientRecord): void;
  /** The consent a user would give in the browser: an authorization code. */
  authorize(params: { clientId: string; redirectUri: string; codeChallenge?: string }): string;
  /** POST a signed event delivery to `url`, with retries as configured. */
  deliverWebhook(delivery: NotionWebhookDelivery): Promise<NotionWebhookResult>;
  /** POST the one-time handshake; returns the token sent (fresh unless given). */
  sendVerification(url: string, verificationToken?: string): Promise<{ status: number; body: string; verificationToken: string }>;
  /** A documented-shape event about one of the sandbox's pages (`page.properties_updated`, …). */
  pageEvent(type: string, pageId: string): Record<string, unknown>;
  /** Every request served so far: method, path with query, status. */
  requests(): readonly { method: string; path: string; status: number }[];
}

const DEFAULT_CODES: Record<number, [string, string]> = {
  400: ['validation_error', 'body failed validation.'],
  401: ['unauthorized', 'API token is invalid.'],
  403: ['restricted_resource', 'API token does not have access to this resource.'],
  404: ['object_not_found', 'Could not find object.'],
  409: ['conflict_error', 'Conflict occurred while saving. Please try again.'],
  429: ['rate_limited', 'You have been rate limited. Please try again in a few minutes.'],
  500: ['internal_server_error', 'Unexpected error occurred.'],
  502: ['bad_gateway', 'Bad Gateway'],
  503: ['service_unavailable', 'Notion is unavailable, please try again later.'],
  504: ['gateway_timeout', 'Gateway Timeout'],
  529: ['service_overload', 'Notion is overloaded, please try again later.'],
};
const STATUSES = ['Not started', 'In progress', 'Done'] as const;
const PRIORITIES = ['Low', 'Medium', 'High'] as const;
const TAGS = ['backend', 'frontend', 'ops'] as const;

export async function startNotionSandbox(options: NotionSandboxOptions = {}): Promise<NotionSandbox> {
  let origin = '';
  const now = options.now ?? Date.now;
  const seed = options.seed ?? 'castiel-notion';
  const state = new NotionSandboxState(seed, options.clockStart ?? '2025-01-06T09:00:00.000Z', (options.tickSeconds ?? 20) * 1000, now);
  for (const [token, t] of Object.entries(options.tokens ?? {})) state.addToken(token, t);
  const workspace = { id: state.uuid(), name: 'Sandbox workspace', botId: state.uuid(), ownerId: state.uuid() };
  const integrationId = state.uuid();
  const subscriptionId = state.uuid();
  const oauth = new NotionOAuth({ activate: (t) => { state.addToken(t); }, revoke: (t) => { state.revokeToken(t); } }, workspace, now);

  const controls: RouterControls = { latencyMs: options.latencyMs ?? 0, failures: [], origin: () => origin, log: [] };
  const handle = createNotionRouter(state, oauth, controls);
  const server = await listenSandbox(handle, options);
  origin = server.origin;

  const fail = (n: number, status: number, o: { code?: string; message?: string; headers?: Record<string, string> } = {}): void => {
    const [code, message] = DEFAULT_CODES[status] ?? ['internal_server_error', 'Unexpected error occurred.'];
    const body = JSON.stringify({ object: 'error', status, code: o.code ?? code, message: o.message ?? message, request_id: state.uuid() });
    for (let i = 0; i < n; i++) controls.failures.push({ status, headers: o.headers ?? {}, body });
  };
  const must = (outcome: ReturnType<NotionSandboxState['createPage']>): SandboxPage => {
    if (!outcome.ok) throw new Error(`notion sandbox: ${outcome.message}`);
    return outcome.page;
  };

  return {
    url: origin,
    close: () => server.close(),
    addToken: (token, o) => {
      state.addToken(token, o);
    },
    revokeToken: (token) => {
      oauth.revokeFamilyOf(token);
      state.revokeToken(token);
    },
    isTokenActive: (token) => state.isActive(token),
    exhaust: (token) => {
      state.exhaust(token);
    },
    setLatency: (ms) => {
      controls.latencyMs = ms;
    },
    failNext: fail,
    rateLimitStorm: (n, retryAfterSeconds = 1) => {
      fail(n, 429, { headers: { 'retry-after': String(retryAfterSeconds) } });
    },
    overload: (n, retryAfterSeconds) => {
      fail(n, 529, retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } });
    },
    createDataSource: (o) => {
      const source = state.createDataSource(o);
      return { id: source.id, databaseId: source.databaseId };
    },
    seedPages: (dataSourceId, n) => {
      const pages: SandboxPage[] = [];
      const start = state.dataSource(dataSourceId)?.pages.length ?? 0;
      for (let i = 1; i <= n; i++) {
        const k = start + i;
        const page = must(state.createPage(dataSourceId, seededProperties(k)));
        pages.push(k % 10 === 0 ? must(state.updatePage(page.id, { inTrash: true })) : page);
      }
      return pages;
    },
    createPage: (dataSourceId, properties) => must(state.createPage(dataSourceId, properties)),
    updatePage: (pageId, properties) => must(state.updatePage(pageId, { properties })),
    trashPage: (pageId, inTrash = true) => must(state.updatePage(pageId, { inTrash })),
    getPage: (pageId) => {
      const found = state.page(pageId);
      return found && structuredClone(found.page);
    },
    registerOAuthClient: (client) => {
      oauth.registerClient(client);
    },
    authorize: (params) => {
      const p: Parameters<NotionOAuth['authorize']>[0] = { clientId: params.clientId, redirectUri: params.redirectUri };
      if (params.codeChallenge !== undefined) Object.assign(p, { codeChallenge: params.codeChallenge, codeChallengeMethod: 'S256' });
      const result = oauth.authorize(p);
      if (!result.ok) throw new Error(`notion sandbox: authorize failed (${result.error})`);
      return result.code;
    },
    deliverWebhook: deliverNotionWebhook,
    sendVerification: async (url, token = newVerificationToken()) => ({ ...(await sendVerificationToken(url, token)), verificationToken: token }),
    pageEvent: (type, pageId) => {
      const found = state.page(pageId);
      if (!found) throw new Error(`notion sandbox: no page ${pageId}`);
      return pageEventPayload({
        type, pageId: found.page.id, dataSourceId: found.source.id, workspaceId: workspace.id,
        integrationId, subscriptionId, authorId: workspace.ownerId, timestamp: new Date(now()).toISOString(),
      });
    },
    requests: () => controls.log,
  };
}

/** Deterministic content for the k-th seeded page of a data source. */
function seededProperties(k: number): Record<string, unknown> {
  const text = (content: string) => [{ type: 'text', text: { content } }];
  return {
    Name: { title: text(`Task ${k}`) },
    Status: { status: { name: STATUSES[k % STATUSES.length] } },
    Priority: { select: { name: PRIORITIES[k % PRIORITIES.length] } },
    Tags: { multi_select: [{ name: TAGS[k % TAGS.length] }, ...(k % 4 === 0 ? [{ name: TAGS[(k + 1) % TAGS.length] }] : [])] },
    Estimate: { number: k % 7 === 0 ? null : k % 8 },
    Done: { checkbox: k % STATUSES.length === 2 },
    Due: { date: k % 5 === 0 ? null : { start: `2025-02-${String((k % 28) + 1).padStart(2, '0')}` } },
  };
}
