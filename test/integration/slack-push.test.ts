import { AuthError, RateLimitedError, UnrecoverableError } from '../../shared/errors';
import { slackProvider, type SlackConfig, type SlackCredentials } from '../../shared/providers/slack';
import { PUSH_METADATA_EVENT } from '../../shared/providers/slack/push';
import type { PushOperation } from '../../shared/providers/types';
import { startSlackSandbox, type SlackSandbox } from '../../local/sandbox/slack';
import { collectSlack, rejectionOf, slackCallContext, slackPullContext } from '../helpers/slack';

let slack: SlackSandbox;
let seq = 0;
const CHANNEL = 'C0PUSH';

beforeAll(async () => {
  slack = await startSlackSandbox();
  slack.createChannel(CHANNEL);
});
afterAll(async () => {
  await slack.close();
});

function bot(): SlackCredentials {
  const token = `xoxb-push-${++seq}`;
  slack.addToken(token);
  return { type: 'bot', token };
}

const config: SlackConfig = { channels: [CHANNEL] };
const push = (credentials: SlackCredentials, op: Omit<PushOperation, 'entityType' | 'idempotencyKey'> & { idempotencyKey?: string }) =>
  slackProvider.push!.apply(slackCallContext(slack.apiUrl, config, credentials), {
    entityType: 'message',
    idempotencyKey: op.idempotencyKey ?? `key-${++seq}`,
    ...op,
  });

describe('push messages', () => {
  it('create → chat.postMessage in the first configured channel, stamped with the idempotency key', async () => {
    const credentials = bot();
    const result = await push(credentials, { op: 'create', payload: { text: 'Hello from Castiel' }, idempotencyKey: 'op-123' });
    const [channel, ts] = result.externalId.split(':');
    expect(channel).toBe(CHANNEL);
    expect(result).toEqual({ externalId: `${CHANNEL}:${ts}`, version: ts, updatedAt: new Date(Number(ts!.split('.')[0]) * 1000).toISOString() });
    const message = slack.getMessage(CHANNEL, ts!)!;
    expect(message).toMatchObject({ text: 'Hello from Castiel', bot_id: slack.identity.botId, metadata: { event_type: PUSH_METADATA_EVENT, event_payload: { idempotency_key: 'op-123' } } });

    // A pull shows the key, so a duplicate create (Slack has no idempotency keys) can be found.
    const records = (await collectSlack(slackPullContext(slack.apiUrl, config, credentials))).flatMap((p) => p.records);
    expect(records.find((r) => r.externalId === result.externalId)?.data.metadata).toEqual({ event_type: PUSH_METADATA_EVENT, event_payload: { idempotency_key: 'op-123' } });
  });

  it('create in a thread, with blocks, in a given channel', async () => {
    const credentials = bot();
    const parent = await push(credentials, { op: 'create', payload: { text: 'parent' } });
    const parentTs = parent.externalId.split(':')[1]!;
    const reply = await push(credentials, { op: 'create', payload: { channel: CHANNEL, text: 'reply', thread_ts: parentTs, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*reply*' } }] } });
    expect(slack.getMessage(CHANNEL, reply.externalId.split(':')[1]!)).toMatchObject({ thread_ts: parentTs, blocks: [{ type: 'section' }] });
    expect(slack.getMessage(CHANNEL, parentTs)).toMatchObject({ reply_count: 1 });
  });

  it('update → chat.update; the same update twice leaves the same message', async () => {
    const credentials = bot();
    const created = await push(credentials, { op: 'create', payload: { text: 'first' } });
    // The outbound worker merges the stored record's data into the payload: read-only fields are dropped, nulls allowed.
    const stored = { channel: CHANNEL, ts: 'x', user: 'U1', thread_ts: null, blocks: null, reply_count: 0, edited_at: null };
    for (let i = 0; i < 2; i++) {
      const updated = await push(credentials, { op: 'update', externalId: created.externalId, payload: { ...stored, text: 'second' } });
      expect(updated.externalId).toBe(created.externalId);
    }
    const message = slack.getMessage(CHANNEL, created.externalId.split(':')[1]!)!;
    expect(message.text).toBe('second');
    expect(message.edited).toMatchObject({ user: slack.identity.botUserId });
  });

  it('delete → chat.delete, and deleting again succeeds (already gone)', async () => {
    const credentials = bot();
    const created = await push(credentials, { op: 'create', payload: { text: 'short-lived' } });
    expect(await push(credentials, { op: 'delete', externalId: created.externalId, payload: {} })).toEqual({ externalId: created.externalId });
    expect(slack.getMessage(CHANNEL, created.externalId.split(':')[1]!)).toBeUndefined();
    expect(await push(credentials, { op: 'delete', externalId: created.externalId, payload: {} })).toEqual({ externalId: created.externalId });
    expect(slack.requests().slice(-2).map((r) => [r.method, r.error])).toEqual([['chat.delete', undefined], ['chat.delete', 'message_not_found']]);
  });

  it('updating a deleted message, or a message the bot did not post → UnrecoverableError', async () => {
    const credentials = bot();
    const created = await push(credentials, { op: 'create', payload: { text: 'gone soon' } });
    await push(credentials, { op: 'delete', externalId: created.externalId, payload: {} });
    expect(await rejectionOf(() => push(credentials, { op: 'update', externalId: created.externalId, payload: { text: 'x' } }))).toBeInstanceOf(UnrecoverableError);

    const human = slack.postMessage(CHANNEL, { text: 'from a person', user: 'U0SANDBOX1' });
    const e = await rejectionOf(() => push(credentials, { op: 'update', externalId: `${CHANNEL}:${human.ts}`, payload: { text: 'x' } }));
    expect(e).toMatchObject({ kind: 'unrecoverable', message: 'Slack chat.update: cant_update_message' });
  });

  it.each([
    ['no text', { op: 'create', payload: {} }],
    ['text too long', { op: 'create', payload: { text: 'x'.repeat(40_001) } }],
    ['bad channel id', { op: 'create', payload: { channel: '#general', text: 'x' } }],
    ['update without externalId', { op: 'update', payload: { text: 'x' } }],
    ['malformed externalId', { op: 'delete', externalId: '12345', payload: {} }],
  ] as const)('%s → UnrecoverableError before any call', async (_name, op) => {
    const before = slack.requests().length;
    expect(await rejectionOf(() => push(bot(), op))).toBeInstanceOf(UnrecoverableError);
    expect(slack.requests()).toHaveLength(before);
  });

  it('another entity type is refused', async () => {
    const e = await rejectionOf(() => slackProvider.push!.apply(slackCallContext(slack.apiUrl, config, bot()), { op: 'create', entityType: 'file', payload: {}, idempotencyKey: 'k' }));
    expect(e).toBeInstanceOf(UnrecoverableError);
  });

  it('Slack errors are typed: not_in_channel, revoked token, 429', async () => {
    const other = 'C0PUSHNOTIN';
    slack.setMembership(other, false);
    expect(await rejectionOf(() => push(bot(), { op: 'create', payload: { channel: other, text: 'x' } }))).toMatchObject({ message: 'Slack chat.postMessage: not_in_channel' });
    const revoked = bot();
    slack.revokeToken((revoked as { token: string }).token);
    expect(await rejectionOf(() => push(revoked, { op: 'create', payload: { text: 'x' } }))).toBeInstanceOf(AuthError);
    slack.rateLimitNext(1, 1);
    expect(await rejectionOf(() => push(bot(), { op: 'create', payload: { text: 'x' } }))).toBeInstanceOf(RateLimitedError);
  });
});
