/**
 * Conditional writes per provider (issue 10, point 2), against the
 * sandboxes, which answer as the real APIs do: Salesforce refuses a PATCH
 * with If-Unmodified-Since older than the record's last change (412), Google
 * Calendar an event write whose If-Match is not the current etag (412);
 * Notion and Slack have neither, so the push re-reads and compares. A push
 * that meets a change it has not seen never overwrites it.
 */
import { startGoogleSandbox, type GoogleSandbox } from '../../local/sandbox/google';
import { startNotionSandbox } from '../../local/sandbox/notion';
import { startSalesforceSandbox, type SalesforceSandbox } from '../../local/sandbox/salesforce';
import { startSlackSandbox } from '../../local/sandbox/slack';
import { putIntegration } from '../../shared/api/integrations';
import { patchRecord } from '../../shared/api/local-changes';
import type { SyncRecord } from '../../shared/domain/types';
import { QUEUES } from '../../shared/messaging/names';
import { syncJobSchema } from '../../shared/messaging/messages';
import { handleOutbound, type OutboundDeps, type OutboundOutcome } from '../../shared/sync/outbound';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest, putTenantIntegration } from '../helpers/api';
import { records } from '../helpers/engine';
import { CALENDAR, oauth, TOKEN } from '../helpers/google';
import { configFor, freshObject, tokenCredentials } from '../helpers/salesforce';
import { embeddedServices, type TestServices } from '../helpers/services';

let t: TestServices;
let n = 0;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => { t = await embeddedServices(); });
afterEach(async () => {
  await t.cleanup();
  for (const close of closers.splice(0)) await close();
});

async function setup(integrationId: string, body: Record<string, unknown>): Promise<SyncRecord[]> {
  await putTenantIntegration(t.services, 'acme', integrationId, body);
  await pull(integrationId);
  return records(t, integrationId);
}

async function pull(integrationId: string): Promise<void> {
  const outcome = await runPullSync(t.services.syncDeps, { type: 'sync.pull', tenantId: 'acme', integrationId, trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: `pull-${++n}`, deliveryCount: 1 });
  expect(outcome.kind).toBe('succeeded');
}

async function edit(record: SyncRecord, data: Record<string, unknown>): Promise<string> {
  const res = await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: record.id }, body: { data } }));
  expect(res.status).toBe(202);
  return (await t.services.repos.getRecord('acme', record.id, 'records'))!.local!.idempotencyKey;
}

async function deliver(messageId: string, deps: OutboundDeps = t.services.outboundDeps): Promise<OutboundOutcome> {
  const m = t.queue.peek(QUEUES.syncOutbound).find((x) => x.messageId === messageId);
  if (!m) throw new Error(`no queued message ${messageId}`);
  return handleOutbound(deps, m.body, { messageId, deliveryCount: 1 });
}

const stored = async (id: string): Promise<SyncRecord> => (await t.services.repos.getRecord('acme', id, 'records'))!;

describe('Salesforce: If-Unmodified-Since', () => {
  let sf: SalesforceSandbox;
  beforeEach(async () => {
    sf = await startSalesforceSandbox();
    closers.push(() => sf.close());
  });

  test('the sandbox refuses a PATCH older than the record\'s last change with 412, and an unreadable date with 400', async () => {
    const T = freshObject(sf, 1);
    const [row] = sf.seed(T, 1);
    const url = `${sf.instanceUrl}/services/data/v62.0/sobjects/${T}/${row!.Id}`;
    const patch = (since: string) => fetch(url, { method: 'PATCH', headers: { authorization: `Bearer ${sf.issueAccessToken()}`, 'content-type': 'application/json', 'if-unmodified-since': since }, body: '{"Price__c":3}' });
    const modified = Date.parse(sf.get(T, row!.Id)!.LastModifiedDate.replace('+0000', 'Z'));
    expect((await patch(new Date(modified - 1000).toUTCString())).status).toBe(412);
    expect(sf.get(T, row!.Id)!.values.Price__c).not.toBe(3);
    expect((await patch('yesterday')).status).toBe(400);
    expect((await patch(new Date(modified).toUTCString())).status).toBe(204);
    expect(sf.get(T, row!.Id)!.values.Price__c).toBe(3);
  });

  test('a change at Salesforce after the last pull: the push is refused (412), asks for a pull with trigger push, and the strategy settles it', async () => {
    const T = freshObject(sf, 0);
    sf.seed(T, 1);
    const [record] = await setup('sf1', { provider: 'salesforce', baseUrl: sf.url, config: configFor([T]), credentials: tokenCredentials(sf) });
    const key = await edit(record!, { Price__c: 99 });
    sf.update(T, record!.externalId, { Price__c: 42 });

    expect(await deliver(key)).toMatchObject({ kind: 'rescheduled' });
    expect(sf.requests().filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([412]);
    expect(sf.get(T, record!.externalId)!.values.Price__c).toBe(42);
    const [prepush] = t.queue.peek(QUEUES.syncInbound);
    const job = syncJobSchema.parse(prepush?.body);
    expect(job.trigger).toBe('push');
    expect((await runPullSync(t.services.syncDeps, job, { messageId: prepush!.messageId, deliveryCount: 1 })).kind).toBe('succeeded');
    // provider-wins: the pull took Salesforce's version and dropped the edit; the waiting push finds nothing to send.
    expect(await deliver(`${key}:defer:1`)).toMatchObject({ kind: 'superseded' });
    expect(sf.get(T, record!.externalId)!.values.Price__c).toBe(42);
    expect((await stored(record!.id)).data.Price__c).toBe(42);
  });

  test('the version stored after a push is Salesforce\'s own: the next edit\'s conditional write passes', async () => {
    const T = freshObject(sf, 0);
    sf.seed(T, 1);
    const [record] = await setup('sf2', { provider: 'salesforce', baseUrl: sf.url, config: configFor([T]), credentials: tokenCredentials(sf) });
    expect(await deliver(await edit(record!, { Price__c: 1 }))).toMatchObject({ kind: 'pushed' });
    const after = await stored(record!.id);
    expect(after.updatedAt).toBe(sf.get(T, record!.externalId)!.SystemModstamp.replace('+0000', 'Z'));
    expect(await deliver(await edit(after, { Price__c: 2 }))).toMatchObject({ kind: 'pushed' });
    expect(sf.get(T, record!.externalId)!.values.Price__c).toBe(2);
    expect(sf.requests().filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([204, 204]);
  });
});

describe('Google Calendar: If-Match', () => {
  let g: GoogleSandbox;
  async function calendar(): Promise<SyncRecord> {
    g = await startGoogleSandbox();
    closers.push(() => g.close());
    g.addAccessToken(TOKEN);
    g.seedEvents('primary', 2);
    const all = await setup('g1', { provider: 'google', baseUrl: g.url, config: CALENDAR, credentials: oauth() });
    return all[0]!;
  }

  test('the sandbox refuses an event write whose If-Match is not the current etag with 412', async () => {
    const record = await calendar();
    const url = `${g.url}/calendar/v3/calendars/primary/events/${record.externalId}`;
    const write = (method: string, etag: string) => fetch(url, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'if-match': etag }, body: method === 'PATCH' ? '{"summary":"x"}' : null });
    const etag = g.getEvent('primary', record.externalId)!.etag;
    expect((await write('PATCH', '"stale"')).status).toBe(412);
    expect((await write('DELETE', '"stale"')).status).toBe(412);
    expect(g.getEvent('primary', record.externalId)!.status).toBe('confirmed');
    expect((await write('PATCH', etag)).status).toBe(200);
  });

  test('a change after the last pull: the re-read sees it, and provider-wins keeps Google\'s version', async () => {
    const record = await calendar();
    const key = await edit(record, { summary: 'Edited here' });
    g.updateEvent('primary', record.externalId, { summary: 'Changed at Google' });
    expect(await deliver(key)).toMatchObject({ kind: 'superseded' });
    expect(g.getEvent('primary', record.externalId)!.summary).toBe('Changed at Google');
    expect(await stored(record.id)).toMatchObject({ data: { summary: 'Changed at Google' } });
    expect((await stored(record.id)).local).toBeUndefined();
  });

  test('a change between the re-read and the write is refused by Google (412): the push waits for a pull instead of overwriting', async () => {
    const record = await calendar();
    const key = await edit(record, { summary: 'Edited here' });
    const racing: typeof fetch = async (input, init) => {
      const response = await t.services.outboundDeps.fetch(input, init);
      // Someone edits the event right after our read.
      if ((init?.method ?? 'GET') === 'GET' && String(input instanceof Request ? input.url : input).includes('/events/')) g.updateEvent('primary', record.externalId, { summary: 'Changed at Google' });
      return response;
    };
    expect(await deliver(key, { ...t.services.outboundDeps, fetch: racing })).toMatchObject({ kind: 'rescheduled' });
    expect(g.requests().filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([412]);
    expect(g.getEvent('primary', record.externalId)!.summary).toBe('Changed at Google');
    expect(syncJobSchema.parse(t.queue.peek(QUEUES.syncInbound)[0]?.body).trigger).toBe('push');
  });
});

describe('Notion and Slack: a re-read just before the write', () => {
  test('Notion: a change to the edited property within Notion\'s minute (same last_edited_time) is still seen', async () => {
    // One second per write: every write in this test lands in the same minute.
    const notion = await startNotionSandbox({ tickSeconds: 1 });
    closers.push(() => notion.close());
    notion.addToken('ntn_cond_0001');
    const { id: dataSourceId } = notion.createDataSource({ title: 'Tasks' });
    notion.seedPages(dataSourceId, 1);
    const [record] = await setup('n1', { provider: 'notion', baseUrl: notion.url, config: { dataSourceId }, credentials: { type: 'internal', token: 'ntn_cond_0001' } });
    const key = await edit(record!, { properties: { Name: 'Edited here' } });
    const page = notion.updatePage(record!.externalId, { Name: { title: [{ text: { content: 'Changed in Notion' } }] } });
    expect(page.last_edited_time).toBe(record!.updatedAt);

    expect(await deliver(key)).toMatchObject({ kind: 'superseded' });
    expect(notion.getPage(record!.externalId)!.properties.Name).toMatchObject({ title: [{ plain_text: 'Changed in Notion' }] });
    expect((await stored(record!.id)).data).toMatchObject({ title: 'Changed in Notion' });
  });

  test('Slack: a message edited in Slack since it was last seen is not overwritten (local-wins pushes over it knowingly)', async () => {
    const slack = await startSlackSandbox();
    closers.push(() => slack.close());
    slack.createChannel('C0PUSHCOND');
    slack.setMembership('C0PUSHCOND', true);
    slack.addToken('xoxb-cond-0001');
    const bot = slack.token('xoxb-cond-0001')!;
    const posted = slack.postMessage('C0PUSHCOND', { text: 'original', botId: bot.botId, user: bot.botUserId });
    const body = { provider: 'slack', baseUrl: slack.apiUrl, config: { channels: ['C0PUSHCOND'] }, credentials: { type: 'bot', token: 'xoxb-cond-0001' } };
    const [record] = await setup('s1', body);
    const key = await edit(record!, { text: 'edited here' });
    slack.editMessage('C0PUSHCOND', posted.ts, 'edited in Slack');

    expect(await deliver(key)).toMatchObject({ kind: 'superseded' });
    expect(slack.getMessage('C0PUSHCOND', posted.ts)!.text).toBe('edited in Slack');
    expect((await stored(record!.id)).data.text).toBe('edited in Slack');
    expect(slack.requests().filter((r) => r.method === 'chat.update')).toEqual([]);

    // With local-wins the edit is pushed over Slack's change, which the push has now seen.
    await putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: 's1' }, body: { ...body, conflictStrategy: 'local-wins' } }));
    const again = await edit(await stored(record!.id), { text: 'edited here' });
    slack.editMessage('C0PUSHCOND', posted.ts, 'edited in Slack again');
    expect(await deliver(again)).toMatchObject({ kind: 'pushed' });
    expect(slack.getMessage('C0PUSHCOND', posted.ts)!.text).toBe('edited here');
  });
});
