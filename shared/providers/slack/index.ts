/**
 * Slack: messages of the configured conversations, pulled incrementally with
 * conversations.history, pushed with chat.postMessage / update / delete,
 * with signed Events API deliveries as sync triggers (and the only source
 * of edits and deletions: see pull.ts and events.ts). Auth by bot token or
 * OAuth v2, with or without token rotation (auth.ts).
 */
import type { ProviderDefinition } from '../types';
import { slackAuth } from './auth';
import { pullSlackMessages } from './pull';
import { slackPush } from './push';
import { parseSlackRateLimit } from './ratelimit';
import { slackConfigSchema, slackCredentialsSchema, type SlackConfig, type SlackCredentials } from './schemas';
import { slackEventRecords } from './events';
import { slackWebhook } from './webhook';

export type { SlackConfig, SlackCredentials } from './schemas';
export { slackEventRecords } from './events';

export const slackProvider: ProviderDefinition<SlackConfig, SlackCredentials> = {
  key: 'slack',
  displayName: 'Slack',
  defaultBaseUrl: 'https://slack.com/api',
  configSchema: slackConfigSchema,
  credentialsSchema: slackCredentialsSchema,
  webhook: { ...slackWebhook, records: slackEventRecords },
  pull: pullSlackMessages,
  push: slackPush,
  auth: slackAuth,
  parseRateLimit: (status, headers) => parseSlackRateLimit(status, headers),
  // Every Web API method, oauth.v2.access included, is under https://slack.com/api/ (https://docs.slack.dev/apis/web-api/).
  egress: { hosts: ['slack.com'] },
};
