export interface HealthCheck {
  name: string;
  check: () => Promise<void>;
}

export interface HealthReport {
  status: 'ok' | 'failing';
  checks: Record<string, { status: 'ok' | 'failing'; ms: number; error?: string }>;
}

/** Each dependency gets this long to answer: a stalled one must not stall the probe. */
const CHECK_TIMEOUT_MS = 2_000;

export async function runHealthChecks(checks: readonly HealthCheck[]): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise<never>((_, reject) => { timer = setTimeout(() => { reject(new Error('timed out')); }, CHECK_TIMEOUT_MS); }),
        ]);
        return [name, { status: 'ok' as const, ms: Math.round(performance.now() - started) }] as const;
      } catch (error) {
        // The error class only: messages from clients can embed connection strings.
        const reason = error instanceof Error ? (error.message === 'timed out' ? 'timed out' : error.name) : 'error';
        return [name, { status: 'failing' as const, ms: Math.round(performance.now() - started), error: reason }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const report: HealthReport = { status: 'ok', checks: {} };
  for (const [name, result] of results) {
    report.checks[name] = result;
    if (result.status === 'failing') report.status = 'failing';
  }
  return report;
}
