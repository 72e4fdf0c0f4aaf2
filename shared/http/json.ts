/**
 * JSON the app reads from outside (management API bodies, webhook bodies) is
 * parsed here, with one set of limits, before anything acts on it:
 *
 * - Nesting depth at most JSON_MAX_DEPTH (64) objects/arrays. Real bodies nest
 *   a handful of levels (GitHub's deepest payloads ~8, Slack blocks ~10); a
 *   3,000-deep body is an attack on every recursive walk after the parse
 *   (validation, the queue's JSON check, the store's copy) and on the stack.
 *   64 leaves room for wrappers (a record's `data` inside a queued job) without
 *   ever coming near a recursion limit.
 * - Size at most `maxBytes` (UTF-8), when the caller gives one: the limit is the
 *   route's (admin bodies are small, webhooks up to 1 MiB), checked first.
 * - No `__proto__` key anywhere. JSON.parse keeps it as an own property, but
 *   zod's object/record parsing drops it and any `Object.assign`/`[[Set]]` copy
 *   turns it into a prototype change: either the caller's data silently differs
 *   from what they sent, or it is an attack. `constructor` and `prototype` are
 *   ordinary own properties after JSON.parse and only harmful to path-walking
 *   deep merges, which this app does not do; provider field names are user
 *   defined (a Notion property may well be called "prototype"), so they pass.
 *
 * The depth and key checks run on the text, in one linear scan, before
 * JSON.parse builds anything.
 */
export const JSON_MAX_DEPTH = 64;

/** Keys refused anywhere in a body (see above for why only this one). */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__']);

export type JsonRejection = 'too_large' | 'too_deep' | 'forbidden_key' | 'invalid';

/** Why a body was refused; `reason` is safe to return to the caller (it never quotes the body). */
export class JsonBodyError extends SyntaxError {
  constructor(
    readonly rejection: JsonRejection,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'JsonBodyError';
  }
}

export interface JsonLimits {
  /** Refuse bodies over this many UTF-8 bytes (checked before anything else). */
  maxBytes?: number;
}

/** Parse untrusted JSON within the limits above; throws JsonBodyError with a reason otherwise. */
export function parseJson(body: string | Buffer, limits: JsonLimits = {}): unknown {
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (limits.maxBytes !== undefined && bytes > limits.maxBytes) {
    throw new JsonBodyError('too_large', `body is ${bytes} bytes; the limit is ${limits.maxBytes}`);
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  scan(text);
  try {
    return JSON.parse(text);
  } catch {
    throw new JsonBodyError('invalid', 'body is not valid JSON');
  }
}

/** The reason to report for a failed parseJson: the limit it broke, else `fallback` (the text is not JSON). */
export function jsonFailure(error: unknown, fallback = 'body is not valid JSON'): string {
  return error instanceof JsonBodyError && error.rejection !== 'invalid' ? error.reason : fallback;
}

/** The parsed JSON of a body, or undefined when it is not JSON (error pages, empty bodies). */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const FORBIDDEN_LENGTHS: ReadonlySet<number> = new Set([...FORBIDDEN_KEYS].map((k) => k.length));

/**
 * Depth and forbidden keys, from the text. Malformed text is left for
 * JSON.parse to refuse; the scan only has to be right for well-formed JSON
 * (and never loop or throw anything but JsonBodyError on the rest). Linear,
 * and cheap next to JSON.parse: strings are skipped with indexOf, and only
 * keys of a forbidden key's length, or with escapes, are looked at.
 */
function scan(text: string): void {
  const n = text.length;
  let depth = 0;
  // The next backslash at or after the last lookup: finding whether a key has escapes stays linear.
  let backslash = -2;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      let next = end + 1;
      let d = text.charCodeAt(next);
      while (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) d = text.charCodeAt(++next);
      if (d === COLON) {
        if (backslash !== -1 && backslash < i) backslash = text.indexOf('\\', i);
        checkKey(text, i, end, backslash !== -1 && backslash < end);
      }
      i = next - 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > JSON_MAX_DEPTH) throw new JsonBodyError('too_deep', `body nests deeper than ${JSON_MAX_DEPTH} levels`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
}

/** Index of the quote closing the string opened at `open` (or the text's length when unterminated). */
function stringEnd(text: string, open: number): number {
  let j = open + 1;
  for (;;) {
    j = text.indexOf('"', j);
    if (j === -1) return text.length;
    // A quote preceded by an odd run of backslashes is escaped.
    let slashes = 0;
    while (text.charCodeAt(j - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return j;
    j++;
  }
}

/** The key quoted from `open` to `end`; `escaped` when it holds a backslash. */
function checkKey(text: string, open: number, end: number, escaped: boolean): void {
  let key: string;
  if (escaped) {
    // "\u005f_proto__" is "__proto__" too: compare the decoded key.
    try {
      key = JSON.parse(text.slice(open, end + 1)) as string;
    } catch {
      return; // a bad escape: JSON.parse of the whole body refuses it
    }
  } else if (FORBIDDEN_LENGTHS.has(end - open - 1)) {
    key = text.slice(open + 1, end);
  } else {
    return;
  }
  if (FORBIDDEN_KEYS.has(key)) throw new JsonBodyError('forbidden_key', `body has a "${key}" key, which is not accepted`);
}
