/**
 * Custom limits in the tenant's config hash, the hash the check script reads.
 *
 * Why Redis rather than the document store: the check script reads the
 * limits in the same atomic round trip that counts, so a change made through
 * the admin API applies to every instance's very next check — no per-instance
 * cache to expire, no restart, no extra round trip, and no check that sees a
 * half-applied update. The hash shares the tenant's hash tag (one cluster
 * slot) and has no TTL; infra runs Redis with `noeviction`, so it is never
 * evicted. Should Redis lose its data (a failover without the replica), the
 * limits fall back to the provider defaults, which are safe, and the adaptive
 * layer still follows the providers' own signals.
 */
import type Redis from 'ioredis';
import { z } from 'zod';
import { whenReady } from './client';
import { checkPrefix, LIMIT_FIELDS, configKey } from './keys';
import { runScript, type ScriptClient } from '../kv/redis-script';
import {
  fieldsWrittenReplySchema,
  REPLACE_LIMITS_SCRIPT,
  REPLACE_LIMITS_SHA,
  SET_INTEGRATION_LIMITS_SCRIPT,
  SET_INTEGRATION_LIMITS_SHA,
} from './scripts';
import { RATE_LIMIT_OPERATIONS, type IntegrationLimits, type LimitsStore, type RateLimitOperation, type TenantLimits } from './types';

export type LimitsRedisClient = ScriptClient & Pick<Redis, 'hgetall' | 'status' | 'connect'>;

const REPLACE = { text: REPLACE_LIMITS_SCRIPT, sha: REPLACE_LIMITS_SHA };
const SET_INTEGRATION = { text: SET_INTEGRATION_LIMITS_SCRIPT, sha: SET_INTEGRATION_LIMITS_SHA };

const hashSchema = z.record(z.string(), z.string());
const storedValue = z.coerce.number().int().positive();
const OPERATION_FIELD = /^o:([A-Za-z0-9_-]+):(fetch|create|update|delete)$/;

export class RedisLimitsStore implements LimitsStore {
  private readonly prefix: string;

  constructor(
    private readonly client: LimitsRedisClient,
    prefix = '',
  ) {
    this.prefix = checkPrefix(prefix);
  }

  async get(tenantId: string): Promise<TenantLimits> {
    await whenReady(this.client);
    return fromFields(hashSchema.parse(await this.client.hgetall(configKey(this.prefix, tenantId))));
  }

  async replace(tenantId: string, limits: TenantLimits): Promise<void> {
    const args: (string | number)[] = [];
    if (limits.perMinute !== undefined) args.push(LIMIT_FIELDS.tenant, limits.perMinute);
    for (const [integrationId, entry] of Object.entries(limits.integrations ?? {})) args.push(...integrationFields(integrationId, entry));
    await whenReady(this.client);
    fieldsWrittenReplySchema.parse(await runScript(this.client, REPLACE, [configKey(this.prefix, tenantId)], args));
  }

  async setIntegration(tenantId: string, integrationId: string, limits: IntegrationLimits | undefined): Promise<void> {
    const cleared = [LIMIT_FIELDS.integration(integrationId), ...RATE_LIMIT_OPERATIONS.map((op) => LIMIT_FIELDS.operation(integrationId, op))];
    const args = [...cleared, ...(limits ? integrationFields(integrationId, limits) : [])];
    await whenReady(this.client);
    fieldsWrittenReplySchema.parse(await runScript(this.client, SET_INTEGRATION, [configKey(this.prefix, tenantId)], args));
  }
}

function integrationFields(integrationId: string, limits: IntegrationLimits): (string | number)[] {
  const out: (string | number)[] = [];
  if (limits.perMinute !== undefined) out.push(LIMIT_FIELDS.integration(integrationId), limits.perMinute);
  for (const op of RATE_LIMIT_OPERATIONS) {
    const value = limits.operations?.[op];
    if (value !== undefined) out.push(LIMIT_FIELDS.operation(integrationId, op), value);
  }
  return out;
}

/** Hash fields back to the admin shape; adaptive state (a:<I>) and unknown fields are skipped. */
function fromFields(fields: Record<string, string>): TenantLimits {
  const limits: TenantLimits = {};
  const integrations: Record<string, IntegrationLimits> = {};
  // hasOwn: an integration id such as "constructor" must not find Object's prototype.
  const entry = (id: string): IntegrationLimits => (Object.hasOwn(integrations, id) ? integrations[id] : undefined) ?? (integrations[id] = {});
  for (const [field, raw] of Object.entries(fields)) {
    if (field.startsWith('a:')) continue;
    const value = storedValue.safeParse(raw);
    if (!value.success) continue;
    if (field === LIMIT_FIELDS.tenant) {
      limits.perMinute = value.data;
    } else if (field.startsWith('i:')) {
      entry(field.slice(2)).perMinute = value.data;
    } else {
      const m = OPERATION_FIELD.exec(field);
      if (!m?.[1] || !m[2]) continue;
      const e = entry(m[1]);
      (e.operations ??= {})[m[2] as RateLimitOperation] = value.data;
    }
  }
  if (Object.keys(integrations).length > 0) limits.integrations = integrations;
  return limits;
}
