/**
 * An integration's OAuth client (client id, client secret, redirect URI,
 * scopes), registered through the admin API and kept in its own Key Vault
 * secret (kind `oauth-client`). Write-only: the API shows the client id and
 * redirect URI, never the secret.
 */
import { z } from 'zod';
import type { Integration } from '../domain/types';
import { AuthError } from '../errors';
import type { OAuthClient } from '../providers/types';
import type { SecretCache } from './cache';
import { oauthClientSecretName, registerCredentialStrings } from './envelope';

export const OAUTH_CLIENT_FORMAT = 'castiel-oauth-client/v1';

const isoDate = z.iso.datetime({ offset: true });

export const oauthClientDocSchema = z.object({
  format: z.literal(OAUTH_CLIENT_FORMAT),
  clientId: z.string().min(1).max(512),
  clientSecret: z.string().min(1).max(4096),
  redirectUri: z.url({ protocol: /^https?$/ }),
  scopes: z.array(z.string().min(1).max(256)).max(100).optional(),
  /** When this client secret was registered: its age for the rotation policy. */
  createdAt: isoDate,
  /** End of life the identity provider gave the client secret (e.g. Entra ID secrets expire). */
  expiresAt: isoDate.optional(),
  maxAgeDays: z.number().int().positive().optional(),
});
export type OAuthClientDoc = z.infer<typeof oauthClientDocSchema>;

/** What the provider's OAuth code receives. */
export function toOAuthClient(doc: OAuthClientDoc): OAuthClient {
  return {
    clientId: doc.clientId,
    clientSecret: doc.clientSecret,
    redirectUri: doc.redirectUri,
    ...(doc.scopes === undefined ? {} : { scopes: doc.scopes }),
  };
}

export async function readOAuthClient(secrets: SecretCache, integration: Pick<Integration, 'tenantId' | 'id'>): Promise<OAuthClientDoc | undefined> {
  const secret = await secrets.get(oauthClientSecretName(integration.tenantId, integration.id));
  if (!secret) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(secret.value);
  } catch {
    throw new AuthError('The stored OAuth client is not JSON; register it again');
  }
  const parsed = oauthClientDocSchema.safeParse(raw);
  if (!parsed.success) throw new AuthError('The stored OAuth client is not valid; register it again');
  registerCredentialStrings(parsed.data);
  return parsed.data;
}

/** Key Vault keeps `exp` as a signed 32-bit count of seconds; later dates are left off. */
const MAX_EXPIRES_MS = 2 ** 31 * 1000 - 1000;

export async function writeOAuthClient(
  secrets: SecretCache,
  integration: Pick<Integration, 'tenantId' | 'id' | 'provider'>,
  doc: OAuthClientDoc,
): Promise<void> {
  const expires = doc.expiresAt === undefined ? undefined : Date.parse(doc.expiresAt);
  await secrets.write(oauthClientSecretName(integration.tenantId, integration.id), JSON.stringify(doc), {
    tags: { tenant: integration.tenantId, integration: integration.id, provider: integration.provider, kind: 'oauth-client' },
    contentType: 'application/json',
    // The identity provider stated this client secret's lifetime: Key Vault shows and alerts on it too.
    ...(expires !== undefined && expires < MAX_EXPIRES_MS ? { expiresOn: new Date(expires) } : {}),
  });
}
