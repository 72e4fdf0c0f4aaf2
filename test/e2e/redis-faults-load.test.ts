/**
 * Redis paused (SIGSTOP) and killed under webhook and sync load, through the
 * local host with every queue worker running, against the GitHub sandbox and
 * a redis-server this test owns. GitHub deletes issues and tells us only by
 * `issues.deleted` deliveries, retried (as GitHub's redelivery would) until
 * answered 2xx; meanwhile an operator keeps asking for syncs. Afterwards,
 * with the queue's clock moved past every backoff:
 *  - every acknowledged deletion is applied (the record is soft-deleted),
 *  - every job is done or listed as a dead letter with a reason,
 *  - no run is left queued or running,
 *  - failures backed off instead of storming the log (counted in real time, while it happened).
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { listDeadLetters } from '../../shared/api/deadletters';
import { listRuns, postSync } from '../../shared/api/runs';
import { setServices } from '../../shared/composition';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { QUEUES } from '../../shared/messaging/names';
import { apiRequest, seedGithubIntegration, type GithubSeed } from '../helpers/api';
import { records } from '../helpers/engine';
import { PrivateRedis } from '../helpers/private-redis';
import { embeddedServices, type TestServices } from '../helpers/services';
import { until } from '../helpers/until';

const OWNER = 'octo';
const REPO = 'hello';
const ISSUES = 60;
const DELETED = 30;

let offset = 0;
const queue = new EmbeddedQueue({ now: () => Date.now() + offset });
let redis: PrivateRedis;
let gh: GithubSandbox;
let t: TestServices;
let host: LocalHost;
let seed: GithubSeed;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type RunView = { id: string; status: string; error: string | null };
async function runs(): Promise<RunView[]> {
  const all: RunView[] = [];
  let continuation: string | undefined;
  do {
    const res = await listRuns(t.services.adminDeps, apiRequest({ params: { tenantId: seed.tenantId, integrationId: seed.integrationId }, query: { limit: '100', ...(continuation ? { continuation } : {}) } }));
    const body = res.jsonBody as { items: RunView[]; continuation?: string };
    all.push(...body.items);
    continuation = body.continuation;
  } while (continuation);
  return all;
}

beforeAll(async () => {
  redis = await PrivateRedis.start();
  gh = await startGithubSandbox({ tokens: { ghp_sandboxtoken0001: { limit: 100_000 } } });
  gh.seedIssues(OWNER, REPO, ISSUES);
  t = await embeddedServices({ REDIS_URL: redis.url, WEBHOOK_COALESCE_SECONDS: '5' }, { adapters: { queue, receiver: queue } });
  setServices(t.services);
  seed = await seedGithubIntegration(t.services, gh.url);
  host = await startLocalHost({ definitions: definitions.filter((d) => d.kind !== 'timer'), receiver: queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 50 } });
  await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: seed.tenantId, integrationId: seed.integrationId } }));
  await until('the first sync', async () => ((await records(t, seed.integrationId)).length === ISSUES ? true : undefined));
}, 60_000);

afterAll(async () => {
  await host.stop();
  await t.cleanup();
  setServices(undefined);
  await gh.close();
  await redis.kill();
});

test('Redis paused and killed under load: every acknowledged deletion lands, every job ends, no run is stuck, no log storm', async () => {
  const url = `${host.url}/api/webhooks/github/${seed.integrationId}`;
  const logsBefore = t.logs.length;
  let stop = false;
  // An operator asking for syncs all along.
  const operator = (async () => {
    while (!stop) {
      await postSync(t.services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: seed.tenantId, integrationId: seed.integrationId } }));
      await sleep(300);
    }
  })();

  // The faults, on their own clock while deliveries and syncs go on: a 3 s stall, then a kill and a restart.
  const faults = (async () => {
    await sleep(1_000);
    redis.pause();
    await sleep(3_000);
    redis.resume();
    await sleep(1_500);
    await redis.kill();
    await sleep(1_500);
    await redis.restart();
  })();

  const acked: number[] = [];
  const refused: number[] = [];
  for (let n = 1; n <= DELETED; n++) {
    await sleep(250);
    const issue = gh.getIssue(OWNER, REPO, n);
    gh.deleteIssue(OWNER, REPO, n);
    const deliveryId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    // GitHub's redelivery: the same delivery id until it is answered 2xx.
    for (let attempt = 0; attempt < 40; attempt++) {
      const res = await gh.deliverWebhook({ url, secret: seed.webhookSecret, event: 'issues', payload: { action: 'deleted', issue }, deliveryId });
      if (res.status >= 200 && res.status < 300) {
        acked.push(n);
        break;
      }
      expect(res.status).toBe(503);
      refused.push(n);
      await sleep(150);
    }
  }
  stop = true;
  await operator;
  await faults;
  // No storm while it happened (in real time, before the clock is moved): waits back off. A ghost lease once
  // produced ~9,800 "rescheduled" lines in two minutes.
  const noisy = t.logs.slice(logsBefore).filter((l) => /rescheduled|retrying|waiting/.test(l.message)).length;
  expect(noisy).toBeLessThan(250);
  expect(acked).toHaveLength(DELETED);
  expect(refused.length).toBeGreaterThan(0);

  // Play every backoff (30 s, 2 min, 10 min) on the queue's clock until nothing is left to do.
  await until('every run to end', async () => {
    offset += 11 * 60_000;
    queue.tick();
    await sleep(300);
    const pending = queue.peek(QUEUES.syncInbound).length + queue.peek(QUEUES.syncOutbound).length;
    const live = (await runs()).filter((r) => r.status === 'queued' || r.status === 'running');
    return pending === 0 && live.length === 0 ? true : undefined;
  }, 40_000);

  const byIssue = new Map((await records(t, seed.integrationId)).map((r) => [r.externalId, r]));
  const notApplied = acked.filter((n) => ![...byIssue.values()].some((r) => r.deleted && (r.data as { number?: unknown }).number === n));
  expect(notApplied).toEqual([]);
  expect([...byIssue.values()].filter((r) => r.deleted)).toHaveLength(DELETED);

  const parked = (await listDeadLetters(t.services.adminDeps, apiRequest({ params: { tenantId: seed.tenantId } }))).jsonBody as { items: { reason: string; description: string }[] };
  for (const d of parked.items) {
    expect(d.reason).toMatch(/^[A-Za-z]+$/);
    expect(d.description.length).toBeGreaterThan(0);
  }
  expect(await queue.deadLetters(QUEUES.syncInbound)).toHaveLength(0);

}, 120_000);
