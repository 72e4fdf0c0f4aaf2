/**
 * Edits to mapped records reach the provider (issue 10, point 6): a
 * canonical field is written back to the provider path its mapping reads,
 * a field with no way back is refused with a 400 naming it, and a push that
 * wrote nothing says so instead of "pushed".
 */
import { startGithubSandbox, type GithubSandbox } from '../../local/sandbox/github';
import { startNotionSandbox, type NotionSandbox } from '../../local/sandbox/notion';
import { patchRecord } from '../../shared/api/local-changes';
import type { SyncRecord } from '../../shared/domain/types';
import { QUEUES } from '../../shared/messaging/names';
import { handleOutbound, type OutboundOutcome } from '../../shared/sync/outbound';
import { runPullSync } from '../../shared/sync/pull';
import { apiRequest, putTenantIntegration } from '../helpers/api';
import { records } from '../helpers/engine';
import { embeddedServices, type TestServices } from '../helpers/services';

let t: TestServices;
let n = 0;
const closers: (() => Promise<void>)[] = [];
beforeEach(async () => { t = await embeddedServices(); });
afterEach(async () => {
  await t.cleanup();
  for (const close of closers.splice(0)) await close();
});

async function setup(integrationId: string, body: Record<string, unknown>): Promise<SyncRecord[]> {
  await putTenantIntegration(t.services, 'acme', integrationId, body);
  const outcome = await runPullSync(t.services.syncDeps, { type: 'sync.pull', tenantId: 'acme', integrationId, trigger: 'manual', requestedAt: new Date().toISOString() }, { messageId: `pull-${++n}`, deliveryCount: 1 });
  expect(outcome.kind).toBe('succeeded');
  return records(t, integrationId);
}

const edit = (recordId: string, data: Record<string, unknown>) =>
  patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId }, body: { data } }));

async function pushPending(recordId: string): Promise<OutboundOutcome> {
  const key = (await t.services.repos.getRecord('acme', recordId, 'records'))!.local!.idempotencyKey;
  const m = t.queue.peek(QUEUES.syncOutbound).find((x) => x.messageId === key)!;
  return handleOutbound(t.services.outboundDeps, m.body, { messageId: m.messageId, deliveryCount: 1 });
}

describe('GitHub issues mapped to canonical fields', () => {
  let gh: GithubSandbox;
  const mappings = {
    issue: {
      heading: { from: 'title', type: 'string' },
      text: { from: 'body' },
      status: { from: 'state' },
      number: { from: 'number', type: 'number' },
      firstLabel: { from: 'labels.0' },
      author: { from: 'user' },
    },
  };
  async function mapped(): Promise<SyncRecord> {
    gh = await startGithubSandbox({ tokens: { ghp_mapped0001: {} } });
    closers.push(() => gh.close());
    gh.seedIssues('octo', 'hello', 2);
    const all = await setup('ghm', { provider: 'github', baseUrl: gh.url, config: { owner: 'octo', repo: 'hello' }, credentials: { type: 'token', token: 'ghp_mapped0001' }, mappings });
    const one = all.find((r) => r.data.number === 1)!;
    expect(one.data).toMatchObject({ heading: 'Seeded issue #1', status: 'open' });
    return one;
  }

  test('an edit of a mapped field is written to the provider field it maps from', async () => {
    const one = await mapped();
    expect((await edit(one.id, { heading: 'Renamed through the mapping' })).status).toBe(202);
    expect(await pushPending(one.id)).toMatchObject({ kind: 'pushed' });
    expect(gh.getIssue('octo', 'hello', 1)).toMatchObject({ title: 'Renamed through the mapping', body: 'Body of seeded issue #1 in octo/hello.' });
    const [after] = (await records(t, 'ghm')).filter((r) => r.id === one.id);
    expect(after?.data).toMatchObject({ heading: 'Renamed through the mapping' });
    expect(after?.local).toBeUndefined();
  });

  test.each([
    ['an array element', { firstLabel: 'ops' }, 'firstLabel cannot be written back: it is read from labels.0, an array element'],
    ['a field GitHub cannot write', { author: 'mallory' }, 'author (mapped from user) cannot be written to a GitHub issue'],
    ['a field the mapping does not declare', { title: 'raw' }, 'title is not a mapped field of issue'],
  ])('an edit of %s is a 400 naming it, and nothing is queued or kept', async (_what, data, reason) => {
    const one = await mapped();
    const res = await edit(one.id, data);
    expect(res).toEqual({ status: 400, jsonBody: { error: 'bad_request', reason: `data.${reason}` } });
    expect(t.queue.depth(QUEUES.syncOutbound)).toBe(0);
    expect((await t.services.repos.getRecord('acme', one.id, 'records'))?.local).toBeUndefined();
  });

  test('a push that writes nothing says so: the provider already held the value', async () => {
    const one = await mapped();
    const before = gh.getIssue('octo', 'hello', 1)!;
    expect((await edit(one.id, { status: 'open' })).status).toBe(202);
    expect(await pushPending(one.id)).toMatchObject({ kind: 'unchanged', reason: expect.stringContaining('nothing was written') as unknown });
    expect(gh.getIssue('octo', 'hello', 1)?.updated_at).toBe(before.updated_at);
    expect(gh.requests().filter((r) => r.method === 'PATCH')).toEqual([]);
  });
});

describe('Notion pages mapped from properties', () => {
  let notion: NotionSandbox;
  test('canonical fields read from properties.X are written back as those properties, by their type, and no other', async () => {
    notion = await startNotionSandbox();
    closers.push(() => notion.close());
    notion.addToken('ntn_mapped_0001');
    const { id: dataSourceId } = notion.createDataSource({ title: 'Tasks' });
    const [page] = notion.seedPages(dataSourceId, 1);
    const mappings = { page: { heading: { from: 'properties.Name' }, status: { from: 'properties.Status' }, estimate: { from: 'properties.Estimate' } } };
    const [record] = await setup('nm', { provider: 'notion', baseUrl: notion.url, config: { dataSourceId }, credentials: { type: 'internal', token: 'ntn_mapped_0001' }, mappings });
    const estimateBefore = notion.getPage(page!.id)!.properties.Estimate;

    const sent: unknown[] = [];
    const deps = { ...t.services.outboundDeps, fetch: (async (input, init) => {
      if (init?.method === 'PATCH') sent.push(JSON.parse(init.body as string));
      return t.services.outboundDeps.fetch(input, init);
    }) as typeof fetch };
    expect((await edit(record!.id, { heading: 'Renamed', status: 'Done' })).status).toBe(202);
    const key = (await t.services.repos.getRecord('acme', record!.id, 'records'))!.local!.idempotencyKey;
    const m = t.queue.peek(QUEUES.syncOutbound).find((x) => x.messageId === key)!;
    expect(await handleOutbound(deps, m.body, { messageId: key, deliveryCount: 1 })).toMatchObject({ kind: 'pushed' });

    expect(sent).toEqual([{ properties: { Name: { title: [{ type: 'text', text: { content: 'Renamed' } }] }, Status: { status: { name: 'Done' } } } }]);
    const after = notion.getPage(page!.id)!;
    expect(after.properties.Name).toMatchObject({ title: [{ plain_text: 'Renamed' }] });
    expect(after.properties.Status).toMatchObject({ status: { name: 'Done' } });
    expect(after.properties.Estimate).toEqual(estimateBefore);
    expect((await records(t, 'nm'))[0]?.data).toMatchObject({ heading: 'Renamed', status: 'Done' });
  });
});
