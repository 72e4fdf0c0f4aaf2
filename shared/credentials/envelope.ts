/**
 * The credential document: one Key Vault secret per integration credential,
 * holding JSON with the provider's credentials inside an envelope that says
 * what kind of credential it is and which `generation` it is.
 *
 * `generation` is a counter every write raises by one. Key Vault version ids
 * are random and unordered; the generation gives every reader and writer an
 * order, and it is repeated as a tag so an operator sees it without reading
 * the value.
 */
import { z } from 'zod';
import { sha256Hex } from '../domain/ids';
import type { Integration } from '../domain/types';
import { AuthError } from '../errors';
import { describeIssues } from '../messaging/messages';
import { registerSecretValue } from '../observability/logger';
import type { ProviderDefinition } from '../providers/types';
import type { SecretValue, SecretWrite } from './port';

export const CREDENTIAL_KINDS = ['oauth', 'api-key', 'bot-token', 'service-account', 'internal-token'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/**
 * The credential kind for a provider credential, by its `type` discriminant
 * (every provider's credentials schema is a union on `type`): what decides
 * refresh and rotation policy, not which provider it is.
 */
export function kindForCredentials(credentials: unknown): CredentialKind {
  const type = credentials !== null && typeof credentials === 'object' ? (credentials as { type?: unknown }).type : undefined;
  switch (type) {
    case 'oauth':
    case 'oauth_rotating':
    case 'client_credentials':
      return 'oauth';
    case 'jwt':
    case 'service_account':
      return 'service-account';
    case 'bot':
      return 'bot-token';
    case 'internal':
      return 'internal-token';
    default:
      return 'api-key';
  }
}

/** Kinds whose access token we renew through the provider's `auth.refresh` (OAuth refresh, JWT bearer re-mint). */
export const REFRESHABLE_KINDS: readonly (CredentialKind | 'legacy')[] = ['oauth', 'service-account', 'legacy'];

export const CREDENTIAL_FORMAT = 'castiel-credential/v1';
export const CREDENTIAL_CONTENT_TYPE = 'application/json';

const isoDate = z.iso.datetime({ offset: true });

const envelopeSchema = z.object({
  format: z.literal(CREDENTIAL_FORMAT),
  kind: z.enum(CREDENTIAL_KINDS),
  provider: z.string().min(1),
  generation: z.number().int().nonnegative(),
  /** Validated against the provider's credentials schema when read. */
  credentials: z.unknown(),
  /** When this credential was established (admin write or OAuth connect); refreshes keep it. */
  createdAt: isoDate,
  /** When this generation was written. */
  updatedAt: isoDate,
  /** Hard end of life the admin stated (a PAT's expiry date, a client secret's end date). */
  expiresAt: isoDate.optional(),
  /** Rotation policy override for this credential. */
  maxAgeDays: z.number().int().positive().optional(),
});
type Envelope = z.infer<typeof envelopeSchema>;

/** A credential as read: the provider's credentials (validated) plus where and which generation they came from. */
export interface StoredCredential {
  secretName: string;
  version: string;
  generation: number;
  /** `legacy`: raw provider JSON written before envelopes (generation 0). */
  kind: CredentialKind | 'legacy';
  provider: string;
  credentials: unknown;
  createdAt?: string;
  updatedAt?: string;
  /** Access-token expiry (epoch ms) as the provider's `auth.expiresAt` states it. */
  accessExpiresAt?: number;
  /** Admin-stated end of life (epoch ms). */
  expiresAt?: number;
  maxAgeDays?: number;
}

export interface CredentialContent {
  kind: CredentialKind;
  credentials: unknown;
  createdAt: string;
  expiresAt?: string;
  maxAgeDays?: number;
}

/**
 * Parse a stored credential. Anything that does not validate is an AuthError:
 * the integration needs new credentials, and retrying changes nothing. Errors
 * name paths, never values.
 */
export function parseStoredCredential(secret: SecretValue, provider: ProviderDefinition): StoredCredential {
  let raw: unknown;
  try {
    raw = JSON.parse(secret.value);
  } catch {
    throw new AuthError(`Stored credentials for ${provider.key} are not JSON`);
  }
  const envelope = envelopeSchema.safeParse(raw);
  const base = { secretName: secret.name, version: secret.version, provider: provider.key };
  if (!envelope.success) {
    // Written by the admin API before envelopes existed: the provider's credentials as they are.
    const legacy = provider.credentialsSchema.safeParse(raw);
    if (!legacy.success) throw new AuthError(`Stored credentials do not match the ${provider.key} schema (${describeIssues(legacy.error)})`);
    registerCredentialStrings(legacy.data);
    return withAccessExpiry({ ...base, generation: 0, kind: 'legacy', credentials: legacy.data }, provider);
  }
  const e = envelope.data;
  const credentials = provider.credentialsSchema.safeParse(e.credentials);
  if (!credentials.success) throw new AuthError(`Stored credentials do not match the ${provider.key} schema (${describeIssues(credentials.error)})`);
  registerCredentialStrings(credentials.data);
  const out: StoredCredential = {
    ...base,
    generation: e.generation,
    kind: e.kind,
    credentials: credentials.data,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
    ...(e.expiresAt === undefined ? {} : { expiresAt: Date.parse(e.expiresAt) }),
    ...(e.maxAgeDays === undefined ? {} : { maxAgeDays: e.maxAgeDays }),
  };
  return withAccessExpiry(out, provider);
}

function withAccessExpiry(c: StoredCredential, provider: ProviderDefinition): StoredCredential {
  const at = provider.auth?.expiresAt(c.credentials);
  return at === undefined || !Number.isFinite(at) ? c : { ...c, accessExpiresAt: at };
}

/** The JSON value of a new generation. */
export function serializeCredential(provider: string, generation: number, content: CredentialContent, now: Date): string {
  const envelope: Envelope = {
    format: CREDENTIAL_FORMAT,
    kind: content.kind,
    provider,
    generation,
    credentials: content.credentials,
    createdAt: content.createdAt,
    updatedAt: now.toISOString(),
    ...(content.expiresAt === undefined ? {} : { expiresAt: content.expiresAt }),
    ...(content.maxAgeDays === undefined ? {} : { maxAgeDays: content.maxAgeDays }),
  };
  return JSON.stringify(envelope);
}

/** Key Vault keeps `exp` as a signed 32-bit count of seconds (see local.ts): later dates are left off. */
const MAX_EXPIRES_MS = 2 ** 31 * 1000 - 1000;

/**
 * Tags, content type and Key Vault expiry for a credential write. `expiresOn`
 * is set only where the whole credential dies then: an admin-stated end of
 * life, or a provider-stated lifetime of a token nobody can refresh. A
 * refreshable credential's access expiry is NOT its secret's expiry: its
 * refresh token lives on, and Key Vault documents that an expired secret
 * should no longer be read
 * (https://learn.microsoft.com/azure/key-vault/secrets/about-secrets#date-time-controlled-operations).
 */
export function credentialWriteOptions(
  integration: Pick<Integration, 'tenantId' | 'id'>,
  provider: ProviderDefinition,
  generation: number,
  content: CredentialContent,
): SecretWrite {
  let expiresOn: number | undefined = content.expiresAt === undefined ? undefined : Date.parse(content.expiresAt);
  const refreshable = provider.auth?.refresh !== undefined && REFRESHABLE_KINDS.includes(content.kind);
  if (expiresOn === undefined && !refreshable) expiresOn = provider.auth?.expiresAt(content.credentials);
  return {
    tags: {
      tenant: integration.tenantId,
      integration: integration.id,
      provider: provider.key,
      kind: content.kind,
      generation: String(generation),
    },
    contentType: CREDENTIAL_CONTENT_TYPE,
    ...(expiresOn !== undefined && Number.isFinite(expiresOn) && expiresOn > 0 && expiresOn < MAX_EXPIRES_MS ? { expiresOn: new Date(expiresOn) } : {}),
  };
}

/** Field names whose string values are secrets in any provider's credential shape. */
const SECRETISH_KEY = /(token|secret|password|passphrase|key|assertion|credential|signature|cookie)/i;
/** Long strings are treated as secret whatever their field is called (over-redaction is the safe failure). */
const LONG_STRING = 24;

/**
 * Register each secret string inside a credential with the logger's scrubber.
 * The whole JSON value is registered by the cache, but a provider error can
 * echo one token on its own; this catches that too.
 */
export function registerCredentialStrings(value: unknown, key = '', depth = 0): void {
  if (depth > 6) return;
  if (typeof value === 'string') {
    if (SECRETISH_KEY.test(key) || value.length >= LONG_STRING) registerSecretValue(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) registerCredentialStrings(v, key, depth + 1);
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) registerCredentialStrings(v, k, depth + 1);
  }
}

/**
 * Merge refreshed credentials over the previous ones: a field the refresh
 * response left out (no new refresh token) keeps its old value. Providers
 * should do this themselves (AuthSupport.refresh); this is the core's net
 * under them.
 */
export function mergeRefreshed(previous: unknown, next: unknown): unknown {
  if (!isRecord(previous) || !isRecord(next)) return next;
  const out: Record<string, unknown> = { ...previous };
  for (const [k, v] of Object.entries(next)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const hash40 = (tenantId: string, integrationId: string): string => sha256Hex(JSON.stringify([tenantId, integrationId])).slice(0, 40);

/** Secret holding an integration's OAuth client (client id, secret, redirect URI). Same hashing as secretNameFor. */
export function oauthClientSecretName(tenantId: string, integrationId: string): string {
  return `oauthc-${hash40(tenantId, integrationId)}`;
}

/**
 * A fresh name for each rotated webhook secret: a new name is in no
 * instance's cache, so the new secret verifies at once everywhere, while the
 * previous name (and value) stays readable through the overlap window.
 */
export function rotatedWebhookSecretName(tenantId: string, integrationId: string, rotationId: string): string {
  return `whsec-${hash40(tenantId, integrationId)}-${rotationId}`;
}
