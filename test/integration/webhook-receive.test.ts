import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { QUEUES } from '../../shared/messaging/names';
import type { QueueSender } from '../../shared/messaging/port';
import { deliveryKey } from '../../shared/webhooks/deliveries';
import { receiveWebhook, type WebhookDeps } from '../../shared/webhooks/receive';
import { seedGithubIntegration, type GithubSeed } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'github');
let t: TestServices;
let seed: GithubSeed;

beforeEach(async () => {
  t = await embeddedServices();
  seed = await seedGithubIntegration(t.services, 'http://127.0.0.1:1');
});
afterEach(async () => { await t.cleanup(); });

function signed(body: string | Buffer, opts: { event?: string; delivery?: string; secret?: string; signature?: string | null } = {}) {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const sig = `sha256=${createHmac('sha256', opts.secret ?? seed.webhookSecret).update(raw).digest('hex')}`;
  const headers: Record<string, string> = {
    'x-github-event': opts.event ?? 'issues',
    'x-github-delivery': opts.delivery ?? randomUUID(),
    'content-type': 'application/json',
  };
  if (opts.signature !== null) headers['x-hub-signature-256'] = opts.signature ?? sig;
  return { rawBody: raw, header: (n: string) => headers[n.toLowerCase()], url: 'http://localhost/api/webhooks/github/x' };
}

const route = () => ({ provider: 'github', integrationId: seed.integrationId });
const depth = () => t.queue.depth(QUEUES.syncInbound);
const body = JSON.stringify({ action: 'opened', issue: { id: 1, number: 1 } });

test('a signed delivery is stored and queues exactly one sync job', async () => {
  const req = signed(body, { delivery: 'd-1' });
  const res = await receiveWebhook(t.services.webhookDeps, route(), req);
  expect(res.status).toBe(202);
  expect(JSON.parse(res.body)).toMatchObject({ accepted: true, duplicate: false, deliveryIds: ['d-1'] });
  expect(depth()).toBe(1);
  expect(t.queue.peek(QUEUES.syncInbound)[0]?.body).toMatchObject({ type: 'sync.pull', tenantId: seed.tenantId, integrationId: seed.integrationId, trigger: 'webhook' });
  const stored = JSON.parse((await t.services.adapters.kv.get(deliveryKey(seed.integrationId, 'd-1'))) ?? '{}') as Record<string, unknown>;
  const storedBody = await t.services.adapters.kv.get(stored.bodyKey as string);
  expect(Buffer.from(storedBody ?? '', 'base64').toString()).toBe(body);
  expect(JSON.stringify(stored.headers)).not.toMatch(/sha256=/);
  expect(await t.services.adapters.kv.ttlMs(deliveryKey(seed.integrationId, 'd-1'))).toBeGreaterThan(4 * 24 * 3600 * 1000);
});

test('a duplicate delivery id answers 202 and queues nothing new', async () => {
  await receiveWebhook(t.services.webhookDeps, route(), signed(body, { delivery: 'dup' }));
  const again = await receiveWebhook(t.services.webhookDeps, route(), signed(body, { delivery: 'dup' }));
  expect(again.status).toBe(202);
  expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });
  expect(depth()).toBe(1);
});

test.each([
  ['missing signature', { signature: null }],
  ['wrong secret', { secret: 'not-the-secret' }],
  ['malformed signature', { signature: 'sha256=zz' }],
  ['sha1 signature', { signature: 'sha1=0123' }],
])('%s → 401 and nothing stored or queued', async (_name, opts) => {
  const res = await receiveWebhook(t.services.webhookDeps, route(), signed(body, { ...opts, delivery: 'bad' }));
  expect(res.status).toBe(401);
  expect((JSON.parse(res.body) as { reason: unknown }).reason).toEqual(expect.any(String));
  expect(depth()).toBe(0);
  expect(await t.services.adapters.kv.get(deliveryKey(seed.integrationId, 'bad'))).toBeUndefined();
});

test('a tampered body fails the signature', async () => {
  const req = signed(body);
  const tampered = { ...req, rawBody: Buffer.from(body.replace('opened', 'closed')) };
  expect((await receiveWebhook(t.services.webhookDeps, route(), tampered)).status).toBe(401);
  expect(depth()).toBe(0);
});

test('an unknown integration, a wrong or unknown provider, a bad signature and a malformed body all get the same 401; oversized → 413', async () => {
  const answers = [
    await receiveWebhook(t.services.webhookDeps, { provider: 'github', integrationId: 'nope' }, signed(body)),
    await receiveWebhook(t.services.webhookDeps, { provider: 'gitlab', integrationId: seed.integrationId }, signed(body)),
    await receiveWebhook(t.services.webhookDeps, { provider: 'slack', integrationId: seed.integrationId }, signed(body)),
    await receiveWebhook(t.services.webhookDeps, route(), signed(body, { secret: 'not-the-secret-0000' })),
    await receiveWebhook(t.services.webhookDeps, route(), signed('{"action":')),
  ];
  // Nothing in the answer tells which ids exist, what provider they are, or what was wrong: that goes to the log.
  expect(new Set(answers.map((a) => JSON.stringify([a.status, a.body, a.contentType])))).toEqual(new Set([JSON.stringify([401, '{"error":"unauthorized","reason":"Delivery not accepted"}', 'application/json'])]));
  expect(t.logs.filter((l) => l.message === 'webhook refused').map((l) => l.fields.reason)).toEqual(['signature mismatch', expect.stringMatching(/JSON/)]);
  const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
  expect((await receiveWebhook(t.services.webhookDeps, route(), signed(big))).status).toBe(413);
  expect((await receiveWebhook(t.services.webhookDeps, { provider: 'github', integrationId: 'nope' }, signed(big))).status).toBe(413);
  expect(depth()).toBe(0);
});

test('ping answers 200 without queueing', async () => {
  const res = await receiveWebhook(t.services.webhookDeps, route(), signed(readFileSync(path.join(FIXTURES, 'ping.json')), { event: 'ping' }));
  expect(res.status).toBe(200);
  expect(depth()).toBe(0);
});

test('when the queue is down the delivery stays pending, so the provider retry is queued', async () => {
  const failing: QueueSender = { send: () => Promise.reject(new Error('broker down')), ping: () => Promise.resolve(), close: () => Promise.resolve() };
  const deps: WebhookDeps = { ...t.services.webhookDeps, queue: failing };
  const res = await receiveWebhook(deps, route(), signed(body, { delivery: 'retry-me' }));
  expect(res.status).toBe(503);
  expect(JSON.parse((await t.services.adapters.kv.get(deliveryKey(seed.integrationId, 'retry-me'))) ?? '{}')).toMatchObject({ state: 'pending' });
  const retry = await receiveWebhook(t.services.webhookDeps, route(), signed(body, { delivery: 'retry-me' }));
  expect(retry.status).toBe(202);
  expect(JSON.parse(retry.body)).toMatchObject({ duplicate: false });
  expect(depth()).toBe(1);
  expect(JSON.parse((await t.services.adapters.kv.get(deliveryKey(seed.integrationId, 'retry-me'))) ?? '{}')).toMatchObject({ state: 'done' });
  // Only a queued delivery makes the next copy a duplicate.
  expect(JSON.parse((await receiveWebhook(t.services.webhookDeps, route(), signed(body, { delivery: 'retry-me' }))).body)).toMatchObject({ duplicate: true });
});

test('every recorded GitHub payload is accepted (ping answered)', async () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(10);
  for (const file of files) {
    const event = file.split('.')[0] ?? '';
    const res = await receiveWebhook(t.services.webhookDeps, route(), signed(readFileSync(path.join(FIXTURES, file)), { event }));
    expect([file, res.status]).toEqual([file, event === 'ping' ? 200 : 202]);
  }
});

test('webhooks within one coalescing window become one scheduled job', async () => {
  const c = await embeddedServices({ WEBHOOK_COALESCE_SECONDS: '5' });
  try {
    const s = await seedGithubIntegration(c.services, 'http://127.0.0.1:1', { integrationId: seed.integrationId });
    const fixed = new Date(Date.now() + 60_000); // the window ends after the queue's own clock
    const deps = { ...c.services.webhookDeps, now: () => fixed };
    for (let i = 0; i < 5; i++) {
      const raw = Buffer.from(body);
      const sig = `sha256=${createHmac('sha256', s.webhookSecret).update(raw).digest('hex')}`;
      const h: Record<string, string> = { 'x-github-event': 'issues', 'x-github-delivery': `c-${i}`, 'x-hub-signature-256': sig };
      expect((await receiveWebhook(deps, route(), { rawBody: raw, header: (n) => h[n], url: 'http://localhost/x' })).status).toBe(202);
    }
    const queued = c.queue.peek(QUEUES.syncInbound);
    expect(queued).toHaveLength(1);
    expect(queued[0]?.state).toBe('scheduled');
  } finally {
    await c.cleanup();
  }
});

test('an issues.deleted delivery queues the issue as a deletion to apply; an issue_comment.deleted one does not', async () => {
  const deleted = readFileSync(path.join(FIXTURES, 'issues.deleted.json'));
  expect((await receiveWebhook(t.services.webhookDeps, route(), signed(deleted, { event: 'issues' }))).status).toBe(202);
  const apply = t.queue.peek(QUEUES.syncInbound).find((m) => (m.body as { type: string }).type === 'sync.apply');
  const issue = (JSON.parse(deleted.toString()) as { issue: { id: number } }).issue;
  expect(apply?.body).toMatchObject({ records: [{ externalId: String(issue.id), deleted: true }] });

  const comment = readFileSync(path.join(FIXTURES, 'issue_comment.deleted.json'));
  const before = t.queue.depth(QUEUES.syncInbound);
  expect((await receiveWebhook(t.services.webhookDeps, route(), signed(comment, { event: 'issue_comment' }))).status).toBe(202);
  expect(t.queue.peek(QUEUES.syncInbound).filter((m) => (m.body as { type: string }).type === 'sync.apply')).toHaveLength(1);
  expect(t.queue.depth(QUEUES.syncInbound)).toBe(before + 1);
});
