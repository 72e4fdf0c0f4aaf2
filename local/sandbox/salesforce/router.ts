/**
 * HTTP side of the Salesforce sandbox. Two listeners share one org:
 *
 * - the login server (login.salesforce.com): `/services/oauth2/*` only;
 * - the instance (the org's My Domain, the `instance_url` of every token):
 *   `/services/oauth2/*` and the REST API under `/services/data/vNN.0`.
 *
 * REST requests go through, in order: latency, injected failures, the
 * session check (401 INVALID_SESSION_ID), the org's daily API allocation
 * (403 REQUEST_LIMIT_EXCEEDED), then the resource. Every authenticated REST
 * answer carries `Sforce-Limit-Info: api-usage=USED/MAX`.
 */
import { parseBasicAuth, readBodyLimited } from '../http-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxOAuth } from './oauth';
import { handleRest, sfError, type Locators, type Reply } from './rest';
import type { SalesforceSandboxState } from './state';

const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** API versions the sandbox serves (Summer '14 … Spring '26). */
const MIN_VERSION = 31;
const MAX_VERSION = 66;
const DATA_PATH = /^\/services\/data\/v(\d{2,3}\.0)(\/.*)?$/;

export interface InjectedFailure {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RouterControls {
  latencyMs: number;
  failures: InjectedFailure[];
  usage: { used: number; max: number };
  /** The user the authorize endpoint approves as (no login page here). */
  defaultUser: string;
  log: { server: 'login' | 'instance'; method: string; path: string; status: number }[];
}

export interface RouterDeps {
  state: SalesforceSandboxState;
  oauth: SandboxOAuth;
  locators: Locators;
  controls: RouterControls;
  now(): number;
  origin(server: 'login' | 'instance'): string;
}

export function createSalesforceRouter(server: 'login' | 'instance', deps: RouterDeps) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', deps.origin(server));
    const method = req.method ?? 'GET';
    const raw = await readBodyLimited(req, MAX_BODY_BYTES);
    let reply: Reply;
    try {
      reply = await route(method, url, req, raw);
    } catch {
      reply = sfError(500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-1234 (-1234567890)');
    }
    if (deps.controls.latencyMs > 0) await new Promise((r) => setTimeout(r, deps.controls.latencyMs));
    deps.controls.log.push({ server, method, path: url.pathname + url.search, status: reply.status });
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json;charset=UTF-8';
    res.writeHead(reply.status, headers);
    res.end(reply.body === undefined ? undefined : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  };

  function route(method: string, url: URL, req: IncomingMessage, raw: Buffer | undefined): Reply | Promise<Reply> {
    const failure = deps.controls.failures.shift();
    if (failure) return { status: failure.status, body: failure.body, headers: failure.headers };
    if (raw === undefined) return sfError(413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large');

    if (url.pathname.startsWith('/services/oauth2/')) return oauthRoute(method, url, req, raw);
    const data = DATA_PATH.exec(url.pathname);
    if (server !== 'instance' || !data?.[1]) return sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
    const version = data[1];
    if (Number(version) < MIN_VERSION || Number(version) > MAX_VERSION) return sfError(404, 'NOT_FOUND', 'The requested resource does not exist');

    const token = bearer(req.headers.authorization);
    if (token === undefined || !deps.oauth.isValid(token)) {
      return { ...sfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid'), headers: { 'www-authenticate': 'Token' } };
    }
    const usage = deps.controls.usage;
    if (usage.used >= usage.max) {
      return { ...sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'), headers: { 'sforce-limit-info': `api-usage=${usage.used}/${usage.max}` } };
    }
    usage.used++;
    const limitInfo = { 'sforce-limit-info': `api-usage=${usage.used}/${usage.max}` };
    const queryOptions = header(req, 'sforce-query-options');
    const ifUnmodifiedSince = header(req, 'if-unmodified-since');
    return handleRest(
      { state: deps.state, locators: deps.locators, now: () => deps.now() },
      version,
      method,
      url,
      data[2] ?? '',
      { ...(queryOptions === undefined ? {} : { queryOptions }), ...(ifUnmodifiedSince === undefined ? {} : { ifUnmodifiedSince }) },
      () => Promise.resolve(parseJson(raw)),
    ).then((reply) => ({ ...reply, headers: { ...limitInfo, ...reply.headers } }));
  }

  function oauthRoute(method: string, url: URL, req: IncomingMessage, raw: Buffer): Reply {
    const endpoint = url.pathname.replace(/\/$/, '');
    if (endpoint === '/services/oauth2/authorize' && method === 'GET') {
      const answer = deps.oauth.authorize(url.searchParams, url.searchParams.get('login_hint') ?? deps.controls.defaultUser);
      return 'redirect' in answer ? { status: 302, headers: { location: answer.redirect } } : answer;
    }
    if (method !== 'POST') return sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
    if (!(header(req, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return { status: 400, body: { error: 'invalid_request', error_description: 'must use application/x-www-form-urlencoded' } };
    }
    const form = new URLSearchParams(raw.toString('utf8'));
    if (endpoint === '/services/oauth2/token') {
      return deps.oauth.token(form, parseBasicAuth(req.headers.authorization), server === 'instance');
    }
    if (endpoint === '/services/oauth2/revoke') {
      return deps.oauth.revoke(form.get('token') ?? '') ? { status: 200 } : { status: 400, body: { error: 'unsupported_token_type', error_description: 'this token type is not supported' } };
    }
    return sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function bearer(value: string | undefined): string | undefined {
  // Salesforce also takes the older `OAuth <token>` form.
  const match = value ? /^(?:bearer|oauth)\s+(\S+)$/i.exec(value) : null;
  return match?.[1];
}



function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
