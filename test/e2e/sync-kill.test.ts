/**
 * Crash safety: the worker process is SIGKILLed at random points of a pull
 * sync (≥ 50 times); each kill is followed by a redelivery (same message id,
 * so the same run) until the run completes. The provider is a change log in
 * which every page carries deletions (and edits, creations, restorations);
 * each round an admin also cancels a run part-way before the killed one. Every
 * round must end with exactly the records a clean, uninterrupted run
 * produces — none lost, none duplicated — with every deletion applied, and
 * applied once: the cancelled run reports 0 deleted, the killed one exactly
 * the round's deletions. State is shared through a Cosmos-protocol server, the
 * real Redis and the local secret store, as separate worker instances would
 * share it in Azure.
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { putIntegration } from '../../shared/api/integrations';
import { cancelRun } from '../../shared/api/runs';
import { putTenant } from '../../shared/api/tenants';
import { ORDER_FIELDS } from '../../shared/adapters';
import { buildServices, type Services } from '../../shared/composition';
import { loadSettings } from '../../shared/config/settings';
import { LocalSecretStore } from '../../shared/credentials/local';
import { runIdForMessage } from '../../shared/domain/ids';
import type { SyncJob } from '../../shared/messaging/messages';
import { createRedisClient, RedisKeyValueStore } from '../../shared/kv/redis';
import { silentLogger } from '../../shared/observability/logger';
import type { NormalizedRecord } from '../../shared/providers/types';
import { CosmosDocumentStore, createCosmosClient } from '../../shared/storage/cosmos';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { startCosmosServer, type CosmosTestServer } from '../helpers/cosmos-server';
import { dataset, item, registryWithFake, type FakeDataset } from '../helpers/fake-provider';

const CHILD = path.join(__dirname, '..', 'helpers', 'sync-kill-child.js');
const KILLS_WANTED = 50;
const PAGE = 15;
const PAGES_PER_ROUND = 12;
/** In every page of a round (PAGE entries): this many deletions, then edits, restorations and creations. */
const MIX = { deletes: 5, edits: 5, creates: 3, restores: 2 };
const INITIAL = 300;
const PAGE_LATENCY_MS = 40;

let cosmos: CosmosTestServer;
let services: Services;
let workDir: string;
let log: NormalizedRecord[];
let d: FakeDataset;
const secretsKey = randomBytes(32).toString('base64');
const redisPrefix = `test:kill:${randomUUID()}:`;
const database = `kill${Date.now()}`;

/** The provider's side: which ids are live, and the next data-clock second (every change is newer than the last). */
const live = new Map<number, boolean>();
let clock = 0;
let nextId = 0;
const at = (): string => new Date(Date.UTC(2026, 0, 1) + ++clock * 1000).toISOString();

/** A seeded generator: a failing round can be replayed. */
let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
}
function pick(from: number[], n: number): number[] {
  const pool = [...from];
  const out: number[] = [];
  while (out.length < n && pool.length > 0) out.push(...pool.splice(Math.floor(random() * pool.length), 1));
  return out;
}

beforeAll(async () => {
  cosmos = await startCosmosServer();
  workDir = await mkdtemp(path.join(tmpdir(), 'castiel-kill-'));
  const store = new CosmosDocumentStore(createCosmosClient({ endpoint: cosmos.endpoint, key: cosmos.key, agent: new Agent({ rejectUnauthorized: false }) }), { databaseId: database, orderFields: ORDER_FIELDS });
  const kv = new RedisKeyValueStore(createRedisClient('redis://127.0.0.1:6379'), redisPrefix);
  const secrets = new LocalSecretStore({ dir: workDir, key: Buffer.from(secretsKey, 'base64') });
  services = await buildServices(loadSettings({ LOCAL_DATA_DIR: workDir, ADMIN_API_KEY: 'test-admin-key-0123456789abcdef', EGRESS_ALLOW_LOCAL: 'sandbox' }), { logger: silentLogger, providers: registryWithFake, adapters: { store, kv, secrets } });
  log = [];
  for (; nextId < INITIAL; nextId++) {
    log.push(item(nextId, at()));
    live.set(nextId, true);
  }
  d = dataset('kill', log, PAGE);
  await putTenant(services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { name: 'Acme' } }));
  for (const integrationId of ['fk-clean', 'fk-kill']) {
    const body = { provider: 'fake', config: { dataset: 'kill' }, credentials: { type: 'token', token: 'fake-kill-token-01' } };
    const res = await putIntegration(services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId }, body }));
    expect(res.status).toBeLessThan(300);
  }
}, 60_000);

afterAll(async () => {
  await services.close();
  await cosmos.close();
  await rm(workDir, { recursive: true, force: true });
});

/**
 * Appends a round of pages to the provider's log; returns the ids deleted at
 * the end of it that the round deleted (an id deleted, restored and deleted
 * again counts once; one restored after its deletion not at all).
 */
function changeProvider(round: number): number[] {
  const deleted = new Set<number>();
  const deletedBefore = [...live].filter(([, isLive]) => !isLive).map(([id]) => id);
  for (let p = 0; p < PAGES_PER_ROUND; p++) {
    const liveIds = [...live].filter(([, isLive]) => isLive).map(([id]) => id);
    const gone = pick(liveIds, MIX.deletes);
    for (const id of gone) {
      log.push(item(id, at(), { deleted: true }, { title: `item ${id} (trashed in round ${round})` }));
      live.set(id, false);
      deleted.add(id);
    }
    for (const id of pick(liveIds.filter((id) => !gone.includes(id)), MIX.edits)) log.push(item(id, at(), {}, { title: `item ${id} edited in round ${round}` }));
    // Only ids deleted in an earlier round come back, so this round's deletions all stand.
    const back = pick(deletedBefore.filter((id) => live.get(id) === false), MIX.restores);
    for (const id of back) {
      log.push(item(id, at(), {}, { title: `item ${id} restored in round ${round}` }));
      live.set(id, true);
    }
    // Creations make up for missing restorations: every page of a round is exactly PAGE entries, 5 of them deletions.
    for (let k = 0; k < MIX.creates + MIX.restores - back.length; k++, nextId++) {
      log.push(item(nextId, at(), {}, { title: `created in round ${round}` }));
      live.set(nextId, true);
    }
  }
  return [...deleted].filter((id) => live.get(id) === false);
}

interface ChildResult { killed: boolean; outcome?: { kind: string; reason?: string }; ranMs?: number }

async function runChild(job: SyncJob, messageId: string, deliveryCount: number, killAfterMs: number | undefined): Promise<ChildResult> {
  const file = path.join(workDir, 'dataset.json');
  await writeFile(file, JSON.stringify(log));
  const cfg = {
    cosmos: { endpoint: cosmos.endpoint, key: cosmos.key, database },
    redisPrefix,
    secretsDir: workDir,
    secretsKey,
    dataset: { name: 'kill', file, pageSize: PAGE, pageLatencyMs: PAGE_LATENCY_MS },
    job,
    message: { messageId, deliveryCount },
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let readyAt: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      // Killed at a random point after the worker is loaded and connected: inside the run, or just after it.
      if (readyAt === undefined && out.startsWith('ready\n')) {
        readyAt = Date.now();
        if (killAfterMs !== undefined) timer = setTimeout(() => { child.kill('SIGKILL'); }, killAfterMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') { resolve({ killed: true }); return; }
      if (code !== 0) { reject(new Error(`worker exited ${code}: ${err}`)); return; }
      const outcome = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { kind: string; reason?: string };
      resolve({ killed: false, outcome, ranMs: Date.now() - (readyAt ?? Date.now()) });
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

const job = (integrationId: string, extra: Partial<SyncJob> = {}): SyncJob => ({ type: 'sync.pull', tenantId: 'acme', integrationId, trigger: 'schedule', requestedAt: new Date().toISOString(), ...extra });
const deletedCount = async (runId: string): Promise<number | undefined> => (await services.repos.getRun('acme', runId))?.counts.deleted;

test(`killing the worker at random points (≥ ${KILLS_WANTED} times) and cancelling runs, with deletions in every page, never loses, duplicates or re-applies anything`, async () => {
  expect((await runPullSync(services.syncDeps, job('fk-clean'), { messageId: 'clean-0', deliveryCount: 1 })).kind).toBe('succeeded');
  const first = await runChild(job('fk-kill'), 'kill-round-0', 1, undefined);
  expect(first.outcome?.kind).toBe('succeeded');
  expect(await snapshot('fk-kill')).toEqual(await snapshot('fk-clean'));
  // How long an uninterrupted worker runs a round once loaded: a round reads PAGES_PER_ROUND pages.
  let span = ((first.ranMs ?? 1000) * PAGES_PER_ROUND) / (INITIAL / PAGE);

  let kills = 0;
  let midRun = 0;
  let round = 0;
  while (kills < KILLS_WANTED && round < 60) {
    round++;
    const deleted = changeProvider(round);
    const clean = await runPullSync(services.syncDeps, job('fk-clean'), { messageId: `clean-${round}`, deliveryCount: 1 });
    expect(clean.kind).toBe('succeeded');
    expect(await deletedCount(clean.kind === 'succeeded' ? clean.runId : '')).toBe(deleted.length);

    // An admin cancels a run part-way: pages with deletions are stored, none of the deletions applied.
    const cancelAt = Math.floor(d.records.length / PAGE) - PAGES_PER_ROUND + 1 + Math.floor(random() * (PAGES_PER_ROUND - 2));
    const cancelled = `run-cancelled-${round}`;
    d.onPage = async (page) => {
      if (page === cancelAt) await cancelRun(services.adminDeps, apiRequest({ method: 'POST', params: { tenantId: 'acme', integrationId: 'fk-kill', runId: cancelled } }));
    };
    expect(await runPullSync(services.syncDeps, job('fk-kill', { runId: cancelled }), { messageId: `cancel-${round}`, deliveryCount: 1 })).toEqual({ kind: 'cancelled', runId: cancelled });
    delete d.onPage;
    expect(await deletedCount(cancelled)).toBe(0);

    // The next run is killed at random points and redelivered until it completes.
    const messageId = `kill-round-${round}`;
    for (let delivery = 1; delivery < 100; delivery++) {
      const result = await runChild(job('fk-kill'), messageId, delivery, Math.floor(Math.random() * span * 1.1));
      if (result.killed) {
        kills++;
        const run = await services.repos.getRun('acme', runIdForMessage(messageId));
        if (run?.status === 'running' || run?.status === 'queued') midRun++;
        // A dead worker's lease runs out (2 min in production): let it lapse now.
        await services.adapters.kv.delete('lock:sync:{fk-kill}');
        continue;
      }
      if (delivery === 1) span = result.ranMs ?? span;
      // A kill that landed after the run finished leaves nothing to do: the redelivery says so.
      expect(result.outcome).toEqual(expect.objectContaining({ kind: expect.stringMatching(/^(succeeded|skipped)$/) as unknown }));
      if (result.outcome?.kind === 'skipped') expect(result.outcome).toMatchObject({ reason: 'run already finished (redelivery)' });
      break;
    }
    const [cleanRecords, killedRecords] = await Promise.all([snapshot('fk-clean'), snapshot('fk-kill')]);
    expect(cleanRecords.size).toBe(live.size);
    expect(killedRecords).toEqual(cleanRecords);
    // Every deletion of the round landed, and was counted once, by the run that applied it.
    for (const id of deleted) expect(killedRecords.get(String(id))).toMatch(/:true$/);
    // …and nothing else: deleted in the store is exactly deleted at the provider.
    expect([...killedRecords].filter(([id, v]) => v.endsWith(':true') !== (live.get(Number(id)) === false))).toEqual([]);
    const killedRun = await services.repos.getRun('acme', runIdForMessage(messageId));
    expect(killedRun?.status).toBe('succeeded');
    expect(killedRun?.counts.deleted).toBe(deleted.length);
  }
  expect(kills).toBeGreaterThanOrEqual(KILLS_WANTED);
  // Most kills must land inside a run, not before it started or after it finished.
  expect(midRun).toBeGreaterThanOrEqual(KILLS_WANTED / 2);
}, 600_000);
