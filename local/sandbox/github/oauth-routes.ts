/**
 * HTTP side of the sandbox's OAuth web flow, on the API origin (GitHub serves
 * it from github.com; the provider derives that host, or takes the config's
 * `oauthBaseUrl`).
 *
 * - `GET /login/oauth/authorize` approves at once: 302 to the redirect URI
 *   with `code` and `state` (or `error`, as GitHub redirects errors).
 * - `POST /login/oauth/access_token` takes its parameters from the query,
 *   a form or a JSON body, and answers **200 even for errors**, as JSON when
 *   `Accept` asks for it and form-encoded otherwise (GitHub's default).
 */
import { readBodyLimited } from '../http-server';
import type { IncomingMessage } from 'node:http';
import type { GithubOAuthState, TokenAnswer } from './oauth';
import type { Reply } from './router';

const MAX_BODY_BYTES = 64 * 1024;

export function createOAuthRoutes(oauth: GithubOAuthState) {
  /** The reply for an OAuth path, or undefined when the path is not one. */
  return async function handleOAuth(method: string, url: URL, req: IncomingMessage): Promise<Reply | undefined> {
    if (url.pathname === '/login/oauth/authorize') {
      if (method !== 'GET') return notFound();
      const answer = oauth.authorize(url.searchParams);
      if ('status' in answer) return notFound();
      const html = `<html><body>You are being <a href="${answer.redirect.replace(/"/g, '&quot;')}">redirected</a>.</body></html>`;
      return { status: 302, body: html, headers: { location: answer.redirect, 'content-type': 'text/html; charset=utf-8' } };
    }
    if (url.pathname === '/login/oauth/access_token') {
      if (method !== 'POST') return notFound();
      const params = new URLSearchParams(url.searchParams);
      const body = await readParams(req);
      if (body === undefined) return { status: 400, body: { error: 'invalid_request', error_description: 'Problems parsing the body.' } };
      for (const [k, v] of body) params.set(k, v);
      return tokenReply(oauth.token(params), req.headers.accept ?? '');
    }
    return undefined;
  };
}

function tokenReply(answer: TokenAnswer, accept: string): Reply {
  if (/application\/json/i.test(accept)) return { status: 200, body: answer };
  const form = new URLSearchParams(Object.entries(answer).map(([k, v]): [string, string] => [k, String(v)]));
  return { status: 200, body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } };
}

function notFound(): Reply {
  return { status: 404, body: 'Not Found', headers: { 'content-type': 'text/plain; charset=utf-8' } };
}

/** Form or JSON body parameters; undefined when the body is unreadable (too large, bad JSON). */
async function readParams(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const raw = await readBodyLimited(req, MAX_BODY_BYTES);
  if (raw === undefined) return undefined;
  const text = raw.toString('utf8');
  if (!/application\/json/i.test(req.headers['content-type'] ?? '')) return new URLSearchParams(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) if (typeof v === 'string') params.set(k, v);
  return params;
}
