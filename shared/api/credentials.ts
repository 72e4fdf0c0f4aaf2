/**
 * Admin API for credentials. Write-only: secrets go in, and only metadata
 * (kind, generation, dates, rotation state) ever comes out.
 *   PUT  /admin/tenants/{t}/integrations/{i}/credentials          API keys, bot tokens, service-account keys, internal tokens, OAuth tokens
 *   GET  /admin/tenants/{t}/integrations/{i}/credentials          metadata of the credential and OAuth client
 *   PUT  /admin/tenants/{t}/integrations/{i}/oauth-client         client id, client secret, redirect URI, scopes
 *   POST /admin/tenants/{t}/integrations/{i}/webhook-secret/rotate  new webhook secret, previous one verifies through an overlap window
 */
import { z } from 'zod';
import { CREDENTIAL_KINDS, type StoredCredential } from '../credentials/envelope';
import { OAUTH_CLIENT_FORMAT, readOAuthClient, writeOAuthClient, type OAuthClientDoc } from '../credentials/oauth-client';
import { DEFAULT_WEBHOOK_OVERLAP_HOURS, MAX_WEBHOOK_OVERLAP_HOURS, rotationStatus } from '../credentials/policies';
import { rotateWebhookSecret, webhookSecretSchema } from '../credentials/webhook-rotation';
import type { CredentialAdminDeps } from '../credentials/wiring';
import type { Integration } from '../domain/types';
import { AuthError, InputError } from '../errors';
import type { ProviderDefinition } from '../providers/types';
import type { Stored } from '../storage/port';
import { assertIntegrationEgress } from '../http/egress-providers';
import { adminRoute, ok, parseWith, readJson, type ApiRequest } from './http';
import { routeId } from './ids';

const isoDate = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' });
const maxAgeDays = z.number().int().min(1).max(3650);

const credentialsBody = z.strictObject({
  kind: z.enum(CREDENTIAL_KINDS),
  credentials: z.record(z.string(), z.unknown()),
  /** The credential's end of life, when the provider or the admin set one (a PAT's expiry date). */
  expiresAt: isoDate.optional(),
  maxAgeDays: maxAgeDays.optional(),
});

const oauthClientBody = z.strictObject({
  clientId: z.string().min(1).max(512),
  clientSecret: z.string().min(1).max(4096),
  redirectUri: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  scopes: z.array(z.string().min(1).max(256)).max(100).optional(),
  clientSecretExpiresAt: isoDate.optional(),
  maxAgeDays: maxAgeDays.optional(),
});

const rotateBody = z.strictObject({
  // The same rule as an integration PUT/PATCH's webhookSecret.
  secret: webhookSecretSchema,
  overlapHours: z.number().int().min(0).max(MAX_WEBHOOK_OVERLAP_HOURS).optional(),
});

async function integrationOf(deps: CredentialAdminDeps, request: ApiRequest): Promise<Stored<Integration>> {
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const integration = await deps.repos.getIntegration(tenantId, integrationId);
  if (!integration) throw new InputError(404, `Integration '${integrationId}' not found`);
  return integration;
}

function providerOf(deps: CredentialAdminDeps, integration: Integration): ProviderDefinition {
  const provider = deps.providers.get(integration.provider);
  if (!provider) throw new InputError(409, `Provider '${integration.provider}' is not registered`);
  return provider;
}

function credentialView(c: StoredCredential, now: Date): Record<string, unknown> {
  return {
    present: true,
    kind: c.kind,
    generation: c.generation,
    createdAt: c.createdAt ?? null,
    updatedAt: c.updatedAt ?? null,
    accessExpiresAt: c.accessExpiresAt === undefined ? null : new Date(c.accessExpiresAt).toISOString(),
    expiresAt: c.expiresAt === undefined ? null : new Date(c.expiresAt).toISOString(),
    rotation: rotationStatus(c.kind, c.createdAt, c.maxAgeDays, now),
  };
}

function oauthClientView(doc: OAuthClientDoc, now: Date): Record<string, unknown> {
  return {
    present: true,
    // The client id is public (it is in every authorize URL); the secret never leaves the vault.
    clientId: doc.clientId,
    redirectUri: doc.redirectUri,
    scopes: doc.scopes ?? [],
    hasClientSecret: true,
    createdAt: doc.createdAt,
    expiresAt: doc.expiresAt ?? null,
    rotation: rotationStatus('oauth-client', doc.createdAt, doc.maxAgeDays, now),
  };
}

export const putCredentials = adminRoute<CredentialAdminDeps>(async (deps, request) => {
  const body = await readJson(request, credentialsBody);
  const integration = await integrationOf(deps, request);
  const provider = providerOf(deps, integration);
  const credentials = parseWith(provider.credentialsSchema, body.credentials, 'credentials');
  // A credential can name where calls go (Salesforce's instanceUrl): the same egress rules as the integration PUT, as a 400.
  assertIntegrationEgress(deps.providers, provider, { baseUrl: integration.baseUrl, config: integration.config, credentials });
  if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= deps.now().getTime()) throw new InputError(400, 'expiresAt: must be in the future');
  const written = await deps.credentials.replace(integration, {
    kind: body.kind,
    credentials,
    createdAt: deps.now().toISOString(),
    ...(body.expiresAt === undefined ? {} : { expiresAt: body.expiresAt }),
    ...(body.maxAgeDays === undefined ? {} : { maxAgeDays: body.maxAgeDays }),
  });
  deps.logger.info('credentials replaced', { tenantId: integration.tenantId, integrationId: integration.id, kind: body.kind, generation: written.generation });
  return ok({ integrationId: integration.id, provider: integration.provider, credentials: credentialView(written, deps.now()) });
});

export const getCredentials = adminRoute<CredentialAdminDeps>(async (deps, request) => {
  const integration = await integrationOf(deps, request);
  const provider = providerOf(deps, integration);
  const now = deps.now();
  let credentials: Record<string, unknown>;
  try {
    const c = await deps.credentials.store.read(integration, provider);
    credentials = c ? credentialView(c, now) : { present: false };
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    credentials = { present: true, readable: false, reason: error.message };
  }
  let oauthClient: Record<string, unknown>;
  try {
    const doc = await readOAuthClient(deps.secrets, integration);
    oauthClient = doc ? oauthClientView(doc, now) : { present: false };
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    oauthClient = { present: true, readable: false };
  }
  return ok({ integrationId: integration.id, provider: integration.provider, status: integration.status, credentials, oauthClient });
});

export const putOAuthClient = adminRoute<CredentialAdminDeps>(async (deps, request) => {
  const body = await readJson(request, oauthClientBody);
  const integration = await integrationOf(deps, request);
  const provider = providerOf(deps, integration);
  if (!provider.auth?.oauth) throw new InputError(409, `Provider '${provider.key}' has no OAuth connect flow`);
  // The provider sends the browser back here; anything else would strand the flow.
  if (!new URL(body.redirectUri).pathname.endsWith(`/oauth/${provider.key}/callback`)) {
    throw new InputError(400, `redirectUri: must end with /api/oauth/${provider.key}/callback`);
  }
  const doc: OAuthClientDoc = {
    format: OAUTH_CLIENT_FORMAT,
    clientId: body.clientId,
    clientSecret: body.clientSecret,
    redirectUri: body.redirectUri,
    ...(body.scopes === undefined ? {} : { scopes: body.scopes }),
    createdAt: deps.now().toISOString(),
    ...(body.clientSecretExpiresAt === undefined ? {} : { expiresAt: body.clientSecretExpiresAt }),
    ...(body.maxAgeDays === undefined ? {} : { maxAgeDays: body.maxAgeDays }),
  };
  await writeOAuthClient(deps.secrets, integration, doc);
  deps.logger.info('oauth client registered', { tenantId: integration.tenantId, integrationId: integration.id, provider: provider.key });
  return ok({ integrationId: integration.id, provider: provider.key, oauthClient: oauthClientView(doc, deps.now()) });
});

export const postWebhookSecretRotation = adminRoute<CredentialAdminDeps>(async (deps, request) => {
  const body = await readJson(request, rotateBody);
  const tenantId = routeId(request.params, 'tenantId');
  const integrationId = routeId(request.params, 'integrationId');
  const overlapHours = body.overlapHours ?? DEFAULT_WEBHOOK_OVERLAP_HOURS;
  const result = await rotateWebhookSecret(deps.webhookRotation, { tenantId, integrationId }, body.secret, overlapHours);
  return ok({
    integrationId,
    rotated: true,
    webhookPath: `/api/webhooks/${result.integration.provider}/${integrationId}`,
    previousValidUntil: result.previousValidUntil ?? null,
  });
});
