import type { ReceivedMessage } from '../../shared/messaging/port';
import { hostParseString, serviceBusTriggerInput, serviceBusTriggerMetadata, toCamelCaseValue } from '../../local/host/triggerMetadata';

const message = (over: Partial<ReceivedMessage> = {}): ReceivedMessage => ({
  messageId: 'pull:t1:i1:2024-01-01T10',
  body: { tenantId: 't1', integrationId: 'i1' },
  applicationProperties: { TenantId: 't1', attempt: 2, replay: false, note: '42' },
  deliveryCount: 1,
  enqueuedTimeUtc: new Date('2024-01-01T10:00:00.000Z'),
  lockToken: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
  ...over,
});

describe('Service Bus trigger metadata (host shapes)', () => {
  it('has camelCase keys, ISO dates and the message fields', () => {
    expect(serviceBusTriggerMetadata(message({ correlationId: 'run-7', subject: 'pull' }))).toEqual({
      messageId: 'pull:t1:i1:2024-01-01T10',
      deliveryCount: 1,
      enqueuedTimeUtc: '2024-01-01T10:00:00.000Z',
      lockToken: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      // nested keys are camelCased too; nested strings are not re-parsed
      applicationProperties: { tenantId: 't1', attempt: 2, replay: false, note: '42' },
      correlationId: 'run-7',
      subject: 'pull',
    });
  });

  it('omits correlationId and subject when the message has none', () => {
    const meta = serviceBusTriggerMetadata(message());
    expect(meta).not.toHaveProperty('correlationId');
    expect(meta).not.toHaveProperty('subject');
  });

  it('JSON-parses top-level string values, as the worker does', () => {
    const meta = serviceBusTriggerMetadata(message({ messageId: '12345', correlationId: 'true', subject: '{"a":1}' }));
    expect(meta.messageId).toBe(12345);
    expect(meta.correlationId).toBe(true);
    expect(meta.subject).toEqual({ a: 1 });
  });

  it('hostParseString keeps strings that are not JSON', () => {
    expect(hostParseString('abc')).toBe('abc');
    expect(hostParseString('"quoted"')).toBe('quoted');
    expect(hostParseString('1e3')).toBe(1000);
    expect(hostParseString('2024-01-01T10:00:00.000Z')).toBe('2024-01-01T10:00:00.000Z');
  });

  it('toCamelCaseValue lower-cases the first letter only, recursively', () => {
    expect(toCamelCaseValue({ ABC: [{ DeepKey: 1 }], x: null })).toEqual({ aBC: [{ deepKey: 1 }], x: null });
  });

  it('hands the handler a fresh JSON copy of the body', () => {
    const m = message();
    const input = serviceBusTriggerInput(m) as Record<string, unknown>;
    expect(input).toEqual(m.body);
    input.tenantId = 'changed';
    expect(m.body.tenantId).toBe('t1');
  });
});
