/**
 * Google: Drive files (changes feed) and Calendar events (sync tokens),
 * pulled incrementally; Calendar events pushed back; OAuth (PKCE) and
 * service-account credentials; Pub/Sub OIDC pushes and Drive/Calendar watch
 * channels as sync triggers. `createGoogleProvider` takes a runtime (clock,
 * jitter, sleep, in-process retries) so tests need not wait.
 */
import type { ProviderDefinition } from '../types';
import { GOOGLE_API_BASE, googleAuth } from './auth';
import { pullGoogle } from './pull';
import { googlePush } from './push';
import { parseGoogleRateLimit } from './ratelimit';
import { googleRuntime, type GoogleRuntime } from './runtime';
import { googleConfigSchema, googleCredentialsSchema, type GoogleConfig, type GoogleCredentials } from './schemas';
import { googleWebhook } from './webhook';

export type { GoogleConfig, GoogleCredentials, GoogleOAuthCredentials, GoogleServiceAccountCredentials } from './schemas';
export type { GoogleRuntime } from './runtime';

export function createGoogleProvider(runtime: Partial<GoogleRuntime> = {}): ProviderDefinition<GoogleConfig, GoogleCredentials> {
  const rt = googleRuntime(runtime);
  return {
    key: 'google',
    displayName: 'Google (Drive, Calendar)',
    defaultBaseUrl: GOOGLE_API_BASE,
    configSchema: googleConfigSchema,
    credentialsSchema: googleCredentialsSchema,
    webhook: googleWebhook,
    pull: (ctx) => pullGoogle(ctx, rt),
    push: googlePush(rt),
    auth: googleAuth(rt),
    parseRateLimit: (status, headers) => parseGoogleRateLimit(status, headers, { now: rt.now(), random: rt.random }),
    // Drive and Calendar (www.googleapis.com) and the token endpoint (oauth2.googleapis.com).
    // https://developers.google.com/identity/protocols/oauth2/web-server#exchange-authorization-code
    egress: { hosts: ['*.googleapis.com'], configUrls: (config) => ({ tokenUri: config.tokenUri }) },
  };
}

export const googleProvider = createGoogleProvider();
