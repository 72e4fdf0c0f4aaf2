import { randomBytes } from 'node:crypto';
import { signSlackRequest } from '../../../shared/providers/slack/webhook';
import { curlCommand, type ProviderSandbox, type SandboxFactory } from '../types';
import { startSlackSandbox } from './index';

const DEMO_CHANNELS = ['C0DEMOGENERAL', 'C0DEMORANDOM'] as const;

/**
 * The Slack sandbox as `npm start` runs it: two channels of seeded messages,
 * a static bot token (no browser needed) and a signing secret. The sandbox
 * stays a Marketplace-tier app so the demo sync is not held to 1 request a minute.
 */
export const slackDemoSandbox: SandboxFactory = async () => {
  const slack = await startSlackSandbox();
  const token = `xoxb-demo-${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const sandbox: ProviderSandbox = {
    provider: 'slack',
    url: slack.url,
    close: () => slack.close(),
    demoIntegration: () => {
      slack.addToken(token);
      slack.seedMessages(DEMO_CHANNELS[0], 120);
      slack.seedMessages(DEMO_CHANNELS[1], 30);
      return {
        integrationId: 'demo-slack',
        body: {
          provider: 'slack',
          baseUrl: slack.apiUrl,
          config: { channels: [...DEMO_CHANNELS], teamId: slack.identity.teamId },
          credentials: { type: 'bot', token },
          webhookSecret: signingSecret,
        },
      };
    },
    demoWebhook: (webhookUrl) => {
      const event = { type: 'message', channel: DEMO_CHANNELS[0], user: slack.identity.installerUserId, text: 'Hello from curl', ts: '1704067300.000001' };
      const body = JSON.stringify(slack.envelope(event));
      // Slack refuses requests older than 5 minutes, and so do we: paste these within that window.
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        'content-type': 'application/json',
        'x-slack-request-timestamp': String(timestamp),
        // Both carry the signature of the original body, so the tampered copy must fail.
        'x-slack-signature': signSlackRequest(signingSecret, timestamp, body),
      };
      const tampered = body.replace('Hello', 'Jello');
      return { signed: curlCommand(webhookUrl, headers, body), tampered: curlCommand(webhookUrl, headers, tampered) };
    },
  };
  return sandbox;
};
