/**
 * A test-only provider built against the AuthSupport interface alone, talking
 * to test/helpers/oauth-server.ts. Its credentials cover every kind the admin
 * API takes (OAuth tokens, API key, bot token, service-account key, internal
 * token). Its refresh is deliberately naive — it returns only what the token
 * endpoint sent — so the tests show the core keeps an omitted refresh token.
 */
import { z } from 'zod';
import { AuthError } from '../../shared/errors';
import { providerFetch } from '../../shared/http/provider-fetch';
import { expiresAtFrom, requestToken, tokenResponseSchema } from '../../shared/providers/oauth';
import type { OAuthClient, ProviderDefinition, ProviderRegistry, PullContext, PullPage } from '../../shared/providers/types';

export const FAKE_PROVIDER_KEY = 'fakeoauth';

export const fakeConfigSchema = z.object({ workspace: z.string().min(1).max(64) });
export type FakeConfig = z.infer<typeof fakeConfigSchema>;

export const fakeCredentialsSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('oauth'),
    accessToken: z.string().min(1),
    refreshToken: z.string().min(1).optional(),
    /** Access-token expiry, epoch ms. */
    expiresAt: z.number().int().positive().optional(),
    // The refresh grant authenticates the client; AuthSupport.refresh gets no client, so it rides along.
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
  }),
  z.object({ type: z.literal('api_key'), apiKey: z.string().min(1) }),
  z.object({ type: z.literal('bot'), botToken: z.string().min(1) }),
  z.object({ type: z.literal('service_account'), clientEmail: z.string().min(1), privateKey: z.string().min(1) }),
  z.object({ type: z.literal('internal'), token: z.string().min(1) }),
]);
export type FakeCredentials = z.infer<typeof fakeCredentialsSchema>;

export interface FakeProviderOptions {
  /** Clock for `expires_in` → expiresAt (tests that move time pass theirs). */
  now?: () => number;
  /** Runs after the token endpoint answered a refresh, before the result is returned (a stall: GC pause, slow CPU). */
  afterRefreshResponse?: () => Promise<void>;
}

function bearer(c: FakeCredentials): string {
  switch (c.type) {
    case 'oauth':
      return c.accessToken;
    case 'api_key':
      return c.apiKey;
    case 'bot':
      return c.botToken;
    case 'service_account':
      return c.privateKey;
    case 'internal':
      return c.token;
  }
}

const fromToken = (body: Record<string, unknown>, client: { id: string; secret: string }, now: number): FakeCredentials => {
  const t = tokenResponseSchema.parse(body);
  const expiresAt = expiresAtFrom(t, now);
  return {
    type: 'oauth',
    accessToken: t.access_token,
    ...(t.refresh_token === undefined ? {} : { refreshToken: t.refresh_token }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    clientId: client.id,
    clientSecret: client.secret,
  };
};

async function* pullMe(ctx: PullContext<FakeConfig, FakeCredentials>): AsyncGenerator<PullPage> {
  await providerFetch(ctx, `${ctx.baseUrl}/api/me`, { headers: { authorization: `Bearer ${bearer(ctx.credentials)}` } }, {
    parseRateLimit: () => ({}),
    describe: () => undefined,
    operation: 'fake me',
  });
  yield { records: [], cursor: {}, done: true };
}

export function createFakeOAuthProvider(options: FakeProviderOptions = {}): ProviderDefinition<FakeConfig, FakeCredentials> {
  const now = options.now ?? Date.now;
  return {
    key: FAKE_PROVIDER_KEY,
    displayName: 'Fake OAuth',
    defaultBaseUrl: 'http://127.0.0.1:9',
    configSchema: fakeConfigSchema,
    credentialsSchema: fakeCredentialsSchema,
    webhook: {
      keptHeaders: [],
      verify: () => ({ kind: 'reject', status: 401, reason: 'test provider' }),
    },
    pull: pullMe,
    parseRateLimit: () => ({}),
    auth: {
      expiresAt: (c) => (c.type === 'oauth' ? c.expiresAt : undefined),
      refresh: async (ctx, c) => {
        // Static credentials need no refresh and come back as they are (as GitHub's `token` credentials do).
        if (c.type !== 'oauth') return c;
        if (c.refreshToken === undefined) throw new AuthError('no refresh token to refresh with');
        const body = await requestToken({
          url: `${ctx.baseUrl}/oauth/token`,
          params: { grant_type: 'refresh_token', refresh_token: c.refreshToken },
          client: { id: c.clientId, secret: c.clientSecret, method: 'basic' },
          fetch: ctx.fetch,
        });
        await options.afterRefreshResponse?.();
        return fromToken(body, { id: c.clientId, secret: c.clientSecret }, now());
      },
      oauth: {
        authorizeUrl: (baseUrl, _config, client: OAuthClient, p) => {
          const u = new URL(`${baseUrl}/oauth/authorize`);
          u.searchParams.set('response_type', 'code');
          u.searchParams.set('client_id', client.clientId);
          u.searchParams.set('redirect_uri', client.redirectUri);
          u.searchParams.set('state', p.state);
          u.searchParams.set('code_challenge', p.codeChallenge);
          u.searchParams.set('code_challenge_method', 'S256');
          if (client.scopes) u.searchParams.set('scope', client.scopes.join(' '));
          return u.toString();
        },
        exchangeCode: async (ctx, client, p) => {
          const body = await requestToken({
            url: `${ctx.baseUrl}/oauth/token`,
            params: { grant_type: 'authorization_code', code: p.code, code_verifier: p.codeVerifier, redirect_uri: client.redirectUri },
            client: { id: client.clientId, secret: client.clientSecret, method: 'basic' },
            fetch: ctx.fetch,
          });
          return fromToken(body, { id: client.clientId, secret: client.clientSecret }, now());
        },
      },
    },
  };
}

/** A registry holding just this provider, as the core consumes registries. */
export function fakeRegistry(provider: ProviderDefinition<FakeConfig, FakeCredentials> = createFakeOAuthProvider()): ProviderRegistry {
  return {
    get: (key): ProviderDefinition | undefined => (key === FAKE_PROVIDER_KEY ? provider : undefined),
    keys: () => [FAKE_PROVIDER_KEY],
  };
}
