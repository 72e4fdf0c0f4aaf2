/**
 * `npm run bench [-- part ...]`: runs the named parts (default all), prints a
 * table of each figure against its target and merges them into bench/results.json.
 */
import { report, type Figure } from './results';
import { benchPush } from './push';
import { benchRatelimit } from './ratelimit';
import { benchSync } from './sync';
import { benchWebhook } from './webhook';

const PARTS: Record<string, () => Promise<Figure[]>> = {
  webhook: benchWebhook,
  sync: benchSync,
  ratelimit: benchRatelimit,
  push: benchPush,
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((p) => !(p in PARTS));
  if (unknown.length) throw new Error(`unknown bench part(s): ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}`);
  const figures: Figure[] = [];
  for (const name of asked.length ? asked : Object.keys(PARTS)) {
    process.stdout.write(`running ${name}…\n`);
    const part = PARTS[name];
    if (part) figures.push(...(await part()));
  }
  report(figures);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
