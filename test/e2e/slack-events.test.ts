/**
 * Slack's history lists creations only: edits and deletions reach us as
 * signed events. Through the local host, the sandbox delivers real
 * `message_changed` / `message_deleted` events; they are applied as a run of
 * their own (same pipeline: dedupe, conflicts, soft delete on completion).
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { startSlackSandbox, type SlackSandbox } from '../../local/sandbox/slack';
import { putIntegration } from '../../shared/api/integrations';
import { parseMessageExternalId } from '../../shared/providers/slack/records';
import { postSync } from '../../shared/api/runs';
import { putTenant } from '../../shared/api/tenants';
import { setServices } from '../../shared/composition';
import { apiRequest } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';
import { until } from '../helpers/until';

let t: TestServices;
let slack: SlackSandbox;
let host: LocalHost;
const CHANNEL = 'C0EVENTS01';

beforeAll(async () => {
  t = await embeddedServices();
  setServices(t.services);
  slack = await startSlackSandbox();
  slack.addToken('xoxb-events-test-1');
  slack.createChannel(CHANNEL, 'events');
  slack.seedMessages(CHANNEL, 12);
  host = await startLocalHost({ definitions, receiver: t.queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
  await putTenant(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
  const put = await putIntegration(
    t.services.adminDeps,
    apiRequest({
      method: 'PUT',
      params: { tenantId: 'acme', integrationId: 'sl1' },
      body: { provider: 'slack', baseUrl: slack.apiUrl, config: { channels: [CHANNEL], teamId: slack.identity.teamId }, credentials: { type: 'bot', token: 'xoxb-events-test-1' }, webhookSecret: 'slack-signing-secret-01' },
    }),
  );
  expect(put.status).toBe(201);
  slack.subscribe({ url: `${host.url}/api/webhooks/slack/sl1`, signingSecret: 'slack-signing-secret-01' });
});

afterAll(async () => {
  slack.unsubscribe();
  await host.stop();
  await slack.close();
  await t.cleanup();
  setServices(undefined);
});

async function records() {
  return (await t.services.repos.listRecords('acme', { integrationId: 'sl1' }, 100)).items;
}

test('an edit and a deletion delivered as events update and soft-delete the synced messages', async () => {
  await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'sl1' } }));
  const synced = await until('the first sync', async () => {
    const all = await records();
    return all.length === 12 ? all : undefined;
  });
  const [first, second] = synced.map((r) => parseMessageExternalId(r.externalId)?.ts ?? '');

  slack.editMessage(CHANNEL, first ?? '', 'edited in Slack');
  slack.deleteMessage(CHANNEL, second ?? '');
  await slack.eventsSettled();

  const edited = await until('the edit to land', async () => (await records()).find((r) => JSON.stringify(r.data).includes('edited in Slack')));
  expect(edited.deleted).toBe(false);
  const deleted = await until('the deletion to land', async () => (await records()).find((r) => r.deleted));
  expect(JSON.stringify(deleted.data)).toContain(second);
  expect((await records()).filter((r) => !r.deleted)).toHaveLength(11);
  const runs = await t.services.repos.listRuns('acme', 'sl1', 20);
  expect(runs.items.filter((r) => r.trigger === 'webhook' && r.status === 'succeeded').length).toBeGreaterThanOrEqual(2);
});
