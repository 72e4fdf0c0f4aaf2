/**
 * Webhook secrets an admin sets follow one rule everywhere (16 characters, on
 * PUT, PATCH and rotate alike), and setting one on an integration PUT/PATCH
 * keeps a rotation's overlap: the new secret is current at once, the
 * rotated-out one keeps verifying until its window ends, and the secret it
 * replaced is deleted.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { postWebhookSecretRotation } from '../../shared/api/credentials';
import { patchIntegration, putIntegration } from '../../shared/api/integrations';
import { WEBHOOK_SECRET_MIN_LENGTH } from '../../shared/credentials/webhook-rotation';
import { webhookSecrets } from '../../shared/webhooks/secrets';
import { receiveWebhook } from '../../shared/webhooks/receive';
import { sandboxFactories } from '../../local/sandbox/registry';
import { apiRequest, seedGithubIntegration, type GithubSeed } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

let t: TestServices;
let seed: GithubSeed;
let now: Date;
const HOUR = 3_600_000;

beforeEach(async () => {
  now = new Date('2027-02-01T12:00:00.000Z');
  t = await embeddedServices({}, { now: () => now });
  seed = await seedGithubIntegration(t.services, 'http://127.0.0.1:9', { webhookSecret: 'first-secret-A-0001' });
});
afterEach(async () => { await t.cleanup(); });

const params = () => ({ tenantId: seed.tenantId, integrationId: seed.integrationId });
const ghBody = (extra: Record<string, unknown> = {}) => ({ provider: 'github', baseUrl: 'http://127.0.0.1:9', config: { owner: seed.owner, repo: seed.repo }, credentials: { type: 'token', token: seed.token }, ...extra });
const put = (extra: Record<string, unknown> = {}) => putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: params(), body: ghBody(extra) }));
const patch = (body: Record<string, unknown>) => patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: params(), body }));
const rotate = (body: Record<string, unknown>) => postWebhookSecretRotation(t.services.credentials.admin, apiRequest({ method: 'POST', params: params(), body }));
const stored = async () => (await t.services.repos.getIntegration(seed.tenantId, seed.integrationId))!;
const verifying = async (at: Date) => webhookSecrets(t.services.webhookDeps.secrets, await stored(), at);

/** A GitHub delivery signed with `secret`, through the real receiver. */
async function deliver(secret: string): Promise<number> {
  const raw = Buffer.from(JSON.stringify({ action: 'opened', issue: { id: 1, number: 1 } }));
  const headers: Record<string, string> = {
    'x-github-event': 'issues',
    'x-github-delivery': randomUUID(),
    'content-type': 'application/json',
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`,
  };
  const res = await receiveWebhook(t.services.webhookDeps, { provider: 'github', integrationId: seed.integrationId }, { rawBody: raw, header: (n) => headers[n.toLowerCase()], url: 'http://localhost/api/webhooks/github/x' });
  return res.status;
}

test('one rule: a webhook secret shorter than 16 characters is refused by PUT, PATCH and rotate with the same reason', async () => {
  expect(WEBHOOK_SECRET_MIN_LENGTH).toBe(16);
  const short = 'fifteen-chars-x';
  const reason = 'must be at least 16 characters';
  for (const [what, res] of [
    ['PUT', await put({ webhookSecret: short })],
    ['PATCH', await patch({ webhookSecret: short })],
    ['rotate', await rotate({ secret: short })],
  ] as const) {
    expect([what, res.status, (res.jsonBody as { reason: string }).reason]).toEqual([what, 400, `${what === 'rotate' ? 'secret' : 'webhookSecret'}: ${reason}`]);
  }
  expect(await verifying(now)).toEqual(['first-secret-A-0001']);
  for (const [what, res] of [
    ['PUT', await put({ webhookSecret: 'sixteen-chars-01' })],
    ['PATCH', await patch({ webhookSecret: 'sixteen-chars-02' })],
    ['rotate', await rotate({ secret: 'sixteen-chars-03' })],
  ] as const) {
    expect([what, res.status]).toEqual([what, 200]);
  }
});

test('a PUT or PATCH with a webhookSecret keeps a rotation overlap: the new secret is current, the rotated-out one verifies until its window ends', async () => {
  expect((await rotate({ secret: 'rotated-secret-B-0002', overlapHours: 24 })).status).toBe(200);
  const until = new Date(now.getTime() + 24 * HOUR).toISOString();
  const rotatedIn = (await stored()).webhookSecretName!;
  expect(await verifying(now)).toEqual(['rotated-secret-B-0002', 'first-secret-A-0001']);

  // A PUT (credentials and all) that sets a new secret.
  const res = await put({ webhookSecret: 'put-secret-C-000003' });
  expect(res.status).toBe(200);
  expect(res.jsonBody).toMatchObject({ hasWebhookSecret: true, previousWebhookSecretValidUntil: until });
  expect(await verifying(now)).toEqual(['put-secret-C-000003', 'first-secret-A-0001']);
  expect(await deliver('first-secret-A-0001')).toBe(202);
  expect(await deliver('put-secret-C-000003')).toBe(202);
  // The secret it replaced verifies nothing and is gone from the store.
  expect(await deliver('rotated-secret-B-0002')).toBe(401);
  expect(await t.services.adapters.secrets.get(rotatedIn)).toBeUndefined();

  // A PATCH that sets another, and a PUT that sets none: the overlap still stands.
  expect((await patch({ webhookSecret: 'patch-secret-D-00004' })).status).toBe(200);
  expect((await put()).status).toBe(200);
  expect(await verifying(now)).toEqual(['patch-secret-D-00004', 'first-secret-A-0001']);
  // Sending the current secret again changes nothing.
  const current = (await stored()).webhookSecretName;
  expect((await patch({ webhookSecret: 'patch-secret-D-00004' })).status).toBe(200);
  expect((await stored()).webhookSecretName).toBe(current);

  // Once the window is over only the current secret verifies.
  now = new Date(now.getTime() + 25 * HOUR);
  expect(await verifying(now)).toEqual(['patch-secret-D-00004']);
  expect(await deliver('first-secret-A-0001')).toBe(401);
});

test('without a rotation in progress, a new secret replaces the old one at once and the old one is deleted', async () => {
  const first = (await stored()).webhookSecretName!;
  expect((await patch({ webhookSecret: 'second-secret-0002' })).status).toBe(200);
  expect(await verifying(now)).toEqual(['second-secret-0002']);
  expect(await t.services.adapters.secrets.get(first)).toBeUndefined();
  expect((await stored()).previousWebhookSecretName).toBeUndefined();
});

test('every demo integration npm start seeds has a webhook secret the rule accepts, and is accepted by the API', async () => {
  for (const factory of sandboxFactories) {
    const sandbox = await factory();
    try {
      const demo = sandbox.demoIntegration();
      const secret = demo.body.webhookSecret;
      if (secret !== undefined) expect([sandbox.provider, secret.length >= WEBHOOK_SECRET_MIN_LENGTH]).toEqual([sandbox.provider, true]);
      const res = await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: seed.tenantId, integrationId: demo.integrationId }, body: demo.body }));
      expect([sandbox.provider, res.status]).toEqual([sandbox.provider, 201]);
    } finally {
      await sandbox.close();
    }
  }
});
