/**
 * One signed delivery builder per webhook scheme, for tests that push many
 * distinct deliveries through the local host: each call makes a fresh
 * delivery id. The integration bodies are the smallest valid ones; the
 * webhook path never calls the provider.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { channelHeaders } from '../../local/sandbox/google/webhooks';
import { pageEventPayload } from '../../local/sandbox/notion/webhooks';
import { outboundMessageXml } from '../../local/sandbox/salesforce/webhooks';
import { signGithubPayload } from '../../shared/providers/github/webhook';
import { signSlackRequest } from '../../shared/providers/slack/webhook';
import { signStandardWebhook } from '../../shared/webhooks/standard-webhooks';

export interface Delivery {
  /** The delivery ids the receiver derives from it. */
  deliveryIds: string[];
  headers: Record<string, string>;
  body: string;
  /** True when the delivery carries records (an apply job is queued besides the sync). */
  carriesRecords: boolean;
}

export interface Scheme {
  name: string;
  provider: string;
  integrationId: string;
  integration: { provider: string; baseUrl: string; config: Record<string, unknown>; credentials: Record<string, unknown>; webhookSecret: string };
  next(): Delivery;
}

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const BASE_URL = 'http://127.0.0.1:9';
const ORG_ID = '00D000000000001AAA';
const SLACK_TEAM = 'T0FAULTS';
const SLACK_CHANNEL = 'C0FAULTS01';

export function webhookSchemes(): Scheme[] {
  let seq = 0;
  const ghSecret = 'gh-fault-secret-0123456789';
  const slackSecret = 'slack-fault-secret-0123456789';
  const notionToken = `secret_${randomBytes(16).toString('hex')}`;
  const sfSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const channelToken = randomBytes(24).toString('base64url');
  const dataSourceId = randomUUID();
  const deleted = readFileSync(path.join(FIXTURES, 'github', 'issues.deleted.json'), 'utf8');
  const channelId = randomUUID();

  return [
    {
      name: 'github hmac (issues.deleted carries the deletion)',
      provider: 'github',
      integrationId: 'flt-github',
      integration: { provider: 'github', baseUrl: BASE_URL, config: { owner: 'octo', repo: 'faults' }, credentials: { type: 'token', token: 'ghp_faultfaultfault0001' }, webhookSecret: ghSecret },
      next: () => {
        const id = randomUUID();
        return { deliveryIds: [id], body: deleted, carriesRecords: true, headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': id, 'x-hub-signature-256': signGithubPayload(ghSecret, deleted) } };
      },
    },
    {
      name: 'slack v0 (message_deleted carries the deletion)',
      provider: 'slack',
      integrationId: 'flt-slack',
      integration: { provider: 'slack', baseUrl: BASE_URL, config: { channels: [SLACK_CHANNEL], teamId: SLACK_TEAM }, credentials: { type: 'bot', token: 'xoxb-fault-0001' }, webhookSecret: slackSecret },
      next: () => {
        const eventId = `Ev${(++seq).toString(36).toUpperCase().padStart(9, '0')}`;
        const ts = `17040673${String(seq).padStart(2, '0')}.000100`;
        const body = JSON.stringify({
          token: 'verification-token',
          team_id: SLACK_TEAM,
          api_app_id: 'A0FAULTS',
          event: { type: 'message', subtype: 'message_deleted', hidden: true, channel: SLACK_CHANNEL, channel_type: 'channel', ts, event_ts: ts, deleted_ts: `1704060000.${String(seq).padStart(6, '0')}`, previous_message: { type: 'message', user: 'U0FAULTS', text: 'gone', ts: `1704060000.${String(seq).padStart(6, '0')}` } },
          type: 'event_callback',
          event_id: eventId,
          event_time: 1704067300,
        });
        const timestamp = Math.floor(Date.now() / 1000);
        return { deliveryIds: [eventId], body, carriesRecords: true, headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signSlackRequest(slackSecret, timestamp, body) } };
      },
    },
    {
      name: 'notion hmac',
      provider: 'notion',
      integrationId: 'flt-notion',
      integration: { provider: 'notion', baseUrl: BASE_URL, config: { dataSourceId }, credentials: { type: 'internal', token: 'ntn_fault0001' }, webhookSecret: notionToken },
      next: () => {
        const payload = pageEventPayload({ type: 'page.properties_updated', pageId: randomUUID(), dataSourceId, workspaceId: randomUUID(), integrationId: randomUUID(), subscriptionId: randomUUID(), authorId: randomUUID(), timestamp: new Date().toISOString() });
        const body = JSON.stringify(payload);
        return { deliveryIds: [String(payload.id)], body, carriesRecords: false, headers: { 'content-type': 'application/json', 'x-notion-signature': `sha256=${createHmac('sha256', notionToken).update(body).digest('hex')}` } };
      },
    },
    {
      name: 'salesforce standard webhooks callout',
      provider: 'salesforce',
      integrationId: 'flt-sf-callout',
      integration: salesforceIntegration(sfSecret),
      next: () => {
        const id = `msg_${randomUUID().replace(/-/g, '')}`;
        const body = JSON.stringify({ type: 'record.changed', sobject: 'Account', recordId: '001000000000001AAA' });
        const timestamp = Math.floor(Date.now() / 1000);
        return { deliveryIds: [id], body, carriesRecords: false, headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signStandardWebhook(sfSecret, id, timestamp, body) } };
      },
    },
    {
      name: 'salesforce outbound message (unsigned, org id)',
      provider: 'salesforce',
      integrationId: 'flt-sf-outbound',
      integration: salesforceIntegration(sfSecret),
      next: () => {
        const id = `04l${randomBytes(6).toString('hex').slice(0, 12)}AAA`;
        const body = outboundMessageXml({ organizationId: ORG_ID, actionId: '04k000000000001AAA', instanceUrl: 'https://example.my.salesforce.com', notifications: [{ id, type: 'Account', fields: { Id: '001000000000001AAA', Name: 'Acme' } }] });
        return { deliveryIds: [id], body, carriesRecords: false, headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' } };
      },
    },
    {
      name: 'google watch channel token',
      provider: 'google',
      integrationId: 'flt-google',
      integration: { provider: 'google', baseUrl: BASE_URL, config: { calendar: { calendarId: 'primary' } }, credentials: { type: 'oauth', clientId: 'fault-client', clientSecret: 'fault-client-secret', accessToken: 'ya29.fault' }, webhookSecret: channelToken },
      next: () => {
        const messageNumber = ++seq + 1;
        const headers = channelHeaders({ url: '', channelId, resourceState: 'exists', messageNumber, resourceId: 'fault-resource', resourceUri: `${BASE_URL}/calendar/v3/calendars/primary/events?alt=json`, expiration: Date.now() + 3_600_000, token: channelToken });
        return { deliveryIds: [`${channelId}:${messageNumber}`], body: '', carriesRecords: false, headers };
      },
    },
  ];
}

function salesforceIntegration(secret: string): Scheme['integration'] {
  return {
    provider: 'salesforce',
    baseUrl: BASE_URL,
    config: { apiVersion: '62.0', organizationId: ORG_ID, objects: [{ name: 'Account', fields: ['Name'], externalIdField: 'Castiel_Id__c' }] },
    credentials: { type: 'token', accessToken: 'sf-fault-token', instanceUrl: BASE_URL },
    webhookSecret: secret,
  };
}
