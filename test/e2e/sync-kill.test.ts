/**
 * Crash safety: the worker process is SIGKILLed at random points of a pull
 * sync (≥ 50 times); each kill is followed by a redelivery (same message id,
 * so the same run) until the run completes. Every run must end with exactly
 * the records a clean, uninterrupted run produces: none lost, none duplicated.
 * State is shared through a Cosmos-protocol server, the real Redis and the
 * local secret store, as separate worker instances would share it in Azure.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { ORDER_FIELDS } from '../../shared/adapters';
import { buildServices, type Services } from '../../shared/composition';
import { loadSettings } from '../../shared/config/settings';
import { LocalSecretStore } from '../../shared/credentials/local';
import { createRedisClient, RedisKeyValueStore } from '../../shared/kv/redis';
import { silentLogger } from '../../shared/observability/logger';
import { CosmosDocumentStore, createCosmosClient } from '../../shared/storage/cosmos';
import { runPullSync } from '../../shared/sync/pull';
import { seedGithubIntegration } from '../helpers/api';
import { startCosmosServer, type CosmosTestServer } from '../helpers/cosmos-server';

const CHILD = path.join(__dirname, '..', 'helpers', 'sync-kill-child.js');
const KILLS_WANTED = 50;
const TOKEN = 'ghp_kill_test_token_01';

let cosmos: CosmosTestServer;
let gh: GithubSandbox;
let services: Services;
let secretsDir: string;
const secretsKey = randomBytes(32).toString('base64');
const redisPrefix = `test:kill:${randomUUID()}:`;
const database = `kill${Date.now()}`;

beforeAll(async () => {
  cosmos = await startCosmosServer();
  secretsDir = await mkdtemp(path.join(tmpdir(), 'castiel-kill-'));
  const store = new CosmosDocumentStore(createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, agent: new Agent({ rejectUnauthorized: false }) }), { databaseId: database, orderFields: ORDER_FIELDS });
  const kv = new RedisKeyValueStore(createRedisClient('redis://127.0.0.1:6379'), redisPrefix);
  const secrets = new LocalSecretStore({ dir: secretsDir, key: Buffer.from(secretsKey, 'base64') });
  services = await buildServices(loadSettings({ LOCAL_DATA_DIR: secretsDir, ADMIN_API_KEY: 'test-admin-key-0123456789abcdef', EGRESS_ALLOW_LOCAL: 'sandbox' }), { logger: silentLogger, adapters: { store, kv, secrets } });
  gh = await startGithubSandbox({ tokens: { [TOKEN]: { limit: 1_000_000 } }, latencyMs: 15 });
  gh.seedIssues('octo', 'kill', 450);
  for (const integrationId of ['gh-clean', 'gh-kill']) {
    await seedGithubIntegration(services, gh.url, { tenantId: 'acme', integrationId, token: TOKEN, owner: 'octo', repo: 'kill' });
  }
}, 60_000);

afterAll(async () => {
  await services.close();
  await gh.close();
  await cosmos.close();
  await rm(secretsDir, { recursive: true, force: true });
});

interface ChildResult { killed: boolean; outcome?: { kind: string; reason?: string } }

function runChild(round: number, deliveryCount: number, killAfterMs: number | undefined): Promise<ChildResult> {
  const cfg = {
    cosmos: { endpoint: cosmos.endpoint, key: cosmos.key, database },
    redisPrefix,
    secretsDir,
    secretsKey,
    // Each round is a full resync, so every run walks all pages and there is room to kill it anywhere.
    job: { type: 'sync.pull', tenantId: 'acme', integrationId: 'gh-kill', trigger: 'schedule', requestedAt: new Date().toISOString(), ...(round > 0 ? { full: true } : {}) },
    message: { messageId: `kill-round-${round}`, deliveryCount },
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => { child.kill('SIGKILL'); }, killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') { resolve({ killed: true }); return; }
      if (code !== 0) { reject(new Error(`worker exited ${code}: ${err}`)); return; }
      resolve({ killed: false, outcome: JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { kind: string; reason?: string } });
    });
  });
}

async function snapshot(integrationId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let continuation: string | undefined;
  do {
    const page = await services.repos.listRecords('acme', { integrationId }, 1000, continuation);
    for (const r of page.items) {
      expect(out.has(r.externalId)).toBe(false);
      out.set(r.externalId, `${r.contentHash}:${r.deleted}`);
    }
    continuation = page.continuation;
  } while (continuation);
  return out;
}

test(`killing the worker at random points (≥ ${KILLS_WANTED} times) never loses or duplicates a record`, async () => {
  // Calibrate: how long one worker takes from spawn to a finished first sync.
  const started = Date.now();
  const first = await runChild(0, 1, undefined);
  expect(first.outcome?.kind).toBe('succeeded');
  // How long an uninterrupted worker takes; kept current, since resync rounds run faster than the first sync.
  let span = Date.now() - started;

  let kills = 0;
  let midRun = 0;
  let round = 0;
  while (kills < KILLS_WANTED && round < 100) {
    round++;
    // The provider changes between rounds, so each round has real work to redo.
    for (let n = 1 + (round % 7); n <= 450; n += 37) gh.updateIssue('octo', 'kill', n, { title: `round ${round} issue ${n}` });
    const clean = await runPullSync(services.syncDeps, { type: 'sync.pull', tenantId: 'acme', integrationId: 'gh-clean', trigger: 'schedule', requestedAt: new Date().toISOString(), full: true }, { messageId: `clean-${round}`, deliveryCount: 1 });
    expect(clean.kind).toBe('succeeded');

    for (let delivery = 1; delivery < 100; delivery++) {
      const spawnedAt = Date.now();
      const result = await runChild(round, delivery, Math.floor(Math.random() * span * 0.9));
      if (result.killed) {
        kills++;
        const runs = await services.repos.listRuns('acme', 'gh-kill', 1);
        if (runs.items[0]?.status !== 'succeeded') midRun++;
        // A dead worker's lease runs out (2 min in production): let it lapse now.
        await services.adapters.kv.delete('lock:sync:{gh-kill}');
        continue;
      }
      if (delivery === 1) span = Date.now() - spawnedAt;
      // A kill that landed after the run finished leaves nothing to do: the redelivery says so.
      expect(result.outcome).toEqual(expect.objectContaining({ kind: expect.stringMatching(/^(succeeded|skipped)$/) as unknown }));
      if (result.outcome?.kind === 'skipped') expect(result.outcome).toMatchObject({ reason: 'run already finished (redelivery)' });
      break;
    }
    const [cleanRecords, killedRecords] = await Promise.all([snapshot('gh-clean'), snapshot('gh-kill')]);
    expect(cleanRecords.size).toBe(450);
    expect(killedRecords).toEqual(cleanRecords);
    expect((await services.repos.getRun('acme', (await services.repos.listRuns('acme', 'gh-kill', 1)).items[0]?.id ?? ''))?.status).toBe('succeeded');
  }
  expect(kills).toBeGreaterThanOrEqual(KILLS_WANTED);
  // Most kills must land inside a run, not before it started or after it finished.
  expect(midRun).toBeGreaterThanOrEqual(KILLS_WANTED / 2);
}, 600_000);
