/**
 * Validation of custom limits, shared by the tenant limits route and the
 * integration resource's `limits` field. No zero (to stop an integration,
 * disable it), no negative, no fraction, nothing above MAX_PER_MINUTE.
 */
import { z } from 'zod';
import { idSchema } from '../api/ids';
import { MAX_PER_MINUTE } from './defaults';
import type { IntegrationLimits, TenantLimits } from './types';

const perMinute = z
  .number({ error: 'must be a number of requests per minute' })
  .int('must be a whole number of requests per minute')
  .min(1, 'must be at least 1 (to stop calls altogether, disable the integration)')
  .max(MAX_PER_MINUTE, `must be at most ${MAX_PER_MINUTE} per minute`);

export const operationLimitsSchema = z.strictObject({
  fetch: perMinute.exactOptional(),
  create: perMinute.exactOptional(),
  update: perMinute.exactOptional(),
  delete: perMinute.exactOptional(),
});

export const integrationLimitsSchema = z
  .strictObject({ perMinute: perMinute.exactOptional(), operations: operationLimitsSchema.exactOptional() })
  .superRefine((limits, ctx) => {
    // An operation allowed more than its integration could never use the difference: almost certainly a mistake.
    if (limits.perMinute === undefined || !limits.operations) return;
    for (const [op, value] of Object.entries(limits.operations)) {
      if (value > limits.perMinute) {
        ctx.addIssue({ code: 'custom', path: ['operations', op], message: `must not exceed the integration's perMinute (${limits.perMinute})` });
      }
    }
  });

/** Enough for any tenant we expect; bounds the body and the Redis hash. */
export const MAX_INTEGRATION_ENTRIES = 500;

export const tenantLimitsSchema = z.strictObject({
  perMinute: perMinute.exactOptional(),
  integrations: z
    .record(idSchema, integrationLimitsSchema)
    .refine((r) => Object.keys(r).length <= MAX_INTEGRATION_ENTRIES, `at most ${MAX_INTEGRATION_ENTRIES} integrations`)
    .exactOptional(),
});

// The schemas must produce exactly the stored shapes.
export const checkIntegrationLimits: z.ZodType<IntegrationLimits> = integrationLimitsSchema;
export const checkTenantLimits: z.ZodType<TenantLimits> = tenantLimitsSchema;
