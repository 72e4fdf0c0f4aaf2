import fc from 'fast-check';
import { JSON_MAX_DEPTH, JsonBodyError, jsonFailure, parseJson } from '../../shared/http/json';
import { githubWebhook, signGithubPayload } from '../../shared/providers/github/webhook';
import { githubEventRecords } from '../../shared/providers/github/events';
import { signSlackRequest, slackWebhook } from '../../shared/providers/slack/webhook';
import { slackConfigSchema } from '../../shared/providers/slack/schemas';
import { slackEventRecords } from '../../shared/providers/slack/events';
import type { WebhookRequest } from '../../shared/providers/types';

const nested = (levels: number, inner = '1'): string => '['.repeat(levels) + inner + ']'.repeat(levels);

function rejection(fn: () => unknown): JsonBodyError {
  try {
    fn();
  } catch (error) {
    if (error instanceof JsonBodyError) return error;
    throw error;
  }
  throw new Error('expected a JsonBodyError');
}

describe('parseJson: one bounded parser for every JSON body', () => {
  it(`accepts ${JSON_MAX_DEPTH} levels of nesting and refuses one more, before parsing`, () => {
    expect(JSON_MAX_DEPTH).toBe(64);
    expect(parseJson(nested(JSON_MAX_DEPTH))).toBeDefined();
    expect(rejection(() => parseJson(nested(JSON_MAX_DEPTH + 1)))).toMatchObject({ rejection: 'too_deep', reason: 'body nests deeper than 64 levels' });
    // Objects count like arrays; 3,000 levels (the reported body) are refused the same way.
    expect(rejection(() => parseJson(`{"data":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`)).rejection).toBe('too_deep');
  });

  it('does not count brackets inside strings, including after escaped quotes and backslashes', () => {
    const text = JSON.stringify({ a: '['.repeat(500), b: 'say \\"[[[[', c: '\\', d: '{'.repeat(500) });
    expect(parseJson(text)).toEqual(JSON.parse(text));
    // A key ending in an escaped backslash, then a __proto__ key: the scan must see where each string ends.
    expect(rejection(() => parseJson('{"a\\\\":{"__proto__":1}}')).rejection).toBe('forbidden_key');
    expect(parseJson('{"a\\"__proto__\\"":1}')).toEqual({ 'a"__proto__"': 1 });
  });

  it.each([
    ['top level', '{"__proto__":{"admin":true}}'],
    ['nested', '{"data":{"x":[{"__proto__":{"admin":true}}]}}'],
    ['whitespace before the colon', '{"__proto__"  \n :1}'],
    ['spelled with escapes', '{"\\u005f_proto__":{"admin":true}}'],
    ['fully escaped', '{"\\u005f\\u005f\\u0070roto\\u005f\\u005f":1}'],
  ])('refuses a __proto__ key (%s) with a reason', (_name, text) => {
    expect(rejection(() => parseJson(text))).toMatchObject({ rejection: 'forbidden_key', reason: 'body has a "__proto__" key, which is not accepted' });
  });

  it('accepts __proto__ as a value, and constructor/prototype keys (ordinary own properties after JSON.parse)', () => {
    expect(parseJson('{"a":"__proto__","list":["__proto__"]}')).toEqual({ a: '__proto__', list: ['__proto__'] });
    const parsed = parseJson('{"constructor":{"prototype":{"x":1}}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(['constructor']);
  });

  it('agrees with JSON.parse on any JSON within the limits (property)', () => {
    const hasProtoKey = (v: unknown): boolean =>
      typeof v === 'object' && v !== null && (Object.prototype.hasOwnProperty.call(v, '__proto__') || Object.values(v).some(hasProtoKey));
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8, stringUnit: fc.constantFrom('"', '\\', '{', ']', ':', ' ', 'a', '_', '\u2028', '\u{1F600}') }), fc.constantFrom(0, 2), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        if (hasProtoKey(JSON.parse(text))) expect(() => parseJson(text)).toThrow(JsonBodyError);
        else expect(parseJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('checks the size (in UTF-8 bytes) first, and names invalid JSON as such', () => {
    expect(rejection(() => parseJson('"ééé"', { maxBytes: 7 }))).toMatchObject({ rejection: 'too_large', reason: 'body is 8 bytes; the limit is 7' });
    expect(parseJson(Buffer.from('"ééé"'), { maxBytes: 8 })).toBe('ééé');
    expect(rejection(() => parseJson('{"a":'))).toMatchObject({ rejection: 'invalid', reason: 'body is not valid JSON' });
    expect(jsonFailure(new Error('other'))).toBe('body is not valid JSON');
  });
});

describe('webhook bodies go through the same parser', () => {
  const headers = (rawBody: Buffer): Record<string, string> => ({
    'x-hub-signature-256': signGithubPayload('gh-secret', rawBody),
    'x-github-event': 'issues',
    'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  });
  const request = (rawBody: Buffer, h: Record<string, string>): WebhookRequest => ({ rawBody, header: (n) => h[n.toLowerCase()], url: 'https://example.test/api/webhooks/github/gh1' });
  const ctx = { config: { owner: 'o', repo: 'r' }, secrets: ['gh-secret'], now: new Date(), jwks: () => Promise.reject(new Error('no JWKS')) };

  it('a signed GitHub delivery nested too deep is refused with 400 and a reason', () => {
    const raw = Buffer.from(`{"action":"opened","x":${nested(200)}}`);
    expect(githubWebhook.verify(request(raw, headers(raw)), ctx)).toEqual({ kind: 'reject', status: 400, reason: 'body nests deeper than 64 levels' });
  });

  it('a signed GitHub delivery with a __proto__ key is refused, and yields no records', () => {
    const raw = Buffer.from('{"action":"deleted","__proto__":{"x":1},"issue":{}}');
    expect(githubWebhook.verify(request(raw, headers(raw)), ctx)).toMatchObject({ kind: 'reject', status: 400, reason: expect.stringContaining('__proto__') as unknown });
    expect(githubEventRecords(raw, [{ deliveryId: 'd', event: 'issues.deleted' }])).toEqual([]);
  });

  it('a signed Slack event nested too deep is refused, and its records are not extracted', () => {
    const raw = Buffer.from(`{"type":"event_callback","event":{"type":"message","channel":"C0123456","x":${nested(100)}}}`);
    const ts = String(Math.floor(Date.now() / 1000));
    const req = request(raw, { 'x-slack-request-timestamp': ts, 'x-slack-signature': signSlackRequest('slack-secret', ts, raw) });
    const config = slackConfigSchema.parse({ channels: ['C0123456'] });
    expect(slackWebhook.verify(req, { config, secrets: ['slack-secret'], now: new Date(), jwks: ctx.jwks })).toEqual({ kind: 'reject', status: 400, reason: 'body nests deeper than 64 levels' });
    expect(slackEventRecords(raw, config)).toEqual([]);
  });
});
