/**
 * GitHub issue push over real HTTP against the sandbox: create / update /
 * close round trips through the pull, idempotent creates under retry, the
 * id ↔ number mapping, and typed failures.
 */
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import { githubProvider, type GithubConfig, type GithubCredentials } from '../../shared/providers/github';
import type { CallContext, NormalizedRecord, PushOperation } from '../../shared/providers/types';
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { collect, pullContext, urlOf } from '../helpers/github-pull';

const TOKEN = 'ghp_pushtoken0001';
const push = githubProvider.push!;
let gh: GithubSandbox;
let repoSeq = 0;

beforeAll(async () => {
  gh = await startGithubSandbox({ tokens: { [TOKEN]: {} } });
});
afterAll(async () => {
  await gh.close();
});

function freshRepo(seed = 0): GithubConfig {
  const config = { owner: 'octo', repo: `push-${++repoSeq}` };
  gh.createRepo(config.owner, config.repo);
  if (seed > 0) gh.seedIssues(config.owner, config.repo, seed);
  return config;
}

function ctx(config: GithubConfig, o: { fetch?: typeof fetch; token?: string } = {}): CallContext<GithubConfig, GithubCredentials> {
  return { baseUrl: gh.url, config, credentials: { type: 'token', token: o.token ?? TOKEN }, fetch: o.fetch ?? fetch };
}

async function pulled(config: GithubConfig): Promise<NormalizedRecord[]> {
  return (await collect(pullContext(gh.url, config, TOKEN))).flatMap((p) => p.records);
}

const create = (payload: Record<string, unknown>, idempotencyKey: string): PushOperation => ({ op: 'create', entityType: 'issue', payload, idempotencyKey });

/** Requests the sandbox served from now on, as "METHOD path" without the query. */
function watchRequests(): () => string[] {
  const start = gh.requests().length;
  return () => gh.requests().slice(start).map((r) => `${r.method} ${r.path.split('?')[0] ?? ''}`);
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('round trip through the pull', () => {
  it('create, update and close an issue: the pull sees each under the same externalId', async () => {
    const config = freshRepo(2);
    const created = await push.apply(ctx(config), create({ title: 'Pushed', body: 'Hello', labels: ['bug'] }, 'rt-1'));
    let record = (await pulled(config)).find((r) => r.externalId === created.externalId)!;
    expect(record).toMatchObject({ entityType: 'issue', deleted: false, updatedAt: created.updatedAt });
    expect(record.data).toMatchObject({ number: 3, title: 'Pushed', body: 'Hello', labels: ['bug'], state: 'open' });
    // The marker is on GitHub, hidden in the body, and not in the pulled data.
    expect(gh.getIssue(config.owner, config.repo, 3)!.body).toBe('Hello\n\n<!-- castiel:idempotency=rt-1 -->');

    // Update from the pulled record, as the outbound worker would send it.
    const updated = await push.apply(ctx(config), {
      op: 'update', entityType: 'issue', externalId: created.externalId, payload: { ...record.data, title: 'Renamed', body: 'Edited' }, idempotencyKey: 'rt-2',
    });
    expect(updated.externalId).toBe(created.externalId);
    record = (await pulled(config)).find((r) => r.externalId === created.externalId)!;
    expect(record.data).toMatchObject({ title: 'Renamed', body: 'Edited', labels: ['bug'], state: 'open' });
    expect(record.updatedAt).toBe(updated.updatedAt);
    expect(gh.getIssue(config.owner, config.repo, 3)!.body).toContain('castiel:idempotency=rt-1');

    const closed = await push.apply(ctx(config), { op: 'delete', entityType: 'issue', externalId: created.externalId, payload: record.data, idempotencyKey: 'rt-3' });
    expect(closed.externalId).toBe(created.externalId);
    record = (await pulled(config)).find((r) => r.externalId === created.externalId)!;
    expect(record).toMatchObject({ deleted: false, data: { state: 'closed', title: 'Renamed' } });
    expect(gh.getIssue(config.owner, config.repo, 3)!.state_reason).toBe('not_planned');
  });

  it('a create with no body reads back with a null body', async () => {
    const config = freshRepo();
    const created = await push.apply(ctx(config), create({ title: 'No body' }, 'nobody-1'));
    expect((await pulled(config)).find((r) => r.externalId === created.externalId)!.data.body).toBeNull();
  });

  it('an update without `number` finds the issue by id among the recent ones', async () => {
    const config = freshRepo(5);
    const created = await push.apply(ctx(config), create({ title: 'Fresh' }, 'nonum-1'));
    await push.apply(ctx(config), { op: 'update', entityType: 'issue', externalId: created.externalId, payload: { state: 'closed' }, idempotencyKey: 'nonum-2' });
    expect(gh.getIssue(config.owner, config.repo, 6)).toMatchObject({ state: 'closed', state_reason: 'completed', title: 'Fresh' });
  });
});

describe('idempotent create', () => {
  it('a retry after a lost response returns the first issue instead of creating another', async () => {
    const config = freshRepo(3);
    let dropped = false;
    const lossy: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!dropped && init?.method === 'POST') {
        dropped = true;
        await response.text();
        throw new TypeError('fetch failed'); // the issue exists; the answer never arrived
      }
      return response;
    };
    const op = create({ title: 'Only once', body: 'Exactly one of me' }, 'retry-key-1');
    const requests = watchRequests();
    expect(await failure(push.apply(ctx(config, { fetch: lossy }), op))).toBeInstanceOf(RetryableError);
    const retried = await push.apply(ctx(config, { fetch: lossy }), op);

    const records = await pulled(config);
    expect(records.filter((r) => r.data.title === 'Only once').map((r) => r.externalId)).toEqual([retried.externalId]);
    expect(requests().filter((r) => r.startsWith('POST'))).toEqual([`POST /repos/octo/${config.repo}/issues`]);

    // Another key is another issue.
    const other = await push.apply(ctx(config), create({ title: 'Only once', body: 'Exactly one of me' }, 'retry-key-2'));
    expect(other.externalId).not.toBe(retried.externalId);
  });

  it('a redelivered create of a closed issue neither duplicates nor writes again', async () => {
    const config = freshRepo();
    const op = create({ title: 'Born closed', state: 'closed' }, 'closed-key');
    const first = await push.apply(ctx(config), op);
    expect(gh.getIssue(config.owner, config.repo, 1)).toMatchObject({ state: 'closed' });
    const requests = watchRequests();
    expect(await push.apply(ctx(config), op)).toEqual(first);
    expect(requests()).toEqual([`GET /repos/octo/${config.repo}/issues`]);
  });

  it('keys that cannot sit in an HTML comment are hashed, still matching on retry', async () => {
    const config = freshRepo();
    const op = create({ title: 'Odd key' }, 'tenant a --> <b>');
    const first = await push.apply(ctx(config), op);
    expect(gh.getIssue(config.owner, config.repo, 1)!.body).toMatch(/^<!-- castiel:idempotency=sha256\.[0-9a-f]{64} -->$/);
    expect((await push.apply(ctx(config), op)).externalId).toBe(first.externalId);
    expect(await pulled(config)).toHaveLength(1);
  });
});

describe('id and number', () => {
  it('refuses to write when `number` names another issue', async () => {
    const config = freshRepo(3);
    const [one, two] = (await pulled(config)).sort((a, b) => Number(a.data.number) - Number(b.data.number));
    const requests = watchRequests();
    const e = await failure(push.apply(ctx(config), {
      op: 'update', entityType: 'issue', externalId: one!.externalId, payload: { number: two!.data.number, title: 'Wrong' }, idempotencyKey: 'x',
    }));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(requests().some((r) => r.startsWith('PATCH'))).toBe(false);
    expect(gh.getIssue(config.owner, config.repo, 2)!.title).toBe('Seeded issue #2');
  });

  it('closing an already closed issue writes nothing; closing a deleted one succeeds; updating it fails', async () => {
    const config = freshRepo(3);
    const records = await pulled(config);
    const byNumber = (n: number): NormalizedRecord => records.find((r) => r.data.number === n)!;
    const requests = watchRequests();
    // Seeded #3 is closed.
    await push.apply(ctx(config), { op: 'delete', entityType: 'issue', externalId: byNumber(3).externalId, payload: byNumber(3).data, idempotencyKey: 'c-1' });
    expect(requests()).toEqual([`GET /repos/octo/${config.repo}/issues/3`]);

    gh.deleteIssue(config.owner, config.repo, 1);
    expect(await push.apply(ctx(config), { op: 'delete', entityType: 'issue', externalId: byNumber(1).externalId, payload: byNumber(1).data, idempotencyKey: 'c-2' }))
      .toEqual({ externalId: byNumber(1).externalId });
    const e = await failure(push.apply(ctx(config), { op: 'update', entityType: 'issue', externalId: byNumber(1).externalId, payload: byNumber(1).data, idempotencyKey: 'c-3' }));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).toContain('deleted or moved');
  });
});

describe('pull requests are not pushed', () => {
  it('an issue operation whose id is a pull request is refused without a write', async () => {
    const config = freshRepo(5);
    const pr = (await pulled(config)).find((r) => r.entityType === 'pull_request')!;
    const requests = watchRequests();
    const e = await failure(push.apply(ctx(config), { op: 'update', entityType: 'issue', externalId: pr.externalId, payload: { ...pr.data, title: 'x' }, idempotencyKey: 'pr-1' }));
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect((e as Error).message).toContain('pull request');
    expect(requests()).toEqual([`GET /repos/octo/${config.repo}/issues/5`]);
  });
});

describe('refused before any request', () => {
  it.each<[string, PushOperation]>([
    ['a pull request', { op: 'update', entityType: 'pull_request', externalId: '1', payload: {}, idempotencyKey: 'k' }],
    ['an update without externalId', { op: 'update', entityType: 'issue', payload: { title: 't' }, idempotencyKey: 'k' }],
    ['a non-numeric externalId', { op: 'delete', entityType: 'issue', externalId: '../1', payload: {}, idempotencyKey: 'k' }],
    ['a create without title', create({ body: 'no title' }, 'k')],
    ['a body over GitHub\'s limit', create({ title: 't', body: 'x'.repeat(65_536) }, 'k')],
    ['a bad state', create({ title: 't', state: 'merged' }, 'k')],
  ])('%s → UnrecoverableError', async (_name, op) => {
    const config = freshRepo(1);
    const requests = watchRequests();
    expect(await failure(push.apply(ctx(config), op))).toBeInstanceOf(UnrecoverableError);
    expect(requests()).toEqual([]);
  });
});

describe('failures map to typed errors', () => {
  it('unknown token → AuthError without the token; 5xx → RetryableError; exhausted → RateLimitedError', async () => {
    const config = freshRepo(1);
    const e = await failure(push.apply(ctx(config, { token: 'ghp_revoked_for_push' }), create({ title: 't' }, 'f-1')));
    expect(e).toBeInstanceOf(AuthError);
    expect((e as Error).message).not.toContain('ghp_revoked_for_push');

    gh.failNext(1, 503);
    expect(await failure(push.apply(ctx(config), create({ title: 't' }, 'f-2')))).toBeInstanceOf(RetryableError);

    const token = 'ghp_push_exhausted';
    gh.addToken(token, { limit: 10 });
    gh.exhaust(token);
    expect(await failure(push.apply(ctx(config, { token }), create({ title: 't' }, 'f-3')))).toBeInstanceOf(RateLimitedError);
  });

  it('sends the API version, JSON and the bearer token on writes', async () => {
    const config = freshRepo(1);
    const sent: { method: string; url: string; headers: Headers }[] = [];
    const spy: typeof fetch = (input, init) => {
      sent.push({ method: init?.method ?? 'GET', url: urlOf(input).href, headers: new Headers(init?.headers) });
      return fetch(input, init);
    };
    await push.apply(ctx(config, { fetch: spy }), create({ title: 'Headers' }, 'h-1'));
    const post = sent.find((s) => s.method === 'POST')!;
    expect(post.url).toBe(`${gh.url}/repos/octo/${config.repo}/issues`);
    expect(post.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
    expect(post.headers.get('content-type')).toBe('application/json');
    expect(post.headers.get('x-github-api-version')).toBe('2022-11-28');
  });
});
