import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { githubProvider, type GithubConfig, type GithubCredentials } from '../../shared/providers/github';
import { getProvider, providerKeys } from '../../shared/providers/registry';
import type { PullContext, PullPage, RateLimitSignal, WebhookVerdict } from '../../shared/providers/types';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { collect, ids, pullContext, pullError, urlOf, type CtxOptions } from '../helpers/github-pull';

const TOKEN = 'ghp_sandboxtoken0001';
let gh: GithubSandbox;
let repoSeq = 0;

beforeAll(async () => {
  gh = await startGithubSandbox({ tokens: { [TOKEN]: {} } });
});
afterAll(async () => {
  await gh.close();
});

/** A fresh repository per test, so tests never see each other's writes. */
function freshRepo(n = 250): GithubConfig {
  const config = { owner: 'octo', repo: `hello-${++repoSeq}` };
  gh.seedIssues(config.owner, config.repo, n);
  return config;
}

function ctx(config: GithubConfig, o: CtxOptions = {}): PullContext<GithubConfig, GithubCredentials> {
  return pullContext(gh.url, config, TOKEN, o);
}

describe('registry', () => {
  it('finds GitHub by key and nothing by prototype names', () => {
    expect(providerKeys()).toContain('github');
    expect(getProvider('github')).toBe(githubProvider);
    expect(getProvider('constructor')).toBeUndefined();
    expect(getProvider('__proto__')).toBeUndefined();
  });

  it('validates config and credentials', () => {
    expect(githubProvider.configSchema.safeParse({ owner: 'octo-cat', repo: 'hello.world_1' }).success).toBe(true);
    for (const bad of [{ owner: '-octo', repo: 'r' }, { owner: 'o', repo: '..' }, { owner: 'o', repo: 'a/b' }, { owner: 'a'.repeat(40), repo: 'r' }]) {
      expect(githubProvider.configSchema.safeParse(bad).success).toBe(false);
    }
    expect(githubProvider.credentialsSchema.safeParse({ type: 'token', token: 'x' }).success).toBe(true);
    expect(githubProvider.credentialsSchema.safeParse({ type: 'oauth', token: 'x' }).success).toBe(false);
  });
});

describe('pull against the sandbox', () => {
  it('reads 250 issues in pages of 100 with the documented request', async () => {
    const config = freshRepo();
    const sent: { url: string; headers: Headers }[] = [];
    const spy: typeof fetch = (input, init) => {
      sent.push({ url: urlOf(input).href, headers: new Headers(init?.headers) });
      return fetch(input, init);
    };
    const pages = await collect(ctx(config, { fetch: spy }));

    expect(pages.map((p) => p.records.length)).toEqual([100, 100, 50]);
    expect(pages.map((p) => p.done)).toEqual([false, false, true]);
    expect(new Set(ids(pages)).size).toBe(250);
    const records = pages.flatMap((p) => p.records);
    expect(records.filter((r) => r.entityType === 'pull_request')).toHaveLength(50);
    expect(records.filter((r) => r.data.state === 'closed')).toHaveLength(83);
    const updated = records.map((r) => r.updatedAt);
    expect([...updated].sort()).toEqual(updated);

    const first = new URL(sent[0]!.url);
    expect(first.pathname).toBe(`/repos/octo/${config.repo}/issues`);
    expect(Object.fromEntries(first.searchParams)).toEqual({ state: 'all', sort: 'updated', direction: 'asc', per_page: '100' });
    expect(sent[0]!.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(sent[0]!.headers.get('accept')).toBe('application/vnd.github+json');
    expect(sent[0]!.headers.get('x-github-api-version')).toBe('2022-11-28');
    expect(sent[0]!.headers.get('user-agent')).toBeTruthy();
    expect(sent.map((s) => new URL(s.url).searchParams.get('page'))).toEqual([null, '2', '3']);

    const issue = gh.getIssue('octo', config.repo, 10)!;
    expect(records.find((r) => r.externalId === String(issue.id))).toEqual({
      externalId: String(issue.id),
      entityType: 'pull_request',
      updatedAt: issue.updated_at,
      deleted: false,
      data: {
        number: 10, title: issue.title, state: issue.state, body: issue.body, user: issue.user.login,
        labels: issue.labels.map((l) => l.name), html_url: issue.html_url,
        created_at: issue.created_at, updated_at: issue.updated_at, closed_at: issue.closed_at,
      },
    });
    expect(pages[2]!.cursor).toEqual({ since: updated[updated.length - 1] });
    expect(pages[0]!.cursor).toMatchObject({ next: expect.stringContaining(gh.url) as unknown, high: updated[99] });
  });

  it('resumes from a mid-run cursor with exactly the remaining records', async () => {
    const config = freshRepo();
    const full = await collect(ctx(config));
    const resumed = await collect(ctx(config, { cursor: full[0]!.cursor }));
    expect(ids(resumed)).toEqual(ids(full.slice(1)));
    expect(resumed.at(-1)!.cursor).toEqual(full.at(-1)!.cursor);
  });

  it('an incremental run from `since` returns the changed issue (plus only the inclusive boundary)', async () => {
    const config = freshRepo();
    const full = await collect(ctx(config));
    const cursor = full.at(-1)!.cursor;
    const since = cursor.since as string;

    const quiet = await collect(ctx(config, { cursor }));
    // `since` is inclusive: the newest record is re-read (and hashed as unchanged downstream); nothing else.
    expect(quiet.flatMap((p) => p.records.map((r) => r.updatedAt))).toEqual([since]);
    expect(quiet.at(-1)!.cursor).toEqual(cursor);

    const changed = gh.updateIssue('octo', config.repo, 5, { title: 'Renamed', labels: ['triage'] });
    const pages = await collect(ctx(config, { cursor }));
    const records = pages.flatMap((p) => p.records);
    const newer = records.filter((r) => r.updatedAt > since);
    expect(newer.map((r) => r.externalId)).toEqual([String(changed.id)]);
    expect(newer[0]!.data).toMatchObject({ title: 'Renamed', labels: ['triage'] });
    expect(records.filter((r) => r.updatedAt <= since).map((r) => r.updatedAt)).toEqual([since]);
    expect(pages.at(-1)!.cursor).toEqual({ since: changed.updated_at });
  });

  it('picks up an issue created through the API', async () => {
    const config = freshRepo(3);
    const cursor = (await collect(ctx(config))).at(-1)!.cursor;
    const res = await fetch(`${gh.url}/repos/octo/${config.repo}/issues`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'From the API', labels: ['bug'] }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number };
    expect(ids(await collect(ctx(config, { cursor })))).toContain(String(created.id));
  });

  it('refuses a next link on another origin and never calls it', async () => {
    const config = freshRepo();
    const called: string[] = [];
    const hostile: typeof fetch = async (input, init) => {
      called.push(urlOf(input).origin);
      const res = await fetch(input, init);
      const headers = new Headers(res.headers);
      headers.set('link', '<https://evil.example/repos/octo/x/issues?page=2>; rel="next"');
      return new Response(await res.text(), { status: res.status, headers });
    };
    const e = await pullError(ctx(config, { fetch: hostile }));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).toContain('another origin');
    expect(called).toEqual([gh.url]);
  });

  it('a stored cursor pointing at another origin restarts from `since` on the base URL', async () => {
    const config = freshRepo(5);
    const called: string[] = [];
    const spy: typeof fetch = (input, init) => {
      called.push(urlOf(input).origin);
      return fetch(input, init);
    };
    const pages = await collect(ctx(config, { fetch: spy, cursor: { next: 'https://evil.example/x?page=9', high: '2030-01-01T00:00:00Z' } }));
    expect(called).toEqual([gh.url]);
    expect(ids(pages)).toHaveLength(5);
  });

  it('reports every response\'s rate-limit signal', async () => {
    const config = freshRepo();
    const signals: RateLimitSignal[] = [];
    await collect(ctx(config, { signals }));
    expect(signals).toHaveLength(3);
    expect(signals[0]!.limit).toBe(5000);
    expect(signals[1]!.remaining).toBe(signals[0]!.remaining! - 1);
  });
});

describe('pull failures map to typed errors', () => {
  it('unknown token → AuthError, token not in the message', async () => {
    const e = await pullError(ctx(freshRepo(1), { token: 'ghp_unknown_token_123' }));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).toContain('401 Bad credentials');
    expect((e as Error).message).not.toContain('ghp_unknown_token_123');
  });

  it.each([403, 429] as const)('exhausted budget (%i) → RateLimitedError until the reset', async (status) => {
    const token = `ghp_exhausted_${status}`;
    gh.addToken(token, { limit: 100 });
    gh.exhaust(token);
    gh.setRateLimitStatus(status);
    try {
      const e = await pullError(ctx(freshRepo(1), { token }));
      expect(e).toBeInstanceOf(RateLimitedError);
      // The window is an hour; reset is rounded up to a whole second.
      const wait = (e as RateLimitedError).retryAfterMs;
      expect(wait).toBeGreaterThan(3_590_000);
      expect(wait).toBeLessThanOrEqual(3_601_000);
    } finally {
      gh.setRateLimitStatus(403);
    }
  });

  it('budget running out mid-run: pages so far are kept, and the run resumes from the last cursor', async () => {
    const token = 'ghp_small_budget';
    gh.addToken(token, { limit: 2 });
    const config = freshRepo();
    const pages: PullPage[] = [];
    expect(await pullError(ctx(config, { token }), pages)).toBeInstanceOf(RateLimitedError);
    expect(pages.map((p) => p.records.length)).toEqual([100, 100]);
    gh.addToken(token, { limit: 10 }); // the window resets
    const rest = await collect(ctx(config, { token, cursor: pages[1]!.cursor }));
    expect(new Set([...ids(pages), ...ids(rest)]).size).toBe(250);
  });

  it('5xx → RetryableError, and the retry succeeds', async () => {
    const config = freshRepo(3);
    gh.failNext(1, 502);
    expect(await pullError(ctx(config))).toBeInstanceOf(RetryableError);
    expect(ids(await collect(ctx(config)))).toHaveLength(3);
  });

  it('secondary limit: retry-after when given, else 60 s', async () => {
    const config = freshRepo(1);
    gh.failNext(1, 403, { headers: { 'retry-after': '30' } });
    expect(((await pullError(ctx(config))) as RateLimitedError).retryAfterMs).toBe(30_000);
    gh.failNext(1, 403);
    expect(((await pullError(ctx(config))) as RateLimitedError).retryAfterMs).toBe(60_000);
  });

  it('unknown repository → UnrecoverableError', async () => {
    expect(await pullError(ctx({ owner: 'octo', repo: 'nope' }))).toBeInstanceOf(UnrecoverableError);
  });

  it('a slow answer past the caller\'s deadline → RetryableError', async () => {
    gh.setLatency(500);
    try {
      expect(await pullError(ctx(freshRepo(1), { signal: AbortSignal.timeout(50) }))).toBeInstanceOf(RetryableError);
    } finally {
      gh.setLatency(0);
    }
  });
});

describe('sandbox API', () => {
  const get = (path: string, token = TOKEN): Promise<Response> => fetch(`${gh.url}${path}`, { headers: { authorization: `token ${token}` } });

  it('defaults like GitHub: open issues, newest first, 30 a page, absolute Link URLs', async () => {
    const { repo } = freshRepo(100);
    const res = await get(`/repos/octo/${repo}/issues`);
    const items = (await res.json()) as { number: number; state: string }[];
    expect(items).toHaveLength(30);
    expect(items.every((i) => i.state === 'open')).toBe(true);
    expect(items[0]!.number).toBeGreaterThan(items[1]!.number);
    const link = res.headers.get('link')!;
    expect(link).toContain(`<${gh.url}/repos/octo/${repo}/issues?page=2>; rel="next"`);
    expect(link).toMatch(/page=3>; rel="last"/);
    expect(res.headers.get('x-ratelimit-resource')).toBe('core');
    expect(Number(res.headers.get('x-ratelimit-used'))).toBeGreaterThan(0);
  });

  it('caps per_page at 100, filters by state and since, 404s unknown repos, 422s bad params', async () => {
    const { repo } = freshRepo(150);
    expect(((await (await get(`/repos/octo/${repo}/issues?state=all&per_page=500`)).json()) as unknown[])).toHaveLength(100);
    const closed = (await (await get(`/repos/octo/${repo}/issues?state=closed&per_page=100`)).json()) as { state: string }[];
    expect(closed).toHaveLength(50);
    const since = gh.getIssue('octo', repo, 149)!.updated_at;
    const recent = (await (await get(`/repos/octo/${repo}/issues?state=all&since=${since}`)).json()) as { number: number }[];
    expect(recent.map((i) => i.number).sort()).toEqual([149, 150]);
    expect((await get('/repos/octo/missing/issues')).status).toBe(404);
    expect((await get(`/repos/octo/${repo}/issues?state=bogus`)).status).toBe(422);
    const unauthorized = await get(`/repos/octo/${repo}/issues`, 'nope');
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toMatchObject({ message: 'Bad credentials', documentation_url: expect.any(String) as unknown });
  });
});

describe('sandbox webhook deliveries verify with the GitHub scheme', () => {
  const SECRET = 'hook-secret-for-tests';
  let receiver: Server;
  let url: string;
  const verdicts: WebhookVerdict[] = [];

  beforeAll(async () => {
    // A minimal receiver: raw bytes in, the provider's verdict out.
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void Promise.resolve(
          githubProvider.webhook!.verify(
            { rawBody: Buffer.concat(chunks), header: (n) => { const v = req.headers[n.toLowerCase()]; return Array.isArray(v) ? v[0] : v; }, url },
            { secrets: [SECRET], config: { owner: 'octo', repo: 'hello' }, now: new Date(), jwks: () => Promise.resolve([]) },
          ),
        ).then((verdict) => {
          verdicts.push(verdict);
          const status = verdict.kind === 'reject' ? verdict.status : verdict.kind === 'accept' ? 202 : verdict.reply.status;
          res.writeHead(status).end(verdict.kind === 'respond' ? verdict.reply.body : '');
        });
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/webhooks/github/int-1`;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('accepts a recorded payload delivered byte for byte', async () => {
    const payload = readFileSync(join(__dirname, '..', 'fixtures', 'github', 'issues.opened.json'), 'utf8');
    const result = await gh.deliverWebhook({ url, secret: SECRET, event: 'issues', payload });
    expect(result.status).toBe(202);
    expect(result.deliveryId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(verdicts.at(-1)).toEqual({ kind: 'accept', events: [{ deliveryId: result.deliveryId, event: 'issues.opened' }] });
  });

  it('answers ping, keeps a given delivery id, and refuses the wrong secret', async () => {
    expect((await gh.deliverWebhook({ url, secret: SECRET, event: 'ping', payload: { zen: 'Keep it logically awesome.', hook_id: 1 } })).status).toBe(200);
    const again = await gh.deliverWebhook({ url, secret: SECRET, event: 'push', payload: { ref: 'refs/heads/main' }, deliveryId: 'fixed-id-1' });
    expect(again.deliveryId).toBe('fixed-id-1');
    expect(verdicts.at(-1)).toEqual({ kind: 'accept', events: [{ deliveryId: 'fixed-id-1', event: 'push' }] });
    expect((await gh.deliverWebhook({ url, secret: 'wrong', event: 'issues', payload: { action: 'opened' } })).status).toBe(401);
  });
});
