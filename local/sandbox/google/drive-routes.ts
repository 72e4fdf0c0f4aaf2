/**
 * Drive v3 as the sandbox serves it: changes.getStartPageToken,
 * changes.list, changes.watch, files.list, files.get, channels.stop.
 * https://developers.google.com/drive/api/reference/rest/v3
 *
 * `fields` is honoured coarsely: without it a file carries only kind, id,
 * name and mimeType (v3's default); with it, every field the sandbox has.
 */
import type { Channels } from './channels';
import type { DriveState, SandboxFile, ChangeEntry } from './drive-state';
import { decodeToken, encodeToken, googleError, invalidParam, notFound, parseJsonObject, positiveInt, type Reply } from './http';

/** Drive's page-size default and ceiling for files.list and changes.list. */
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

export interface DriveRouteContext {
  drive: DriveState;
  channels: Channels;
  origin: () => string;
  /** Drive may answer fewer items than asked; the sandbox caps pages here (tests use it to force paging). */
  maxPageSize: () => number;
}

export function routeDrive(ctx: DriveRouteContext, method: string, url: URL, body: Buffer | undefined): Reply {
  const path = url.pathname;
  const q = url.searchParams;
  const full = q.has('fields');
  if (path === '/drive/v3/changes/startPageToken' && method === 'GET') {
    return { status: 200, body: { kind: 'drive#startPageToken', startPageToken: ctx.drive.startPageToken() } };
  }
  if (path === '/drive/v3/changes' && method === 'GET') {
    const token = q.get('pageToken');
    if (token === null) return googleError(400, 'required', 'Required parameter: pageToken', { location: 'pageToken', locationType: 'parameter' });
    const size = pageSize(ctx, q.get('pageSize'));
    if (size === 'invalid') return invalidParam('pageSize');
    const page = ctx.drive.listChanges(token, size);
    if (!page) return invalidParam('pageToken');
    const out: Record<string, unknown> = { kind: 'drive#changeList', changes: page.changes.map((c) => change(ctx.drive, c, full)) };
    if (page.nextPageToken !== undefined) out.nextPageToken = page.nextPageToken;
    if (page.newStartPageToken !== undefined) out.newStartPageToken = page.newStartPageToken;
    return { status: 200, body: out };
  }
  if (path === '/drive/v3/changes/watch' && method === 'POST') {
    if (q.get('pageToken') === null) return googleError(400, 'required', 'Required parameter: pageToken', { location: 'pageToken', locationType: 'parameter' });
    const opened = ctx.channels.open(parseJsonObject(body), { kind: 'drive', resourceUri: `${ctx.origin()}/drive/v3/changes?alt=json&pageToken=${q.get('pageToken') ?? ''}` });
    if (!opened.ok) return googleError(400, 'invalid', opened.message);
    const c = opened.channel;
    return { status: 200, body: { kind: 'api#channel', id: c.id, resourceId: c.resourceId, resourceUri: c.resourceUri, ...(c.token === undefined ? {} : { token: c.token }), expiration: String(c.expiration) } };
  }
  if (path === '/drive/v3/channels/stop' && method === 'POST') {
    const b = parseJsonObject(body);
    const ok = b !== undefined && typeof b.id === 'string' && typeof b.resourceId === 'string' && ctx.channels.stop(b.id, b.resourceId);
    return ok ? { status: 204 } : notFound();
  }
  if (path === '/drive/v3/files' && method === 'GET') {
    const size = pageSize(ctx, q.get('pageSize'));
    if (size === 'invalid') return invalidParam('pageSize');
    let after = 0;
    const token = q.get('pageToken');
    if (token !== null) {
      const t = decodeToken(token);
      if (!t || typeof t.after !== 'number') return invalidParam('pageToken');
      after = t.after;
    }
    const page = ctx.drive.listFiles(after, size);
    const out: Record<string, unknown> = { kind: 'drive#fileList', incompleteSearch: false, files: page.files.map((f) => view(f, full)) };
    if (page.more && page.last !== undefined) out.nextPageToken = encodeToken({ after: page.last });
    return { status: 200, body: out };
  }
  const one = /^\/drive\/v3\/files\/([^/]+)$/.exec(path);
  if (one?.[1] && method === 'GET') {
    const file = ctx.drive.getFile(decodeURIComponent(one[1]));
    return file ? { status: 200, body: view(file, full) } : googleError(404, 'notFound', `File not found: ${decodeURIComponent(one[1])}.`, { location: 'fileId', locationType: 'parameter' });
  }
  return notFound();
}

function pageSize(ctx: DriveRouteContext, value: string | null): number | 'invalid' {
  const n = positiveInt(value, MAX_PAGE_SIZE);
  if (n === 'invalid') return n;
  return Math.min(n ?? DEFAULT_PAGE_SIZE, ctx.maxPageSize());
}

function change(drive: DriveState, c: ChangeEntry, full: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: 'drive#change', changeType: 'file', time: c.time, removed: c.removed, fileId: c.fileId };
  const file = c.removed ? undefined : drive.getFile(c.fileId);
  if (file) out.file = view(file, full);
  return out;
}

function view(file: SandboxFile, full: boolean): Record<string, unknown> {
  return full ? { ...file } : { kind: file.kind, id: file.id, name: file.name, mimeType: file.mimeType };
}
