/**
 * What every GitHub REST call shares: the headers (token from either
 * credential type), the error-body reader, the rate-limit hooks for
 * providerFetch, and URL building under a base URL that may carry a path
 * (GitHub Enterprise Server serves the API under /api/v3).
 */
import type { ProviderFetchOptions } from '../../http/provider-fetch';
import { isGithubRateLimitMessage, parseGithubRateLimit } from './ratelimit';
import { githubErrorSchema, type GithubConfig, type GithubCredentials } from './schemas';

/** Pin the REST API version (https://docs.github.com/rest/about-the-rest-api/api-versions). */
const API_VERSION = '2022-11-28';
const USER_AGENT = 'castiel-sync';

/** The bearer token of either credential type. */
export function githubAccessToken(credentials: GithubCredentials): string {
  return credentials.type === 'token' ? credentials.token : credentials.accessToken;
}

export function githubHeaders(credentials: GithubCredentials): Record<string, string> {
  return {
    Authorization: `Bearer ${githubAccessToken(credentials)}`,
    Accept: 'application/vnd.github+json',
    'X-GitHub-Api-Version': API_VERSION,
    // GitHub rejects API requests without a User-Agent.
    'User-Agent': USER_AGENT,
  };
}

export function describeGithubError(body: unknown): string | undefined {
  const parsed = githubErrorSchema.safeParse(body);
  return parsed.success ? parsed.data.message : undefined;
}

export function githubFetchOptions(operation: string): ProviderFetchOptions {
  return {
    parseRateLimit: (status, headers) => parseGithubRateLimit(status, headers),
    describe: describeGithubError,
    isRateLimitMessage: isGithubRateLimitMessage,
    operation,
  };
}

/** `{base}/repos/{owner}/{repo}/{rest}`, keeping a path prefix on the base URL. */
export function repoUrl(baseUrl: string | URL, config: GithubConfig, rest: string): URL {
  const base = new URL(baseUrl);
  const path = `repos/${encodeURIComponent(config.owner)}/${encodeURIComponent(config.repo)}/${rest}`;
  return new URL(path, base.href.endsWith('/') ? base.href : `${base.href}/`);
}
