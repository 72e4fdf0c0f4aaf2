import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { slackEventRecords, slackProvider, type SlackConfig } from '../../shared/providers/slack';
import { signSlackRequest, slackWebhook, verifySlackSignature } from '../../shared/providers/slack/webhook';
import type { WebhookRequest, WebhookVerdict } from '../../shared/providers/types';

const FIXTURES = join(__dirname, '..', 'fixtures', 'slack', 'events');
const SECRET = 'e6b19c573432dcc6b075501d51b51bb8';
const CONFIG: SlackConfig = { channels: ['C123ABC456'] };
const NOW = new Date('2024-06-01T00:00:00Z');
const NOW_S = NOW.getTime() / 1000;

function request(rawBody: Buffer, headers: Record<string, string | undefined>): WebhookRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { rawBody, header: (name) => lower.get(name.toLowerCase()), url: 'https://example.test/api/webhooks/slack/s1' };
}

/** A delivery signed now with SECRET, with header overrides. */
function delivery(rawBody: Buffer, overrides: Record<string, string | undefined> = {}, timestamp = NOW_S): WebhookRequest {
  return request(rawBody, {
    'X-Slack-Request-Timestamp': String(timestamp),
    'X-Slack-Signature': signSlackRequest(SECRET, timestamp, rawBody),
    'Content-Type': 'application/json',
    ...overrides,
  });
}

/** `null` means no secret is configured. */
function verify(req: WebhookRequest, secret: string | null | readonly string[] = SECRET, config: SlackConfig = CONFIG, now = NOW): WebhookVerdict {
  const secrets = secret === null ? [] : typeof secret === 'string' ? [secret] : secret;
  return slackWebhook.verify(req, { config, secrets, now, jwks: () => Promise.reject(new Error('Slack needs no JWKS')) });
}

const status = (v: WebhookVerdict): number | undefined => (v.kind === 'reject' ? v.status : undefined);
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

describe('Slack signature (known answer)', () => {
  // The worked example of https://docs.slack.dev/authentication/verifying-requests-from-slack.
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const timestamp = '1531420618';
  const body = Buffer.from(
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  );
  const expected = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

  it('signs the published vector', () => {
    expect(signSlackRequest(secret, timestamp, body)).toBe(expected);
  });

  it('verifies it, and not under another secret or timestamp', () => {
    expect(verifySlackSignature(secret, timestamp, body, expected)).toBe(true);
    expect(verifySlackSignature(`${secret}x`, timestamp, body, expected)).toBe(false);
    expect(verifySlackSignature(secret, '1531420619', body, expected)).toBe(false);
  });

  it('passes the signature check as a delivery at its own time (then refuses the form body: not an Events API envelope)', () => {
    const req = request(body, { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': expected });
    const verdict = verify(req, secret, CONFIG, new Date(1531420618 * 1000));
    expect(verdict).toEqual({ kind: 'reject', status: 400, reason: 'body is not JSON' });
    // Five minutes and a second later the same request is stale.
    expect(status(verify(req, secret, CONFIG, new Date((1531420618 + 301) * 1000)))).toBe(401);
  });
});

describe('recorded payloads (docs.slack.dev examples)', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  const config: SlackConfig = { channels: ['C123ABC456'], teamId: 'T123ABC456' };

  it('has the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files.filter((f) => f !== 'url_verification.json'))('accepts %s with its dedupe id and event name', (file) => {
    const raw = fixture(file);
    const body = JSON.parse(raw.toString('utf8')) as { event_id?: string; team_id: string; minute_rate_limited?: number };
    const deliveryId = body.event_id ?? `app_rate_limited.${body.team_id}.${body.minute_rate_limited}`;
    expect(verify(delivery(raw), SECRET, config)).toEqual({ kind: 'accept', events: [{ deliveryId, event: file.replace(/\.json$/, '') }] });
  });

  it('answers url_verification with the challenge, as plain text', () => {
    const verdict = verify(delivery(fixture('url_verification.json')));
    expect(verdict).toEqual({
      kind: 'respond',
      reply: { status: 200, body: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', contentType: 'text/plain' },
    });
  });

  it('answers url_verification only once the signature verifies', () => {
    const raw = fixture('url_verification.json');
    expect(status(verify(delivery(raw, { 'X-Slack-Signature': undefined })))).toBe(401);
    expect(status(verify(delivery(raw), 'another secret'))).toBe(401);
  });

  it('a Slack retry (X-Slack-Retry-Num) keeps the event_id, so the dedupe drops it', () => {
    const raw = fixture('message.json');
    const first = verify(delivery(raw));
    const retry = verify(delivery(raw, { 'X-Slack-Retry-Num': '1', 'X-Slack-Retry-Reason': 'http_timeout' }));
    expect(retry).toEqual(first);
    expect(first).toMatchObject({ kind: 'accept', events: [{ deliveryId: 'Ev123ABC456' }] });
  });

  it('acknowledges and ignores events of another workspace or an unsynced channel', () => {
    const raw = fixture('message.json');
    for (const config of [{ channels: ['C123ABC456'], teamId: 'T999' }, { channels: ['C0OTHER'] }] satisfies SlackConfig[]) {
      const verdict = verify(delivery(raw), SECRET, config);
      expect(verdict).toMatchObject({ kind: 'respond', reply: { status: 200 } });
    }
  });

  it('keeps the retry headers and never the signature', () => {
    expect(slackProvider.webhook!.keptHeaders).toEqual(expect.arrayContaining(['x-slack-request-timestamp', 'x-slack-retry-num', 'x-slack-retry-reason']));
    expect(slackWebhook.keptHeaders.some((h) => h.includes('signature'))).toBe(false);
  });
});

describe('records from stored deliveries (edits and deletions a pull cannot see)', () => {
  it('message_changed → the edited message, as of the edit', () => {
    expect(slackEventRecords(fixture('message.message_changed.json'), CONFIG)).toEqual([
      {
        externalId: 'C123ABC456:1355517523.000005',
        entityType: 'message',
        updatedAt: '2013-01-22T18:19:15.000Z',
        deleted: false,
        data: expect.objectContaining({ channel: 'C123ABC456', ts: '1355517523.000005', text: 'Hello, world!', edited_at: '2013-01-22T18:19:15.000Z' }) as unknown,
      },
    ]);
  });

  it('message_deleted → a deleted record of the deleted ts', () => {
    expect(slackEventRecords(fixture('message.message_deleted.json'), CONFIG)).toEqual([
      {
        externalId: 'C123ABC456:1358878749.000002',
        entityType: 'message',
        updatedAt: '2013-01-22T18:19:15.000Z',
        deleted: true,
        data: { channel: 'C123ABC456', ts: '1358878749.000002', deleted_at: '2013-01-22T18:19:15.000Z' },
      },
    ]);
  });

  it('a new message → that message; other events and other channels → nothing', () => {
    expect(slackEventRecords(fixture('message.json'), CONFIG).map((r) => [r.externalId, r.deleted, r.data.text])).toEqual([
      ['C123ABC456:1355517523.000005', false, 'Live long and prospect.'],
    ]);
    expect(slackEventRecords(fixture('reaction_added.json'), CONFIG)).toEqual([]);
    expect(slackEventRecords(fixture('url_verification.json'), CONFIG)).toEqual([]);
    expect(slackEventRecords(fixture('message.message_deleted.json'), { channels: ['C0OTHER'] })).toEqual([]);
    expect(slackEventRecords('not json', CONFIG)).toEqual([]);
  });
});

describe('rejections', () => {
  const raw = fixture('message.json');
  const good = signSlackRequest(SECRET, NOW_S, raw);

  it.each([
    ['missing signature', { 'X-Slack-Signature': undefined }],
    ['empty signature', { 'X-Slack-Signature': '' }],
    ['no version prefix', { 'X-Slack-Signature': good.slice(3) }],
    ['another version', { 'X-Slack-Signature': good.replace('v0=', 'v1=') }],
    ['truncated hex', { 'X-Slack-Signature': good.slice(0, -2) }],
    ['extra hex', { 'X-Slack-Signature': `${good}00` }],
    ['uppercase hex', { 'X-Slack-Signature': `v0=${good.slice(3).toUpperCase()}` }],
    ['two signatures', { 'X-Slack-Signature': `${good}, ${good}` }],
    ['missing timestamp', { 'X-Slack-Request-Timestamp': undefined }],
    ['non-numeric timestamp', { 'X-Slack-Request-Timestamp': 'now' }],
    ['fractional timestamp', { 'X-Slack-Request-Timestamp': `${NOW_S}.0` }],
    ['timestamp other than signed', { 'X-Slack-Request-Timestamp': String(NOW_S + 1) }],
    ['signature of another body', { 'X-Slack-Signature': signSlackRequest(SECRET, NOW_S, '{}') }],
  ])('401 on %s', (_name, headers) => {
    expect(status(verify(delivery(raw, headers)))).toBe(401);
  });

  it('401 under the wrong secret; the previous secret verifies during a rotation, and not after', () => {
    expect(status(verify(delivery(raw), 'another secret'))).toBe(401);
    expect(verify(delivery(raw), ['new-secret', SECRET])).toMatchObject({ kind: 'accept' });
    expect(status(verify(delivery(raw), ['new-secret']))).toBe(401);
  });

  it('401 (fail closed) with no secret, even for a body signed with the empty key', () => {
    const signedEmpty = delivery(raw, { 'X-Slack-Signature': signSlackRequest('', NOW_S, raw) });
    expect(status(verify(signedEmpty, ''))).toBe(401);
    expect(status(verify(signedEmpty, null))).toBe(401);
  });

  it('refuses timestamps more than 300 s off either way, accepts the edge', () => {
    for (const offset of [-301, 301, -86_400, 10_000_000]) expect(status(verify(delivery(raw, {}, NOW_S + offset)))).toBe(401);
    for (const offset of [-300, 0, 300]) expect(verify(delivery(raw, {}, NOW_S + offset))).toMatchObject({ kind: 'accept' });
  });

  it.each([['not json'], [''], ['[1,2]'], ['{"type":"event_callback"}'], ['{"type":"block_actions","event_id":"Ev1"}'], ['{"type":"url_verification"}']])(
    '400 on a validly signed body that is not an envelope: %s',
    (body) => {
      expect(status(verify(delivery(Buffer.from(body))))).toBe(400);
    },
  );

  it('checks the signature before reading the body', () => {
    expect(status(verify(delivery(Buffer.from('not json'), { 'X-Slack-Signature': good })))).toBe(401);
  });

  it('reasons never contain the secret or the signature', () => {
    for (const v of [verify(delivery(raw), 'another secret'), verify(delivery(Buffer.from('x')))]) {
      expect(JSON.stringify(v)).not.toContain(SECRET);
      expect(JSON.stringify(v)).not.toContain(good.slice(3));
    }
  });
});

describe('properties', () => {
  const flip = (bytes: Buffer, bit: number): Buffer => {
    const copy = Buffer.from(bytes);
    const index = Math.floor(bit / 8) % copy.length;
    copy[index] = copy[index]! ^ (1 << (bit % 8));
    return copy;
  };
  const envelope = fc.record({ id: fc.stringMatching(/^Ev[A-Z0-9]{8}$/), text: fc.string() }).map(({ id, text }) =>
    Buffer.from(JSON.stringify({ type: 'event_callback', event_id: id, team_id: 'T1', event: { type: 'message', channel: 'C123ABC456', text, ts: '1.000001' } })),
  );

  it('a signed envelope within the window is accepted with its event_id', () => {
    fc.assert(
      fc.property(envelope, fc.integer({ min: -300, max: 300 }), (body, skew) => {
        const verdict = verify(delivery(body, {}, NOW_S + skew));
        expect(verdict).toMatchObject({ kind: 'accept', events: [{ deliveryId: (JSON.parse(body.toString()) as { event_id: string }).event_id }] });
      }),
      { numRuns: 300 },
    );
  });

  it('any bit flip in the body fails', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), (bytes, bit) => {
        const body = Buffer.from(bytes);
        const signature = signSlackRequest(SECRET, NOW_S, body);
        expect(status(verify(delivery(flip(body, bit), { 'X-Slack-Signature': signature })))).toBe(401);
      }),
      { numRuns: 500 },
    );
  });

  it('any bit flip in the signature header fails', () => {
    fc.assert(
      fc.property(envelope, fc.nat(), (body, bit) => {
        const header = Buffer.from(signSlackRequest(SECRET, NOW_S, body), 'latin1');
        expect(status(verify(delivery(body, { 'X-Slack-Signature': flip(header, bit).toString('latin1') })))).toBe(401);
      }),
      { numRuns: 500 },
    );
  });

  it('any bit flip in the timestamp header fails', () => {
    fc.assert(
      fc.property(envelope, fc.nat(), (body, bit) => {
        const timestamp = flip(Buffer.from(String(NOW_S), 'latin1'), bit).toString('latin1');
        // Signed with the original timestamp; only the header is tampered.
        expect(status(verify(delivery(body, { 'X-Slack-Request-Timestamp': timestamp })))).toBe(401);
      }),
      { numRuns: 500 },
    );
  });
});
