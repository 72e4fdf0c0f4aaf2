import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { githubProvider } from '../../shared/providers/github';
import { githubWebhook, signGithubPayload, verifyGithubSignature } from '../../shared/providers/github/webhook';
import type { WebhookRequest, WebhookScheme, WebhookVerdict } from '../../shared/providers/types';
import type { GithubConfig } from '../../shared/providers/github';

const FIXTURES = join(__dirname, '..', 'fixtures', 'github');
const SECRET = 'It\'s a Secret to Everybody';
const CONFIG: GithubConfig = { owner: 'Octocoders', repo: 'Hello-World' };
const NOW = new Date('2024-06-01T00:00:00Z');
const scheme: WebhookScheme<GithubConfig> = githubProvider.webhook!;

function request(rawBody: Buffer, headers: Record<string, string | undefined>): WebhookRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { rawBody, header: (name) => lower.get(name.toLowerCase()), url: 'https://example.test/api/webhooks/github/gh1' };
}

function delivery(rawBody: Buffer, event: string, overrides: Record<string, string | undefined> = {}): WebhookRequest {
  return request(rawBody, {
    'X-Hub-Signature-256': signGithubPayload(SECRET, rawBody),
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    'X-GitHub-Hook-ID': '109948940',
    'Content-Type': 'application/json',
    ...overrides,
  });
}

const noJwks = () => Promise.reject(new Error('GitHub needs no JWKS'));

/** `null` means no secret is configured (an explicit `undefined` would take the default). */
function verify(req: WebhookRequest, secret: string | null | readonly string[] = SECRET): WebhookVerdict {
  const secrets = secret === null ? [] : typeof secret === 'string' ? [secret] : secret;
  // githubWebhook.verify is synchronous (its declared return type says so).
  return githubWebhook.verify(req, { config: CONFIG, secrets, now: NOW, jwks: noJwks });
}

describe('GitHub signature (known answer)', () => {
  // octokit/webhooks-methods test vector, quoted in PROVIDERS.md.
  const body = Buffer.from('{"foo":"bar"}');
  const expected = 'sha256=4864d2759938a15468b5df9ade20bf161da9b4f737ea61794142f3484236bda3';

  it('signs the published vector', () => {
    expect(signGithubPayload('mysecret', body)).toBe(expected);
  });

  it('verifies the published vector and rejects it under another secret', () => {
    expect(verifyGithubSignature('mysecret', body, expected)).toBe(true);
    expect(verifyGithubSignature('mysecret2', body, expected)).toBe(false);
  });

  it('accepts the vector as a delivery', () => {
    const req = request(body, { 'x-hub-signature-256': expected, 'x-github-event': 'push', 'x-github-delivery': 'abc-123' });
    expect(verify(req, 'mysecret')).toEqual({ kind: 'accept', events: [{ deliveryId: 'abc-123', event: 'push' }] });
  });

  it('accepts the previous secret during a rotation, and neither after it ends', () => {
    const req = request(body, { 'x-hub-signature-256': expected, 'x-github-event': 'push', 'x-github-delivery': 'abc-123' });
    expect(verify(req, ['new-secret', 'mysecret'])).toMatchObject({ kind: 'accept' });
    expect(verify(req, ['new-secret'])).toMatchObject({ kind: 'reject', status: 401 });
  });
});

describe('recorded payloads (octokit/webhooks examples)', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));

  it('has the fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(17);
  });

  it.each(files.filter((f) => !f.startsWith('ping.')))('accepts %s with the right event', (file) => {
    const raw = readFileSync(join(FIXTURES, file));
    const event = file.split('.')[0]!;
    const payload = JSON.parse(raw.toString('utf8')) as { action?: string };
    const expectedEvent = payload.action ? `${event}.${payload.action}` : event;
    // The file name and the payload agree (issues.opened.json holds action "opened").
    expect(file).toBe(`${expectedEvent}.json`);
    expect(verify(delivery(raw, event))).toEqual({
      kind: 'accept',
      events: [{ deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958', event: expectedEvent }],
    });
  });

  it('answers ping directly', () => {
    const raw = readFileSync(join(FIXTURES, 'ping.json'));
    const verdict = verify(delivery(raw, 'ping'));
    expect(verdict).toMatchObject({ kind: 'respond', reply: { status: 200, contentType: 'application/json' } });
    if (verdict.kind === 'respond') expect(JSON.parse(verdict.reply.body)).toEqual({ ok: true });
  });

  it('never keeps the signature headers', () => {
    expect(scheme.keptHeaders).toEqual(
      expect.arrayContaining(['x-github-event', 'x-github-delivery', 'x-github-hook-id', 'user-agent', 'content-type']),
    );
    expect(scheme.keptHeaders.some((h) => h.includes('signature'))).toBe(false);
  });
});

describe('rejections', () => {
  const raw = readFileSync(join(FIXTURES, 'issues.opened.json'));
  const good = signGithubPayload(SECRET, raw);

  const status = (v: WebhookVerdict): number | undefined => (v.kind === 'reject' ? v.status : undefined);

  it.each([
    ['missing signature', { 'X-Hub-Signature-256': undefined }],
    ['empty signature', { 'X-Hub-Signature-256': '' }],
    ['legacy sha1 only', { 'X-Hub-Signature-256': undefined, 'X-Hub-Signature': `sha1=${createHmac('sha1', SECRET).update(raw).digest('hex')}` }],
    ['no prefix', { 'X-Hub-Signature-256': good.slice('sha256='.length) }],
    ['wrong algorithm prefix', { 'X-Hub-Signature-256': good.replace('sha256=', 'sha1=') }],
    ['truncated hex', { 'X-Hub-Signature-256': good.slice(0, -2) }],
    ['extra hex', { 'X-Hub-Signature-256': `${good}00` }],
    ['uppercase hex', { 'X-Hub-Signature-256': `sha256=${good.slice(7).toUpperCase()}` }],
    ['non-hex', { 'X-Hub-Signature-256': `sha256=${'z'.repeat(64)}` }],
    ['trailing space', { 'X-Hub-Signature-256': `${good} ` }],
    ['wrong signature', { 'X-Hub-Signature-256': signGithubPayload(SECRET, Buffer.from('{}')) }],
  ])('401 on %s', (_name, headers) => {
    expect(status(verify(delivery(raw, 'issues', headers)))).toBe(401);
  });

  it('401 under the wrong secret', () => {
    expect(status(verify(delivery(raw, 'issues'), 'another secret'))).toBe(401);
  });

  it('401 (fail closed) when no secret is configured, even for a body signed with the empty key', () => {
    const signedEmpty = delivery(raw, 'issues', { 'X-Hub-Signature-256': signGithubPayload('', raw) });
    expect(status(verify(signedEmpty, ''))).toBe(401);
    expect(status(verify(signedEmpty, null))).toBe(401);
  });

  it('400 without X-GitHub-Event or X-GitHub-Delivery once the signature is good', () => {
    expect(verify(delivery(raw, 'issues', { 'X-GitHub-Event': undefined }))).toMatchObject({ kind: 'reject', status: 400 });
    expect(verify(delivery(raw, 'issues', { 'X-GitHub-Delivery': undefined }))).toMatchObject({ kind: 'reject', status: 400 });
    expect(verify(delivery(raw, 'issues', { 'X-GitHub-Delivery': '../../etc' }))).toMatchObject({ kind: 'reject', status: 400 });
  });

  it('checks the signature before the other headers', () => {
    expect(status(verify(delivery(raw, 'issues', { 'X-GitHub-Event': undefined, 'X-Hub-Signature-256': undefined })))).toBe(401);
  });

  it.each([['{"action":'], ['not json'], [''], ['[1,2]'], ['"a string"'], ['{"action": 5}']])(
    '400 on a validly signed body that is not a payload: %s',
    (body) => {
      expect(verify(delivery(Buffer.from(body), 'issues'))).toMatchObject({ kind: 'reject', status: 400 });
    },
  );

  it('reasons never contain the secret or the signature', () => {
    const verdicts = [verify(delivery(raw, 'issues'), 'another secret'), verify(delivery(Buffer.from('x'), 'issues'))];
    for (const v of verdicts) {
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

  it('in the body', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), (bytes, bit) => {
        const body = Buffer.from(bytes);
        const signature = signGithubPayload(SECRET, body);
        const tampered = flip(body, bit);
        const verdict = verify(delivery(tampered, 'issues', { 'X-Hub-Signature-256': signature }));
        expect(verdict).toMatchObject({ kind: 'reject', status: 401 });
      }),
      { numRuns: 500 },
    );
  });

  it('in the signature header', () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), (json, bit) => {
        const body = Buffer.from(json);
        const header = Buffer.from(signGithubPayload(SECRET, body), 'latin1');
        const tampered = flip(header, bit).toString('latin1');
        const verdict = verify(delivery(body, 'issues', { 'X-Hub-Signature-256': tampered }));
        expect(verdict).toMatchObject({ kind: 'reject', status: 401 });
      }),
      { numRuns: 500 },
    );
  });
});
