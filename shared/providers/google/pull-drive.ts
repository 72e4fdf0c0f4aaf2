/**
 * Drive files, incrementally through the changes feed.
 * https://developers.google.com/drive/api/guides/manage-changes
 *
 * First sync: `changes.getStartPageToken` (kept), then every file through
 * `files.list`, then `changes.list` from the kept token — so a change made
 * while the listing ran is read at the end, not lost. Later syncs:
 * `changes.list(pageToken)`, following `nextPageToken`; the last page
 * carries `newStartPageToken`, stored as the next run's cursor.
 *
 * `removed: true` (deleted, or access lost) and trashed files become deleted
 * records. Shared-drive metadata changes (`changeType: drive`) are skipped.
 */
import type { NormalizedRecord } from '../types';
import type { GoogleApi } from './api';
import type { DriveCursor } from './cursor';
import {
  driveChangeListSchema,
  driveFileListSchema,
  driveStartPageTokenSchema,
  type DriveChange,
  type DriveFile,
} from './schemas';

/** Drive's page-size ceiling for files.list and changes.list (https://developers.google.com/drive/api/reference/rest/v3/changes/list). */
const PAGE_SIZE = '1000';
/** Without `fields`, v3 returns only id, name and mimeType of a file. */
const FILE_FIELDS = 'id,name,mimeType,trashed,parents,createdTime,modifiedTime,size,version,md5Checksum,webViewLink,driveId,owners(emailAddress)';

export interface ResourcePage<C> {
  records: NormalizedRecord[];
  cursor: C;
  /** The resource's last page of this run. */
  final: boolean;
}

export async function* pullDrive(api: GoogleApi, driveId: string | undefined, start: DriveCursor | undefined): AsyncGenerator<ResourcePage<DriveCursor>> {
  const id = driveId ?? null;
  let cursor: DriveCursor = start ?? { mode: 'list', driveId: id, startPageToken: await startPageToken(api, driveId) };

  while (cursor.mode === 'list') {
    const op = 'Google Drive list files';
    const res = await api.request({ url: api.url('drive/v3/files', listParams(driveId, cursor.pageToken)), method: 'GET', operation: op });
    const page = await api.parse(res, driveFileListSchema, op);
    const records = page.files.map((f) => fileRecord(f, f.modifiedTime ?? f.createdTime ?? new Date(api.rt.now()).toISOString()));
    cursor = page.nextPageToken
      ? { ...cursor, pageToken: page.nextPageToken }
      : { mode: 'changes', driveId: id, pageToken: cursor.startPageToken };
    yield { records, cursor, final: false };
  }

  for (;;) {
    const op = 'Google Drive list changes';
    const res = await api.request({ url: api.url('drive/v3/changes', changesParams(driveId, cursor.pageToken)), method: 'GET', operation: op });
    const page = await api.parse(res, driveChangeListSchema, op);
    const records = page.changes.flatMap(changeRecord);
    if (page.nextPageToken !== undefined) {
      cursor = { mode: 'changes', driveId: id, pageToken: page.nextPageToken };
      yield { records, cursor, final: false };
      continue;
    }
    // The schema guarantees one of the two tokens.
    cursor = { mode: 'changes', driveId: id, pageToken: page.newStartPageToken ?? cursor.pageToken };
    yield { records, cursor, final: true };
    return;
  }
}

async function startPageToken(api: GoogleApi, driveId: string | undefined): Promise<string> {
  const op = 'Google Drive get start page token';
  const params: Record<string, string | undefined> = driveId === undefined ? {} : { driveId, supportsAllDrives: 'true' };
  const res = await api.request({ url: api.url('drive/v3/changes/startPageToken', params), method: 'GET', operation: op });
  return (await api.parse(res, driveStartPageTokenSchema, op)).startPageToken;
}

function listParams(driveId: string | undefined, pageToken: string | undefined): Record<string, string | undefined> {
  const shared = driveId === undefined ? { corpora: 'user' } : { corpora: 'drive', driveId, includeItemsFromAllDrives: 'true', supportsAllDrives: 'true' };
  return { ...shared, pageSize: PAGE_SIZE, pageToken, fields: `nextPageToken,files(${FILE_FIELDS})` };
}

function changesParams(driveId: string | undefined, pageToken: string): Record<string, string | undefined> {
  const shared = driveId === undefined ? {} : { driveId, includeItemsFromAllDrives: 'true', supportsAllDrives: 'true' };
  return {
    ...shared,
    pageToken,
    pageSize: PAGE_SIZE,
    includeRemoved: 'true',
    spaces: 'drive',
    fields: `nextPageToken,newStartPageToken,changes(changeType,removed,fileId,time,file(${FILE_FIELDS}))`,
  };
}

function changeRecord(change: DriveChange): NormalizedRecord[] {
  if (change.changeType !== undefined && change.changeType !== 'file') return [];
  const fileId = change.fileId ?? change.file?.id;
  if (fileId === undefined) return [];
  if (change.removed || !change.file) {
    return [{ externalId: fileId, entityType: 'file', updatedAt: change.time, deleted: true, data: { removed: true } }];
  }
  return [fileRecord(change.file, change.time)];
}

function fileRecord(file: DriveFile, updatedAt: string): NormalizedRecord {
  return {
    externalId: file.id,
    entityType: 'file',
    updatedAt,
    deleted: file.trashed === true,
    data: {
      name: file.name ?? null,
      mimeType: file.mimeType ?? null,
      parents: file.parents ?? [],
      trashed: file.trashed ?? false,
      createdTime: file.createdTime ?? null,
      modifiedTime: file.modifiedTime ?? null,
      size: file.size ?? null,
      version: file.version ?? null,
      md5Checksum: file.md5Checksum ?? null,
      webViewLink: file.webViewLink ?? null,
      driveId: file.driveId ?? null,
      owners: (file.owners ?? []).flatMap((o) => (o.emailAddress === undefined ? [] : [o.emailAddress])),
    },
  };
}
