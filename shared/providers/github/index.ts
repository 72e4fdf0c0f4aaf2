/**
 * GitHub: issues and pull requests of one repository, pulled incrementally by
 * `updated_at`, with signed `X-Hub-Signature-256` webhooks as sync triggers,
 * issue push (create / update / close) and OAuth user tokens that refresh
 * with rotation. The shape every provider folder follows: schemas.ts (zod for
 * everything read from outside), pull.ts, push.ts, auth.ts, ratelimit.ts,
 * webhook.ts, and this definition.
 */
import type { ProviderDefinition } from '../types';
import { githubAuth } from './auth';
import { pullGithubIssues } from './pull';
import { githubPush } from './push';
import { parseGithubRateLimit } from './ratelimit';
import { githubConfigSchema, githubCredentialsSchema, type GithubConfig, type GithubCredentials } from './schemas';
import { githubEventRecords } from './events';
import { githubWebhook } from './webhook';

export type { GithubConfig, GithubCredentials, GithubOAuthCredentials } from './schemas';

export const githubProvider: ProviderDefinition<GithubConfig, GithubCredentials> = {
  key: 'github',
  displayName: 'GitHub',
  defaultBaseUrl: 'https://api.github.com',
  configSchema: githubConfigSchema,
  credentialsSchema: githubCredentialsSchema,
  webhook: { ...githubWebhook, records: (rawBody, _config, events) => githubEventRecords(rawBody, events) },
  pull: pullGithubIssues,
  push: githubPush,
  auth: githubAuth,
  parseRateLimit: (status, headers) => parseGithubRateLimit(status, headers),
  egress: {
    // The REST API, and github.com for the OAuth web flow's token endpoint (auth.ts oauthBaseUrl).
    // https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api
    hosts: ['api.github.com', 'github.com'],
    // GitHub Enterprise Server / Cloud with data residency: only hosts the admin lists in config.
    configHosts: (config) => config.enterpriseHosts ?? [],
    configUrls: (config) => ({ oauthBaseUrl: config.oauthBaseUrl }),
  },
};
