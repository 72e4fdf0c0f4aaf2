import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { WebhookRequest } from '../../shared/providers/types';
import {
  signStandardWebhook,
  standardWebhookKey,
  verifyStandardWebhook,
  type StandardWebhookVerification,
} from '../../shared/webhooks/standard-webhooks';

// The standard-webhooks library's test vector, quoted in PROVIDERS.md.
const KAT = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const AT_KAT = new Date(KAT.timestamp * 1000);

function request(body: string | Buffer, headers: Record<string, string | undefined>): Pick<WebhookRequest, 'rawBody' | 'header'> {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), header: (n) => lower.get(n.toLowerCase()) };
}

function katRequest(overrides: Record<string, string | undefined> = {}, body: string | Buffer = KAT.body): Pick<WebhookRequest, 'rawBody' | 'header'> {
  return request(body, { 'webhook-id': KAT.id, 'webhook-timestamp': String(KAT.timestamp), 'webhook-signature': KAT.signature, ...overrides });
}

const rejected = (v: StandardWebhookVerification): number | undefined => (v.ok ? undefined : v.status);

describe('Standard Webhooks known answer', () => {
  it('signs the published vector', () => {
    expect(signStandardWebhook(KAT.secret, KAT.id, KAT.timestamp, KAT.body)).toBe(KAT.signature);
  });

  it('verifies the published vector at its own timestamp', () => {
    expect(verifyStandardWebhook(katRequest(), [KAT.secret], AT_KAT)).toEqual({ ok: true, id: KAT.id, timestamp: KAT.timestamp });
  });

  it('rejects it under another secret, another id, another timestamp or another body', () => {
    expect(rejected(verifyStandardWebhook(katRequest(), ['whsec_' + Buffer.from('another secret key 24 bytes').toString('base64')], AT_KAT))).toBe(401);
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-id': 'msg_other' }), [KAT.secret], AT_KAT))).toBe(401);
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-timestamp': String(KAT.timestamp + 1) }), [KAT.secret], AT_KAT))).toBe(401);
    expect(rejected(verifyStandardWebhook(katRequest({}, '{"test": 2432232315}'), [KAT.secret], AT_KAT))).toBe(401);
  });
});

describe('secrets', () => {
  it('whsec_ secrets are base64-decoded; others are raw UTF-8 bytes', () => {
    expect(standardWebhookKey(KAT.secret)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
    expect(standardWebhookKey('plain secret é')).toEqual(Buffer.from('plain secret é', 'utf8'));
    const raw = 'an-apex-named-credential-secret';
    const signature = `v1,${createHmac('sha256', raw).update(`${KAT.id}.${KAT.timestamp}.${KAT.body}`).digest('base64')}`;
    expect(signStandardWebhook(raw, KAT.id, KAT.timestamp, KAT.body)).toBe(signature);
    expect(verifyStandardWebhook(katRequest({ 'webhook-signature': signature }), [raw], AT_KAT).ok).toBe(true);
  });

  it('a whsec_ secret that is not base64 is unusable: fail closed, and signing refuses', () => {
    expect(standardWebhookKey('whsec_not base64!')).toBeUndefined();
    expect(standardWebhookKey('whsec_')).toBeUndefined();
    expect(() => signStandardWebhook('whsec_%%%', KAT.id, KAT.timestamp, KAT.body)).toThrow(/not usable/);
    expect(verifyStandardWebhook(katRequest(), ['whsec_%%%'], AT_KAT)).toEqual({ ok: false, status: 401, reason: expect.stringMatching(/no usable webhook secret/) as unknown });
  });

  it('no secret at all fails closed, even for a body signed with the empty key', () => {
    const signature = `v1,${createHmac('sha256', Buffer.alloc(0)).update(`${KAT.id}.${KAT.timestamp}.${KAT.body}`).digest('base64')}`;
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-signature': signature }), [], AT_KAT))).toBe(401);
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-signature': signature }), [''], AT_KAT))).toBe(401);
  });

  it('rotation: any of our secrets verifies, and any of several signatures may match', () => {
    const other = 'whsec_' + Buffer.from('the-next-secret-32-bytes-long!!!').toString('base64');
    expect(verifyStandardWebhook(katRequest(), [other, KAT.secret], AT_KAT).ok).toBe(true);
    const both = `${signStandardWebhook(other, KAT.id, KAT.timestamp, KAT.body)} ${KAT.signature}`;
    expect(verifyStandardWebhook(katRequest({ 'webhook-signature': both }), [KAT.secret], AT_KAT).ok).toBe(true);
    expect(verifyStandardWebhook(katRequest({ 'webhook-signature': both }), [other], AT_KAT).ok).toBe(true);
    // Unknown versions (the asymmetric v1a) are skipped, not fatal.
    expect(verifyStandardWebhook(katRequest({ 'webhook-signature': `v1a,${'A'.repeat(86)}== ${KAT.signature}` }), [KAT.secret], AT_KAT).ok).toBe(true);
  });
});

describe('timestamps', () => {
  const at = (offsetSeconds: number): Date => new Date((KAT.timestamp + offsetSeconds) * 1000);

  it('accepts up to 300 s either way, rejects beyond (stale and future)', () => {
    expect(verifyStandardWebhook(katRequest(), [KAT.secret], at(300)).ok).toBe(true);
    expect(verifyStandardWebhook(katRequest(), [KAT.secret], at(-300)).ok).toBe(true);
    expect(verifyStandardWebhook(katRequest(), [KAT.secret], at(301))).toEqual({ ok: false, status: 401, reason: 'webhook-timestamp is too old' });
    expect(verifyStandardWebhook(katRequest(), [KAT.secret], at(-301))).toEqual({ ok: false, status: 401, reason: 'webhook-timestamp is too far in the future' });
  });

  it('honours a custom tolerance', () => {
    expect(verifyStandardWebhook(katRequest(), [KAT.secret], at(60), { toleranceSeconds: 30 }).ok).toBe(false);
  });

  it.each([['1614265330.5'], ['-1614265330'], ['1e9'], [' 1614265330'], ['abc'], ['']])('rejects a malformed timestamp %j', (ts) => {
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-timestamp': ts }), [KAT.secret], AT_KAT))).toBe(401);
  });
});

describe('header shapes', () => {
  it.each([
    ['no id', { 'webhook-id': undefined }],
    ['no timestamp', { 'webhook-timestamp': undefined }],
    ['no signature', { 'webhook-signature': undefined }],
    ['no version', { 'webhook-signature': KAT.signature.slice(3) }],
    ['v2 prefix', { 'webhook-signature': KAT.signature.replace('v1,', 'v2,') }],
    ['truncated', { 'webhook-signature': KAT.signature.slice(0, -2) }],
    ['unpadded', { 'webhook-signature': KAT.signature.replace('=', '') }],
    ['hex instead of base64', { 'webhook-signature': `v1,${Buffer.from(KAT.signature.slice(3), 'base64').toString('hex')}` }],
    ['comma-separated list', { 'webhook-signature': `v1,${'A'.repeat(43)}=,${KAT.signature}` }],
    ['oversized', { 'webhook-signature': `${'v1,x '.repeat(500)}${KAT.signature}` }],
  ])('401 on %s', (_name, headers) => {
    expect(rejected(verifyStandardWebhook(katRequest(headers), [KAT.secret], AT_KAT))).toBe(401);
  });

  it('401 on a non-canonical spelling of the right signature (unused base64 bits set)', () => {
    const variant = KAT.signature.replace(/E=$/, 'F=');
    // Same bytes, different text: only the canonical text is accepted.
    expect(Buffer.from(variant.slice(3), 'base64')).toEqual(Buffer.from(KAT.signature.slice(3), 'base64'));
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-signature': variant }), [KAT.secret], AT_KAT))).toBe(401);
  });

  it('checks the signature before the id format, then refuses ids unfit as dedupe keys with 400', () => {
    const id = 'msg with spaces';
    const signature = signStandardWebhook(KAT.secret, id, KAT.timestamp, KAT.body);
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-id': id }), [KAT.secret], AT_KAT))).toBe(401);
    expect(rejected(verifyStandardWebhook(katRequest({ 'webhook-id': id, 'webhook-signature': signature }), [KAT.secret], AT_KAT))).toBe(400);
  });

  it('reasons never contain the secret or a signature', () => {
    const results = [
      verifyStandardWebhook(katRequest(), ['whsec_' + Buffer.from('wrong-wrong-wrong-wrong!').toString('base64')], AT_KAT),
      verifyStandardWebhook(katRequest({ 'webhook-signature': 'v1,garbage' }), [KAT.secret], AT_KAT),
    ];
    for (const r of results) {
      expect(JSON.stringify(r)).not.toContain(KAT.secret.slice(6));
      expect(JSON.stringify(r)).not.toContain(KAT.signature.slice(3));
    }
  });
});

describe('property: any bit flip fails', () => {
  const SECRET = 'whsec_' + Buffer.from('castiel-property-test-secret-32b').toString('base64');
  const NOW = new Date(1_700_000_000_000);
  const TS = 1_700_000_000;
  const flip = (bytes: Buffer, bit: number): Buffer => {
    const copy = Buffer.from(bytes);
    const index = Math.floor(bit / 8) % copy.length;
    copy[index] = copy[index]! ^ (1 << (bit % 8));
    return copy;
  };
  const headersFor = (id: string, ts: string, body: Buffer): Record<string, string> => ({
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': signStandardWebhook(SECRET, id, Number(ts), body),
  });

  it('in the body', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), (bytes, bit) => {
        const body = Buffer.from(bytes);
        const headers = headersFor('msg_1', String(TS), body);
        expect(verifyStandardWebhook(request(flip(body, bit), headers), [SECRET], NOW).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('in the id, the timestamp or the signature header', () => {
    fc.assert(
      fc.property(fc.json(), fc.constantFrom('webhook-id', 'webhook-timestamp', 'webhook-signature'), fc.nat(), (json, name, bit) => {
        const body = Buffer.from(json);
        const headers = headersFor('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', String(TS), body);
        headers[name] = flip(Buffer.from(headers[name]!, 'latin1'), bit).toString('latin1');
        expect(verifyStandardWebhook(request(body, headers), [SECRET], NOW).ok).toBe(false);
      }),
      { numRuns: 600 },
    );
  });
});
