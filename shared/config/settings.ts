import { z } from 'zod';

const optionalUrl = z.url().optional();
const intFromEnv = (def: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(def);

/**
 * Every app setting the code reads. `local.settings.sample.json` lists exactly
 * these keys (plus HOST_SETTINGS, which the Functions host reads), and a test
 * holds the two together.
 *
 * Adapter choice is per port: a port's Azure setting present → its Azure
 * adapter; absent → the embedded one. Service Bus present means we run under
 * the real Functions host, so the other Azure settings become required.
 */
export const settingsSchema = z
  .object({
    ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
    REDIS_KEY_PREFIX: z.string().min(1).max(64).default('castiel:'),
    // `entra`: Azure Managed Redis with Entra ID auth. REDIS_URL is rediss://<host>:10000 with no password; the app's
    // managed identity (MANAGED_IDENTITY_CLIENT_ID) gets tokens for https://redis.azure.com/.default and renews them on
    // the live connections (shared/kv/entra-auth.ts). `none`: the URL says it all (local redis://).
    REDIS_AUTH: z.enum(['none', 'entra']).default('none'),
    // The Redis username under Entra auth: the identity's object (principal) id. Unset: the token's `oid` claim.
    REDIS_ENTRA_USERNAME: z.string().min(1).max(128).optional(),
    COSMOS_ENDPOINT: optionalUrl,
    COSMOS_DATABASE: z.string().min(1).max(255).default('castiel'),
    COSMOS_KEY: z.string().min(1).optional(),
    KEY_VAULT_URL: optionalUrl,
    ServiceBusConnection__fullyQualifiedNamespace: z
      .string()
      .regex(/^[a-z0-9-]+\.servicebus\.windows\.net$/i, 'must be <namespace>.servicebus.windows.net')
      .optional(),
    MANAGED_IDENTITY_CLIENT_ID: z.string().min(1).optional(),
    LOCAL_SECRETS_KEY: z
      .string()
      .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 bytes, base64')
      .optional(),
    LOCAL_DATA_DIR: z.string().min(1).default('.data'),
    // HMAC key for the OAuth `state` parameter; embedded profile without it: a random key per process.
    OAUTH_STATE_KEY: z
      .string()
      .refine((s) => Buffer.from(s, 'base64').length >= 32, 'must be base64 of at least 32 bytes')
      .optional(),
    WEBHOOK_MAX_BODY_BYTES: intFromEnv(1024 * 1024, 1024, 25 * 1024 * 1024),
    WEBHOOK_COALESCE_SECONDS: intFromEnv(5, 0, 300),
    // No finer than SyncScheduler's 5-minute tick (SCHEDULER_TICK_MINUTES): a finer default could not run on time.
    SYNC_DEFAULT_SCHEDULE_MINUTES: intFromEnv(60, 5, 7 * 24 * 60),
    // A run stops at a page boundary after this long and queues its continuation (Flex's default timeout is 30 min).
    SYNC_TIME_BUDGET_SECONDS: intFromEnv(600, 1, 3600),
    // 0 picks a free port (tests).
    PORT: intFromEnv(7071, 0, 65535),
    SANDBOX: z.enum(['on', 'off']).default('on'),
    // `sandbox` lets provider calls reach loopback addresses (the local sandboxes on 127.0.0.1, over http);
    // `off` holds them to https and the providers' documented hosts, as in Azure, which refuses `sandbox`.
    EGRESS_ALLOW_LOCAL: z.enum(['off', 'sandbox']).default('off'),
    // Where providers reach this app (no trailing slash): the audience of Pub/Sub push tokens, and later the
    // URL given to providers when registering webhooks. In Azure, the function app's default host name (infra).
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')).optional(),
  })
  .superRefine((s, ctx) => {
    // An unresolved Key Vault reference reaches the app as its literal text; never accept it as a value.
    for (const [key, value] of Object.entries(s)) {
      if (typeof value === 'string' && value.startsWith('@Microsoft.KeyVault(')) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'is an unresolved Key Vault reference (check the app identity can read the secret)' });
      }
    }
    if (s.REDIS_AUTH === 'entra') {
      // Entra tokens are accepted over TLS only, and the token is the password: the URL must carry none.
      const url = s.REDIS_URL !== undefined && URL.canParse(s.REDIS_URL) ? new URL(s.REDIS_URL) : undefined;
      if (url?.protocol !== 'rediss:') {
        ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'must be a rediss:// URL when REDIS_AUTH is entra' });
      } else if (url.username !== '' || url.password !== '') {
        ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'must not carry a user or password when REDIS_AUTH is entra (the token is the password)' });
      }
    }
    if (s.ServiceBusConnection__fullyQualifiedNamespace === undefined) return;
    if (s.EGRESS_ALLOW_LOCAL !== 'off') {
      ctx.addIssue({ code: 'custom', path: ['EGRESS_ALLOW_LOCAL'], message: 'must be off when Service Bus is configured (Azure profile): loopback is for the local sandboxes only' });
    }
    for (const key of ['COSMOS_ENDPOINT', 'KEY_VAULT_URL', 'REDIS_URL', 'ADMIN_API_KEY', 'OAUTH_STATE_KEY'] as const) {
      if (s[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'required when Service Bus is configured (Azure profile)' });
    }
  });

export type Settings = z.infer<typeof settingsSchema>;

/** Settings the Functions host reads itself; listed in the sample but not by the schema. */
export const HOST_SETTINGS = ['AzureWebJobsStorage', 'FUNCTIONS_WORKER_RUNTIME'] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse once; one error lists every bad variable (names and reasons, never values). */
export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(settingsSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const parsed = settingsSchema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}
