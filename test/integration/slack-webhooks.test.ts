import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { slackEventRecords, slackProvider, type SlackConfig } from '../../shared/providers/slack';
import { startSlackSandbox, type SlackSandbox } from '../../local/sandbox/slack';
import { slackDemoSandbox } from '../../local/sandbox/slack/demo';
import { collectSlack, slackCallContext, slackPullContext, startSlackReceiver, type SlackReceiver } from '../helpers/slack';

const SECRET = 'signing-secret-for-tests';
const CHANNEL = 'C0HOOKS';
const config: SlackConfig = { channels: [CHANNEL], teamId: 'T0SANDBOX' };
let slack: SlackSandbox;
let receiver: SlackReceiver;

beforeAll(async () => {
  slack = await startSlackSandbox({ tokens: ['xoxb-hooks'] });
  slack.seedMessages(CHANNEL, 5);
  receiver = await startSlackReceiver([SECRET], config);
});
afterAll(async () => {
  await receiver.close();
  await slack.close();
});
afterEach(() => {
  slack.unsubscribe();
});

const latest = () => receiver.received.at(-1)!;

describe('sandbox deliveries verify with the Slack scheme', () => {
  it('a recorded payload delivered byte for byte is accepted under its event_id', async () => {
    const body = readFileSync(join(__dirname, '..', 'fixtures', 'slack', 'events', 'message.message_changed.json'), 'utf8');
    const open = await startSlackReceiver([SECRET], { channels: ['C123ABC456'] });
    try {
      expect((await slack.deliverEvent({ url: open.url, signingSecret: SECRET, body })).status).toBe(202);
      expect(open.received[0]!.verdict).toEqual({ kind: 'accept', events: [{ deliveryId: 'Ev123ABC457', event: 'message.message_changed' }] });
    } finally {
      await open.close();
    }
    // The fixture's workspace (T123ABC456) is not this integration's: acknowledged, not queued.
    expect((await slack.deliverEvent({ url: receiver.url, signingSecret: SECRET, body })).status).toBe(200);
    expect(latest().verdict).toMatchObject({ kind: 'respond', reply: { status: 200 } });
  });

  it('url_verification is answered with the challenge', async () => {
    const result = await slack.deliverEvent({ url: receiver.url, signingSecret: SECRET, body: { token: 't', challenge: 'abc123XYZ', type: 'url_verification' } });
    expect(result).toMatchObject({ status: 200, body: 'abc123XYZ' });
  });

  it('the wrong secret and a stale timestamp are refused', async () => {
    const body = slack.envelope({ type: 'message', channel: CHANNEL, text: 'hi', ts: '1704067200.000001' });
    expect((await slack.deliverEvent({ url: receiver.url, signingSecret: 'wrong', body })).status).toBe(401);
    const stale = Math.floor(Date.now() / 1000) - 301;
    expect((await slack.deliverEvent({ url: receiver.url, signingSecret: SECRET, body, timestamp: stale })).status).toBe(401);
  });

  it('workspace changes arrive as signed events whose bodies carry the records a pull cannot see', async () => {
    slack.subscribe({ url: receiver.url, signingSecret: SECRET, retryDelaysMs: [0, 0, 0] });
    const from = receiver.received.length;
    const [older] = slack.seedMessages(CHANNEL, 1);
    const posted = slack.postMessage(CHANNEL, { text: 'hello', user: 'U0SANDBOX2' });
    slack.editMessage(CHANNEL, older!.ts, 'edited');
    slack.deleteMessage(CHANNEL, posted.ts);
    // A message the bot posts through the API is an event too.
    await slackProvider.push!.apply(slackCallContext(slack.apiUrl, config, { type: 'bot', token: 'xoxb-hooks' }), {
      op: 'create',
      entityType: 'message',
      payload: { text: 'from the bot' },
      idempotencyKey: 'k1',
    });
    await slack.eventsSettled();

    const got = receiver.received.slice(from);
    expect(got.map((d) => d.verdict.kind === 'accept' && d.verdict.events[0]!.event)).toEqual(['message', 'message.message_changed', 'message.message_deleted', 'message']);
    const ids = got.map((d) => (d.verdict.kind === 'accept' ? d.verdict.events[0]!.deliveryId : ''));
    expect(new Set(ids).size).toBe(4);
    expect(ids.every((id) => /^Ev[0-9A-Z]{8}$/.test(id))).toBe(true);

    const records = got.flatMap((d) => slackEventRecords(d.rawBody, config));
    expect(records.map((r) => [r.externalId, r.deleted, r.data.text ?? null])).toEqual([
      [`${CHANNEL}:${posted.ts}`, false, 'hello'],
      [`${CHANNEL}:${older!.ts}`, false, 'edited'],
      [`${CHANNEL}:${posted.ts}`, true, null],
      [expect.stringMatching(new RegExp(`^${CHANNEL}:`)) as unknown, false, 'from the bot'],
    ]);
    // The edit is dated by the edit, not by the message's creation.
    expect(records[1]!.data.edited_at).toBe(records[1]!.updatedAt);
    expect(records[1]!.updatedAt > String(records[1]!.data.created_at)).toBe(true);
  });

  it('a failed delivery is retried with X-Slack-Retry-Num and the same event_id (deduped downstream)', async () => {
    slack.subscribe({ url: receiver.url, signingSecret: SECRET, retryDelaysMs: [0, 0, 0] });
    const from = receiver.received.length;
    receiver.failNext(2, 500);
    slack.postMessage(CHANNEL, { text: 'retry me', user: 'U0SANDBOX1' });
    await slack.eventsSettled();

    const got = receiver.received.slice(from);
    expect(got.map((d) => [d.status, d.headers['x-slack-retry-num'], d.headers['x-slack-retry-reason']])).toEqual([
      [500, undefined, undefined],
      [500, '1', 'http_error'],
      [202, '2', 'http_error'],
    ]);
    const ids = got.map((d) => (d.verdict.kind === 'accept' ? d.verdict.events[0]!.deliveryId : 'none'));
    expect(new Set(ids).size).toBe(1);
    expect(slack.deliveries().slice(-3).map((a) => a.retryNum)).toEqual([0, 1, 2]);
  });

  it('Slack gives up after three retries', async () => {
    slack.subscribe({ url: receiver.url, signingSecret: 'not-the-secret', retryDelaysMs: [0, 0, 0] });
    const from = slack.deliveries().length;
    slack.postMessage(CHANNEL, { text: 'never accepted', user: 'U0SANDBOX1' });
    await slack.eventsSettled();
    expect(slack.deliveries().slice(from).map((a) => [a.retryNum, a.status])).toEqual([[0, 401], [1, 401], [2, 401], [3, 401]]);
  });
});

describe('npm start demo', () => {
  /** Replays a curl command line from curlCommand() with fetch: its -H headers and --data-binary body. */
  async function replay(curl: string): Promise<number> {
    const unquote = (s: string): string => s.slice(1, -1).replace(/'\\''/g, "'");
    const headers = [...curl.matchAll(/-H ('(?:[^']|'\\'')*')/g)].map((m) => unquote(m[1]!));
    const body = unquote(/--data-binary ('(?:[^']|'\\'')*')$/.exec(curl)![1]!);
    const url = /curl -i -X POST (\S+)/.exec(curl)![1]!;
    const res = await fetch(url, { method: 'POST', body, headers: Object.fromEntries(headers.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 2)])) });
    return res.status;
  }

  it('seeds a valid integration that pulls, and ready-to-paste curls that verify (signed) and fail (tampered)', async () => {
    const demo = await slackDemoSandbox();
    try {
      const { integrationId, body } = demo.demoIntegration();
      expect(integrationId).toBe('demo-slack');
      const config = slackProvider.configSchema.parse(body.config);
      const credentials = slackProvider.credentialsSchema.parse(body.credentials);
      expect(credentials.type).toBe('bot');
      const pages = await collectSlack(slackPullContext(body.baseUrl, config, credentials));
      expect(pages.flatMap((p) => p.records)).toHaveLength(150);

      const hook = await startSlackReceiver([body.webhookSecret!], config);
      try {
        const curl = demo.demoWebhook!(hook.url);
        expect(await replay(curl.signed)).toBe(202);
        expect(await replay(curl.tampered)).toBe(401);
      } finally {
        await hook.close();
      }
    } finally {
      await demo.close();
    }
  });
});
