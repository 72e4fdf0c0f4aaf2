/**
 * Drive in memory: files and the changes log, with Drive's token semantics.
 * https://developers.google.com/drive/api/guides/manage-changes
 *
 * Every write appends a change with the next change id; a start page token
 * is "the next change id". `changes.list(pageToken)` answers the changes
 * from that id on, keeping only each file's latest change (Drive reports a
 * file's current state, once), with `nextPageToken` while more remain and
 * `newStartPageToken` on the last page. Deleting a file for good logs
 * `removed: true`; trashing keeps the file with `trashed: true`.
 */
import { createHash } from 'node:crypto';
import type { DataClock } from './http';

export interface DriveUser {
  kind: 'drive#user';
  displayName: string;
  emailAddress: string;
  me: boolean;
  permissionId: string;
}

/** The subset of the v3 File resource the sandbox serves (same names and JSON types: int64 as strings). */
export interface SandboxFile {
  kind: 'drive#file';
  id: string;
  name: string;
  mimeType: string;
  parents: string[];
  trashed: boolean;
  createdTime: string;
  modifiedTime: string;
  version: string;
  size?: string;
  md5Checksum?: string;
  webViewLink: string;
  owners: DriveUser[];
}

export interface ChangeEntry {
  changeId: number;
  fileId: string;
  removed: boolean;
  time: string;
}

export interface FilePatch {
  name?: string;
  trashed?: boolean;
  content?: string;
}

const KINDS = [
  { ext: '', mime: 'application/vnd.google-apps.document' },
  { ext: '', mime: 'application/vnd.google-apps.spreadsheet' },
  { ext: '.pdf', mime: 'application/pdf' },
  { ext: '', mime: 'application/vnd.google-apps.folder' },
  { ext: '.png', mime: 'image/png' },
] as const;
const TOPICS = ['Roadmap', 'Budget', 'Meeting notes', 'Design review', 'Hiring plan', 'Invoice', 'Retrospective'] as const;
/** Real change ids are large integers; starting high keeps the tokens looking like Drive's. */
const FIRST_CHANGE_ID = 1000;
const ROOT = '0AFakeRootFolderUk9PVA';

export class DriveState {
  private readonly files = new Map<string, { file: SandboxFile; seq: number }>();
  private readonly log: ChangeEntry[] = [];
  private nextChangeId = FIRST_CHANGE_ID;
  private fileSeq = 0;

  constructor(
    private readonly clock: DataClock,
    private readonly seed: string,
    private readonly owner: DriveUser,
    private readonly onChange: () => void = () => undefined,
  ) {}

  startPageToken(): string {
    return String(this.nextChangeId);
  }

  seedFiles(n: number): SandboxFile[] {
    const out: SandboxFile[] = [];
    for (let i = 0; i < n; i++) {
      const kind = KINDS[(this.fileSeq + i) % KINDS.length] ?? KINDS[0];
      const topic = TOPICS[(this.fileSeq + i) % TOPICS.length] ?? TOPICS[0];
      out.push(this.createFile({ name: `${topic} ${this.fileSeq + 1}${kind.ext}`, mimeType: kind.mime }));
    }
    return out;
  }

  createFile(input: { name: string; mimeType?: string; content?: string }): SandboxFile {
    const seq = ++this.fileSeq;
    const id = `1${digest(`${this.seed}:file:${seq}`).slice(0, 32)}`;
    const now = this.clock.tick();
    const mimeType = input.mimeType ?? 'text/plain';
    const file: SandboxFile = {
      kind: 'drive#file',
      id,
      name: input.name,
      mimeType,
      parents: [ROOT],
      trashed: false,
      createdTime: now,
      modifiedTime: now,
      version: '1',
      webViewLink: `https://drive.google.com/file/d/${id}/view?usp=drivesdk`,
      owners: [this.owner],
    };
    // Google-native files (Docs, Sheets, folders) have no size or checksum.
    if (!mimeType.startsWith('application/vnd.google-apps.')) setContent(file, input.content ?? `${this.seed}:${seq}`);
    this.files.set(id, { file, seq });
    this.record(id, false, now);
    return file;
  }

  updateFile(id: string, patch: FilePatch): SandboxFile | undefined {
    const entry = this.files.get(id);
    if (!entry) return undefined;
    const now = this.clock.tick();
    const file: SandboxFile = { ...entry.file, version: String(Number(entry.file.version) + 1) };
    if (patch.name !== undefined) file.name = patch.name;
    if (patch.trashed !== undefined) file.trashed = patch.trashed;
    if (patch.content !== undefined) setContent(file, patch.content);
    // Trashing is not a modification of the file's content or metadata by its owner.
    if (patch.name !== undefined || patch.content !== undefined) file.modifiedTime = now;
    this.files.set(id, { file, seq: entry.seq });
    this.record(id, false, now);
    return file;
  }

  /** Permanent delete (not trash): the changes feed reports `removed: true`. */
  deleteFile(id: string): boolean {
    if (!this.files.delete(id)) return false;
    this.record(id, true, this.clock.tick());
    return true;
  }

  getFile(id: string): SandboxFile | undefined {
    return this.files.get(id)?.file;
  }

  /** Changes from `token` on, each file's latest only; undefined when the token is not one Drive issued. */
  listChanges(token: string, pageSize: number): { changes: ChangeEntry[]; nextPageToken?: string; newStartPageToken?: string } | undefined {
    if (!/^\d{1,12}$/.test(token)) return undefined;
    const from = Number(token);
    if (from < FIRST_CHANGE_ID || from > this.nextChangeId) return undefined;
    const latest = new Map<string, number>();
    for (const c of this.log) latest.set(c.fileId, c.changeId);
    const pending = this.log.filter((c) => c.changeId >= from && latest.get(c.fileId) === c.changeId);
    const page = pending.slice(0, pageSize);
    const after = pending[pageSize];
    return after ? { changes: page, nextPageToken: String(after.changeId) } : { changes: page, newStartPageToken: String(this.nextChangeId) };
  }

  /** Files in creation order after the key `after` (keyset paging: a delete never shifts a page). */
  listFiles(after: number, pageSize: number): { files: SandboxFile[]; last?: number; more: boolean } {
    const all = [...this.files.values()].filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq);
    const page = all.slice(0, pageSize);
    const last = page.at(-1)?.seq;
    const out: { files: SandboxFile[]; last?: number; more: boolean } = { files: page.map((e) => e.file), more: all.length > pageSize };
    if (last !== undefined) out.last = last;
    return out;
  }

  private record(fileId: string, removed: boolean, time: string): void {
    this.log.push({ changeId: this.nextChangeId++, fileId, removed, time });
    this.onChange();
  }
}

function setContent(file: SandboxFile, content: string): void {
  file.size = String(Buffer.byteLength(content));
  file.md5Checksum = createHash('md5').update(content).digest('hex');
}

function digest(input: string): string {
  return createHash('sha256').update(input).digest('base64url').replace(/[-_]/g, 'x');
}
