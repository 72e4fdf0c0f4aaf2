import { randomBytes, randomUUID } from 'node:crypto';
import { signGithubPayload } from '../../../shared/providers/github/webhook';
import { curlCommand, type ProviderSandbox, type SandboxFactory } from '../types';
import { startGithubSandbox } from './index';

/** The GitHub sandbox as `npm start` runs it: 120 issues in castiel/demo, a token and a webhook secret. */
export const githubDemoSandbox: SandboxFactory = async () => {
  const github = await startGithubSandbox();
  const token = `ghp_demo_${randomBytes(12).toString('hex')}`;
  const webhookSecret = randomBytes(24).toString('base64url');
  const sandbox: ProviderSandbox = {
    provider: 'github',
    url: github.url,
    close: () => github.close(),
    demoIntegration: () => {
      github.addToken(token);
      github.seedIssues('castiel', 'demo', 120);
      return {
        integrationId: 'demo-github',
        body: { provider: 'github', baseUrl: github.url, config: { owner: 'castiel', repo: 'demo' }, credentials: { type: 'token', token }, webhookSecret },
      };
    },
    demoWebhook: (webhookUrl) => {
      const body = JSON.stringify({ action: 'opened', issue: { number: 1, title: 'Hello from curl' } });
      // Both carry the signature of the original body, so the tampered copy must fail.
      const signature = signGithubPayload(webhookSecret, body);
      const headers = (): Record<string, string> => ({
        'content-type': 'application/json',
        'x-github-event': 'issues',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': signature,
      });
      const tampered = body.replace('Hello', 'Jello');
      return { signed: curlCommand(webhookUrl, headers(), body), tampered: curlCommand(webhookUrl, headers(), tampered) };
    },
  };
  return sandbox;
};
