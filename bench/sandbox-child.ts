/** Bench fixture: a GitHub sandbox seeded with ISSUES issues, in its own process. */
import { startGithubSandbox } from '../local/sandbox/github';

async function main(): Promise<void> {
  const n = Number(process.env.ISSUES ?? '10000');
  const github = await startGithubSandbox({ tokens: { ghp_bench: { limit: 10_000_000 } } });
  github.seedIssues('bench', 'repo', n);
  process.once('SIGTERM', () => { void github.close().then(() => process.exit(0)); });
  process.send?.({ url: github.url });
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
