import { createHash } from 'node:crypto';
import { InputError } from '../errors';
import type { ContainerName } from './names';
import type { DocumentBase, QueryOptions } from './port';

/**
 * Checks and helpers both store adapters share, so the in-memory store rejects
 * exactly what Cosmos would (or what we refuse to send to Cosmos).
 */

/** Field names we put into SQL as `c["name"]`: identifiers only, so no value or path ever reaches the query text. */
export const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const MAX_LIMIT = 1000;

/** Cosmos rejects ids containing these (https://learn.microsoft.com/azure/cosmos-db/concepts-limits#per-item-limits). */
const FORBIDDEN_ID_CHARS = /[/\\?#]/;
const MAX_ID_LENGTH = 255;

/** Fields Cosmos adds to every item; never stored from callers, never returned to them. */
export const SYSTEM_FIELDS: ReadonlySet<string> = new Set(['_rid', '_self', '_ts', '_attachments', '_etag']);

/** A shallow copy without the given top-level keys. */
export function omitKeys(obj: Record<string, unknown>, keys: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.has(k)));
}

const NOT_STORED: ReadonlySet<string> = new Set([...SYSTEM_FIELDS, 'etag']);

/** Upper bound on a continuation token we accept: refuse to parse megabytes of caller input. */
const MAX_TOKEN_CHARS = 32 * 1024;

export function assertValidDocument(doc: DocumentBase): void {
  for (const key of ['id', 'tenantId'] as const) {
    const value: unknown = doc[key];
    if (typeof value !== 'string' || value.length === 0) throw new InputError(400, `document ${key} must be a non-empty string`);
    if (value.length > MAX_ID_LENGTH) throw new InputError(400, `document ${key} must be at most ${MAX_ID_LENGTH} characters`);
    if (FORBIDDEN_ID_CHARS.test(value)) throw new InputError(400, `document ${key} must not contain / \\ ? or #`);
  }
}

/**
 * The JSON body to store: a deep copy (via JSON, as Cosmos would serialise it)
 * without `etag` (callers often write back what they read) or system fields.
 */
export function toStorable(doc: DocumentBase): Record<string, unknown> & DocumentBase {
  assertValidDocument(doc);
  const copy = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  return omitKeys(copy, NOT_STORED) as Record<string, unknown> & DocumentBase;
}

export function assertValidQuery(options: QueryOptions): void {
  const { limit, where, orderBy } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InputError(400, `query limit must be an integer from 1 to ${MAX_LIMIT}`);
  }
  for (const [field, value] of Object.entries(where ?? {})) {
    assertFieldName(field);
    if (typeof value === 'number' && !Number.isFinite(value)) throw new InputError(400, `query value for ${field} must be finite`);
  }
  if (orderBy !== undefined) assertFieldName(orderBy.field);
}

function assertFieldName(field: string): void {
  if (!FIELD_NAME.test(field)) throw new InputError(400, `invalid field name ${JSON.stringify(field.slice(0, 64))}`);
}

/**
 * Identifies a query's shape (not its page size), so a continuation token is
 * only accepted by the query that issued it.
 */
export function queryFingerprint(container: ContainerName, tenantId: string | undefined, options: QueryOptions): string {
  const where = Object.entries(options.where ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shape = JSON.stringify([container, tenantId ?? null, where, options.orderBy ?? null]);
  return createHash('sha256').update(shape).digest('base64url').slice(0, 16);
}

interface Envelope {
  v: 1;
  f: string;
  p: unknown;
}

/** Wrap an adapter's own resume state in a versioned, query-bound, opaque token. */
export function encodeContinuation(fingerprint: string, payload: unknown): string {
  const envelope: Envelope = { v: 1, f: fingerprint, p: payload };
  return Buffer.from(JSON.stringify(envelope), 'utf8').toString('base64url');
}

/** The payload inside a token this query issued; InputError(400) for anything else. */
export function decodeContinuation(token: string, fingerprint: string): unknown {
  const invalid = (why: string) => new InputError(400, `invalid continuation token: ${why}`);
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid('malformed');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('malformed');
  }
  if (typeof parsed !== 'object' || parsed === null || !('v' in parsed) || !('f' in parsed) || !('p' in parsed)) throw invalid('malformed');
  if (parsed.v !== 1) throw invalid('unknown version');
  if (parsed.f !== fingerprint) throw invalid('issued for a different query');
  return parsed.p;
}
