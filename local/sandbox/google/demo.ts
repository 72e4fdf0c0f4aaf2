import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { curlCommand, type ProviderSandbox, type SandboxFactory } from '../types';
import { startGoogleSandbox } from './index';
import { channelHeaders } from './webhooks';

const SERVICE_ACCOUNT = 'castiel-demo@castiel-sandbox.iam.gserviceaccount.com';

/**
 * The Google sandbox as `npm start` runs it: 60 Drive files and 40 events on
 * the primary calendar, read with a service account (JWT bearer grant, no
 * browser), and a watch-channel token as the webhook secret.
 */
export const googleDemoSandbox: SandboxFactory = async () => {
  const google = await startGoogleSandbox();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyId = randomBytes(20).toString('hex');
  // Channel tokens are ours to choose (≤ 256 characters); this one doubles as the webhook secret.
  const channelToken = randomBytes(24).toString('base64url');
  const sandbox: ProviderSandbox = {
    provider: 'google',
    url: google.url,
    close: () => google.close(),
    demoIntegration: () => {
      google.addServiceAccount(SERVICE_ACCOUNT, { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId });
      google.seedFiles(60);
      google.seedEvents('primary', 40);
      return {
        integrationId: 'demo-google',
        body: {
          provider: 'google',
          baseUrl: google.url,
          config: { drive: {}, calendar: { calendarId: 'primary' } },
          credentials: {
            type: 'service_account',
            client_email: SERVICE_ACCOUNT,
            private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
            private_key_id: keyId,
          },
          webhookSecret: channelToken,
        },
      };
    },
    demoWebhook: (webhookUrl) => {
      // A Calendar watch-channel notification: Google signs nothing; the channel token is the proof.
      const notification = {
        url: webhookUrl,
        channelId: randomUUID(),
        resourceState: 'exists',
        messageNumber: 2,
        resourceId: 'ret08u3rv24htgh289g',
        resourceUri: `${google.url}/calendar/v3/calendars/primary/events?alt=json`,
        expiration: Date.now() + 3600_000,
      };
      const signed = channelHeaders({ ...notification, token: channelToken });
      const tampered = channelHeaders({ ...notification, token: `${channelToken.slice(0, -1)}${channelToken.endsWith('A') ? 'B' : 'A'}` });
      return { signed: curlCommand(webhookUrl, signed, ''), tampered: curlCommand(webhookUrl, tampered, '') };
    },
  };
  return sandbox;
};
