/**
 * ServiceBusQueueSender's own logic against recording fakes: message mapping,
 * send vs schedule, one sender per queue, error mapping, close. No broker runs
 * here; the contract suite in test/integration/queue.test.ts covers the rest.
 */
import type { TokenCredential } from '@azure/identity';
import { ServiceBusError, type ServiceBusMessage } from '@azure/service-bus';
import { RetryableError } from '../../shared/errors';
import { NonJsonBodyError } from '../../shared/messaging/json-body';
import { QUEUES } from '../../shared/messaging/names';
import {
  QueueSendError,
  ServiceBusQueueSender,
  createServiceBusQueueSender,
  toServiceBusMessage,
  type ServiceBusSenderLike,
} from '../../shared/messaging/servicebus';

const Q = QUEUES.syncOutbound;

interface Recording {
  sent: unknown[];
  scheduled: { message: unknown; at: Date }[];
  closed: number;
}

function recordingSender(rec: Recording, fail?: () => Error): ServiceBusSenderLike {
  return {
    sendMessages: (m) => {
      if (fail) return Promise.reject(fail());
      rec.sent.push(m);
      return Promise.resolve();
    },
    scheduleMessages: (m, at) => {
      rec.scheduled.push({ message: m, at });
      return Promise.resolve([]);
    },
    close: () => {
      rec.closed += 1;
      return Promise.resolve();
    },
  };
}

const newRecording = (): Recording => ({ sent: [], scheduled: [], closed: 0 });

describe('toServiceBusMessage', () => {
  it('maps every field, with a JSON content type', () => {
    const expected: ServiceBusMessage = {
      body: { tenantId: 't1' },
      messageId: 'm1',
      contentType: 'application/json',
      applicationProperties: { tenantId: 't1', attempt: 2, replay: false },
      correlationId: 'c1',
      subject: 'sync.push',
    };
    expect(
      toServiceBusMessage({
        messageId: 'm1',
        body: { tenantId: 't1' },
        applicationProperties: { tenantId: 't1', attempt: 2, replay: false },
        correlationId: 'c1',
        subject: 'sync.push',
        scheduledEnqueueTime: new Date(0), // carried by scheduleMessages, not the message
      }),
    ).toStrictEqual(expected);
  });

  it('leaves out optional fields that were not given', () => {
    expect(toServiceBusMessage({ messageId: 'm1', body: {} })).toStrictEqual({ body: {}, messageId: 'm1', contentType: 'application/json' });
  });

  it('refuses a non-JSON body', () => {
    expect(() => toServiceBusMessage({ messageId: 'm1', body: { at: new Date() } })).toThrow(NonJsonBodyError);
  });
});

describe('ServiceBusQueueSender', () => {
  it('sends an unscheduled message with sendMessages and a scheduled one with scheduleMessages', async () => {
    const rec = newRecording();
    const sender = new ServiceBusQueueSender(() => recordingSender(rec));
    const at = new Date(Date.now() + 60_000);
    await sender.send(Q, { messageId: 'now', body: {} });
    await sender.send(Q, { messageId: 'later', body: {}, scheduledEnqueueTime: at });
    expect(rec.sent).toHaveLength(1);
    expect(rec.sent[0]).toMatchObject({ messageId: 'now', contentType: 'application/json' });
    expect(rec.scheduled).toHaveLength(1);
    expect(rec.scheduled[0]?.message).toMatchObject({ messageId: 'later' });
    expect(rec.scheduled[0]?.message).not.toHaveProperty('scheduledEnqueueTimeUtc');
    expect(rec.scheduled[0]?.at).toBe(at);
  });

  it('creates one SDK sender per queue and closes each once', async () => {
    const rec = newRecording();
    const factory = jest.fn(() => recordingSender(rec));
    const onClose = jest.fn(() => Promise.resolve());
    const sender = new ServiceBusQueueSender(factory, { onClose });
    await Promise.all([1, 2, 3].map((i) => sender.send(Q, { messageId: `o${i}`, body: {} })));
    await sender.send(QUEUES.syncInbound, { messageId: 'i1', body: {} });
    expect(factory.mock.calls).toEqual([[Q], [QUEUES.syncInbound]]);
    await sender.close();
    await sender.close();
    expect(rec.closed).toBe(2);
    expect(onClose).toHaveBeenCalledTimes(1);
    await expect(sender.send(Q, { messageId: 'x', body: {} })).rejects.toThrow(QueueSendError);
  });

  it.each(['ServiceBusy', 'ServiceTimeout'] as const)('maps %s to a RetryableError', async (code) => {
    const cause = new ServiceBusError('throttled', code);
    cause.retryable = false; // the code alone decides
    const sender = new ServiceBusQueueSender(() => recordingSender(newRecording(), () => cause));
    const err: unknown = await sender.send(Q, { messageId: 'm', body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).cause).toBe(cause);
  });

  it('maps an SDK error flagged retryable to a RetryableError', async () => {
    const cause = new ServiceBusError('link detached', 'GeneralError');
    cause.retryable = true;
    const sender = new ServiceBusQueueSender(() => recordingSender(newRecording(), () => cause));
    await expect(sender.send(Q, { messageId: 'm', body: {} })).rejects.toThrow(RetryableError);
  });

  it('never retries what a retry cannot fix, even when the SDK error says retryable', async () => {
    const cause = new ServiceBusError('too big', 'MessageSizeExceeded'); // constructor defaults retryable to true
    const sender = new ServiceBusQueueSender(() => recordingSender(newRecording(), () => cause));
    const err: unknown = await sender.send(Q, { messageId: 'm', body: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueSendError);
    expect(err).toMatchObject({ queue: Q, code: 'MessageSizeExceeded' });
  });

  it('wraps other errors with the queue name, never the body', async () => {
    const sender = new ServiceBusQueueSender(() => recordingSender(newRecording(), () => new Error('socket hang up')));
    const err: unknown = await sender.send(Q, { messageId: 'm', body: { token: 'secret-value-123' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueSendError);
    expect((err as Error).message).toBe(`Sending to queue ${Q} failed: Error: socket hang up`);
    expect(JSON.stringify(err)).not.toContain('secret-value-123');
  });

  it('rejects a bad body before touching the SDK', async () => {
    const factory = jest.fn(() => recordingSender(newRecording()));
    const sender = new ServiceBusQueueSender(factory);
    await expect(sender.send(Q, { messageId: 'm', body: { n: Number.NaN } })).rejects.toThrow(NonJsonBodyError);
    expect(factory).not.toHaveBeenCalled();
  });
});

describe('createServiceBusQueueSender', () => {
  it('builds nothing and asks for no token until used; ping and close work offline', async () => {
    const getToken = jest.fn(() => Promise.reject(new Error('no token in tests')));
    const credential: TokenCredential = { getToken };
    const sender = createServiceBusQueueSender('castiel-test.servicebus.windows.net', credential);
    await sender.ping();
    await sender.close();
    expect(getToken).not.toHaveBeenCalled();
  });
});
