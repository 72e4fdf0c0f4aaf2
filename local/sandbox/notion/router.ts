/**
 * HTTP side of the Notion sandbox: the data source query, page endpoints and
 * the OAuth endpoints, with Notion's version header rule, bearer auth,
 * per-connection request budget (429 + Retry-After), capability 403s and
 * error bodies (`{"object":"error","status","code","message","request_id"}`).
 * https://developers.notion.com/reference/status-codes
 */
import { parseBasicAuth, readBodyLimited } from '../http-server';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthorizeFailure, NotionOAuth } from './oauth';
import { isObject } from './properties';
import { compileFilter, compileSorts } from './query';
import { type NotionSandboxState, type SandboxDataSource, type WriteOutcome } from './state';

/** The query endpoint's default and maximum page size (https://developers.notion.com/reference/intro#pagination). */
const MAX_PAGE_SIZE = 100;
/** Notion's documented payload ceiling: 500 KB (https://developers.notion.com/reference/request-limits#size-limits). */
const MAX_BODY_BYTES = 500 * 1024;
/** The first API version with `/v1/data_sources` (https://developers.notion.com/docs/upgrade-guide-2025-09-03). */
const DATA_SOURCE_VERSION = '2025-09-03';
const VERSION = /^\d{4}-\d{2}-\d{2}$/;

export interface InjectedFailure {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Knobs the router reads on every request; the sandbox's controls set them. */
export interface RouterControls {
  latencyMs: number;
  failures: InjectedFailure[];
  origin(): string;
  log: { method: string; path: string; status: number }[];
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const QUERY = /^\/v1\/data_sources\/([^/]+)\/query$/;
const SOURCE = /^\/v1\/data_sources\/([^/]+)$/;
const PAGE = /^\/v1\/pages\/([^/]+)$/;

export function notionError(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  const reply: Reply = { status, body: { object: 'error', status, code, message, request_id: randomUUID() } };
  if (headers) reply.headers = headers;
  return reply;
}

export function createNotionRouter(state: NotionSandboxState, oauth: NotionOAuth, controls: RouterControls) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', controls.origin());
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      reply = await route(method, url, req);
    } catch {
      reply = notionError(500, 'internal_server_error', 'Unexpected error occurred.');
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
    // The consent page is a browser page: no API version header there.
    if (url.pathname === '/v1/oauth/authorize' && method === 'GET') return authorize(url);

    const version = header(req, 'notion-version');
    if (version === undefined) {
      return notionError(400, 'missing_version', 'Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.');
    }
    if (!VERSION.test(version)) return notionError(400, 'validation_error', `Notion-Version header failed validation: ${version.slice(0, 20)} is not a valid version.`);
    if (url.pathname === '/v1/oauth/token') return method === 'POST' ? token(req) : invalidUrl();

    const bearer = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
    const spend = bearer === undefined ? undefined : state.spend(bearer);
    if (!spend || (!spend.ok && spend.reason === 'unknown')) return notionError(401, 'unauthorized', 'API token is invalid.');
    if (!spend.ok) {
      const seconds = Math.max(1, Math.ceil(spend.retryAfterMs / 1000));
      return notionError(429, 'rate_limited', 'You have been rate limited. Please try again in a few minutes.', { 'retry-after': String(seconds) });
    }
    return dispatch(method, url, req, version, spend.readOnly);
  }

  async function dispatch(method: string, url: URL, req: IncomingMessage, version: string, readOnly: boolean): Promise<Reply> {
    const query = QUERY.exec(url.pathname);
    const source = SOURCE.exec(url.pathname);
    if ((query || source) && version < DATA_SOURCE_VERSION) return invalidUrl();
    if (query?.[1] && method === 'POST') return queryDataSource(decodeURIComponent(query[1]), await readJson(req));
    if (source?.[1] && method === 'GET') return found(state.dataSource(decodeURIComponent(source[1])), dataSourceObject, 'data_source', source[1]);
    if (url.pathname === '/v1/pages' && method === 'POST') return readOnly ? restricted() : createPage(await readJson(req));
    const page = PAGE.exec(url.pathname);
    if (page?.[1] && method === 'GET') return found(state.page(decodeURIComponent(page[1]))?.page, (p) => p, 'page', page[1]);
    if (page?.[1] && method === 'PATCH') return readOnly ? restricted() : updatePage(decodeURIComponent(page[1]), await readJson(req));
    return invalidUrl();
  }

  function queryDataSource(id: string, body: unknown): Reply {
    if (body === undefined) return notionError(400, 'invalid_json', 'Error parsing JSON body.');
    const q = isObject(body) ? body : {};
    const source = state.dataSource(id);
    if (!source) return notFound('data_source', id);
    const size = q.page_size ?? MAX_PAGE_SIZE;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      return validation(`body failed validation: body.page_size should be a number between 1 and ${MAX_PAGE_SIZE}, instead was \`${JSON.stringify(size)}\`.`);
    }
    const trash = q.in_trash ?? q.archived ?? false;
    if (typeof trash !== 'boolean') return validation('body failed validation: body.in_trash should be a boolean.');
    const filter = compileFilter(q.filter, source.schema);
    if (typeof filter === 'string') return validation(filter);
    const ordering = compileSorts(q.sorts, source.schema);
    if (typeof ordering === 'string') return validation(ordering);

    let items = source.pages.filter((p) => p.in_trash === trash && filter(p)).sort((a, b) => ordering.compare(ordering.key(a), ordering.key(b)));
    if (q.start_cursor !== undefined && q.start_cursor !== null) {
      const at = typeof q.start_cursor === 'string' ? state.cursor(q.start_cursor) : undefined;
      if (!at) return validation(`start_cursor provided is invalid: ${JSON.stringify(q.start_cursor).slice(0, 64)}`);
      // Keyset resume: pages edited since move later in the order and are still read.
      items = items.filter((p) => ordering.compare(ordering.key(p), at) >= 0);
    }
    const pageItems = items.slice(0, size);
    const next = items[size];
    return {
      status: 200,
      body: {
        object: 'list',
        results: structuredClone(pageItems),
        next_cursor: next ? state.saveCursor(ordering.key(next)) : null,
        has_more: next !== undefined,
        type: 'page_or_data_source',
        page_or_data_source: {},
        request_id: randomUUID(),
      },
    };
  }

  function createPage(body: unknown): Reply {
    if (body === undefined) return notionError(400, 'invalid_json', 'Error parsing JSON body.');
    if (!isObject(body) || !isObject(body.parent)) return validation('body failed validation: body.parent should be defined, instead was `undefined`.');
    const parent = body.parent;
    const sourceId = typeof parent.data_source_id === 'string' ? parent.data_source_id : typeof parent.database_id === 'string' ? state.dataSourceByDatabase(parent.database_id)?.id : undefined;
    if (sourceId === undefined) return validation('body failed validation: body.parent.data_source_id should be defined, instead was `undefined`.');
    if (!isObject(body.properties)) return validation('body failed validation: body.properties should be defined, instead was `undefined`.');
    return written(state.createPage(sourceId, body.properties));
  }

  function updatePage(id: string, body: unknown): Reply {
    if (body === undefined) return notionError(400, 'invalid_json', 'Error parsing JSON body.');
    const patch: { properties?: Record<string, unknown>; inTrash?: boolean } = {};
    if (isObject(body)) {
      if (body.properties !== undefined) {
        if (!isObject(body.properties)) return validation('body failed validation: body.properties should be an object.');
        patch.properties = body.properties;
      }
      const trash = body.in_trash ?? body.archived;
      if (trash !== undefined) {
        if (typeof trash !== 'boolean') return validation('body failed validation: body.in_trash should be a boolean.');
        patch.inTrash = trash;
      }
    }
    return written(state.updatePage(id, patch));
  }

  function token(req: IncomingMessage): Promise<Reply> {
    return readJson(req).then((body) => {
      if (!isObject(body)) return { status: 400, body: { error: 'invalid_request', error_description: 'The body must be a JSON object.' } };
      const answer = oauth.token(parseBasicAuth(header(req, 'authorization')), body);
      return { status: answer.status, body: answer.body };
    });
  }

  /** The consent screen, approved at once: 302 to the redirect URI with a code (or an error). */
  function authorize(url: URL): Reply {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri') ?? '';
    const params: Parameters<NotionOAuth['authorize']>[0] = { clientId: q.get('client_id') ?? '', redirectUri };
    const challenge = q.get('code_challenge');
    if (challenge !== null) params.codeChallenge = challenge;
    const method = q.get('code_challenge_method');
    if (method !== null) params.codeChallengeMethod = method;
    const result = q.get('response_type') === 'code' ? oauth.authorize(params) : unsupportedResponseType(oauth.checkRedirect(params));
    // An unknown client or unregistered redirect URI gets an error page, never a redirect (RFC 6749 §4.1.2.1).
    if (!result.ok && !result.redirect) return { status: 400, body: { error: result.error, error_description: result.description } };
    const target = new URL(redirectUri);
    if (result.ok) target.searchParams.set('code', result.code);
    else target.searchParams.set('error', result.error);
    const stateParam = q.get('state');
    if (stateParam !== null) target.searchParams.set('state', stateParam);
    return { status: 302, body: '', headers: { location: target.href } };
  }
}

function unsupportedResponseType(check: ReturnType<NotionOAuth['checkRedirect']>): AuthorizeFailure {
  return check.ok ? { ok: false, error: 'unsupported_response_type', description: 'response_type must be code.', redirect: true } : check;
}

function dataSourceObject(source: SandboxDataSource): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const p of source.schema) properties[p.name] = { id: p.id, name: p.name, type: p.type, [p.type]: p.options ? { options: p.options } : {} };
  return {
    object: 'data_source',
    id: source.id,
    title: [{ type: 'text', text: { content: source.title, link: null }, plain_text: source.title, href: null }],
    parent: { type: 'database_id', database_id: source.databaseId },
    properties,
  };
}

function found<T>(value: T | undefined, view: (v: T) => unknown, kind: string, id: string): Reply {
  return value === undefined ? notFound(kind, decodeURIComponent(id)) : { status: 200, body: structuredClone(view(value)) };
}

function written(outcome: WriteOutcome): Reply {
  if (outcome.ok) return { status: 200, body: outcome.page };
  return outcome.status === 404 ? notionError(404, 'object_not_found', outcome.message) : validation(outcome.message);
}

function notFound(kind: string, id: string): Reply {
  return notionError(404, 'object_not_found', `Could not find ${kind} with ID: ${id.slice(0, 64)}. Make sure the relevant pages and databases are shared with your integration.`);
}

function validation(message: string): Reply {
  return notionError(400, 'validation_error', message);
}

function restricted(): Reply {
  return notionError(403, 'restricted_resource', 'API token does not have access to this resource.');
}

function invalidUrl(): Reply {
  return notionError(400, 'invalid_request_url', 'Invalid request URL.');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}


/** The body as JSON, or undefined when it is not JSON (or too large). An empty body reads as `{}`. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBodyLimited(req, MAX_BODY_BYTES);
  if (raw === undefined) return undefined;
  const text = raw.toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
