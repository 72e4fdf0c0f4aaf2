/**
 * Salesforce: configured sObjects pulled incrementally by SystemModstamp
 * through queryAll (deletions included), written back through the sObject
 * REST resources, with Outbound Messages and signed Apex/Flow callouts as
 * sync triggers. Auth: OAuth web-server flow (PKCE) with refresh, JWT
 * bearer, client credentials, or a static session.
 *
 * `baseUrl` is the login URL (token endpoint); API calls go to the
 * `instanceUrl` in the credentials, which every token response supplies.
 */
import type { ProviderDefinition } from '../types';
import { authorizeUrl, exchangeCode, expiresAt, refreshCredentials } from './auth';
import type { Clock } from './api';
import { pullSalesforce } from './pull';
import { pushSalesforce } from './push';
import { parseSalesforceRateLimit } from './ratelimit';
import { salesforceConfigSchema, salesforceCredentialsSchema, type SalesforceConfig, type SalesforceCredentials } from './schemas';
import { salesforceWebhook } from './webhook';

export type { SalesforceConfig, SalesforceCredentials, SalesforceObjectConfig } from './schemas';

export interface SalesforceProviderOptions {
  /** Clock for JWT expiry, the deleted feed's window and token issue times. Default Date.now. */
  now?: Clock;
}

export function createSalesforceProvider(options: SalesforceProviderOptions = {}): ProviderDefinition<SalesforceConfig, SalesforceCredentials> {
  const now = options.now ?? Date.now;
  return {
    key: 'salesforce',
    displayName: 'Salesforce',
    defaultBaseUrl: 'https://login.salesforce.com',
    configSchema: salesforceConfigSchema,
    credentialsSchema: salesforceCredentialsSchema,
    webhook: salesforceWebhook,
    pull: pullSalesforce(now),
    push: pushSalesforce(now),
    auth: {
      expiresAt,
      refresh: (ctx, credentials) => refreshCredentials(ctx, credentials, now),
      oauth: {
        authorizeUrl,
        exchangeCode: (ctx, client, params) => exchangeCode(ctx, client, params, now),
      },
    },
    parseRateLimit: (status, headers) => parseSalesforceRateLimit(status, headers, now()),
    egress: {
      // Login hosts for grants, My Domains (`*.my.salesforce.com`, sandboxes `*.sandbox.my.salesforce.com`)
      // and instance hosts (`na1.salesforce.com`): all under salesforce.com.
      // https://help.salesforce.com/s/articleView?id=sf.domain_name_formats.htm
      hosts: ['login.salesforce.com', 'test.salesforce.com', '*.my.salesforce.com', '*.salesforce.com'],
      // The API base every token response names; its access token goes there.
      credentialUrls: (credentials) => ({ instanceUrl: credentials.instanceUrl }),
    },
  };
}

export const salesforceProvider = createSalesforceProvider();
