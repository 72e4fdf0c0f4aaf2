import { randomBytes, randomUUID } from 'node:crypto';
import { signStandardWebhook } from '../../../shared/webhooks/standard-webhooks';
import { curlCommand, type ProviderSandbox, type SandboxFactory } from '../types';
import { startSalesforceSandbox } from './index';

/**
 * The Salesforce sandbox as `npm start` runs it: 60 Accounts and 150
 * Contacts, a static session (the `token` credential mode: no browser, no
 * connected app), the org id for Outbound Messages and a Standard Webhooks
 * secret for signed callouts.
 */
export const salesforceDemoSandbox: SandboxFactory = async () => {
  const sf = await startSalesforceSandbox();
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  let seeded = false;
  const sandbox: ProviderSandbox = {
    provider: 'salesforce',
    url: sf.url,
    close: () => sf.close(),
    demoIntegration: () => {
      if (!seeded) {
        sf.seed('Account', 60);
        sf.seed('Contact', 150);
        seeded = true;
      }
      return {
        integrationId: 'demo-salesforce',
        body: {
          provider: 'salesforce',
          baseUrl: sf.url,
          config: {
            apiVersion: '62.0',
            organizationId: sf.organizationId,
            objects: [
              { name: 'Account', fields: ['Name', 'Industry', 'Phone', 'Website', 'AnnualRevenue', 'NumberOfEmployees'], externalIdField: 'Castiel_Id__c' },
              { name: 'Contact', fields: ['FirstName', 'LastName', 'Email', 'AccountId'], externalIdField: 'Castiel_Id__c' },
            ],
          },
          credentials: { type: 'token', accessToken: sf.issueAccessToken(), instanceUrl: sf.instanceUrl },
          webhookSecret,
        },
      };
    },
    demoWebhook: (webhookUrl) => {
      // A signed Apex callout; the timestamp must be within 5 minutes when pasted.
      const body = JSON.stringify({ type: 'record.changed', sobject: 'Account', recordId: '001000000000001AAA', note: 'Hello from curl' });
      const id = `msg_${randomUUID().replace(/-/g, '')}`;
      const timestamp = Math.floor(Date.now() / 1000);
      // Both carry the signature of the original body, so the tampered copy must fail.
      const headers = {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(webhookSecret, id, timestamp, body),
      };
      const tampered = body.replace('Hello', 'Jello');
      return { signed: curlCommand(webhookUrl, headers, body), tampered: curlCommand(webhookUrl, headers, tampered) };
    },
  };
  return sandbox;
};
