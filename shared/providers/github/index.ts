/**
 * GitHub: issues and pull requests of one repository, pulled incrementally by
 * `updated_at`, with signed `X-Hub-Signature-256` webhooks as sync triggers.
 * The shape every provider folder follows: schemas.ts (zod for everything
 * read from outside), pull.ts, ratelimit.ts, webhook.ts, and this definition.
 */
import type { ProviderDefinition } from '../types';
import { pullGithubIssues } from './pull';
import { parseGithubRateLimit } from './ratelimit';
import { githubConfigSchema, githubCredentialsSchema, type GithubConfig, type GithubCredentials } from './schemas';
import { githubWebhook } from './webhook';

export type { GithubConfig, GithubCredentials } from './schemas';

export const githubProvider: ProviderDefinition<GithubConfig, GithubCredentials> = {
  key: 'github',
  displayName: 'GitHub',
  defaultBaseUrl: 'https://api.github.com',
  configSchema: githubConfigSchema,
  credentialsSchema: githubCredentialsSchema,
  webhook: githubWebhook,
  pull: pullGithubIssues,
  parseRateLimit: (status, headers) => parseGithubRateLimit(status, headers),
};
