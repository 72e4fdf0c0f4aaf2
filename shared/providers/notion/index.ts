/**
 * Notion: the pages of one data source, pulled incrementally by
 * `last_edited_time` (deletions = pages in the trash), pushed back as page
 * create / property update / move to trash, with `X-Notion-Signature`
 * webhooks (and their one-time verification_token handshake) as sync
 * triggers. Internal integration tokens or public OAuth with rotating
 * refresh tokens. Files: schemas.ts (zod for everything read from outside),
 * api.ts (headers, URLs, typed errors), pull.ts, normalize.ts, push.ts,
 * auth.ts, webhook.ts, ratelimit.ts.
 */
import type { ProviderDefinition } from '../types';
import { notionAuth } from './auth';
import { pullNotionPages } from './pull';
import { notionPush } from './push';
import { parseNotionRateLimit } from './ratelimit';
import { notionConfigSchema, notionCredentialsSchema, type NotionConfig, type NotionCredentials } from './schemas';
import { notionWebhook } from './webhook';

export type { NotionConfig, NotionCredentials } from './schemas';

export const notionProvider: ProviderDefinition<NotionConfig, NotionCredentials> = {
  key: 'notion',
  displayName: 'Notion',
  defaultBaseUrl: 'https://api.notion.com',
  configSchema: notionConfigSchema,
  credentialsSchema: notionCredentialsSchema,
  webhook: notionWebhook,
  pull: pullNotionPages,
  push: notionPush,
  auth: notionAuth,
  parseRateLimit: (status, headers) => parseNotionRateLimit(status, headers),
  // API and OAuth token endpoint (/v1/oauth/token) share the one host: https://developers.notion.com/reference/intro
  egress: { hosts: ['api.notion.com'] },
};
