import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { curlCommand, type ProviderSandbox, type SandboxFactory } from '../types';
import { startNotionSandbox } from './index';
import { newVerificationToken, pageEventPayload } from './webhooks';

/**
 * The Notion sandbox as `npm start` runs it: a "Tasks" data source with 120
 * pages (every 10th in the trash), an internal integration token (no browser
 * needed) and a verification token as the webhook secret — what the
 * subscription handshake would normally have captured.
 */
export const notionDemoSandbox: SandboxFactory = async () => {
  const notion = await startNotionSandbox();
  const token = `ntn_demo_${randomBytes(16).toString('hex')}`;
  const verificationToken = newVerificationToken();
  let demoPageId: string | undefined;
  const sandbox: ProviderSandbox = {
    provider: 'notion',
    url: notion.url,
    close: () => notion.close(),
    demoIntegration: () => {
      notion.addToken(token);
      const { id } = notion.createDataSource({ title: 'Tasks' });
      demoPageId = notion.seedPages(id, 120)[0]?.id;
      return {
        integrationId: 'demo-notion',
        body: {
          provider: 'notion',
          baseUrl: notion.url,
          config: { dataSourceId: id },
          credentials: { type: 'internal', token },
          webhookSecret: verificationToken,
        },
      };
    },
    demoWebhook: (webhookUrl) => {
      const type = 'page.properties_updated';
      const payload =
        demoPageId === undefined
          ? pageEventPayload({
              type, pageId: randomUUID(), dataSourceId: randomUUID(), workspaceId: randomUUID(), integrationId: randomUUID(),
              subscriptionId: randomUUID(), authorId: randomUUID(), timestamp: new Date().toISOString(),
            })
          : notion.pageEvent(type, demoPageId);
      const body = JSON.stringify(payload);
      // Both carry the signature of the original body, so the tampered copy must fail.
      const headers = { 'content-type': 'application/json', 'x-notion-signature': `sha256=${createHmac('sha256', verificationToken).update(body).digest('hex')}` };
      const tampered = body.replace('page.properties_updated', 'page.content_updated');
      return { signed: curlCommand(webhookUrl, headers, body), tampered: curlCommand(webhookUrl, headers, tampered) };
    },
  };
  return sandbox;
};
