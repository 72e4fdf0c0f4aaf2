/**
 * In-memory state of the Notion sandbox: data sources and their pages, API
 * tokens with a per-connection request budget, and query cursors. Pure data
 * and rules; HTTP lives in router.ts, OAuth in oauth.ts.
 *
 * Determinism: ids are derived from a seed and a counter, and the data clock
 * is logical — it starts at a fixed instant and ticks `tickSeconds` per
 * write. Timestamps are served rounded down to the minute, as Notion does,
 * so with the default 20-second tick three writes share one minute.
 * Request budgets use the wall clock, like Notion's Retry-After.
 */
import { createHash } from 'node:crypto';
import { emptyValue, writeValue, type PropertySchema, type StoredValue } from './properties';
import type { SortKey } from './query';

/** "An average of three requests per second": 180 per 60-second window
 * (https://developers.notion.com/reference/request-limits). */
export const DEFAULT_REQUESTS_PER_MINUTE = 180;
export const RATE_WINDOW_MS = 60_000;

/** A page as the API serves it (https://developers.notion.com/reference/page). */
export interface SandboxPage {
  object: 'page';
  id: string;
  created_time: string;
  last_edited_time: string;
  created_by: { object: 'user'; id: string };
  last_edited_by: { object: 'user'; id: string };
  cover: null;
  icon: null;
  parent: { type: 'data_source_id'; data_source_id: string; database_id: string };
  archived: boolean;
  in_trash: boolean;
  is_locked: boolean;
  properties: Record<string, StoredValue>;
  url: string;
  public_url: null;
}

export interface SandboxDataSource {
  id: string;
  databaseId: string;
  title: string;
  schema: PropertySchema[];
  pages: SandboxPage[];
}

export interface TokenOptions {
  /** Without update/insert capabilities: writes answer 403 restricted_resource. */
  readOnly?: boolean;
  requestsPerMinute?: number;
}

interface TokenState {
  readOnly: boolean;
  revoked: boolean;
  limit: number;
  used: number;
  windowEnd: number;
}

export type Spend = { ok: true; readOnly: boolean } | { ok: false; reason: 'unknown' } | { ok: false; reason: 'exhausted'; retryAfterMs: number };
export type WriteOutcome = { ok: true; page: SandboxPage } | { ok: false; status: 400 | 404; message: string };

/** The default schema: one property of each type the sandbox writes. */
export function defaultSchema(): PropertySchema[] {
  const options = (names: string[], prefix: string) => names.map((name, i) => ({ id: `${prefix}${i + 1}`, name, color: ['gray', 'blue', 'green', 'red'][i] ?? 'default' }));
  return [
    { id: 'title', name: 'Name', type: 'title' },
    { id: 'Xq%3Ds', name: 'Status', type: 'status', options: options(['Not started', 'In progress', 'Done'], 'st') },
    { id: 'P%3Bri', name: 'Priority', type: 'select', options: options(['Low', 'Medium', 'High'], 'pr') },
    { id: 'T%40gs', name: 'Tags', type: 'multi_select', options: options(['backend', 'frontend', 'ops'], 'tg') },
    { id: 'Es%5Bt', name: 'Estimate', type: 'number' },
    { id: 'Dn%3Ae', name: 'Done', type: 'checkbox' },
    { id: 'Du%3De', name: 'Due', type: 'date' },
    { id: 'Ex%3Bd', name: 'External ID', type: 'rich_text' },
    { id: 'Lk%40n', name: 'Link', type: 'url' },
  ];
}

export class NotionSandboxState {
  private readonly sources = new Map<string, SandboxDataSource>();
  private readonly tokens = new Map<string, TokenState>();
  private readonly cursors = new Map<string, { key: SortKey }>();
  private clock: number;
  private counter = 0;
  readonly botUserId: string;

  constructor(
    private readonly seed: string,
    clockStart: string,
    private readonly tickMs: number,
    private readonly wallClock: () => number,
  ) {
    this.clock = Date.parse(clockStart);
    this.botUserId = this.uuid();
  }

  /** A deterministic UUIDv4-shaped id: sha256(seed, counter). */
  uuid(): string {
    const h = createHash('sha256').update(`${this.seed}:${this.counter++}`).digest('hex');
    const variant = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  // ---- data sources and pages --------------------------------------------

  createDataSource(options: { id?: string; title?: string; schema?: PropertySchema[] } = {}): SandboxDataSource {
    const source: SandboxDataSource = {
      id: options.id ?? this.uuid(),
      databaseId: this.uuid(),
      title: options.title ?? 'Tasks',
      schema: options.schema ?? defaultSchema(),
      pages: [],
    };
    this.sources.set(normaliseId(source.id), source);
    return source;
  }

  dataSource(id: string): SandboxDataSource | undefined {
    return this.sources.get(normaliseId(id));
  }

  dataSourceByDatabase(databaseId: string): SandboxDataSource | undefined {
    const key = normaliseId(databaseId);
    return [...this.sources.values()].find((s) => normaliseId(s.databaseId) === key);
  }

  page(id: string): { source: SandboxDataSource; page: SandboxPage } | undefined {
    const key = normaliseId(id);
    for (const source of this.sources.values()) {
      const page = source.pages.find((p) => normaliseId(p.id) === key);
      if (page) return { source, page };
    }
    return undefined;
  }

  createPage(dataSourceId: string, properties: Record<string, unknown>): WriteOutcome {
    const source = this.dataSource(dataSourceId);
    if (!source) return { ok: false, status: 404, message: `Could not find data_source with ID: ${dataSourceId}. Make sure the relevant pages and databases are shared with your integration.` };
    const values: Record<string, StoredValue> = {};
    for (const schema of source.schema) values[schema.name] = emptyValue(schema);
    const error = applyProperties(source.schema, values, properties);
    if (error) return { ok: false, status: 400, message: error };
    const now = this.stamp();
    const id = this.uuid();
    const user = { object: 'user' as const, id: this.botUserId };
    const title = plainTitle(values) || 'Untitled';
    const page: SandboxPage = {
      object: 'page', id, created_time: now, last_edited_time: now, created_by: user, last_edited_by: user, cover: null, icon: null,
      parent: { type: 'data_source_id', data_source_id: source.id, database_id: source.databaseId },
      archived: false, in_trash: false, is_locked: false, properties: values,
      url: `https://www.notion.so/${title.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40)}-${id.replace(/-/g, '')}`, public_url: null,
    };
    source.pages.push(page);
    return { ok: true, page: structuredClone(page) };
  }

  /** Applies property values and/or a trash state, and bumps `last_edited_time`. */
  updatePage(pageId: string, patch: { properties?: Record<string, unknown>; inTrash?: boolean }): WriteOutcome {
    const found = this.page(pageId);
    if (!found) return { ok: false, status: 404, message: `Could not find page with ID: ${pageId}. Make sure the relevant pages and databases are shared with your integration.` };
    const { source, page } = found;
    if (page.in_trash && patch.properties !== undefined && patch.inTrash !== false) {
      return { ok: false, status: 400, message: "Can't edit block that is archived. You must unarchive the block before editing." };
    }
    const values = structuredClone(page.properties);
    const error = patch.properties === undefined ? undefined : applyProperties(source.schema, values, patch.properties);
    if (error) return { ok: false, status: 400, message: error };
    page.properties = values;
    if (patch.inTrash !== undefined) page.in_trash = page.archived = patch.inTrash;
    page.last_edited_time = this.stamp();
    return { ok: true, page: structuredClone(page) };
  }

  // ---- cursors ------------------------------------------------------------

  /** An opaque start_cursor (UUID-shaped, like Notion's) for the position of `key`. */
  saveCursor(key: SortKey): string {
    const id = this.uuid();
    this.cursors.set(id, { key });
    return id;
  }

  cursor(id: string): SortKey | undefined {
    return this.cursors.get(id)?.key;
  }

  // ---- tokens and the request budget --------------------------------------

  addToken(token: string, options: TokenOptions = {}): void {
    const limit = options.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE;
    this.tokens.set(token, { readOnly: options.readOnly ?? false, revoked: false, limit, used: 0, windowEnd: 0 });
  }

  revokeToken(token: string): void {
    const state = this.tokens.get(token);
    if (state) state.revoked = true;
  }

  isActive(token: string): boolean {
    const state = this.tokens.get(token);
    return state !== undefined && !state.revoked;
  }

  /** Spends the rest of the token's current window. */
  exhaust(token: string): void {
    const state = this.tokens.get(token);
    if (!state) return;
    this.refreshWindow(state);
    state.used = state.limit;
  }

  /** Counts one request against the token's window, or says why it may not be made. */
  spend(token: string): Spend {
    const state = this.tokens.get(token);
    if (!state || state.revoked) return { ok: false, reason: 'unknown' };
    this.refreshWindow(state);
    if (state.used >= state.limit) return { ok: false, reason: 'exhausted', retryAfterMs: Math.max(0, state.windowEnd - this.wallClock()) };
    state.used++;
    return { ok: true, readOnly: state.readOnly };
  }

  private refreshWindow(state: TokenState): void {
    const now = this.wallClock();
    if (state.windowEnd <= now) {
      state.used = 0;
      state.windowEnd = now + RATE_WINDOW_MS;
    }
  }

  /** Advances the data clock; timestamps are served at minute resolution. */
  private stamp(): string {
    this.clock += this.tickMs;
    return new Date(this.clock - (this.clock % 60_000)).toISOString();
  }
}

/** Notion ids are accepted with or without dashes, in any case. */
export function normaliseId(id: string): string {
  return id.replace(/-/g, '').toLowerCase();
}

function applyProperties(schema: readonly PropertySchema[], values: Record<string, StoredValue>, input: Record<string, unknown>): string | undefined {
  for (const [name, raw] of Object.entries(input)) {
    const property = schema.find((p) => p.name === name || p.id === name);
    if (!property) return `${name} is not a property that exists.`;
    const written = writeValue(property, raw);
    if (!written.ok) return written.message;
    values[property.name] = written.value;
  }
  return undefined;
}

function plainTitle(values: Record<string, StoredValue>): string {
  const title = Object.values(values).find((v) => v.type === 'title');
  const items = title?.title;
  return Array.isArray(items) ? items.map((i: { plain_text?: unknown }) => (typeof i.plain_text === 'string' ? i.plain_text : '')).join('') : '';
}
