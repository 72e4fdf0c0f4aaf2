/**
 * HTTP side of the Google sandbox: OAuth endpoints, then for the Drive and
 * Calendar APIs injected failures, bearer auth (401 with Google's body and
 * `WWW-Authenticate`), a per-token request budget (403
 * `userRateLimitExceeded` or 429 `rateLimitExceeded`, no rate-limit headers —
 * Google sends none), scope checks (403 `insufficientPermissions`), and the
 * routes. https://developers.google.com/calendar/api/guides/errors
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthState } from './auth-state';
import { isCalendarWrite, routeCalendar } from './calendar-routes';
import type { CalendarState } from './calendar-state';
import type { Channels } from './channels';
import { routeDrive } from './drive-routes';
import type { DriveState } from './drive-state';
import { googleError, notFound, readBody, type Reply } from './http';
import { routeOAuth } from './oauth-routes';
import type { PubsubSigner } from './webhooks';

const SCOPE = 'https://www.googleapis.com/auth/';
const DRIVE_READ = ['drive', 'drive.readonly', 'drive.metadata', 'drive.metadata.readonly', 'drive.file'].map((s) => SCOPE + s);
const CALENDAR_READ = ['calendar', 'calendar.readonly', 'calendar.events', 'calendar.events.readonly'].map((s) => SCOPE + s);
const CALENDAR_WRITE = ['calendar', 'calendar.events'].map((s) => SCOPE + s);
const REALM = 'Bearer realm="https://accounts.google.com/"';

export interface RouterControls {
  latencyMs: number;
  rateLimitStatus: 403 | 429;
  /** Requests per token per window; undefined: unlimited. */
  userRateLimit: number | undefined;
  rateLimitWindowMs: number;
  maxPageSize: number;
  /** Answered (in order) before auth by the next API requests. */
  failures: Reply[];
  origin: () => string;
  log: { method: string; path: string; status: number }[];
}

export interface RouterDeps {
  auth: AuthState;
  drive: DriveState;
  calendar: CalendarState;
  channels: Channels;
  signer: PubsubSigner;
}

export function rateLimitedReply(status: 403 | 429): Reply {
  return status === 429
    ? googleError(429, 'rateLimitExceeded', 'Rate Limit Exceeded', { domain: 'usageLimits', withStatus: true })
    : googleError(403, 'userRateLimitExceeded', 'User Rate Limit Exceeded', { domain: 'usageLimits' });
}

export function createGoogleRouter(deps: RouterDeps, controls: RouterControls) {
  const drive = { drive: deps.drive, channels: deps.channels, origin: controls.origin, maxPageSize: () => controls.maxPageSize };
  const calendar = { calendar: deps.calendar, channels: deps.channels, origin: controls.origin, maxPageSize: () => controls.maxPageSize };
  const oauth = { auth: deps.auth, origin: controls.origin, jwks: () => deps.signer.jwks() };

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', controls.origin());
    const method = req.method ?? 'GET';
    let reply: Reply;
    try {
      reply = (await routeOAuth(oauth, method, url, req)) ?? (await api(method, url, req));
    } catch {
      reply = googleError(500, 'backendError', 'Backend Error');
    }
    if (controls.latencyMs > 0) await new Promise((r) => setTimeout(r, controls.latencyMs));
    controls.log.push({ method, path: url.pathname + url.search, status: reply.status });
    const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8', ...reply.headers });
    res.end(reply.status === 204 ? undefined : body);
  };

  async function api(method: string, url: URL, req: IncomingMessage): Promise<Reply> {
    const path = url.pathname;
    const isDrive = path.startsWith('/drive/v3/');
    if (!isDrive && !path.startsWith('/calendar/v3/')) return notFound();
    const failure = controls.failures.shift();
    if (failure) return failure;

    const token = bearer(req.headers.authorization);
    if (token === undefined) {
      return googleError(401, 'required', 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.', {
        location: 'Authorization', locationType: 'header', withStatus: true, headers: { 'www-authenticate': REALM },
      });
    }
    const check = deps.auth.check(token);
    if (!check.ok) {
      return googleError(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.', {
        location: 'Authorization', locationType: 'header', withStatus: true, headers: { 'www-authenticate': `${REALM}, error="invalid_token"` },
      });
    }
    if (!deps.auth.spend(token, controls.userRateLimit, controls.rateLimitWindowMs)) return rateLimitedReply(controls.rateLimitStatus);
    const needed = isDrive ? DRIVE_READ : isCalendarWrite(method, path) ? CALENDAR_WRITE : CALENDAR_READ;
    if (!check.grant.scopes.some((s) => needed.includes(s))) {
      return googleError(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.', {
        withStatus: true, headers: { 'www-authenticate': `${REALM}, error="insufficient_scope", scope="${needed[0] ?? ''}"` },
      });
    }
    const body = method === 'GET' || method === 'DELETE' ? undefined : await readBody(req);
    const ifMatch = req.headers['if-match'];
    return isDrive ? routeDrive(drive, method, url, body) : routeCalendar(calendar, method, url, body, Array.isArray(ifMatch) ? ifMatch.join(',') : ifMatch);
  }
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}
