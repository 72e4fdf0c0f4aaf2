/**
 * GitHub's REST API has no idempotency keys, so a create carries its key in
 * the issue body as an HTML comment, which GitHub's Markdown renderer hides:
 *
 *   <body>\n\n<!-- castiel:idempotency=KEY -->
 *
 * Before creating, push.ts looks for that marker among the repository's most
 * recently created issues (limits in push.ts). Pure string rules live here.
 */
import { createHash } from 'node:crypto';

const PREFIX = 'castiel:idempotency=';
/** Keys that can sit in an HTML comment as they are (UUIDs, ULIDs…): no `>`, no `--`, no whitespace. */
const SAFE_KEY = /^(?!.*--)[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Every marker this module writes, with the blank line that separates it from the body. */
const MARKER = /(?:\r?\n){0,2}<!-- castiel:idempotency=[A-Za-z0-9._:-]{1,128} -->/g;
const MARKER_ONLY = /<!-- castiel:idempotency=[A-Za-z0-9._:-]{1,128} -->/g;

/** The key as written in the marker: itself when safe, else a SHA-256 of it (still deterministic). */
export function markerValue(idempotencyKey: string): string {
  return SAFE_KEY.test(idempotencyKey) ? idempotencyKey : `sha256.${createHash('sha256').update(idempotencyKey).digest('hex')}`;
}

export function idempotencyMarker(idempotencyKey: string): string {
  return `<!-- ${PREFIX}${markerValue(idempotencyKey)} -->`;
}

/** The body to send on create: the caller's body (if any) and the marker after a blank line. */
export function withIdempotencyMarker(body: string | null | undefined, idempotencyKey: string): string {
  const marker = idempotencyMarker(idempotencyKey);
  return body ? `${body}\n\n${marker}` : marker;
}

export function hasIdempotencyMarker(body: string | null | undefined, idempotencyKey: string): boolean {
  return typeof body === 'string' && body.includes(idempotencyMarker(idempotencyKey));
}

/**
 * The body without our markers. A body that was only a marker (pushed with
 * no body) reads back as null, as it was pushed.
 */
export function stripIdempotencyMarker(body: string | null): string | null {
  if (body === null || !body.includes(PREFIX)) return body;
  const stripped = body.replace(MARKER, '');
  return stripped === '' ? null : stripped;
}

/**
 * `next` with the markers of `previous` carried over: an update that sends a
 * body (as pulled, so without markers) must not erase the marker a retried
 * create would look for.
 */
export function carryIdempotencyMarker(previous: string | null, next: string | null): string | null {
  const markers = previous?.match(MARKER_ONLY) ?? [];
  if (markers.length === 0 || next?.includes(PREFIX) === true) return next;
  const tail = markers.join('\n');
  return next ? `${next}\n\n${tail}` : tail;
}

/** Characters the marker adds to a body (blank line included): a pushed body must leave room for it. */
export function markerOverhead(idempotencyKey: string): number {
  return idempotencyMarker(idempotencyKey).length + 2;
}
