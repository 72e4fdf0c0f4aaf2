import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { notionProvider, type NotionConfig } from '../../shared/providers/notion';
import { notionWebhook, signNotionPayload, verifyNotionSignature } from '../../shared/providers/notion/webhook';
import type { WebhookRequest, WebhookScheme, WebhookVerdict } from '../../shared/providers/types';

const FIXTURES = join(__dirname, '..', 'fixtures', 'notion');
/** The verification token of the worked example on https://developers.notion.com/reference/webhooks. */
const DOCS_TOKEN = 'secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl';
/** The docs' "Sample X-Notion-Signature from Notion". */
const DOCS_SIGNATURE = 'sha256=461e8cbcba8a75c3edd866f0e71280f5a85cbf21eff040ebd10fe266df38a735';
const SECRET = 'secret_R2d2C3poBb8AndChewbacca0123456789abcdefg';
const CONFIG: NotionConfig = { dataSourceId: 'a1d8501e-1ac1-43e9-a6bd-ea9fe6c8822b' };
const scheme: WebhookScheme<NotionConfig> = notionProvider.webhook!;
const EVENT = readFileSync(join(FIXTURES, 'webhooks', 'page.properties_updated.json'));

function request(rawBody: Buffer, headers: Record<string, string | undefined>): WebhookRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { rawBody, header: (name) => lower.get(name.toLowerCase()), url: 'https://example.test/api/webhooks/notion/n1' };
}

function delivery(rawBody: Buffer, overrides: Record<string, string | undefined> = {}, secret = SECRET): WebhookRequest {
  return request(rawBody, { 'Content-Type': 'application/json', 'X-Notion-Signature': signNotionPayload(secret, rawBody), ...overrides });
}

/** `null`: no secret configured. notionWebhook.verify is synchronous (its declared type says so). */
function verify(req: WebhookRequest, secret: string | null | readonly string[] = SECRET): WebhookVerdict {
  const secrets = secret === null ? [] : typeof secret === 'string' ? [secret] : secret;
  return notionWebhook.verify(req, { config: CONFIG, secrets, now: new Date('2025-01-01T00:00:00Z'), jwks: () => Promise.reject(new Error('unused')) });
}

const status = (v: WebhookVerdict): number | undefined => (v.kind === 'reject' ? v.status : undefined);

describe('Notion signature (known answer from the docs)', () => {
  const handshake = readFileSync(join(FIXTURES, 'handshake.json'));

  it('the fixture is the docs body byte for byte', () => {
    expect(handshake.toString('utf8')).toBe(JSON.stringify({ verification_token: DOCS_TOKEN }));
  });

  it('signs the published vector', () => {
    expect(signNotionPayload(DOCS_TOKEN, handshake)).toBe(DOCS_SIGNATURE);
  });

  it('verifies the published vector, and not under another token or another body', () => {
    expect(verifyNotionSignature(DOCS_TOKEN, handshake, DOCS_SIGNATURE)).toBe(true);
    expect(verifyNotionSignature(SECRET, handshake, DOCS_SIGNATURE)).toBe(false);
    expect(verifyNotionSignature(DOCS_TOKEN, Buffer.concat([handshake, Buffer.from(' ')]), DOCS_SIGNATURE)).toBe(false);
    expect(verifyNotionSignature('', handshake, signNotionPayload('', handshake))).toBe(false);
  });

  it('accepts a documented event signed with the documented token', () => {
    const verdict = verify(delivery(EVENT, {}, DOCS_TOKEN), DOCS_TOKEN);
    expect(verdict).toEqual({ kind: 'accept', events: [{ deliveryId: '1782edd6-a853-4d4a-b02c-9c8c16f28e53', event: 'page.properties_updated' }] });
  });

  it('accepts the previous token during a rotation, and neither after it ends', () => {
    expect(verify(delivery(EVENT), ['new-token-0123456789', SECRET])).toMatchObject({ kind: 'accept' });
    expect(verify(delivery(EVENT), ['new-token-0123456789'])).toMatchObject({ kind: 'reject', status: 401 });
  });
});

describe('subscription handshake', () => {
  const handshake = readFileSync(join(FIXTURES, 'handshake.json'));

  it('hands the unsigned verification_token to the core as the secret to store', () => {
    expect(verify(request(handshake, { 'content-type': 'application/json' }), null)).toEqual({
      kind: 'store-secret',
      secret: DOCS_TOKEN,
      reply: { status: 200, body: JSON.stringify({ ok: true }), contentType: 'application/json' },
    });
  });

  it('is the same verdict when a secret is set: the core refuses to replace it', () => {
    expect(verify(request(handshake, {}), SECRET)).toMatchObject({ kind: 'store-secret', secret: DOCS_TOKEN });
  });

  it('accepts pretty-printed JSON too', () => {
    expect(verify(request(Buffer.from(JSON.stringify({ verification_token: DOCS_TOKEN }, null, 2)), {}), null)).toMatchObject({ kind: 'store-secret' });
  });

  it.each([
    ['an extra key', { verification_token: DOCS_TOKEN, type: 'x' }],
    ['a short token', { verification_token: 'secret_1' }],
    ['a token with spaces', { verification_token: 'secret_ with spaces in it ok' }],
    ['a number', { verification_token: 1234567890123456 }],
    ['an array', [DOCS_TOKEN]],
  ])('is not a handshake with %s (so, unsigned, a 401)', (_name, body) => {
    expect(status(verify(request(Buffer.from(JSON.stringify(body)), {}), null))).toBe(401);
    expect(status(verify(request(Buffer.from(JSON.stringify(body)), {}), SECRET))).toBe(401);
  });

  it('does not read a large body as a handshake', () => {
    const padded = Buffer.from(`{"verification_token":"${DOCS_TOKEN}"${' '.repeat(600)}}`);
    expect(JSON.parse(padded.toString())).toEqual({ verification_token: DOCS_TOKEN });
    expect(status(verify(request(padded, {}), null))).toBe(401);
  });
});

describe('documented event payloads', () => {
  const files = readdirSync(join(FIXTURES, 'webhooks')).filter((f) => f.endsWith('.json'));

  it('has the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(13);
  });

  it.each(files)('accepts %s, deduped on its payload id', (file) => {
    const raw = readFileSync(join(FIXTURES, 'webhooks', file));
    const payload = JSON.parse(raw.toString('utf8')) as { id: string; type: string; attempt_number: number };
    expect(file).toBe(`${payload.type}.json`);
    expect(verify(delivery(raw))).toEqual({ kind: 'accept', events: [{ deliveryId: payload.id, event: payload.type }] });
  });

  it('keeps no signature header with a stored delivery', () => {
    expect(scheme.keptHeaders).toEqual(expect.arrayContaining(['content-type', 'user-agent']));
    expect(scheme.keptHeaders.some((h) => h.includes('signature'))).toBe(false);
  });
});

describe('replays and retries (no signed timestamp in this scheme)', () => {
  const payload = JSON.parse(EVENT.toString('utf8')) as Record<string, unknown>;

  it('accepts an old event: staleness cannot be judged, the payload id dedupes replays', () => {
    const old = Buffer.from(JSON.stringify({ ...payload, timestamp: '2020-01-01T00:00:00.000Z' }));
    expect(verify(delivery(old))).toMatchObject({ kind: 'accept', events: [{ deliveryId: payload.id }] });
  });

  it('gives every attempt of an event the same dedupe id', () => {
    const ids = [1, 2, 8].map((attempt) => {
      const verdict = verify(delivery(Buffer.from(JSON.stringify({ ...payload, attempt_number: attempt }))));
      return verdict.kind === 'accept' ? verdict.events[0]?.deliveryId : undefined;
    });
    expect(ids).toEqual([payload.id, payload.id, payload.id]);
  });
});

describe('rejections', () => {
  const good = signNotionPayload(SECRET, EVENT);

  it.each([
    ['missing signature', { 'X-Notion-Signature': undefined }],
    ['empty signature', { 'X-Notion-Signature': '' }],
    ['no prefix', { 'X-Notion-Signature': good.slice('sha256='.length) }],
    ['wrong algorithm prefix', { 'X-Notion-Signature': good.replace('sha256=', 'sha1=') }],
    ['truncated hex', { 'X-Notion-Signature': good.slice(0, -2) }],
    ['extra hex', { 'X-Notion-Signature': `${good}00` }],
    ['uppercase hex', { 'X-Notion-Signature': `sha256=${good.slice(7).toUpperCase()}` }],
    ['non-hex', { 'X-Notion-Signature': `sha256=${'z'.repeat(64)}` }],
    ['trailing space', { 'X-Notion-Signature': `${good} ` }],
    ['two signatures', { 'X-Notion-Signature': `${good},${good}` }],
    ['the signature of another body', { 'X-Notion-Signature': signNotionPayload(SECRET, '{}') }],
  ])('401 on %s', (_name, headers) => {
    expect(status(verify(delivery(EVENT, headers)))).toBe(401);
  });

  it('401 under the wrong secret', () => {
    expect(status(verify(delivery(EVENT), 'secret_another_one_0123456789'))).toBe(401);
  });

  it('401 (fail closed) without a secret, even for a body signed with the empty key', () => {
    const signedEmpty = delivery(EVENT, {}, '');
    expect(status(verify(signedEmpty, ''))).toBe(401);
    expect(status(verify(signedEmpty, null))).toBe(401);
  });

  const base = JSON.parse(EVENT.toString('utf8')) as Record<string, unknown>;
  it.each([
    ['not JSON', '{"id":'],
    ['an array', '[1,2]'],
    ['no id', JSON.stringify({ ...base, id: undefined })],
    ['a non-UUID id', JSON.stringify({ ...base, id: '../../etc/passwd' })],
    ['attempt_number 0', JSON.stringify({ ...base, attempt_number: 0 })],
    ['attempt_number 9', JSON.stringify({ ...base, attempt_number: 9 })],
    ['a fractional attempt_number', JSON.stringify({ ...base, attempt_number: 1.5 })],
    ['a malformed type', JSON.stringify({ ...base, type: 'Page Created' })],
    ['a malformed timestamp', JSON.stringify({ ...base, timestamp: 'yesterday' })],
    ['no entity', JSON.stringify({ ...base, entity: undefined })],
  ])('400 on a validly signed body that is not an event: %s', (_name, body) => {
    expect(status(verify(delivery(Buffer.from(body))))).toBe(400);
  });

  it('checks the signature before the body', () => {
    expect(status(verify(delivery(Buffer.from('[1,2]'), { 'X-Notion-Signature': undefined })))).toBe(401);
  });

  it('reasons never contain the secret or the signature', () => {
    for (const v of [verify(delivery(EVENT), 'secret_another_one_0123456789'), verify(delivery(Buffer.from('x')))]) {
      expect(JSON.stringify(v)).not.toContain(SECRET);
      expect(JSON.stringify(v)).not.toContain(good.slice(7));
    }
  });
});

describe('property: any bit flip fails', () => {
  const flip = (bytes: Buffer, bit: number): Buffer => {
    const copy = Buffer.from(bytes);
    const index = Math.floor(bit / 8) % copy.length;
    copy[index] = copy[index]! ^ (1 << (bit % 8));
    return copy;
  };
  const rejected = (v: WebhookVerdict): boolean => v.kind === 'reject' && v.status === 401;

  it('in the body', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 1024 }), fc.nat(), (bytes, bit) => {
        const body = Buffer.from(bytes);
        const verdict = verify(delivery(flip(body, bit), { 'X-Notion-Signature': signNotionPayload(SECRET, body) }));
        // A flipped body can only get through as a well-formed handshake, which carries no event.
        expect(rejected(verdict) || verdict.kind === 'store-secret').toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('in a documented event body', () => {
    fc.assert(
      fc.property(fc.nat(), (bit) => {
        expect(rejected(verify(delivery(flip(EVENT, bit), { 'X-Notion-Signature': signNotionPayload(SECRET, EVENT) })))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('in the signature header', () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), (json, bit) => {
        const body = Buffer.from(json);
        const header = flip(Buffer.from(signNotionPayload(SECRET, body), 'latin1'), bit).toString('latin1');
        expect(rejected(verify(delivery(body, { 'X-Notion-Signature': header })))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('in the timestamp field', () => {
    const text = EVENT.toString('utf8');
    const start = text.indexOf('"timestamp"');
    const end = text.indexOf('"workspace_id"');
    fc.assert(
      fc.property(fc.integer({ min: start, max: end - 1 }), fc.integer({ min: 0, max: 6 }), (offset, bit) => {
        const tampered = Buffer.from(EVENT);
        tampered[offset] = tampered[offset]! ^ (1 << bit);
        expect(rejected(verify(delivery(tampered, { 'X-Notion-Signature': signNotionPayload(SECRET, EVENT) })))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
