/**
 * Default limits, looked up by provider key: adding a provider is a row here,
 * never a switch on its name. Every number is requests per minute.
 */
import type { IntegrationLimits, RateLimitOperation, RateLimitScope, TenantLimits } from './types';

export interface ProviderLimitDefaults {
  /** The integration's budget across all operations. */
  perMinute: number;
  /** Operations with a tighter budget of their own; the others share the integration's. */
  operations?: Partial<Record<RateLimitOperation, number>>;
}

/**
 * Provider defaults from the rate-limit issue, kept below each provider's
 * published ceiling so our own limiter refuses before the provider does:
 * - Salesforce: daily allocation shared with the org's other apps
 *   (https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
 * - Notion: about 3 requests/s on average per connection
 *   (https://developers.notion.com/reference/request-limits).
 * - Slack: Tier 3 methods allow ~50+/min, posting ~1 message/s per channel
 *   (https://api.slack.com/apis/rate-limits).
 * - GitHub: 5,000/h primary; secondary limits allow 80 content-generating
 *   requests/min and 900 points/min, a write costing 5 points (900 / 5 = 180)
 *   (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits).
 * - Google: per-user quotas of the Drive/Calendar APIs
 *   (https://developers.google.com/drive/api/guides/limits).
 */
export const PROVIDER_LIMITS: Readonly<Record<string, ProviderLimitDefaults>> = {
  salesforce: { perMinute: 300 },
  notion: { perMinute: 180 },
  slack: { perMinute: 60 },
  github: { perMinute: 360, operations: { create: 80, update: 180, delete: 180 } },
  google: { perMinute: 240 },
};

/** A provider missing from the table gets the most cautious row (Slack's). */
export const UNKNOWN_PROVIDER_LIMITS: ProviderLimitDefaults = { perMinute: 60 };

/** A tenant's budget across all its integrations. */
export const DEFAULT_TENANT_PER_MINUTE = 5_000;

/**
 * Upper bound on any configured limit: far above every provider's published
 * rate (the highest above is 360/min), low enough that a typo such as an
 * extra three zeros is refused rather than silently disabling the limiter.
 */
export const MAX_PER_MINUTE = 100_000;

export function providerDefaults(provider: string): ProviderLimitDefaults {
  // hasOwn: a provider key such as "constructor" must not find Object's prototype.
  return Object.hasOwn(PROVIDER_LIMITS, provider) ? (PROVIDER_LIMITS[provider] ?? UNKNOWN_PROVIDER_LIMITS) : UNKNOWN_PROVIDER_LIMITS;
}

export interface ResolvedLimits {
  tenant: number;
  integration: number;
  operation: number;
}

/**
 * The configured limits for one check. Precedence, per level: the tenant's
 * custom value, else the default. An operation without a limit of its own
 * (custom or provider default) shares the integration's whole budget.
 */
export function resolveLimits(stored: TenantLimits | undefined, scope: RateLimitScope, operation: RateLimitOperation): ResolvedLimits {
  const defaults = providerDefaults(scope.provider);
  const custom: IntegrationLimits | undefined =
    stored?.integrations && Object.hasOwn(stored.integrations, scope.integrationId) ? stored.integrations[scope.integrationId] : undefined;
  const integration = custom?.perMinute ?? defaults.perMinute;
  return {
    tenant: stored?.perMinute ?? DEFAULT_TENANT_PER_MINUTE,
    integration,
    operation: custom?.operations?.[operation] ?? defaults.operations?.[operation] ?? integration,
  };
}
