/**
 * Redis key layout. Every key of a tenant carries the hash tag `{tenantId}`,
 * so they all hash to one Redis Cluster slot and one script can touch them
 * together (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
 *
 *   <prefix>rl:{T}:limits            hash   custom limits (no TTL; see redis-limits.ts)
 *   <prefix>rl:{T}:a:<I>             hash   adaptive state of integration I
 *   <prefix>rl:{T}:w:t               hash   tenant window
 *   <prefix>rl:{T}:w:i:<I>           hash   integration window
 *   <prefix>rl:{T}:w:o:<I>:<op>      hash   operation window
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

export const limitsKey = (prefix: string, tenantId: string): string => `${tenantBase(prefix, tenantId)}limits`;

/** Keys of one check, in the order the check script takes them. */
export function checkKeys(prefix: string, scope: RateLimitScope, operation: RateLimitOperation): [string, string, string, string, string] {
  const base = tenantBase(prefix, scope.tenantId);
  const integration = id(scope.integrationId, 'integrationId');
  return [`${base}limits`, `${base}a:${integration}`, `${base}w:t`, `${base}w:i:${integration}`, `${base}w:o:${integration}:${operation}`];
}

export function adaptiveKey(prefix: string, scope: RateLimitScope): string {
  return `${tenantBase(prefix, scope.tenantId)}a:${id(scope.integrationId, 'integrationId')}`;
}

/** Field names inside the limits hash. */
export const LIMIT_FIELDS = {
  tenant: 't',
  integration: (integrationId: string): string => `i:${integrationId}`,
  operation: (integrationId: string, operation: RateLimitOperation): string => `o:${integrationId}:${operation}`,
} as const;
