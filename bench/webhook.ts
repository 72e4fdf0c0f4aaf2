import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { z } from 'zod';
import { startChild } from './child';
import { openLoop } from './openloop';
import type { Figure } from './results';

const hostInfo = z.object({ url: z.string(), integrationId: z.string(), secret: z.string() });

/** Distinct signed deliveries, made before the clock starts so signing cost stays off the load generator. */
function deliveries(secret: string, n: number): { body: string; headers: Record<string, string> }[] {
  return Array.from({ length: n }, (_, i) => {
    const body = JSON.stringify({ action: 'edited', issue: { id: i, number: i, title: `bench ${i}` }, repository: { full_name: 'bench/repo' } });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'issues',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
    };
  });
}

function load(url: string, pool: ReturnType<typeof deliveries>, options: { connections: number; duration: number }): Promise<autocannon.Result> {
  let next = 0;
  return autocannon({
    url,
    method: 'POST',
    connections: options.connections,
    duration: options.duration,
    requests: [
      {
        setupRequest: (req) => {
          const d = pool[next++ % pool.length];
          return { ...req, method: 'POST', body: d?.body ?? '', headers: d?.headers ?? {} };
        },
      },
    ],
  });
}

/** Webhook ingest through the local host: max throughput (autocannon, closed loop), then latency at a steady 1,000/s (open loop). */
export async function benchWebhook(): Promise<Figure[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'castiel-bench-'));
  const host = await startChild(path.join(__dirname, 'webhook-host.js'), (m) => hostInfo.parse(m), { LOCAL_DATA_DIR: dataDir });
  try {
    const url = `${host.info.url}/api/webhooks/github/${host.info.integrationId}`;
    const pool = deliveries(host.info.secret, 200_000);
    await load(url, pool, { connections: 20, duration: 2 }); // warm-up (JIT, caches)
    const max = await load(url, pool, { connections: 100, duration: 10 });
    let i = 0;
    const steady = await openLoop(url, 1000, 10, () => pool[i++ % pool.length] ?? { body: '', headers: {} });
    const bad = max.non2xx + max.errors + steady.failed;
    return [
      { metric: 'webhook.rps', value: max.requests.average, unit: 'req/s', target: { op: '>=', value: 5000 }, note: `100 connections, 10 s; ${bad} non-2xx/errors` },
      { metric: 'webhook.p50MsAtMax', value: max.latency.p50, unit: 'ms', note: 'at max throughput' },
      { metric: 'webhook.p99MsAtMax', value: max.latency.p99, unit: 'ms', note: 'at max throughput' },
      { metric: 'webhook.p50Ms', value: steady.p50Ms, unit: 'ms', note: `open loop, 1,000 req/s for 10 s (${steady.sent} sent)` },
      { metric: 'webhook.p99Ms', value: steady.p99Ms, unit: 'ms', target: { op: '<=', value: 20 }, note: `open loop, 1,000 req/s; max ${Math.round(steady.maxMs)} ms` },
    ];
  } finally {
    await host.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
