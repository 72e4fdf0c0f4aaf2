/**
 * Queue port tests.
 *
 * The send-side contract runs twice: (a) on the EmbeddedQueue, and (b) on
 * ServiceBusQueueSender wired through a fake ServiceBusSender that forwards
 * into an EmbeddedQueue. There is no Service Bus broker on this machine, so
 * (b) tests our mapping code (OutgoingMessage → ServiceBusMessage, scheduling
 * via scheduleMessages, messageId carried for duplicate detection), not the
 * broker's behaviour; the broker's semantics are what the embedded queue mirrors.
 */
import type { ServiceBusMessage } from '@azure/service-bus';
import { EmbeddedQueue, MAX_DELIVERY_COUNT_EXCEEDED, MessageLockLostError, QueueClosedError } from '../../shared/messaging/embedded';
import { DUPLICATE_DETECTION_WINDOW_MS, MAX_DELIVERY_COUNT, QUEUES } from '../../shared/messaging/names';
import type { OutgoingMessage, ReceivedMessage } from '../../shared/messaging/port';
import { ServiceBusQueueSender, type ServiceBusSenderLike } from '../../shared/messaging/servicebus';
import { describeQueueContract } from '../contract/queue.contract';

const Q = QUEUES.syncInbound;

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = Date.UTC(2026, 0, 1);
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** The fake broker side: turns what the SDK would put on the wire back into an OutgoingMessage. */
function fromServiceBusMessage(input: Parameters<ServiceBusSenderLike['sendMessages']>[0], scheduledEnqueueTime?: Date): OutgoingMessage {
  if (Array.isArray(input) || !('body' in input) || 'bodyType' in input) throw new Error('fake expects one ServiceBusMessage');
  const m: ServiceBusMessage = input;
  if (m.contentType !== 'application/json') throw new Error(`unexpected contentType ${String(m.contentType)}`);
  if (typeof m.messageId !== 'string') throw new Error('messageId must be a string');
  const props = m.applicationProperties as OutgoingMessage['applicationProperties'];
  return {
    messageId: m.messageId,
    body: m.body as Record<string, unknown>,
    ...(props === undefined ? {} : { applicationProperties: props }),
    ...(m.correlationId === undefined ? {} : { correlationId: String(m.correlationId) }),
    ...(m.subject === undefined ? {} : { subject: m.subject }),
    ...(scheduledEnqueueTime === undefined ? {} : { scheduledEnqueueTime }),
  };
}

function forwardingSender(queue: (typeof QUEUES)[keyof typeof QUEUES], target: EmbeddedQueue): ServiceBusSenderLike {
  return {
    sendMessages: (messages) => target.send(queue, fromServiceBusMessage(messages)),
    scheduleMessages: async (messages, when) => {
      await target.send(queue, fromServiceBusMessage(messages, when));
      return [];
    },
    close: () => Promise.resolve(),
  };
}

describeQueueContract('EmbeddedQueue', () => {
  const clock = fakeClock();
  const queue = new EmbeddedQueue({ now: clock.now });
  return { sender: queue, receiver: queue, ...clock, dispose: () => queue.close() };
});

describeQueueContract('ServiceBusQueueSender via a fake sender into EmbeddedQueue (mapping only, no broker)', () => {
  const clock = fakeClock();
  const queue = new EmbeddedQueue({ now: clock.now });
  const sender = new ServiceBusQueueSender((name) => forwardingSender(name, queue));
  return {
    sender,
    receiver: queue,
    ...clock,
    dispose: async () => {
      await sender.close();
      await queue.close();
    },
  };
});

describe('EmbeddedQueue (receive side)', () => {
  let clock: ReturnType<typeof fakeClock>;
  let q: EmbeddedQueue;

  beforeEach(() => {
    clock = fakeClock();
    q = new EmbeddedQueue({ now: clock.now });
  });

  afterEach(async () => {
    await q.close();
  });

  const send = (messageId: string, extra: Partial<OutgoingMessage> = {}): Promise<void> =>
    q.send(Q, { messageId, body: { id: messageId }, ...extra });

  async function mustReceive(): Promise<ReceivedMessage> {
    const m = await q.receive(Q, 0);
    if (!m) throw new Error('expected a message');
    return m;
  }

  it('delivers available messages first in, first out', async () => {
    for (const id of ['a', 'b', 'c']) await send(id);
    const ids = [(await mustReceive()).messageId, (await mustReceive()).messageId, (await mustReceive()).messageId];
    expect(ids).toEqual(['a', 'b', 'c']);
  });

  it('hides a locked message from other receivers', async () => {
    await send('a');
    const m = await mustReceive();
    expect(await q.receive(Q, 0)).toBeUndefined();
    expect(q.depth(Q)).toBe(1);
    expect(q.peek(Q).map((p) => [p.messageId, p.state])).toEqual([['a', 'locked']]);
    await q.complete(Q, m.lockToken);
    expect(q.depth(Q)).toBe(0);
  });

  it('redelivers after the lock expires, with deliveryCount + 1, and the old lock is lost', async () => {
    await send('a');
    const first = await mustReceive();
    clock.advance(59_999);
    expect(await q.receive(Q, 0)).toBeUndefined();
    clock.advance(1);
    const second = await mustReceive();
    expect(second.messageId).toBe('a');
    expect(second.deliveryCount).toBe(first.deliveryCount + 1);
    await expect(q.complete(Q, first.lockToken)).rejects.toThrow(MessageLockLostError);
    await q.complete(Q, second.lockToken);
  });

  it('honours a custom lock duration', async () => {
    const short = new EmbeddedQueue({ now: clock.now, lockDurationMs: 5_000 });
    await short.send(Q, { messageId: 'a', body: {} });
    await short.receive(Q, 0);
    clock.advance(5_000);
    expect((await short.receive(Q, 0))?.deliveryCount).toBe(2);
    await short.close();
  });

  it('abandon makes a message available again at once, keeping its place in line', async () => {
    await send('a');
    await send('b');
    const a = await mustReceive();
    await q.abandon(Q, a.lockToken);
    const again = await mustReceive();
    expect([again.messageId, again.deliveryCount]).toEqual(['a', 2]);
  });

  it(`dead-letters with ${MAX_DELIVERY_COUNT_EXCEEDED} after ${MAX_DELIVERY_COUNT} abandons`, async () => {
    await send('poison', { applicationProperties: { tenantId: 't1' } });
    for (let i = 1; i <= MAX_DELIVERY_COUNT; i++) {
      const m = await mustReceive();
      expect(m.deliveryCount).toBe(i);
      await q.abandon(Q, m.lockToken);
    }
    expect(await q.receive(Q, 0)).toBeUndefined();
    expect(q.depth(Q)).toBe(0);
    const [dead, ...rest] = await q.deadLetters(Q);
    expect(rest).toEqual([]);
    expect(dead).toMatchObject({
      messageId: 'poison',
      body: { id: 'poison' },
      applicationProperties: { tenantId: 't1' },
      deliveryCount: MAX_DELIVERY_COUNT,
      deadLetterReason: 'MaxDeliveryCountExceeded',
    });
    expect(dead?.deadLetterErrorDescription).toContain(`${MAX_DELIVERY_COUNT} delivery attempts`);
  });

  it('dead-letters when the last allowed lock expires too', async () => {
    const few = new EmbeddedQueue({ now: clock.now, maxDeliveryCount: 2 });
    await few.send(Q, { messageId: 'a', body: {} });
    for (let i = 0; i < 2; i++) {
      await few.receive(Q, 0);
      clock.advance(60_000);
    }
    expect(await few.receive(Q, 0)).toBeUndefined();
    expect((await few.deadLetters(Q)).map((d) => d.deadLetterReason)).toEqual([MAX_DELIVERY_COUNT_EXCEEDED]);
    await few.close();
  });

  it('dead-letters explicitly with the given reason and description', async () => {
    await send('bad');
    const m = await mustReceive();
    clock.advance(1_000);
    await q.deadLetter(Q, m.lockToken, 'ValidationFailed', 'tenantId: must match pattern');
    const dead = await q.deadLetters(Q);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ messageId: 'bad', deadLetterReason: 'ValidationFailed', deadLetterErrorDescription: 'tenantId: must match pattern' });
    expect(dead[0]?.deadLetteredAt.getTime()).toBe(clock.now());
    expect(q.depth(Q)).toBe(0);
  });

  it('rejects settling with an unknown or already-used lock token', async () => {
    await expect(q.complete(Q, 'no-such-token')).rejects.toThrow(MessageLockLostError);
    await expect(q.abandon(Q, 'no-such-token')).rejects.toThrow(/unknown, expired or already settled/);
    await send('a');
    const m = await mustReceive();
    await q.complete(Q, m.lockToken);
    await expect(q.complete(Q, m.lockToken)).rejects.toThrow(MessageLockLostError);
    await expect(q.deadLetter(Q, m.lockToken, 'x')).rejects.toThrow(MessageLockLostError);
  });

  it('gives each delivery its own copy of the body', async () => {
    await send('a');
    const m = await mustReceive();
    m.body.id = 'mutated';
    await q.abandon(Q, m.lockToken);
    expect((await mustReceive()).body).toEqual({ id: 'a' });
  });

  it('accepts a reused message id once the duplicate-detection window has passed', async () => {
    await send('same');
    await q.complete(Q, (await mustReceive()).lockToken);
    clock.advance(DUPLICATE_DETECTION_WINDOW_MS - 1);
    await send('same');
    expect(await q.receive(Q, 0)).toBeUndefined();
    clock.advance(1);
    await send('same');
    expect((await mustReceive()).messageId).toBe('same');
  });

  it('counts and peeks scheduled messages without delivering them', async () => {
    await send('later', { scheduledEnqueueTime: new Date(clock.now() + 10_000) });
    await send('now');
    expect(q.depth(Q)).toBe(2);
    expect(q.peek(Q).map((p) => [p.messageId, p.state])).toEqual([['now', 'active'], ['later', 'scheduled']]);
    expect(q.peek(Q)[0]).not.toHaveProperty('lockToken');
  });

  it('receive waits for a message to arrive', async () => {
    const waiting = q.receive(Q, 10_000);
    await send('a');
    expect((await waiting)?.messageId).toBe('a');
  });

  it('serves waiting receivers oldest first', async () => {
    const first = q.receive(Q, 10_000);
    const second = q.receive(Q, 10_000);
    await send('a');
    await send('b');
    expect([(await first)?.messageId, (await second)?.messageId]).toEqual(['a', 'b']);
  });

  it('receive answers undefined when the wait ends empty-handed', async () => {
    const started = Date.now();
    expect(await q.receive(Q, 50)).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });

  it('tick() wakes a waiter once the fake clock reaches a scheduled time', async () => {
    await send('later', { scheduledEnqueueTime: new Date(clock.now() + 60_000) });
    const waiting = q.receive(Q, 10_000);
    clock.advance(60_000);
    q.tick();
    expect((await waiting)?.messageId).toBe('later');
  });

  it('drain wakes waiters with nothing and stops handing out messages; held locks still settle', async () => {
    await send('held');
    const held = await mustReceive();
    const waiting = q.receive(Q, 60_000);
    await q.drain();
    expect(await waiting).toBeUndefined();
    await send('after');
    expect(await q.receive(Q, 1_000)).toBeUndefined();
    await q.complete(Q, held.lockToken);
  });

  it('close refuses sends and pings', async () => {
    await q.close();
    await expect(send('x')).rejects.toThrow(QueueClosedError);
    await expect(q.ping()).rejects.toThrow(QueueClosedError);
  });

  it('sends, receives and completes 10,000 messages', async () => {
    const n = 10_000;
    for (let i = 0; i < n; i++) await send(`m-${i}`);
    expect(q.depth(Q)).toBe(n);
    for (let i = 0; i < n; i++) {
      const m = await mustReceive();
      expect(m.messageId).toBe(`m-${i}`);
      await q.complete(Q, m.lockToken);
    }
    expect(q.depth(Q)).toBe(0);
  });
});

describe('EmbeddedQueue on the real clock (timers, no polling)', () => {
  it('wakes a waiting receiver when a scheduled message comes due', async () => {
    const q = new EmbeddedQueue();
    const started = Date.now();
    await q.send(Q, { messageId: 'soon', body: {}, scheduledEnqueueTime: new Date(started + 100) });
    const m = await q.receive(Q, 5_000);
    expect(m?.messageId).toBe('soon');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    await q.close();
  });

  it('wakes a waiting receiver when a lock expires', async () => {
    const q = new EmbeddedQueue({ lockDurationMs: 100 });
    await q.send(Q, { messageId: 'a', body: {} });
    await q.receive(Q, 0);
    const m = await q.receive(Q, 5_000);
    expect([m?.messageId, m?.deliveryCount]).toEqual(['a', 2]);
    await q.close();
  });
});
