/**
 * The TokenRefresher pass over a mix of integrations: refreshes what expires
 * within 15 minutes, reports near expiry and rotation policy breaches once a
 * day, skips integrations that need re-authorisation, retires webhook
 * secrets whose overlap ended. Real Redis, encrypted local store.
 */
import { OAUTH_CLIENT_FORMAT, writeOAuthClient } from '../../shared/credentials/oauth-client';
import { runTokenRefresher } from '../../shared/credentials/refresher';
import { rotateWebhookSecret } from '../../shared/credentials/webhook-rotation';
import { setIntegrationStatus } from '../../shared/credentials/status';
import { CLIENT_ID, CLIENT_SECRET, credentialsHarness, type Harness } from '../helpers/credentials-harness';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

let h: Harness;
afterEach(async () => {
  await h.close();
});

test('one pass: refreshes what is due, reports what needs a human, retires ended webhook overlaps; notifications once a day', async () => {
  // Mid-morning UTC: the daily reminder buckets are far from a day boundary.
  let clock = Date.parse('2026-03-02T09:00:00Z');
  const now = (): Date => new Date(clock);
  h = await credentialsHarness({ now });
  const iso = (ms: number): string => new Date(ms).toISOString();

  const dueSoon = await h.integration('due-soon');
  await h.plant(dueSoon, { kind: 'oauth', credentials: h.oauthCredentials(clock + 10 * MIN), createdAt: iso(clock) });
  const later = await h.integration('later');
  await h.plant(later, { kind: 'oauth', credentials: h.oauthCredentials(clock + 30 * MIN), createdAt: iso(clock) });
  const oldKey = await h.integration('old-key');
  await h.plant(oldKey, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k-old-000000' }, createdAt: iso(clock - 80 * DAY) });
  const expiring = await h.integration('expiring');
  await h.plant(expiring, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k-exp-000000' }, createdAt: iso(clock), expiresAt: iso(clock + 3 * DAY) });
  const oldBot = await h.integration('old-bot');
  await h.plant(oldBot, { kind: 'bot-token', credentials: { type: 'bot', botToken: 'xoxb-000000' }, createdAt: iso(clock - 400 * DAY), maxAgeDays: 365 });
  const reauth = await h.integration('reauth');
  await h.plant(reauth, { kind: 'oauth', credentials: h.oauthCredentials(clock - MIN), createdAt: iso(clock) });
  await setIntegrationStatus(h.repos, { tenantId: 'acme', integrationId: 'reauth' }, 'needs_reauth', now());
  const oldClient = await h.integration('old-client');
  await h.plant(oldClient, { kind: 'oauth', credentials: h.oauthCredentials(clock + 2 * 60 * MIN), createdAt: iso(clock) });
  await writeOAuthClient(h.cache, oldClient, { format: OAUTH_CLIENT_FORMAT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: h.redirectUri, createdAt: iso(clock - 200 * DAY) });
  const hooked = await h.integration('hooked');
  await h.plant(hooked, { kind: 'api-key', credentials: { type: 'api_key', apiKey: 'k-hook-00000' }, createdAt: iso(clock) });
  const rotation = h.module.admin.webhookRotation;
  await rotateWebhookSecret(rotation, { tenantId: 'acme', integrationId: 'hooked' }, 'first-webhook-secret-0001', 24);
  await rotateWebhookSecret(rotation, { tenantId: 'acme', integrationId: 'hooked' }, 'second-webhook-secret-002', 0);
  const previousName = (await h.repos.getIntegration('acme', 'hooked'))?.previousWebhookSecretName ?? '';
  expect(await h.store.get(previousName)).toBeDefined();

  clock += MIN;
  const report = await runTokenRefresher(h.module.refresher);

  expect(report.scanned).toBe(8);
  expect(report.refreshed).toBe(1);
  expect(h.server.tokenRequests).toHaveLength(1); // only due-soon; `reauth` was not tried
  expect(report.failed).toBe(0);
  expect((await h.module.service.store.read(dueSoon, h.module.service.provider(dueSoon)))?.generation).toBe(2);
  expect((await h.module.service.store.read(later, h.module.service.provider(later)))?.generation).toBe(1);

  const attention = report.attention.map((a) => `${a.integrationId}:${a.credential ?? '-'}:${a.reason}`).sort();
  expect(attention).toEqual([
    'expiring:api-key:near-expiry',
    'old-bot:bot-token:rotation-overdue',
    'old-client:oauth-client:rotation-overdue',
    'old-key:api-key:rotation-due',
    'reauth:-:needs-reauth',
  ]);
  expect(report.attention.find((a) => a.integrationId === 'expiring')?.at).toBe(iso(clock - MIN + 3 * DAY));

  expect(report.webhookSecretsRetired).toBe(1);
  const retired = await h.repos.getIntegration('acme', 'hooked');
  expect(retired?.previousWebhookSecretName).toBeUndefined();
  expect(retired?.previousWebhookSecretUntil).toBeUndefined();
  expect(await h.store.get(previousName)).toBeUndefined();

  const kinds = (): string[] => h.notifications.events.filter((e) => e.kind !== 'webhook_secret_rotated').map((e) => `${e.integrationId}:${e.kind}`).sort();
  expect(kinds()).toEqual(['expiring:credential_expiring', 'old-bot:rotation_overdue', 'old-client:rotation_overdue', 'old-key:rotation_due']);

  // Five minutes later: nothing due, nothing re-notified.
  clock += 5 * MIN;
  const second = await runTokenRefresher(h.module.refresher);
  expect(second.refreshed).toBe(0);
  expect(h.server.tokenRequests).toHaveLength(1);
  expect(kinds()).toHaveLength(4);

  // A day later the reminders go out again.
  clock += DAY;
  await runTokenRefresher(h.module.refresher);
  expect(kinds().filter((k) => k === 'old-key:rotation_due')).toHaveLength(2);
  expect(h.logs.some((l) => l.message === 'token refresher pass')).toBe(true);
});
