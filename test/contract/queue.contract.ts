import { NonJsonBodyError } from '../../shared/messaging/json-body';
import { QUEUES } from '../../shared/messaging/names';
import type { QueueReceiver, QueueSender, ReceivedMessage } from '../../shared/messaging/port';

/** A sender under test plus a receiver that sees what it sent, on a fake clock. */
export interface QueueHarness {
  sender: QueueSender;
  receiver: QueueReceiver;
  /** Current fake time (ms). */
  now(): number;
  /** Move the fake clock forward. */
  advance(ms: number): void;
  dispose(): Promise<void>;
}

const Q = QUEUES.syncInbound;

/**
 * The send-side contract of QueueSender: what a function can rely on whichever
 * sender the composition root wires in.
 */
export function describeQueueContract(name: string, make: () => QueueHarness): void {
  describe(`QueueSender contract: ${name}`, () => {
    let h: QueueHarness;

    beforeEach(() => {
      h = make();
    });

    afterEach(async () => {
      await h.dispose();
    });

    async function receiveOne(): Promise<ReceivedMessage> {
      const m = await h.receiver.receive(Q, 0);
      if (!m) throw new Error('expected a message');
      await h.receiver.complete(Q, m.lockToken);
      return m;
    }

    it('delivers a JSON body unchanged, as a deep copy', async () => {
      const body = {
        type: 'sync.pull',
        nested: { list: [1, 2.5, -3, { deep: true }], empty: {}, none: null },
        text: 'zürich ✓ 東京 "quoted"\n',
        big: Number.MAX_SAFE_INTEGER,
      };
      await h.sender.send(Q, { messageId: 'm-json', body });
      body.nested.list.push(99); // mutating after send must not reach the receiver
      const m = await receiveOne();
      expect(m.body).toEqual({ ...body, nested: { ...body.nested, list: [1, 2.5, -3, { deep: true }] } });
      expect(m.messageId).toBe('m-json');
      expect(m.deliveryCount).toBe(1);
      expect(m.enqueuedTimeUtc.getTime()).toBe(h.now());
    });

    it('drops undefined properties, as JSON does', async () => {
      await h.sender.send(Q, { messageId: 'm-undef', body: { kept: 1, dropped: undefined } });
      expect((await receiveOne()).body).toStrictEqual({ kept: 1 });
    });

    it('delivers application properties, correlation id and subject', async () => {
      await h.sender.send(Q, {
        messageId: 'm-props',
        body: { a: 1 },
        applicationProperties: { tenantId: 't1', attempt: 3, replay: true },
        correlationId: 'corr-1',
        subject: 'sync.pull',
      });
      const m = await receiveOne();
      expect(m.applicationProperties).toEqual({ tenantId: 't1', attempt: 3, replay: true });
      expect(m.correlationId).toBe('corr-1');
      expect(m.subject).toBe('sync.pull');
    });

    it('leaves out optional fields that were not sent', async () => {
      await h.sender.send(Q, { messageId: 'm-bare', body: {} });
      const m = await receiveOne();
      expect(m.applicationProperties).toEqual({});
      expect(m).not.toHaveProperty('correlationId');
      expect(m).not.toHaveProperty('subject');
    });

    it('drops a second message with the same id inside the duplicate-detection window', async () => {
      await h.sender.send(Q, { messageId: 'dup', body: { n: 1 } });
      h.advance(60_000);
      await h.sender.send(Q, { messageId: 'dup', body: { n: 2 } });
      await h.sender.send(Q, { messageId: 'other', body: { n: 3 } });
      expect((await receiveOne()).body).toEqual({ n: 1 });
      expect((await receiveOne()).body).toEqual({ n: 3 });
      expect(await h.receiver.receive(Q, 0)).toBeUndefined();
    });

    it('holds a scheduled message until its time, then delivers it', async () => {
      const at = new Date(h.now() + 60_000);
      await h.sender.send(Q, { messageId: 'later', body: { n: 1 }, scheduledEnqueueTime: at });
      expect(await h.receiver.receive(Q, 0)).toBeUndefined();
      h.advance(59_999);
      expect(await h.receiver.receive(Q, 0)).toBeUndefined();
      h.advance(1);
      const m = await receiveOne();
      expect(m.messageId).toBe('later');
      expect(m.enqueuedTimeUtc.getTime()).toBe(at.getTime());
    });

    it('delivers a message scheduled in the past straight away', async () => {
      await h.sender.send(Q, { messageId: 'past', body: {}, scheduledEnqueueTime: new Date(h.now() - 5_000) });
      expect((await receiveOne()).messageId).toBe('past');
    });

    it('rejects a body that is not plain JSON, naming the path, and sends nothing', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bad: Record<string, unknown>[] = [
        { at: new Date() },
        { fn: () => 1 },
        { n: Number.NaN },
        { n: 10n },
        { m: new Map() },
        { list: [1, undefined] },
        cyclic,
      ];
      for (const [i, body] of bad.entries()) {
        await expect(h.sender.send(Q, { messageId: `bad-${i}`, body })).rejects.toThrow(NonJsonBodyError);
      }
      await expect(h.sender.send(Q, { messageId: 'bad-date', body: { when: { at: new Date() } } })).rejects.toThrow('body.when.at is a Date');
      expect(await h.receiver.receive(Q, 0)).toBeUndefined();
    });

    it('keeps queues apart', async () => {
      await h.sender.send(QUEUES.syncOutbound, { messageId: 'out', body: {} });
      expect(await h.receiver.receive(Q, 0)).toBeUndefined();
      expect((await h.receiver.receive(QUEUES.syncOutbound, 0))?.messageId).toBe('out');
    });

    it('ping resolves while open', async () => {
      await expect(h.sender.ping()).resolves.toBeUndefined();
    });
  });
}
