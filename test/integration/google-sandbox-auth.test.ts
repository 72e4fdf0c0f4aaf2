import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthError } from '../../shared/errors';
import { googleProvider, type GoogleConfig, type GoogleCredentials, type GoogleOAuthCredentials } from '../../shared/providers/google';
import { pkcePair } from '../../shared/providers/oauth';
import type { OAuthClient, WebhookVerdict } from '../../shared/providers/types';
import { startGoogleSandbox, type GoogleSandbox } from '../../local/sandbox/google';
import { googleDemoSandbox } from '../../local/sandbox/google/demo';
import { BOTH, CALENDAR, collect, DRIVE, ids, pullContext, pullError, rejection } from '../helpers/google';

let g: GoogleSandbox;
beforeEach(async () => {
  g = await startGoogleSandbox({ maxPageSize: 50 });
});
afterEach(async () => {
  await g.close();
});

const auth = googleProvider.auth!;
const CLIENT: OAuthClient = { clientId: 'castiel-client', clientSecret: 'castiel-secret', redirectUri: 'https://sync.example.test/oauth/callback' };
const authCtx = (config: GoogleConfig = BOTH) => ({ baseUrl: g.url, config, fetch });

/** The browser leg: the sandbox consents at once and redirects with ?code&state. */
async function connect(config: GoogleConfig = BOTH): Promise<GoogleOAuthCredentials> {
  g.addClient(CLIENT.clientId, { secret: CLIENT.clientSecret, redirectUris: [CLIENT.redirectUri] });
  const { verifier, challenge } = pkcePair();
  const res = await fetch(auth.oauth!.authorizeUrl(g.url, config, CLIENT, { state: 'st-1', codeChallenge: challenge }), { redirect: 'manual' });
  expect(res.status).toBe(302);
  const back = new URL(res.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe('st-1');
  const credentials = await auth.oauth!.exchangeCode(authCtx(config), CLIENT, { code: back.searchParams.get('code')!, codeVerifier: verifier });
  if (credentials.type !== 'oauth') throw new Error('expected OAuth credentials');
  return credentials;
}

describe('OAuth connect flow (authorization code + PKCE S256)', () => {
  it('asks for offline access with the least scopes, exchanges the code, and the credentials pull', async () => {
    const url = new URL(auth.oauth!.authorizeUrl(g.url, BOTH, CLIENT, { state: 's', codeChallenge: 'c'.repeat(43) }));
    expect(url.pathname).toBe('/o/oauth2/v2/auth');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT.clientId, redirect_uri: CLIENT.redirectUri, response_type: 'code', code_challenge_method: 'S256', access_type: 'offline', prompt: 'consent',
      scope: 'https://www.googleapis.com/auth/drive.metadata.readonly https://www.googleapis.com/auth/calendar.events',
    });
    const before = Date.now();
    const credentials = await connect();
    expect(credentials).toMatchObject({ type: 'oauth', clientId: CLIENT.clientId, accessToken: expect.stringMatching(/^ya29\./) as unknown, refreshToken: expect.stringMatching(/^1\/\//) as unknown });
    expect(auth.expiresAt(credentials)).toBeGreaterThanOrEqual(before + 3_598_000);
    g.seedEvents('primary', 3);
    expect(ids(await collect(pullContext(g.url, CALENDAR, { credentials })))).toHaveLength(3);
  });

  it('a wrong PKCE verifier or a replayed code → AuthError (invalid_grant); the replay revokes what the code issued', async () => {
    g.addClient(CLIENT.clientId, { secret: CLIENT.clientSecret, redirectUris: [CLIENT.redirectUri] });
    const { verifier, challenge } = pkcePair();
    const res = await fetch(auth.oauth!.authorizeUrl(g.url, BOTH, CLIENT, { state: 's', codeChallenge: challenge }), { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    expect(await rejection(auth.oauth!.exchangeCode(authCtx(), CLIENT, { code, codeVerifier: pkcePair().verifier }))).toBeInstanceOf(AuthError);
    const credentials = await auth.oauth!.exchangeCode(authCtx(), CLIENT, { code, codeVerifier: verifier });
    expect(await rejection(auth.oauth!.exchangeCode(authCtx(), CLIENT, { code, codeVerifier: verifier }))).toBeInstanceOf(AuthError);
    expect(await pullError(pullContext(g.url, DRIVE, { credentials }))).toBeInstanceOf(AuthError);
  });

  it('a wrong client secret → AuthError (invalid_client), the secret never in the message', async () => {
    const credentials = await connect();
    const e = await rejection(auth.refresh!(authCtx(), { ...credentials, clientSecret: 'wrong-secret-value' }));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).not.toContain('wrong-secret-value');
  });
});

describe('refresh', () => {
  it('Google keeps the refresh token: the answer has none and the stored one is kept', async () => {
    const credentials = await connect();
    const refreshed = (await auth.refresh!(authCtx(), credentials)) as GoogleOAuthCredentials;
    expect(refreshed.accessToken).not.toBe(credentials.accessToken);
    expect(refreshed.refreshToken).toBe(credentials.refreshToken);
    const again = (await auth.refresh!(authCtx(), refreshed)) as GoogleOAuthCredentials;
    expect(again.refreshToken).toBe(credentials.refreshToken);
  });

  it('rotation on: the new refresh token is persisted; reusing the old one → AuthError and the whole family dies', async () => {
    g.setRotateRefreshTokens(true);
    const credentials = await connect();
    const first = (await auth.refresh!(authCtx(), credentials)) as GoogleOAuthCredentials;
    expect(first.refreshToken).toBeDefined();
    expect(first.refreshToken).not.toBe(credentials.refreshToken);
    const second = (await auth.refresh!(authCtx(), first)) as GoogleOAuthCredentials;
    expect(await rejection(auth.refresh!(authCtx(), credentials))).toBeInstanceOf(AuthError);
    expect(await rejection(auth.refresh!(authCtx(), second))).toBeInstanceOf(AuthError);
    expect(await pullError(pullContext(g.url, DRIVE, { credentials: second }))).toBeInstanceOf(AuthError);
  });

  it('a revoked refresh token → AuthError', async () => {
    const credentials = await connect();
    g.revokeToken(credentials.refreshToken!);
    expect(await rejection(auth.refresh!(authCtx(), credentials))).toBeInstanceOf(AuthError);
  });

  it('pull refreshes an expired access token for the run, and renews once on a 401', async () => {
    g.seedEvents('primary', 2);
    const credentials = await connect();
    const expired: GoogleOAuthCredentials = { ...credentials, expiresAt: Date.now() - 1000 };
    expect(ids(await collect(pullContext(g.url, CALENDAR, { credentials: expired })))).toHaveLength(2);
    g.expireAccessToken(credentials.accessToken); // expiresAt still says "fresh": Google's 401 triggers the renewal
    expect(ids(await collect(pullContext(g.url, CALENDAR, { credentials })))).toHaveLength(2);
    // The code exchange, the refresh of the expired token, the renewal after the 401.
    expect(g.requests().filter((r) => r.path === '/token')).toHaveLength(3);
    expect(g.requests().filter((r) => r.status === 401)).toHaveLength(1);
  });
});

describe('service accounts (JWT bearer grant)', () => {
  const EMAIL = 'sync@castiel-test.iam.gserviceaccount.com';
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sa = (extra: Record<string, unknown> = {}): GoogleCredentials =>
    googleProvider.credentialsSchema.parse({ type: 'service_account', client_email: EMAIL, private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), private_key_id: 'k1', project_id: 'castiel-test', ...extra });
  const register = (domainWideDelegation = false): void => {
    g.addServiceAccount(EMAIL, { publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: 'k1', domainWideDelegation });
  };

  it('mints a one-hour token via <baseUrl>/token and pulls with it', async () => {
    register();
    g.seedFiles(3);
    const minted = await auth.refresh!(authCtx(), sa());
    expect(minted).toMatchObject({ type: 'service_account', accessToken: expect.stringMatching(/^ya29\./) as unknown, project_id: 'castiel-test' });
    expect(auth.expiresAt(minted)! - Date.now()).toBeGreaterThan(3_590_000);
    expect(ids(await collect(pullContext(g.url, DRIVE, { credentials: sa() })))).toHaveLength(3);
  });

  it('impersonation needs domain-wide delegation; an unknown account or key → AuthError', async () => {
    register(false);
    expect(await rejection(auth.refresh!(authCtx(), sa({ subject: 'ada@example.com' })))).toBeInstanceOf(AuthError);
    register(true);
    await expect(auth.refresh!(authCtx(), sa({ subject: 'ada@example.com' }))).resolves.toMatchObject({ accessToken: expect.any(String) as unknown });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(await rejection(auth.refresh!(authCtx(), sa({ private_key: other })))).toBeInstanceOf(AuthError);
    expect(await rejection(auth.refresh!(authCtx(), sa({ client_email: 'ghost@x.iam.gserviceaccount.com' })))).toBeInstanceOf(AuthError);
  });
});

describe('sandbox deliveries verify with the Google scheme', () => {
  let receiver: Server;
  let url: string;
  const verdicts: WebhookVerdict[] = [];
  const config: GoogleConfig = { ...BOTH, channelToken: 'channel-token-0123456789', pubsub: { serviceAccountEmail: 'push@castiel-test.iam.gserviceaccount.com' } };

  beforeEach(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const header = (n: string): string | undefined => {
          const v = req.headers[n.toLowerCase()];
          return Array.isArray(v) ? v[0] : v;
        };
        void Promise.resolve(
          googleProvider.webhook!.verify({ rawBody: Buffer.concat(chunks), header, url }, { config, secrets: [], now: new Date(), jwks: () => Promise.resolve(g.jwks()), publicUrl: url }),
        ).then((verdict) => {
          verdicts.push(verdict);
          const status = verdict.kind === 'reject' ? verdict.status : verdict.kind === 'accept' ? 202 : verdict.reply.status;
          res.writeHead(status).end(verdict.kind === 'respond' ? verdict.reply.body : '');
        });
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/webhooks/google/g1`;
  });
  afterEach(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('Pub/Sub push with an OIDC token signed by the sandbox JWKS is accepted; a wrong account is refused', async () => {
    const ok = await g.deliverPubsub({ url, serviceAccountEmail: 'push@castiel-test.iam.gserviceaccount.com', data: { kind: 'drive#change' } });
    expect(ok.status).toBe(202);
    expect(verdicts.at(-1)).toEqual({ kind: 'accept', events: [{ deliveryId: ok.deliveryId, event: 'pubsub.message' }] });
    expect((await g.deliverPubsub({ url, serviceAccountEmail: 'other@x.iam.gserviceaccount.com' })).status).toBe(401);
    expect((await g.deliverPubsub({ url, serviceAccountEmail: 'push@castiel-test.iam.gserviceaccount.com', iat: Math.floor(Date.now() / 1000) - 4000 })).status).toBe(401);
  });

  it('a watch channel opened at the sandbox: sync handshake (200), then one notification per change (202)', async () => {
    g.seedEvents('primary', 1);
    const res = await fetch(`${g.url}/calendar/v3/calendars/primary/events/watch`, {
      method: 'POST',
      headers: { authorization: 'Bearer ya29.watch', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'chan-1', type: 'web_hook', address: url, token: 'channel-token-0123456789' }),
    });
    expect(res.status).toBe(401);
    g.addAccessToken('ya29.watch');
    const opened = await fetch(`${g.url}/calendar/v3/calendars/primary/events/watch`, {
      method: 'POST',
      headers: { authorization: 'Bearer ya29.watch', 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'chan-1', type: 'web_hook', address: url, token: 'channel-token-0123456789' }),
    });
    expect(await opened.json()).toMatchObject({ kind: 'api#channel', id: 'chan-1', resourceId: expect.any(String) as unknown });
    await g.flushNotifications();
    g.seedEvents('primary', 1);
    const sent = await g.flushNotifications();
    expect(sent.map((s) => [s.state, s.status, s.deliveryId])).toEqual([['sync', 200, 'chan-1:1'], ['exists', 202, 'chan-1:2']]);
    expect(verdicts.at(-1)).toEqual({ kind: 'accept', events: [{ deliveryId: 'chan-1:2', event: 'calendar.exists' }] });
  });

  it('a notification with another channel token is refused', async () => {
    const r = await g.deliverChannelNotification({ url, channelId: 'c2', token: 'not-the-token-00000', resourceState: 'change', messageNumber: 3, resourceId: 'r', resourceUri: `${g.url}/drive/v3/changes` });
    expect(r.status).toBe(401);
  });
});

describe('npm start demo', () => {
  it('seeds data, pulls with the service account, and its curl pair verifies / fails', async () => {
    const demo = await googleDemoSandbox();
    try {
      const { integrationId, body } = demo.demoIntegration();
      expect(integrationId).toBe('demo-google');
      const config = googleProvider.configSchema.parse(body.config);
      const credentials = googleProvider.credentialsSchema.parse(body.credentials);
      const pages = await collect(pullContext(body.baseUrl, config, { credentials }));
      expect(ids(pages)).toHaveLength(100);
      const curls = demo.demoWebhook!('http://127.0.0.1:7071/api/webhooks/google/demo-google');
      const headersOf = (curl: string): Map<string, string> => new Map([...curl.matchAll(/-H '([^:]+): ([^']*)'/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
      const verify = (curl: string) =>
        googleProvider.webhook!.verify(
          { rawBody: Buffer.alloc(0), header: (n) => headersOf(curl).get(n.toLowerCase()), url: 'http://127.0.0.1:7071/api/webhooks/google/demo-google' },
          { config, secrets: [body.webhookSecret!], now: new Date(), jwks: () => Promise.reject(new Error('not used')) },
        );
      expect(await verify(curls.signed)).toMatchObject({ kind: 'accept' });
      expect(await verify(curls.tampered)).toMatchObject({ kind: 'reject', status: 401 });
    } finally {
      await demo.close();
    }
  });
});
