import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Figure {
  metric: string;
  value: number;
  unit: string;
  /** Target from the issue, and which way is better. */
  target?: { op: '>=' | '<='; value: number };
  note?: string;
}

export const RESULTS_FILE = path.join(__dirname, '..', '..', 'bench', 'results.json');

export function meets(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  return f.target.op === '>=' ? f.value >= f.target.value : f.value <= f.target.value;
}

/** Print the table, and merge the figures into bench/results.json (one flat metric → number object). */
export function report(figures: readonly Figure[]): void {
  const rows = figures.map((f) => {
    const ok = meets(f);
    return [
      f.metric,
      `${round(f.value)} ${f.unit}`,
      f.target ? `${f.target.op} ${f.target.value} ${f.unit}` : '-',
      ok === undefined ? '-' : ok ? 'met' : 'MISSED',
      f.note ?? '',
    ];
  });
  const header = ['metric', 'measured', 'target', 'status', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n\n`);

  const existing: Record<string, number> = existsSync(RESULTS_FILE) ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Record<string, number>) : {};
  for (const f of figures) existing[f.metric] = round(f.value);
  const sorted = Object.fromEntries(Object.entries(existing).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(RESULTS_FILE, `${JSON.stringify(sorted, null, 2)}\n`);
  process.stdout.write(`written to ${path.relative(process.cwd(), RESULTS_FILE)}\n`);
}

function round(n: number): number {
  return n >= 100 ? Math.round(n) : Math.round(n * 100) / 100;
}
