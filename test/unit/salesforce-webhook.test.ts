import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { salesforceProvider, type SalesforceConfig } from '../../shared/providers/salesforce';
import { OUTBOUND_ACK } from '../../shared/providers/salesforce/outbound-message';
import { parseXml } from '../../shared/providers/salesforce/xml';
import type { WebhookRequest, WebhookScheme, WebhookVerdict } from '../../shared/providers/types';
import { signStandardWebhook } from '../../shared/webhooks/standard-webhooks';

const FIXTURES = join(__dirname, '..', 'fixtures', 'salesforce');
const ORG = '00D5e000000KQ2eEAG';
const SECRET = `whsec_${Buffer.from('salesforce-callout-secret-32-byt').toString('base64')}`;
const NOW = new Date('2024-06-01T12:00:00Z');
const TS = Math.floor(NOW.getTime() / 1000);
const scheme: WebhookScheme<SalesforceConfig> = salesforceProvider.webhook!;
const baseConfig: SalesforceConfig = { apiVersion: '62.0', overlapSeconds: 1, objects: [{ name: 'Account', fields: ['Name'] }], organizationId: ORG };

function request(body: string | Buffer, headers: Record<string, string | undefined>): WebhookRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), header: (n) => lower.get(n.toLowerCase()), url: 'https://castiel.example/api/webhooks/salesforce/sf1' };
}

interface VerifyOptions {
  config?: Partial<SalesforceConfig>;
  secrets?: readonly string[];
  now?: Date;
}

async function verify(req: WebhookRequest, o: VerifyOptions = {}): Promise<WebhookVerdict> {
  const config = { ...baseConfig, ...o.config };
  return scheme.verify(req, { config, secrets: o.secrets ?? [SECRET], now: o.now ?? NOW, jwks: () => Promise.reject(new Error('no JWKS here')) });
}

const outbound = (xml: string | Buffer, contentType = 'text/xml; charset=utf-8'): WebhookRequest => request(xml, { 'content-type': contentType, soapaction: '""' });

function callout(body: string | Buffer, o: { id?: string; ts?: number; secret?: string; headers?: Record<string, string | undefined> } = {}): WebhookRequest {
  const id = o.id ?? 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
  const ts = o.ts ?? TS;
  return request(body, {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(ts),
    'webhook-signature': signStandardWebhook(o.secret ?? SECRET, id, ts, Buffer.isBuffer(body) ? body : Buffer.from(body)),
    ...o.headers,
  });
}

const status = (v: WebhookVerdict): number | undefined => (v.kind === 'reject' ? v.status : undefined);
const fixture = (file: string): Buffer => readFileSync(join(FIXTURES, file));

/** A small Outbound Message with `n` Notifications (ids 04l…), as the sandbox and Salesforce write them. */
function message(o: { org?: string; notifications?: string[]; session?: string; extra?: string } = {}): string {
  const notes = (o.notifications ?? ['04l5e00000Gx7QzAAJ'])
    .map((id) => `<Notification><Id>${id}</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>0015e00000ZkM3hAAF</sf:Id></sObject></Notification>`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>' +
    `<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>${o.org ?? ORG}</OrganizationId><ActionId>04k5e000000CaRkAAK</ActionId>` +
    (o.session === undefined ? '<SessionId xsi:nil="true"/>' : `<SessionId>${o.session}</SessionId>`) +
    `${o.extra ?? ''}${notes}</notifications></soapenv:Body></soapenv:Envelope>`
  );
}

describe('Outbound Messages: recorded payloads', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.startsWith('outbound-message.') && f !== 'outbound-message.ack.xml');

  it('has the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('accepts %s: one event per Notification Id, answered with the SOAP Ack, flagged unverified', async (file) => {
    const raw = fixture(file);
    const text = raw.toString('utf8');
    const org = /<OrganizationId>([^<]+)</.exec(text)![1]!;
    const ids = [...text.matchAll(/<Notification>\s*<Id>([^<]+)<\/Id>/g)].map((m) => m[1]);
    const types = [...text.matchAll(/xsi:type="sf:([A-Za-z0-9_]+)"/g)].map((m) => m[1]);
    const verdict = await verify(outbound(raw), { config: { organizationId: org } });
    expect(verdict).toEqual({
      kind: 'accept',
      events: ids.map((id, i) => ({ deliveryId: id, event: `outbound_message.${types[i]!}` })),
      reply: { status: 200, body: OUTBOUND_ACK, contentType: 'text/xml; charset=utf-8' },
      unverified: true,
    });
  });

  it('accepts the org by its 15-character id too', async () => {
    expect(await verify(outbound(fixture('outbound-message.account.xml')), { config: { organizationId: ORG.slice(0, 15) } })).toMatchObject({ kind: 'accept' });
  });

  it('our Ack has the shape of the documented notificationsResponse', () => {
    const shape = (xml: string): unknown => {
      const walk = (e: ReturnType<typeof parseXml>): unknown => ({ ns: e.namespace, local: e.local, text: e.children.length ? undefined : e.text.trim(), children: e.children.map(walk) });
      return walk(parseXml(xml));
    };
    expect(shape(OUTBOUND_ACK)).toEqual(shape(fixture('outbound-message.ack.xml').toString('utf8')));
  });

  it('application/soap+xml is an Outbound Message too', async () => {
    expect(await verify(outbound(message(), 'application/soap+xml'))).toMatchObject({ kind: 'accept' });
  });

  it('a Notification repeated inside one message is one event', async () => {
    const verdict = await verify(outbound(message({ notifications: ['04l5e00000Gx7QzAAJ', '04l5e00000Gx7QzAAJ', '04l5e00000Gx7R0AAJ'] })));
    expect(verdict.kind === 'accept' && verdict.events.map((e) => e.deliveryId)).toEqual(['04l5e00000Gx7QzAAJ', '04l5e00000Gx7R0AAJ']);
  });

  it('takes 100 Notifications and refuses 101 or none', async () => {
    const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `04l5e00000Gx${String(i).padStart(3, '0')}AAA`);
    expect(await verify(outbound(message({ notifications: ids(100) })))).toMatchObject({ kind: 'accept' });
    expect(status(await verify(outbound(message({ notifications: ids(101) }))))).toBe(400);
    expect(status(await verify(outbound(message({ notifications: [] }))))).toBe(400);
  });
});

describe('Outbound Messages: authentication', () => {
  it('401 from another org, and the reason names no id', async () => {
    const verdict = await verify(outbound(message({ org: '00D5e000000KQ2fEAG' })));
    expect(verdict).toEqual({ kind: 'reject', status: 401, reason: 'OrganizationId does not match this integration' });
  });

  it('401 (fail closed) when the integration has no organizationId', async () => {
    const { organizationId: _, ...config } = baseConfig;
    expect(status(await scheme.verify(outbound(message()), { config, secrets: [SECRET], now: NOW, jwks: () => Promise.resolve([]) }))).toBe(401);
  });

  it('400 when "Send Session ID" is on: a live session must never be stored', async () => {
    const verdict = await verify(outbound(message({ session: '00D5e000000KQ2e!AQ4AQ.secret.session' })));
    expect(verdict).toMatchObject({ kind: 'reject', status: 400 });
    expect(JSON.stringify(verdict)).not.toContain('secret.session');
  });

  it('property: any other OrganizationId is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 3, max: 14 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'.split('')), async (index, ch) => {
        // Past the prefix 00D and within the 15 characters that identify the org.
        fc.pre(ORG[index] !== ch);
        const forged = ORG.slice(0, index) + ch + ORG.slice(index + 1);
        expect(status(await verify(outbound(message({ org: forged }))))).toBe(401);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Outbound Messages: hostile or broken XML is refused before anything is read', () => {
  const envelope = message();
  const body = envelope.replace('<?xml version="1.0" encoding="UTF-8"?>', '');

  it.each([
    ['an external entity (XXE)', `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${body.replace(ORG, '&xxe;')}`, /DTD/],
    ['entity expansion (billion laughs)', `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>${body}`, /DTD/],
    ['a bare DOCTYPE', `<!DOCTYPE soapenv:Envelope>${body}`, /DTD/],
    ['an undefined entity', envelope.replace('04k5e000000CaRkAAK', '&nbsp;04k5e000000CaRkAAK'), /undefined entity/],
    ['a processing instruction', envelope.replace('<soapenv:Body>', '<?xml-stylesheet href="x"?><soapenv:Body>'), /processing instructions/],
    ['a non-UTF-8 encoding', envelope.replace('UTF-8', 'ISO-8859-1'), /encoding/],
    ['mismatched tags', envelope.replace('</ActionId>', '</ActionID>'), /does not match/],
    ['two roots', `${envelope}<again/>`, /more than one root/],
    ['unclosed elements', envelope.replace('</soapenv:Envelope>', ''), /unclosed/],
    ['an undeclared prefix', envelope.replace('<soapenv:Body>', '<soapenv:Body><x:y/>'), /undeclared prefix/],
    ['a duplicate attribute', envelope.replace('<notifications ', '<notifications a="1" a="2" '), /duplicate attribute/],
    ['a stray ampersand', envelope.replace('04k5e000000CaRkAAK', 'A & B'), /reference/],
    ['nesting 40 deep', envelope.replace('<soapenv:Body>', `<soapenv:Body>${'<d>'.repeat(40)}${'</d>'.repeat(40)}`), /too deeply/],
    ['notifications in another namespace', envelope.replace('http://soap.sforce.com/2005/09/outbound', 'http://evil.example/outbound'), /exactly one notifications/],
    ['a SOAP 1.2 envelope', envelope.replace(/http:\/\/schemas\.xmlsoap\.org\/soap\/envelope\//g, 'http://www.w3.org/2003/05/soap-envelope'), /SOAP 1\.1/],
    ['a non-id OrganizationId', message({ org: "00D' OR 1=1 --" }), /OrganizationId is not a Salesforce id/],
    ['an sObject without xsi:type', envelope.replace(' xsi:type="sf:Account"', ''), /xsi:type/],
    ['not XML at all', '{"OrganizationId": "00D5e000000KQ2eEAG"}', /XML rejected/],
  ])('400 on %s', async (_name, xml, reason) => {
    const verdict = await verify(outbound(xml));
    expect(verdict).toMatchObject({ kind: 'reject', status: 400 });
    expect(verdict.kind === 'reject' && verdict.reason).toMatch(reason);
  });

  it('400 on bytes that are not UTF-8', async () => {
    const bytes = Buffer.concat([Buffer.from(envelope.slice(0, 200)), Buffer.from([0xc3, 0x28]), Buffer.from(envelope.slice(200))]);
    expect(await verify(outbound(bytes))).toMatchObject({ kind: 'reject', status: 400, reason: expect.stringMatching(/UTF-8/) as unknown });
  });

  it('matches namespaces, not prefixes: other prefixes, comments and character references are fine', async () => {
    const xml =
      '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><!-- relayed --><S:Body>' +
      '<om:notifications xmlns:om="http://soap.sforce.com/2005/09/outbound"><om:OrganizationId>&#48;0D5e000000KQ2eEAG</om:OrganizationId>' +
      '<om:ActionId>04k5e000000CaRkAAK</om:ActionId><om:SessionId i:nil="true"/>' +
      '<om:Notification><om:Id>04l5e00000Gx7QzAAJ</om:Id><om:sObject i:type="x:Contact" xmlns:x="urn:sobject.partner.soap.sforce.com"/></om:Notification>' +
      '</om:notifications></S:Body></S:Envelope>';
    expect(await verify(outbound(xml))).toMatchObject({ kind: 'accept', events: [{ deliveryId: '04l5e00000Gx7QzAAJ', event: 'outbound_message.Contact' }] });
  });
});

describe('signed callouts (Standard Webhooks)', () => {
  const KAT = { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', ts: 1614265330, body: '{"test": 2432232314}', sig: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };

  it('accepts the published known-answer vector as a delivery', async () => {
    const req = request(KAT.body, { 'content-type': 'application/json', 'webhook-id': KAT.id, 'webhook-timestamp': String(KAT.ts), 'webhook-signature': KAT.sig });
    expect(await verify(req, { secrets: [KAT.secret], now: new Date(KAT.ts * 1000) })).toEqual({ kind: 'accept', events: [{ deliveryId: KAT.id, event: 'callout' }] });
  });

  it('accepts the recorded callout body, named by its type and deduped on webhook-id', async () => {
    expect(await verify(callout(fixture('callout.record-changed.json'), { id: 'msg_fixture_1' }))).toEqual({
      kind: 'accept',
      events: [{ deliveryId: 'msg_fixture_1', event: 'callout.record.changed' }],
    });
  });

  it('handshake: a signed ping is answered 200 and queues nothing; an unsigned one is refused', async () => {
    const ping = fixture('callout.ping.json');
    expect(await verify(callout(ping))).toEqual({ kind: 'respond', reply: { status: 200, body: '{"ok":true}', contentType: 'application/json' } });
    expect(status(await verify(callout(ping, { headers: { 'webhook-signature': undefined } })))).toBe(401);
  });

  it('stale or future timestamps are refused even when correctly signed', async () => {
    expect(await verify(callout('{}', { ts: TS - 301 }))).toMatchObject({ kind: 'reject', status: 401, reason: 'webhook-timestamp is too old' });
    expect(await verify(callout('{}', { ts: TS + 301 }))).toMatchObject({ kind: 'reject', status: 401 });
    expect(await verify(callout('{}', { ts: TS - 299 }))).toMatchObject({ kind: 'accept' });
  });

  it('secret rotation: the previous secret verifies during the overlap, not after', async () => {
    const next = `whsec_${Buffer.from('the-next-callout-secret-32-bytes').toString('base64')}`;
    expect(await verify(callout('{}'), { secrets: [next, SECRET] })).toMatchObject({ kind: 'accept' });
    expect(status(await verify(callout('{}'), { secrets: [next] }))).toBe(401);
    expect(status(await verify(callout('{}'), { secrets: [] }))).toBe(401);
  });

  it.each([['not json'], ['[1,2]'], ['null'], ['"text"']])('400 on a signed body that is not a JSON object: %s', async (body) => {
    expect(status(await verify(callout(body)))).toBe(400);
  });

  it('unknown content types are refused; nothing secret is kept or echoed', async () => {
    expect(status(await verify(request('x', { 'content-type': 'text/plain' })))).toBe(400);
    expect(status(await verify(request('x', {})))).toBe(400);
    expect(scheme.keptHeaders).not.toContain('webhook-signature');
    const verdict = await verify(callout('{}', { secret: 'whsec_' + Buffer.from('wrong-wrong-wrong-wrong!').toString('base64') }));
    expect(JSON.stringify(verdict)).not.toContain(SECRET.slice(6));
  });

  describe('property: random bit flips never pass', () => {
    const flip = (bytes: Buffer, bit: number): Buffer => {
      const copy = Buffer.from(bytes);
      const index = Math.floor(bit / 8) % copy.length;
      copy[index] = copy[index]! ^ (1 << (bit % 8));
      return copy;
    };

    it('in the body', async () => {
      await fc.assert(
        fc.asyncProperty(fc.json(), fc.nat(), async (json, bit) => {
          const body = Buffer.from(json);
          const good = callout(body);
          const tampered = request(flip(body, bit), { 'content-type': 'application/json', 'webhook-id': good.header('webhook-id'), 'webhook-timestamp': good.header('webhook-timestamp'), 'webhook-signature': good.header('webhook-signature') });
          expect((await verify(tampered)).kind).toBe('reject');
        }),
        { numRuns: 300 },
      );
    });

    it('in webhook-id, webhook-timestamp or webhook-signature', async () => {
      await fc.assert(
        fc.asyncProperty(fc.json(), fc.constantFrom('webhook-id', 'webhook-timestamp', 'webhook-signature'), fc.nat(), async (json, name, bit) => {
          const good = callout(json);
          const headers: Record<string, string | undefined> = { 'content-type': 'application/json' };
          for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[h] = good.header(h);
          headers[name] = flip(Buffer.from(headers[name]!, 'latin1'), bit).toString('latin1');
          expect((await verify(request(json, headers))).kind).toBe('reject');
        }),
        { numRuns: 450 },
      );
    });
  });
});
