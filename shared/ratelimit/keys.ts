/**
 * Redis key layout. Every key of a tenant carries the hash tag `{tenantId}`,
 * so they all hash to one Redis Cluster slot and one script can touch them
 * together (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
 *
 *   <prefix>rl:{T}:cfg   hash  custom limits and adaptive state (no TTL; see redis-limits.ts)
 *   <prefix>rl:{T}:w     hash  the sliding windows of every level (expires when idle)
 */
import { ID_PATTERN } from '../domain/types';
import type { RateLimitOperation, RateLimitScope } from './types';

/** Ids are validated upstream; a key built from anything else would break the slot grouping. */
function id(value: string, what: string): string {
  if (!ID_PATTERN.test(value)) throw new RangeError(`${what} is not a valid id`);
  return value;
}

/** A prefix with braces would become the hash tag instead of the tenant id. */
export function checkPrefix(prefix: string): string {
  if (/[{}]/.test(prefix)) throw new RangeError('rate-limit key prefix must not contain { or }');
  return prefix;
}

export function tenantBase(prefix: string, tenantId: string): string {
  return `${prefix}rl:{${id(tenantId, 'tenantId')}}:`;
}

/** The tenant's config hash: custom limits (LIMIT_FIELDS) and adaptive state. */
export const configKey = (prefix: string, tenantId: string): string => `${tenantBase(prefix, tenantId)}cfg`;

/** Keys of one check, in the order the check script takes them. */
export function checkKeys(prefix: string, scope: RateLimitScope): [string, string] {
  const base = tenantBase(prefix, scope.tenantId);
  return [`${base}cfg`, `${base}w`];
}

/** The integration id as a script argument: checked, as it becomes part of field names. */
export function integrationArg(scope: RateLimitScope): string {
  return id(scope.integrationId, 'integrationId');
}

/** Field names of the custom limits inside the config hash (the check script builds the same). */
export const LIMIT_FIELDS = {
  tenant: 't',
  integration: (integrationId: string): string => `i:${integrationId}`,
  operation: (integrationId: string, operation: RateLimitOperation): string => `o:${integrationId}:${operation}`,
} as const;
