import { createHmac, generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { googleProvider, type GoogleConfig } from '../../shared/providers/google';
import { GOOGLE_JWKS_URI } from '../../shared/providers/google/webhook-pubsub';
import { tokensEqual } from '../../shared/providers/google/webhook-channel';
import type { JwksSource, WebhookRequest, WebhookVerdict } from '../../shared/providers/types';

const FIXTURES = join(__dirname, '..', 'fixtures', 'google');
const fixture = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'));
const scheme = googleProvider.webhook!;

// The docs' example token: its claims and kid, re-signed with our own key (Google's key for it is not published).
const DOC_TOKEN = fixture('pubsub-oidc-token.json') as { header: { kid: string }; claims: Record<string, unknown> & { iat: number; exp: number } };
const KID = DOC_TOKEN.header.kid;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const JWKS: JsonWebKey[] = [{ ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }];
const jwks: JwksSource = (uri) => (uri === GOOGLE_JWKS_URI ? Promise.resolve(JWKS) : Promise.reject(new Error(`unexpected JWKS URI ${uri}`)));

const PUSH_URL = 'https://sync.example.test/api/webhooks/google/g1';
const PUBSUB_CONFIG: GoogleConfig = {
  calendar: { calendarId: 'primary' },
  pubsub: { serviceAccountEmail: 'gae-gcp@appspot.gserviceaccount.com', audience: 'https://example.com' },
};
const PUBSUB_NOW = new Date((DOC_TOKEN.claims.iat + 60) * 1000);
const PUSH_BODY = readFileSync(join(FIXTURES, 'pubsub-push.json'));

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
function jwt(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', kid: KID, typ: 'JWT' }, key: KeyObject = privateKey): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), key).toString('base64url')}`;
}
const docToken = (overrides: Record<string, unknown> = {}): string => jwt({ ...DOC_TOKEN.claims, ...overrides });

function request(rawBody: Buffer, headers: Record<string, string | undefined>, url = PUSH_URL): WebhookRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { rawBody, header: (name) => lower.get(name.toLowerCase()), url };
}

interface VerifyOptions {
  config?: GoogleConfig;
  secrets?: string[];
  now?: Date;
  jwks?: JwksSource;
  publicUrl?: string;
}
function verify(req: WebhookRequest, o: VerifyOptions = {}): Promise<WebhookVerdict> {
  return Promise.resolve(scheme.verify(req, { config: o.config ?? PUBSUB_CONFIG, secrets: o.secrets ?? [], now: o.now ?? PUBSUB_NOW, jwks: o.jwks ?? jwks, publicUrl: o.publicUrl }));
}
const push = (token: string, body: Buffer = PUSH_BODY, url?: string): WebhookRequest =>
  request(body, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, url);
const rejected = (v: WebhookVerdict): { status: number; reason: string } | undefined => (v.kind === 'reject' ? { status: v.status, reason: v.reason } : undefined);

// Channel notifications: the docs' examples (2013), so "now" sits before their expiration.
type ChannelFixture = { headers: Record<string, string>; body: string };
const CHANNEL_TOKEN = '398348u3tu83ut8uu38';
const CHANNEL_CONFIG: GoogleConfig = { drive: {}, calendar: { calendarId: 'primary' }, channelToken: CHANNEL_TOKEN };
const CHANNEL_NOW = new Date('2013-11-18T12:00:00Z');
const channel = (name: string, overrides: Record<string, string | undefined> = {}): WebhookRequest => {
  const f = fixture(name) as ChannelFixture;
  return request(Buffer.from(f.body), { ...f.headers, ...overrides });
};
const verifyChannel = (req: WebhookRequest, o: VerifyOptions = {}): Promise<WebhookVerdict> =>
  verify(req, { config: CHANNEL_CONFIG, now: CHANNEL_NOW, jwks: () => Promise.reject(new Error('channels need no JWKS')), ...o });

describe('recorded payloads (Google docs examples)', () => {
  it('has the webhook fixtures', () => {
    expect(readdirSync(FIXTURES).filter((f) => f.startsWith('channel-') || f.startsWith('pubsub-'))).toHaveLength(6);
  });

  it('accepts the Pub/Sub push body with the docs\' token claims, deduped on messageId', async () => {
    expect(await verify(push(docToken()))).toEqual({ kind: 'accept', events: [{ deliveryId: '2070443601311540', event: 'pubsub.message' }] });
  });

  it('answers the Drive sync handshake with 200 and enqueues nothing', async () => {
    expect(await verifyChannel(channel('channel-drive-sync.json'))).toEqual({ kind: 'respond', reply: { status: 200, body: '', contentType: 'text/plain' } });
  });

  it.each([
    ['channel-drive-update.json', '4ba78bf0-6a47-11e2-bcfd-0800200c9a66:10', 'drive.update'],
    ['channel-drive-changes.json', '4ba78bf0-6a47-11e2-bcfd-0800200c9a77:2', 'drive.change'],
    ['channel-calendar-exists.json', '01234567-89ab-cdef-0123456789ab:10', 'calendar.exists'],
  ])('accepts %s, deduped on channel id + message number', async (file, deliveryId, event) => {
    expect(await verifyChannel(channel(file))).toEqual({ kind: 'accept', events: [{ deliveryId, event }] });
  });

  it('never keeps the channel token or the bearer token', () => {
    expect(scheme.keptHeaders).toEqual(expect.arrayContaining(['x-goog-channel-id', 'x-goog-message-number', 'x-goog-resource-state', 'content-type']));
    expect(scheme.keptHeaders).not.toContain('x-goog-channel-token');
    expect(scheme.keptHeaders).not.toContain('authorization');
  });
});

describe('Pub/Sub OIDC token checks', () => {
  it('accepts both documented issuers, and our published push URL (not the request URL) as the default audience', async () => {
    const noAudience: GoogleConfig = { calendar: { calendarId: 'primary' }, pubsub: { serviceAccountEmail: 'gae-gcp@appspot.gserviceaccount.com' } };
    expect(await verify(push(docToken({ iss: 'accounts.google.com' })))).toMatchObject({ kind: 'accept' });
    expect(await verify(push(docToken({ aud: PUSH_URL }), PUSH_BODY, 'http://evil.example/anything'), { config: noAudience, publicUrl: PUSH_URL })).toMatchObject({ kind: 'accept' });
    expect(rejected(await verify(push(docToken()), { config: noAudience, publicUrl: PUSH_URL }))).toEqual({ status: 401, reason: 'token audience mismatch' });
    // The audience is never taken from the request: a Host header of the sender's choosing would make it any URL.
    const forgedHost = 'https://attacker.example/api/webhooks/google/g1';
    expect(rejected(await verify(push(docToken({ aud: forgedHost }), PUSH_BODY, forgedHost), { config: noAudience, publicUrl: PUSH_URL }))).toEqual({ status: 401, reason: 'token audience mismatch' });
    expect(rejected(await verify(push(docToken({ aud: PUSH_URL }), PUSH_BODY, PUSH_URL), { config: noAudience }))).toEqual({
      status: 401,
      reason: 'no audience to check: set config.pubsub.audience or PUBLIC_BASE_URL',
    });
  });

  it('a token with a crit header is refused', async () => {
    expect(rejected(await verify(push(jwt(DOC_TOKEN.claims, { alg: 'RS256', kid: KID, typ: 'JWT', crit: ['exp'] }))))).toEqual({
      status: 401,
      reason: 'token rejected: token has critical header extensions (crit), none of which are supported',
    });
  });

  it('a token signed with a key Google rotated in after our cached copy is accepted after one refresh', async () => {
    const { privateKey: rotated, publicKey: rotatedPublic } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const newKid = 'rotated-kid-2';
    const newJwk = { ...rotatedPublic.export({ format: 'jwk' }), kid: newKid, alg: 'RS256', use: 'sig' };
    const calls: (boolean | undefined)[] = [];
    const rotating: JwksSource = (_uri, options) => {
      calls.push(options?.refresh);
      return Promise.resolve(options?.refresh === true ? [newJwk] : []);
    };
    const token = jwt(DOC_TOKEN.claims, { alg: 'RS256', kid: newKid, typ: 'JWT' }, rotated);
    expect(await verify(push(token), { jwks: rotating })).toMatchObject({ kind: 'accept' });
    expect(calls).toEqual([undefined, true]);
  });

  it.each([
    ['another issuer', { iss: 'https://evil.example' }, 'token issuer is not Google'],
    ['another audience', { aud: 'https://other.example' }, 'token audience mismatch'],
    ['another service account', { email: 'attacker@evil.iam.gserviceaccount.com' }, 'token email is not the subscription service account'],
    ['unverified email', { email_verified: false }, 'token email is not verified'],
    ['missing email_verified', { email_verified: undefined }, 'token claims are missing or malformed'],
    ['string exp', { exp: '1550185935' }, 'token claims are missing or malformed'],
    ['a lifetime over an hour', { exp: DOC_TOKEN.claims.iat + 7200 }, 'token lifetime is not plausible'],
    ['exp before iat', { exp: DOC_TOKEN.claims.iat - 1 }, 'token lifetime is not plausible'],
  ])('401 on %s', async (_name, claims, reason) => {
    expect(rejected(await verify(push(docToken(claims))))).toEqual({ status: 401, reason });
  });

  it('expired tokens pass within 300 s of skew and fail beyond it', async () => {
    const exp = DOC_TOKEN.claims.exp;
    expect(await verify(push(docToken()), { now: new Date((exp + 300) * 1000) })).toMatchObject({ kind: 'accept' });
    expect(rejected(await verify(push(docToken()), { now: new Date((exp + 301) * 1000) }))).toEqual({ status: 401, reason: 'token has expired' });
  });

  it('tokens from the future pass within 300 s of skew and fail beyond it', async () => {
    const iat = DOC_TOKEN.claims.iat;
    expect(await verify(push(docToken()), { now: new Date((iat - 300) * 1000) })).toMatchObject({ kind: 'accept' });
    expect(rejected(await verify(push(docToken()), { now: new Date((iat - 301) * 1000) }))).toEqual({ status: 401, reason: 'token is issued in the future' });
  });

  it.each([
    ['no Authorization header', undefined, 'missing Authorization header'],
    ['a lowercase scheme', `bearer ${docToken()}`, 'Authorization is not a Bearer JWT'],
    ['Basic credentials', 'Basic dXNlcjpwYXNz', 'Authorization is not a Bearer JWT'],
    ['two segments', `Bearer ${docToken().split('.').slice(0, 2).join('.')}`, 'Authorization is not a Bearer JWT'],
    ['a trailing space', `Bearer ${docToken()} `, 'Authorization is not a Bearer JWT'],
  ])('401 on %s', async (_name, header, reason) => {
    expect(rejected(await verify(request(PUSH_BODY, { authorization: header })))).toEqual({ status: 401, reason });
  });

  it('refuses alg none, HS256 keyed with the public key, an unknown kid and a foreign key', async () => {
    const [, payload] = docToken().split('.') as [string, string];
    expect(rejected(await verify(push(`${b64({ alg: 'none', kid: KID })}.${payload}.`))))
      .toEqual({ status: 401, reason: 'Authorization is not a Bearer JWT' });
    const h = b64({ alg: 'HS256', kid: KID, typ: 'JWT' });
    const mac = createHmac('sha256', publicKey.export({ type: 'spki', format: 'pem' })).update(`${h}.${payload}`).digest('base64url');
    expect(rejected(await verify(push(`${h}.${payload}.${mac}`)))).toEqual({ status: 401, reason: 'token rejected: alg HS256 is not accepted' });
    expect(rejected(await verify(push(jwt(DOC_TOKEN.claims, { alg: 'RS256', kid: 'other', typ: 'JWT' }))))).toEqual({ status: 401, reason: 'token rejected: signing key not found' });
    const foreign = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(rejected(await verify(push(jwt(DOC_TOKEN.claims, undefined, foreign))))).toEqual({ status: 401, reason: 'token rejected: signature mismatch' });
  });

  it('fails closed without a Pub/Sub config, and answers 503 (nothing stored) when the keys cannot be fetched', async () => {
    expect(rejected(await verify(push(docToken()), { config: { drive: {} } }))).toEqual({ status: 401, reason: 'Pub/Sub push is not configured for this integration' });
    const down = await verify(push(docToken()), { jwks: () => Promise.reject(new Error('ECONNRESET')) });
    expect(down).toMatchObject({ kind: 'respond', reply: { status: 503 } });
  });

  it('validates the body after the token: JSON, shape, message id, subscription', async () => {
    const body = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    const message = { data: 'e30=', messageId: '42', publishTime: '2021-02-26T19:13:55.749Z' };
    expect(rejected(await verify(push(docToken(), Buffer.from('{"message":'))))).toEqual({ status: 400, reason: 'body is not valid JSON' });
    expect(rejected(await verify(push(docToken(), body({ message }))))).toEqual({ status: 400, reason: 'body is not a Pub/Sub push message' });
    expect(rejected(await verify(push(docToken(), body({ message: { data: 'e30=' }, subscription: 's' }))))).toEqual({ status: 400, reason: 'missing or invalid message.messageId' });
    expect(await verify(push(docToken(), body({ message: { message_id: '77' }, subscription: 's' })))).toEqual({ kind: 'accept', events: [{ deliveryId: '77', event: 'pubsub.message' }] });
    const only: GoogleConfig = { ...PUBSUB_CONFIG, pubsub: { ...PUBSUB_CONFIG.pubsub!, subscription: 'projects/myproject/subscriptions/mysubscription' } };
    expect(await verify(push(docToken()), { config: only })).toMatchObject({ kind: 'accept' });
    expect(rejected(await verify(push(docToken(), body({ message, subscription: 'projects/x/subscriptions/y' })), { config: only })))
      .toEqual({ status: 403, reason: 'push from a subscription this integration does not accept' });
  });

  it('names CloudEvents pushes by ce-type', async () => {
    const body = Buffer.from(JSON.stringify({ message: { messageId: '9', attributes: { 'ce-type': 'google.workspace.calendar.event.v1.changed' } }, subscription: 's' }));
    expect(await verify(push(docToken(), body))).toEqual({ kind: 'accept', events: [{ deliveryId: '9', event: 'pubsub.google.workspace.calendar.event.v1.changed' }] });
  });

  it('does not authenticate the body (documented: the OIDC token covers no payload); dedupe is by messageId', async () => {
    const altered = Buffer.from(PUSH_BODY.toString('utf8').replaceAll('2070443601311540', '2070443601311541'));
    expect(await verify(push(docToken(), altered))).toEqual({ kind: 'accept', events: [{ deliveryId: '2070443601311541', event: 'pubsub.message' }] });
  });
});

describe('watch-channel checks', () => {
  it('accepts the webhook secret as the channel token, old and new during a rotation', async () => {
    const config: GoogleConfig = { drive: {} };
    const req = channel('channel-drive-update.json', { 'X-Goog-Channel-Token': 'new-secret-0123456789' });
    expect(await verifyChannel(req, { config, secrets: ['new-secret-0123456789'] })).toMatchObject({ kind: 'accept' });
    expect(await verifyChannel(req, { config, secrets: ['newest-secret-abcdefgh', 'new-secret-0123456789'] })).toMatchObject({ kind: 'accept' });
    expect(rejected(await verifyChannel(req, { config, secrets: ['newest-secret-abcdefgh'] }))).toEqual({ status: 401, reason: 'channel token mismatch' });
  });

  it.each([
    ['no token configured', { config: { drive: {} } }, {}, 401, 'no channel token is configured for this integration'],
    ['a missing token', {}, { 'X-Goog-Channel-Token': undefined }, 401, 'missing X-Goog-Channel-Token header'],
    ['an empty token', {}, { 'X-Goog-Channel-Token': '' }, 401, 'missing X-Goog-Channel-Token header'],
    ['a wrong token', {}, { 'X-Goog-Channel-Token': '398348u3tu83ut8uu39' }, 401, 'channel token mismatch'],
    ['a token prefix', {}, { 'X-Goog-Channel-Token': '398348u3tu83' }, 401, 'channel token mismatch'],
    ['a missing channel id', {}, { 'X-Goog-Channel-ID': undefined, 'X-Goog-Channel-Token': CHANNEL_TOKEN }, 400, 'missing or invalid X-Goog-Channel-ID header'],
    ['a missing message number', {}, { 'X-Goog-Message-Number': undefined }, 400, 'missing or invalid X-Goog-Message-Number header'],
    ['a non-numeric message number', {}, { 'X-Goog-Message-Number': '1e3' }, 400, 'missing or invalid X-Goog-Message-Number header'],
    ['a missing resource state', {}, { 'X-Goog-Resource-State': undefined }, 400, 'missing or invalid X-Goog-Resource-State header'],
    ['an unparseable expiration', {}, { 'X-Goog-Channel-Expiration': 'tomorrow-ish' }, 400, 'invalid X-Goog-Channel-Expiration header'],
  ] as const)('rejects %s', async (_name, options, headers, status, reason) => {
    expect(rejected(await verifyChannel(channel('channel-drive-update.json', headers), options))).toEqual({ status, reason });
  });

  it('rejects notifications from a channel expired more than 300 s ago (a replay), in any state', async () => {
    const later = new Date(Date.parse('Tue, 19 Nov 2013 01:13:52 GMT') + 301_000);
    expect(rejected(await verifyChannel(channel('channel-drive-update.json'), { now: later }))).toEqual({ status: 401, reason: 'channel has expired' });
    expect(rejected(await verifyChannel(channel('channel-drive-sync.json'), { now: later }))).toEqual({ status: 401, reason: 'channel has expired' });
    const justBefore = new Date(Date.parse('Tue, 19 Nov 2013 01:13:52 GMT') + 299_000);
    expect(await verifyChannel(channel('channel-drive-update.json'), { now: justBefore })).toMatchObject({ kind: 'accept' });
  });

  it('verifies the token before answering a sync handshake', async () => {
    expect(rejected(await verifyChannel(channel('channel-drive-sync.json', { 'X-Goog-Channel-Token': 'nope-nope-nope-nope' })))).toEqual({ status: 401, reason: 'channel token mismatch' });
  });

  it('compares tokens whatever their lengths', () => {
    expect(tokensEqual('a'.repeat(16), 'a'.repeat(16))).toBe(true);
    expect(tokensEqual('a'.repeat(16), 'a'.repeat(17))).toBe(false);
    expect(tokensEqual('a'.repeat(16), '')).toBe(false);
  });
});

describe('properties', () => {
  const flip = (s: string, index: number, bit: number): string => {
    const i = index % s.length;
    return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << bit)) + s.slice(i + 1);
  };

  it('a bit flip anywhere in the Authorization header (scheme, header, claims incl. exp/iat, signature) never passes', async () => {
    const header = `Bearer ${docToken()}`;
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 6 }), async (index, bit) => {
        const v = await verify(request(PUSH_BODY, { authorization: flip(header, index, bit) }));
        expect(v.kind).toBe('reject');
      }),
      { numRuns: 300 },
    );
  });

  it('a bit flip in the request URL (the default audience) never passes', async () => {
    const config: GoogleConfig = { calendar: { calendarId: 'primary' }, pubsub: { serviceAccountEmail: 'gae-gcp@appspot.gserviceaccount.com' } };
    const token = docToken({ aud: PUSH_URL });
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 6 }), async (index, bit) => {
        expect((await verify(push(token, PUSH_BODY, flip(PUSH_URL, index, bit)), { config })).kind).toBe('reject');
      }),
      { numRuns: 200 },
    );
  });

  it('a bit flip in the channel token never passes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 6 }), async (index, bit) => {
        const v = await verifyChannel(channel('channel-drive-update.json', { 'X-Goog-Channel-Token': flip(CHANNEL_TOKEN, index, bit) }));
        expect(rejected(v)?.status).toBe(401);
      }),
      { numRuns: 200 },
    );
  });

  // now never goes below iat - 300 here (that bound has its own test above).
  it('a signed token is accepted exactly while exp + 300 s has not passed', async () => {
    const iat = DOC_TOKEN.claims.iat;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3600 }), fc.integer({ min: -300, max: 10_000 }), async (lifetime, offset) => {
        const exp = iat + lifetime;
        const now = new Date((exp + offset) * 1000);
        const v = await verify(push(docToken({ exp })), { now });
        if (offset <= 300) expect(v.kind).toBe('accept');
        else expect(rejected(v)).toEqual({ status: 401, reason: 'token has expired' });
      }),
      { numRuns: 200 },
    );
  });
});
