/**
 * Salesforce-shaped ids and datetimes for the sandbox.
 *
 * Ids: a 3-character key prefix (001 Account, 003 Contact, 00D org…), then
 * 12 base-62 characters, then the 3-character case-safe suffix: for each
 * 5-character chunk, a bit per uppercase letter (first character = lowest
 * bit) indexes "A…Z0…5".
 * https://help.salesforce.com/s/articleView?id=000385008&type=1
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/** The 18-character id for a key prefix and a sequence number (deterministic). */
export function salesforceId(prefix: string, n: number): string {
  let body = '';
  let rest = n;
  for (let i = 0; i < 12; i++) {
    body = BASE62.charAt(rest % 62) + body;
    rest = Math.floor(rest / 62);
  }
  // A fixed "pod" character, as real ids carry: keeps them looking familiar.
  const id15 = `${prefix}5e${body.slice(2)}`;
  return id15 + caseSuffix(id15);
}

export function caseSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let flags = 0;
    for (let i = 0; i < 5; i++) {
      const c = id15.charAt(chunk * 5 + i);
      if (c >= 'A' && c <= 'Z') flags |= 1 << i;
    }
    suffix += SUFFIX.charAt(flags);
  }
  return suffix;
}

/** A field value as text (how Salesforce compares external ids and writes XML). */
export function scalarText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

/** `2024-01-01T00:00:00.000+0000`, as the REST API writes datetimes. */
export function sfDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** Parses what Salesforce accepts in `start=`/`end=` and SOQL: ISO 8601 with Z or an offset. */
export function parseSfDateTime(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : ms;
}
