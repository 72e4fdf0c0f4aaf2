/**
 * HTTP side of the Slack sandbox: `/api/<method>` with Slack's argument
 * encodings (query string, form or JSON body), token checks, per-method
 * rate limits with 429 + Retry-After, and the OAuth endpoints.
 * https://docs.slack.dev/apis/web-api/
 */
import { parseJsonOrUndefined } from '../../../shared/http/json';
import { parseBasicAuth, readBodyLimited } from '../http-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authTest, chatDelete, chatPostMessage, chatUpdate, conversationsHistory, fail, type Args, type Reply } from './methods';
import type { OAuthReply, SlackOAuth } from './oauth';
import { NON_MARKETPLACE_HISTORY_LIMIT, NON_MARKETPLACE_HISTORY_PER_MINUTE, POSTS_PER_MINUTE_PER_CHANNEL, TIER_LIMITS, type SlackTokens } from './tokens';
import type { SlackWorkspace } from './workspace';

const MAX_BODY_BYTES = 1024 * 1024;
const METHOD_PATH = /^\/api\/([A-Za-z0-9_.]{1,64})$/;

export interface InjectedFailure {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RequestLog {
  /** HTTP method. */
  http: string;
  /** API method (`conversations.history`) or path. */
  method: string;
  status: number;
  /** Slack's error code when `ok: false`. */
  error?: string;
}

export interface RouterControls {
  latencyMs: number;
  failures: InjectedFailure[];
  /** Non-Marketplace app: conversations.history at 1/min and 15 messages a page. */
  nonMarketplace: boolean;
  /** Per-minute limits by method, over the tier defaults. */
  limits: Record<string, number>;
  origin(): string;
  log: RequestLog[];
}

export function createSlackRouter(ws: SlackWorkspace, tokens: SlackTokens, oauth: SlackOAuth, controls: RouterControls) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', controls.origin());
    const http = req.method ?? 'GET';
    let reply: Reply | OAuthReply | InjectedFailure;
    try {
      reply = await route(http, url, req);
    } catch {
      reply = fail('internal_error', 500);
    }
    if (controls.latencyMs > 0) await new Promise((r) => setTimeout(r, controls.latencyMs));
    const method = METHOD_PATH.exec(url.pathname)?.[1] ?? url.pathname;
    const entry: RequestLog = { http, method, status: reply.status };
    if ('location' in reply) {
      controls.log.push(entry);
      res.writeHead(302, { location: reply.location }).end();
      return;
    }
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const error = typeof reply.body === 'object' && typeof reply.body.error === 'string' ? reply.body.error : undefined;
    if (error !== undefined) entry.error = error;
    controls.log.push(entry);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...('headers' in reply ? reply.headers : {}) });
    res.end(body);
  };

  async function route(http: string, url: URL, req: IncomingMessage): Promise<Reply | OAuthReply | InjectedFailure> {
    const failure = controls.failures.shift();
    if (failure) return failure;
    if (url.pathname === '/oauth/v2/authorize' && http === 'GET') return oauth.authorize(url.searchParams);
    const method = METHOD_PATH.exec(url.pathname)?.[1];
    if (method === undefined) return fail('unknown_method', 404);

    const parsed = await readArgs(req, url);
    if (parsed === undefined) return fail('invalid_form_data');
    const { args, json } = parsed;
    if (method === 'oauth.v2.access') return oauth.access(stringArgs(args), parseBasicAuth(req.headers.authorization));

    // The token goes in the Authorization header; form and query `token` arguments still work, JSON bodies need the header.
    const token = bearer(req.headers.authorization) ?? (json ? undefined : stringOf(args.token));
    if (token === undefined) return fail('not_authed');
    const check = tokens.check(token);
    if (!check.ok) return fail(check.error);

    const over = spend(method, token, args);
    if (over !== undefined) return { ...fail('ratelimited', 429), headers: { 'retry-after': String(over) } };

    switch (method) {
      case 'conversations.history':
        return conversationsHistory(ws, args, controls.nonMarketplace ? { historyLimitCap: NON_MARKETPLACE_HISTORY_LIMIT } : {});
      case 'chat.postMessage':
        return chatPostMessage(ws, args, check.info);
      case 'chat.update':
        return chatUpdate(ws, args, check.info);
      case 'chat.delete':
        return chatDelete(ws, args, check.info);
      case 'auth.test':
        return authTest(ws, check.info);
      default:
        return fail('unknown_method', 404);
    }
  }

  /** Seconds to wait when the call is over its limit, else undefined (and the call is counted). */
  function spend(method: string, token: string, args: Args): number | undefined {
    if (method === 'chat.postMessage') {
      const limit = controls.limits[method] ?? POSTS_PER_MINUTE_PER_CHANNEL;
      const result = tokens.spend(`post:${stringOf(args.channel) ?? ''}`, limit);
      return result.ok ? undefined : result.retryAfterSeconds;
    }
    const tier = method === 'conversations.history' && controls.nonMarketplace ? NON_MARKETPLACE_HISTORY_PER_MINUTE : TIER_LIMITS[method];
    const limit = controls.limits[method] ?? tier ?? 100;
    const result = tokens.spend(`${token}:${method}`, limit);
    return result.ok ? undefined : result.retryAfterSeconds;
  }
}

/** Query-string arguments, overlaid with a form or JSON body. Undefined when the body cannot be read. */
async function readArgs(req: IncomingMessage, url: URL): Promise<{ args: Args; json: boolean } | undefined> {
  const args: Args = Object.fromEntries(url.searchParams);
  const body = await readBodyLimited(req, MAX_BODY_BYTES);
  if (body === undefined) return undefined;
  const raw = body.toString('utf8');
  if (raw === '') return { args, json: false };
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/json') {
    const parsed = parseJsonOrUndefined(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return { args: { ...args, ...(parsed as Args) }, json: true };
  }
  if (type === 'application/x-www-form-urlencoded') return { args: { ...args, ...Object.fromEntries(new URLSearchParams(raw)) }, json: false };
  return undefined;
}

function stringArgs(args: Args): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) if (typeof v === 'string') out[k] = v;
  return out;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

