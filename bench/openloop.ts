import { Agent, request } from 'node:http';

export interface OpenLoopResult {
  sent: number;
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PreparedRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * Constant-rate (open-loop) load: request i is due at start + i/rate and its
 * latency is measured from that instant, not from when a socket was free, so
 * a stall shows up in the percentiles instead of silently lowering the rate
 * (the coordinated-omission trap; autocannon's `overallRate` sends each
 * second's quota in a burst, which measures bursts, not a steady 1,000/s).
 */
export async function openLoop(url: string, rate: number, seconds: number, next: () => PreparedRequest): Promise<OpenLoopResult> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const total = rate * seconds;
  const start = performance.now();
  const inflight: Promise<void>[] = [];

  const fire = (dueAt: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const { body, headers } = next();
      const req = request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - dueAt);
            if (res.statusCode !== undefined && res.statusCode < 300) ok++;
            else failed++;
            resolve();
          });
        },
      );
      req.on('error', () => { failed++; resolve(); });
      req.end(body);
    });

  let sent = 0;
  while (sent < total) {
    const elapsed = performance.now() - start;
    const due = Math.min(total, Math.floor((elapsed / 1000) * rate) + 1);
    while (sent < due) inflight.push(fire(start + (sent++ * 1000) / rate));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(inflight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? Number.NaN;
  return { sent, ok, failed, p50Ms: pct(50), p99Ms: pct(99), maxMs: latencies.at(-1) ?? Number.NaN };
}
