import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { putIntegration } from '../shared/api/integrations';
import { putTenant } from '../shared/api/tenants';
import { buildServices } from '../shared/composition';
import { loadSettings } from '../shared/config/settings';
import { createLogger } from '../shared/observability/logger';
import { runPullSync } from '../shared/sync/pull';
import { startChild } from './child';
import type { Figure } from './results';
import { adminPut } from './admin-request';

/** One full pull sync of `n` issues from a sandbox (own process) over HTTP into the embedded store. */
async function syncOnce(n: number): Promise<{ ms: number; fetched: number; peakRssMb: number; baseRssMb: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'castiel-bench-'));
  const sandbox = await startChild(path.join(__dirname, 'sandbox-child.js'), (m) => z.object({ url: z.string() }).parse(m), { ISSUES: String(n) });
  const services = await buildServices(loadSettings({ LOCAL_DATA_DIR: dataDir, ADMIN_API_KEY: 'bench-admin-key-0000000001', EGRESS_ALLOW_LOCAL: 'sandbox' }), { logger: createLogger(() => undefined, 'error') });
  try {
    const req = adminPut(services.adminKey);
    await putTenant(services.adminDeps, req({ tenantId: 'bench' }, { name: 'Bench' }));
    // The sandbox token allows it: lift the rate limits (GitHub's default is 360 requests/min) so the bench measures the pipeline.
    await services.adminDeps.limits.replace('bench', { perMinute: 100_000 });
    await putIntegration(
      services.adminDeps,
      req({ tenantId: 'bench', integrationId: 'gh' }, { provider: 'github', baseUrl: sandbox.info.url, config: { owner: 'bench', repo: 'repo' }, credentials: { type: 'token', token: 'ghp_bench' }, limits: { perMinute: 100_000 } }),
    );
    const job = { type: 'sync.pull' as const, tenantId: 'bench', integrationId: 'gh', trigger: 'manual' as const, requestedAt: new Date().toISOString() };
    (globalThis as { gc?: () => void }).gc?.();
    const baseRssMb = process.memoryUsage.rss() / 2 ** 20;
    let peakRssMb = baseRssMb;
    const sampler = setInterval(() => { peakRssMb = Math.max(peakRssMb, process.memoryUsage.rss() / 2 ** 20); }, 20);
    const started = performance.now();
    const outcome = await runPullSync(services.syncDeps, job, { messageId: `bench-${n}`, deliveryCount: 1 });
    const ms = performance.now() - started;
    clearInterval(sampler);
    peakRssMb = Math.max(peakRssMb, process.memoryUsage.rss() / 2 ** 20);
    if (outcome.kind !== 'succeeded') throw new Error(`sync ${outcome.kind}`);
    const run = await services.repos.getRun('bench', outcome.runId);
    return { ms, fetched: run?.counts.fetched ?? 0, peakRssMb, baseRssMb };
  } finally {
    await services.close();
    await sandbox.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchSync(): Promise<Figure[]> {
  await syncOnce(500); // warm-up
  const small = await syncOnce(100);
  const medium = await syncOnce(10_000);
  const large = await syncOnce(100_000);
  const rate = (r: { fetched: number; ms: number }): number => (r.fetched / r.ms) * 1000;
  return [
    { metric: 'sync.recordsPerSec', value: rate(medium), unit: 'records/s', target: { op: '>=', value: 10_000 }, note: `${medium.fetched} records in ${Math.round(medium.ms)} ms, all ten phases` },
    { metric: 'sync.recordsPerSec100k', value: rate(large), unit: 'records/s', note: `${large.fetched} records in ${Math.round(large.ms)} ms` },
    { metric: 'sync.recordsPerSec100', value: rate(small), unit: 'records/s', note: '100 records' },
    { metric: 'sync.ms100', value: small.ms, unit: 'ms', target: { op: '<=', value: 150 }, note: '100 records, one run' },
    {
      metric: 'sync.peakRssMb',
      value: large.peakRssMb,
      unit: 'MB',
      note: `100k run; rss before ${Math.round(large.baseRssMb)} MB. The embedded store holds every record in this process; the pipeline itself holds one page (+1 read ahead)`,
    },
    { metric: 'sync.peakRssMb10k', value: medium.peakRssMb, unit: 'MB', note: `10k run; rss before ${Math.round(medium.baseRssMb)} MB` },
  ];
}
