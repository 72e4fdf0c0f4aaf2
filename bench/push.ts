/**
 * Push latency (issue 10, point 3): from `PATCH …/records/{id}` over HTTP to
 * the provider's write, through the local host (own process) with the real
 * function definitions and queue triggers, against a GitHub sandbox in this
 * process (so the write is seen the moment it lands). Edits go one at a
 * time on an otherwise idle integration; then a burst of edits at once shows
 * how long many pending edits take and how many pulls they cause.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { startGithubSandbox, type GithubSandbox } from '../local/sandbox/github';
import { startChild } from './child';
import type { Figure } from './results';

const hostInfo = z.object({ url: z.string(), adminKey: z.string(), records: z.array(z.object({ id: z.string(), number: z.number() })) });
type Host = z.infer<typeof hostInfo>;

const SEQUENTIAL_EDITS = 60;
const BURST_EDITS = 500;
const BURST_CONCURRENCY = 25;
const GIVE_UP_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function edit(host: Host, recordId: string, title: string): Promise<void> {
  const res = await fetch(`${host.url}/api/admin/tenants/bench/records/${recordId}`, {
    method: 'PATCH',
    headers: { 'x-functions-key': host.adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ data: { title } }),
  });
  if (res.status !== 202) throw new Error(`PATCH answered ${res.status}: ${await res.text()}`);
}

/** Until the sandbox holds `title` on issue `number`; polled in process every millisecond or so. */
async function written(gh: GithubSandbox, number: number, title: string, since: number): Promise<void> {
  while (gh.getIssue('bench', 'repo', number)?.title !== title) {
    if (performance.now() - since > GIVE_UP_MS) throw new Error(`issue #${number} never got its edit`);
    await sleep(1);
  }
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function pushRuns(host: Host): Promise<number> {
  const res = await fetch(`${host.url}/api/admin/tenants/bench/integrations/gh-push/runs?limit=1000`, { headers: { 'x-functions-key': host.adminKey } });
  const body = z.object({ items: z.array(z.object({ trigger: z.string() })) }).parse(await res.json());
  return body.items.filter((r) => r.trigger === 'push').length;
}

export async function benchPush(): Promise<Figure[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'castiel-bench-'));
  const gh = await startGithubSandbox({ tokens: { ghp_bench: { limit: 10_000_000 } } });
  // Every 5th seeded issue is a pull request (not pushed): seed enough issues for both parts.
  gh.seedIssues('bench', 'repo', Math.ceil(((SEQUENTIAL_EDITS + BURST_EDITS) * 5) / 4) + 5);
  const child = await startChild(path.join(__dirname, 'push-host.js'), (m) => hostInfo.parse(m), { LOCAL_DATA_DIR: dataDir, GITHUB_URL: gh.url });
  try {
    const host = child.info;
    const records = [...host.records].sort((a, b) => a.number - b.number);
    // Warm-up: the first push pays for lazy clients and JIT.
    const first = records[0];
    if (!first) throw new Error('no records to edit');
    const warm = performance.now();
    await edit(host, first.id, 'warm-up');
    await written(gh, first.number, 'warm-up', warm);

    const latencies: number[] = [];
    for (let i = 0; i < SEQUENTIAL_EDITS; i++) {
      const r = records[i % records.length];
      if (!r) break;
      const title = `bench edit ${i}`;
      const started = performance.now();
      await edit(host, r.id, title);
      await written(gh, r.number, title, started);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);

    const burst = records.slice(SEQUENTIAL_EDITS, SEQUENTIAL_EDITS + BURST_EDITS);
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: BURST_CONCURRENCY }, async () => {
      while (next < burst.length) {
        const r = burst[next++];
        if (r) await edit(host, r.id, `burst edit ${r.number}`);
      }
    }));
    for (const r of burst) await written(gh, r.number, `burst edit ${r.number}`, started);
    const burstMs = performance.now() - started;
    const pulls = await pushRuns(host);

    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    return [
      { metric: 'push.latencyMs.p50', value: p50, unit: 'ms', target: { op: '<=', value: 2_000 }, note: `PATCH → GitHub's write, ${latencies.length} edits one at a time, idle integration` },
      { metric: 'push.latencyMs.p99', value: p99, unit: 'ms', target: { op: '<=', value: 10_000 }, note: `max ${Math.round(latencies.at(-1) ?? 0)} ms` },
      { metric: 'push.burstMs', value: burstMs, unit: 'ms', note: `${burst.length} edits sent ${BURST_CONCURRENCY} at a time, until GitHub holds every one` },
      { metric: 'push.burstPullRuns', value: pulls, unit: 'runs', note: 'pulls the pushes asked for (trigger push); conditional writes need none without a conflict' },
    ];
  } finally {
    await child.stop();
    await gh.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
