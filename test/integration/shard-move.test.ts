/**
 * Moving an entity type to another shard while it has records is refused
 * with a 400 that names the type, how many records it has and what to do
 * instead: records are not moved, so before this each one was synced again
 * into the new shard (the issue saw 120 unique Notion records listed as 215)
 * and pending edits stayed on the orphaned copies.
 */
import { definitions } from '../../functions';
import { startLocalHost, type LocalHost } from '../../local/host/host';
import { notionDemoSandbox } from '../../local/sandbox/notion/demo';
import type { ProviderSandbox } from '../../local/sandbox/types';
import { patchIntegration, putIntegration } from '../../shared/api/integrations';
import { patchRecord } from '../../shared/api/local-changes';
import { setServices } from '../../shared/composition';
import { runPullSync, lockKey } from '../../shared/sync/pull';
import { apiRequest } from '../helpers/api';
import { fakeIntegration, fakeServices, message, pullJob, records } from '../helpers/engine';
import { dataset, item } from '../helpers/fake-provider';
import { embeddedServices, TEST_ADMIN_KEY, type TestServices } from '../helpers/services';

let t: TestServices;
afterEach(async () => { await t.cleanup(); });

describe('through the API over HTTP, with the Notion sandbox', () => {
  let host: LocalHost;
  let notion: ProviderSandbox;
  beforeEach(async () => {
    t = await embeddedServices();
    setServices(t.services);
    notion = await notionDemoSandbox();
    host = await startLocalHost({ definitions, receiver: t.queue, logger: t.services.logger, port: 0, queues: { receiveWaitMs: 20 } });
  });
  afterEach(async () => {
    await host.stop();
    await notion.close();
    setServices(undefined);
  });

  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${host.url}/api/admin/tenants/acme${path}`, {
      method,
      headers: { 'x-functions-key': TEST_ADMIN_KEY, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  async function syncAndWait(full: boolean): Promise<void> {
    const started = await api('POST', '/integrations/demo-notion/sync', full ? { full: true } : undefined);
    expect(started.status).toBe(202);
    const runId = started.json.runId as string;
    for (let i = 0; i < 400; i++) {
      const runs = (await api('GET', '/integrations/demo-notion/runs')).json.items as { id: string; status: string }[];
      const run = runs.find((r) => r.id === runId);
      if (run?.status === 'succeeded') return;
      if (run?.status === 'failed' || run?.status === 'cancelled') throw new Error(`run ${run.status}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the sync did not finish');
  }

  async function listed(): Promise<{ id: string; entityType: string }[]> {
    const out: { id: string; entityType: string }[] = [];
    let continuation: string | undefined;
    do {
      const query = `integrationId=demo-notion&limit=100${continuation === undefined ? '' : `&continuation=${encodeURIComponent(continuation)}`}`;
      const page = (await api('GET', `/records?${query}`)).json as { items: { id: string; entityType: string }[]; continuation?: string };
      out.push(...page.items);
      continuation = page.continuation;
    } while (continuation !== undefined);
    return out;
  }

  test('a shard map that would move the synced Notion pages is a 400 naming them; a full resync afterwards lists each page once, not twice', async () => {
    const demo = notion.demoIntegration();
    expect((await api('PUT', '', { name: 'Acme' })).status).toBe(201);
    expect((await api('PUT', '/integrations/demo-notion', demo.body)).status).toBe(201);
    await syncAndWait(false);
    // 120 pages in the data source, every 10th in the trash (never stored, as it was never seen alive).
    const before = await listed();
    expect(before).toHaveLength(108);
    expect(new Set(before.map((r) => r.entityType))).toEqual(new Set(['page']));

    const reason =
      "shardMap.page: 108 records of entity type 'page' live in shard 'records'; moving the type to 'records-content' is refused because records are not moved " +
      "(each would exist twice and pending edits would stay on the old copies). Keep 'page' in 'records', or give a new integration this shardMap and let its first sync fill 'records-content'.";
    const put = await api('PUT', '/integrations/demo-notion', { ...demo.body, shardMap: { page: 'records-content' } });
    expect(put).toEqual({ status: 400, json: { error: 'bad_request', reason } });
    const patched = await api('PATCH', '/integrations/demo-notion', { shardMap: { page: 'records-content' } });
    expect(patched).toEqual({ status: 400, json: { error: 'bad_request', reason } });
    expect((await api('GET', '/integrations/demo-notion')).json.shardMap).toBeNull();

    await syncAndWait(true);
    const after = await listed();
    expect(after.map((r) => r.id).sort()).toEqual(before.map((r) => r.id).sort());
  });
});

describe('through the admin handlers, with the fake provider', () => {
  beforeEach(async () => { t = await fakeServices(); });

  const put = (id: string, extra: Record<string, unknown>) =>
    putIntegration(t.services.adminDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme', integrationId: id }, body: { provider: 'fake', config: { dataset: id }, credentials: { type: 'token', token: 'fake-token-1' }, ...extra } }));
  const patch = (id: string, body: Record<string, unknown>) =>
    patchIntegration(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', integrationId: id }, body }));

  test('a record with a pending edit keeps its one copy: the move is refused and the edit stays where the push will look', async () => {
    dataset('s1', [item(1, '2027-01-01T00:01:00.000Z'), item(2, '2027-01-01T00:02:00.000Z'), item(3, '2027-01-01T00:03:00.000Z')]);
    await fakeIntegration(t, 's1', 's1');
    await runPullSync(t.services.syncDeps, pullJob('s1'), message());
    const [first] = await records(t, 's1');
    const edit = await patchRecord(t.services.adminDeps, apiRequest({ method: 'PATCH', params: { tenantId: 'acme', recordId: first!.id }, body: { data: { title: 'edited here' } } }));
    expect(edit.status).toBe(202);

    const res = await put('s1', { shardMap: { item: 'records-activity' } });
    expect(res.status).toBe(400);
    expect((res.jsonBody as { reason: string }).reason).toMatch(/^shardMap\.item: 3 records of entity type 'item' live in shard 'records'; moving the type to 'records-activity' is refused/);
    const after = await records(t, 's1');
    expect(after.map((r) => [r.externalId, r.shard, r.local !== undefined])).toEqual([['1', 'records', true], ['2', 'records', false], ['3', 'records', false]]);
    expect((await t.services.repos.getIntegration('acme', 's1'))?.shardMap).toBeUndefined();
  });

  test('a PUT without shardMap keeps the stored one (dropping it would move every mapped type); clearing it is a move like any other', async () => {
    dataset('s2', [item(1, '2027-01-01T00:01:00.000Z'), item(2, '2027-01-01T00:02:00.000Z', { entityType: 'note' })]);
    // No records yet: any shard map is fine.
    await fakeIntegration(t, 's2', 's2', { shardMap: { note: 'records-content' } });
    await runPullSync(t.services.syncDeps, pullJob('s2'), message());
    expect((await records(t, 's2')).map((r) => [r.externalId, r.shard])).toEqual([['1', 'records'], ['2', 'records-content']]);

    expect((await put('s2', { conflictStrategy: 'manual' })).status).toBe(200);
    expect((await t.services.repos.getIntegration('acme', 's2'))?.shardMap).toEqual({ note: 'records-content' });
    const cleared = await put('s2', { shardMap: {} });
    expect(cleared.status).toBe(400);
    expect((cleared.jsonBody as { reason: string }).reason).toMatch(/^shardMap\.note: 1 record of entity type 'note' live in shard 'records-content'; moving the type to 'records' is refused/);
    // A type with no records may be mapped anywhere.
    expect((await patch('s2', { shardMap: { note: 'records-content', task: 'records-activity' } })).status).toBe(200);
    await runPullSync(t.services.syncDeps, pullJob('s2', { full: true }), message());
    expect(await records(t, 's2')).toHaveLength(2);
  });

  test('while a sync run holds the integration, a shard map change is a 409 (its records may be landing); after the run it goes through', async () => {
    dataset('s3', []);
    await fakeIntegration(t, 's3', 's3');
    const kv = t.services.adapters.kv;
    expect(await kv.setIfAbsent(lockKey('s3'), 'a-running-sync', 60_000)).toBe(true);
    const busy = await patch('s3', { shardMap: { item: 'records-activity' } });
    expect(busy).toEqual({ status: 409, jsonBody: { error: 'conflict', reason: 'A sync run holds this integration; change its shardMap once the run has finished' } });
    // Changes that move nothing do not wait for the run.
    expect((await patch('s3', { conflictStrategy: 'manual' })).status).toBe(200);
    await kv.deleteIfEquals(lockKey('s3'), 'a-running-sync');
    expect((await patch('s3', { shardMap: { item: 'records-activity' } })).status).toBe(200);
    // The guard gave the lease back.
    expect(await kv.setIfAbsent(lockKey('s3'), 'next-run', 60_000)).toBe(true);
  });
});
