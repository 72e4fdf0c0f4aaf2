/**
 * A push that meets a provider version it has not seen. Providers raise it
 * from a conditional write (HTTP 412) or from the re-read they make just
 * before writing; the outbound worker settles it with the integration's
 * conflict strategy (shared/sync/push-conflict.ts) instead of overwriting.
 */
import { isDeepStrictEqual } from 'node:util';
import { RetryableError } from '../errors';
import type { NormalizedRecord, PushSeen } from './types';

export class PushConflictError extends RetryableError {
  constructor(
    message: string,
    /** The provider's current version when the check read it (re-reads); absent after a refused conditional write. */
    readonly remote?: NormalizedRecord,
  ) {
    super(message);
  }
}

export interface ChangeCheck {
  /**
   * Compare last-modified times. Off where the version we stored after our
   * own write carries our clock, not the provider's (Slack's chat.update does
   * not return the edit time): a time comparison would then see our own write as a change.
   */
  byTime: boolean;
}

/**
 * Whether the provider's current version differs from the one we saw: a
 * later last-modified time, or any field the patch writes holding another
 * value than we saw (which also catches changes inside a provider's
 * timestamp granularity: GitHub's seconds, Notion's minutes). Nested patch
 * objects (Notion's `properties`, a Calendar `start`) are compared leaf by
 * leaf, so a change to a property the patch does not write is not counted twice.
 */
export function changedSince(seen: PushSeen, remote: NormalizedRecord, patch: Record<string, unknown>, check: ChangeCheck = { byTime: true }): string | undefined {
  if (check.byTime && Date.parse(remote.updatedAt) > Date.parse(seen.updatedAt)) {
    return `changed at the provider at ${remote.updatedAt}, after the version last seen (${seen.updatedAt})`;
  }
  const field = differingField(seen.data, remote.data, patch, '');
  return field === undefined ? undefined : `${field} changed at the provider since it was last seen`;
}

function differingField(seen: Record<string, unknown>, remote: Record<string, unknown>, patch: Record<string, unknown>, prefix: string): string | undefined {
  for (const [key, value] of Object.entries(patch)) {
    if (!Object.hasOwn(seen, key)) continue;
    const before = seen[key];
    const now = remote[key];
    if (isPlainObject(value) && isPlainObject(before) && isPlainObject(now)) {
      const inner = differingField(before, now, value, `${prefix}${key}.`);
      if (inner !== undefined) return inner;
      continue;
    }
    if (!isDeepStrictEqual(before ?? null, now ?? null)) return `${prefix}${key}`;
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
