/**
 * The OAuth authorization-code flow with PKCE (RFC 7636, S256):
 * - start: a nonce, a PKCE pair and a browser-binding value; the verifier and
 *   the binding's hash are kept in the key-value store under the nonce for the
 *   state's lifetime; the browser gets the binding as a cookie and is sent to
 *   the provider with a signed, expiring state naming the integration.
 * - callback: the state's signature and expiry, the cookie (the callback must
 *   come from the browser that started the flow, so a stolen state cannot
 *   attach someone else's account), then the nonce is consumed (one use),
 *   the code exchanged, the tokens stored as a new credential generation and
 *   the integration marked active.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Integration } from '../domain/types';
import { AuthError, InputError } from '../errors';
import type { KeyValueStore } from '../kv/port';
import type { Logger } from '../observability/logger';
import { pkcePair } from '../providers/oauth';
import type { ProviderDefinition, ProviderRegistry } from '../providers/types';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import type { SecretCache } from './cache';
import { readOAuthClient, toOAuthClient } from './oauth-client';
import { flowCookieName, readCookie, sameSecret, sha256Base64url, signState, STATE_TTL_MS, verifyState } from './oauth-state';
import type { CredentialService } from './service';
import { notifyAbout, setIntegrationStatus } from './status';

export interface OAuthFlowDeps {
  repos: Repositories;
  providers: ProviderRegistry;
  kv: KeyValueStore;
  secrets: SecretCache;
  credentials: CredentialService;
  /** HMAC key for `state` (setting OAUTH_STATE_KEY); undefined → the flow answers 503. */
  stateKey: Buffer | undefined;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
}

const flowSchema = z.object({ verifier: z.string().min(43).max(128), binding: z.string().min(1) });
const flowKey = (nonce: string): string => `oauth:flow:{${nonce}}`;

export interface StartResult {
  location: string;
  setCookie: string;
}

function requireKey(deps: OAuthFlowDeps): Buffer {
  if (!deps.stateKey) throw new OAuthUnavailableError();
  return deps.stateKey;
}

/** The OAuth flow cannot run without its state key: a configuration problem, answered 503. */
export class OAuthUnavailableError extends Error {
  constructor() {
    super('OAuth connect is not configured (OAUTH_STATE_KEY)');
    this.name = 'OAuthUnavailableError';
  }
}

type OAuthSupportOf = NonNullable<NonNullable<ProviderDefinition['auth']>['oauth']>;

function oauthProvider(deps: OAuthFlowDeps, key: string): { provider: ProviderDefinition; oauth: OAuthSupportOf } {
  const provider = deps.providers.get(key);
  const oauth = provider?.auth?.oauth;
  if (!provider || !oauth) throw new InputError(404, `Provider '${key}' has no OAuth connect flow`);
  return { provider, oauth };
}

function parseFlow(raw: string | undefined): z.infer<typeof flowSchema> | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = flowSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function integrationFor(deps: OAuthFlowDeps, provider: ProviderDefinition, tenantId: string, integrationId: string): Promise<Stored<Integration>> {
  const integration = await deps.repos.getIntegration(tenantId, integrationId);
  if (!integration) throw new InputError(404, `Integration '${integrationId}' not found`);
  if (integration.provider !== provider.key) throw new InputError(409, `Integration '${integrationId}' uses provider '${integration.provider}'`);
  return integration;
}

async function clientFor(deps: OAuthFlowDeps, integration: Integration): Promise<ReturnType<typeof toOAuthClient>> {
  let doc;
  try {
    doc = await readOAuthClient(deps.secrets, integration);
  } catch (error) {
    if (error instanceof AuthError) throw new InputError(409, error.message);
    throw error;
  }
  if (!doc) throw new InputError(409, 'Register the OAuth client first (PUT .../oauth-client)');
  return toOAuthClient(doc);
}

function configFor(provider: ProviderDefinition, integration: Integration): unknown {
  const config = provider.configSchema.safeParse(integration.config);
  if (!config.success) throw new InputError(409, 'Integration config is invalid; fix it before connecting');
  return config.data;
}

export async function startOAuthFlow(deps: OAuthFlowDeps, providerKey: string, tenantId: string, integrationId: string): Promise<StartResult> {
  const key = requireKey(deps);
  const { provider, oauth } = oauthProvider(deps, providerKey);
  const integration = await integrationFor(deps, provider, tenantId, integrationId);
  const client = await clientFor(deps, integration);
  const config = configFor(provider, integration);

  const nonce = randomBytes(16).toString('base64url');
  const binding = randomBytes(32).toString('base64url');
  const { verifier, challenge } = pkcePair();
  const expiresAt = deps.now().getTime() + STATE_TTL_MS;
  await deps.kv.set(flowKey(nonce), JSON.stringify({ verifier, binding: sha256Base64url(binding) }), STATE_TTL_MS);
  const state = signState(key, { provider: provider.key, tenantId, integrationId, nonce, expiresAt });
  const location = oauth.authorizeUrl(integration.baseUrl, config, client, { state, codeChallenge: challenge });
  if (!/^https?:\/\//i.test(location)) throw new InputError(409, 'The provider built an authorize URL that is not http(s)');

  const redirect = new URL(client.redirectUri);
  const cookie = [
    `${flowCookieName(nonce)}=${binding}`,
    `Path=${redirect.pathname}`,
    `Max-Age=${STATE_TTL_MS / 1000}`,
    'HttpOnly',
    // Lax: the provider's redirect back is a top-level GET, which carries Lax cookies.
    'SameSite=Lax',
    ...(redirect.protocol === 'https:' ? ['Secure'] : []),
  ].join('; ');
  deps.logger.info('oauth connect started', { provider: provider.key, tenantId, integrationId });
  return { location, setCookie: cookie };
}

export interface CallbackInput {
  providerKey: string;
  query: URLSearchParams;
  cookieHeader: string | undefined;
}

export interface CallbackResult {
  integration: Integration;
  generation: number;
  clearCookie: string;
}

/** OAuth error codes are [a-z_]; anything else is not echoed. */
const errorCode = (value: string | null): string => (value !== null && /^[a-z_]{1,64}$/.test(value) ? value : 'unknown_error');

export async function completeOAuthFlow(deps: OAuthFlowDeps, input: CallbackInput): Promise<CallbackResult> {
  const key = requireKey(deps);
  const { provider, oauth } = oauthProvider(deps, input.providerKey);
  const check = verifyState(key, input.query.get('state') ?? '', deps.now().getTime());
  if (!check.ok) throw new InputError(400, `Invalid OAuth state: ${check.reason}`);
  const { state } = check;
  if (state.provider !== provider.key) throw new InputError(400, 'Invalid OAuth state: issued for another provider');

  const raw = await deps.kv.get(flowKey(state.nonce));
  const flow = parseFlow(raw);
  if (raw === undefined || !flow) throw new InputError(400, 'Invalid OAuth state: already used or expired; start the connection again');
  const cookieName = flowCookieName(state.nonce);
  const cookie = readCookie(input.cookieHeader, cookieName);
  if (cookie === undefined || !sameSecret(sha256Base64url(cookie), flow.binding)) {
    throw new InputError(400, 'Invalid OAuth state: finish the connection in the browser that started it');
  }
  // One use: whoever deletes the entry owns the callback.
  if (!(await deps.kv.deleteIfEquals(flowKey(state.nonce), raw))) throw new InputError(400, 'Invalid OAuth state: already used');

  if (input.query.get('error') !== null) throw new InputError(400, `The provider did not authorise the connection (${errorCode(input.query.get('error'))})`);
  const code = input.query.get('code');
  if (code === null || code.length === 0 || code.length > 2048) throw new InputError(400, 'The callback has no authorization code');

  const integration = await integrationFor(deps, provider, state.tenantId, state.integrationId);
  const client = await clientFor(deps, integration);
  const config = configFor(provider, integration);
  const clearCookie = `${cookieName}=; Path=${new URL(client.redirectUri).pathname}; Max-Age=0; HttpOnly; SameSite=Lax`;
  let obtained: unknown;
  try {
    obtained = await oauth.exchangeCode({ baseUrl: integration.baseUrl, config, fetch: deps.fetch }, client, { code, codeVerifier: flow.verifier });
  } catch (error) {
    // The provider refused the code (reused, expired, PKCE mismatch): the admin starts again.
    if (error instanceof AuthError) throw new InputError(400, `The provider refused the authorization code: ${error.message}`);
    throw error;
  }
  const credentials = provider.credentialsSchema.safeParse(obtained);
  if (!credentials.success) throw new InputError(409, `The ${provider.key} token response does not match its credentials schema`);

  const written = await deps.credentials.replace(integration, { kind: 'oauth', credentials: credentials.data, createdAt: deps.now().toISOString() });
  // Connecting is an explicit admin action: the integration is active even if it was disabled.
  const stored = (await setIntegrationStatus(deps.repos, { tenantId: integration.tenantId, integrationId: integration.id }, 'active', deps.now())) ?? integration;
  await notifyAbout(deps.credentials.noticeDeps(), integration, {
    kind: 'connected',
    severity: 'info',
    title: `${provider.displayName} integration ${integration.id} connected`,
    detail: 'OAuth connect completed; tokens stored.',
    dedupeKey: `connected:${integration.tenantId}:${integration.id}:${written.version}`,
  });
  deps.logger.info('oauth connect completed', { provider: provider.key, tenantId: integration.tenantId, integrationId: integration.id, generation: written.generation });
  return { integration: stored, generation: written.generation, clearCookie };
}
