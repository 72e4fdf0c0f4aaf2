/**
 * The repository queries behind the scheduler's cheap tick and the shard-map
 * guard, on the in-memory store and on the Cosmos-protocol server: due
 * integrations come earliest `nextDueAt` first and the scan stops at the
 * first one not yet due; documents that lack the field (written before it
 * existed) are picked up by the hourly full pass; record counts stop at their cap.
 */
import type { Integration, SyncRecord } from '../../shared/domain/types';
import { EmbeddedQueue } from '../../shared/messaging/embedded';
import { QUEUES } from '../../shared/messaging/names';
import { createLogger } from '../../shared/observability/logger';
import { InMemoryDocumentStore } from '../../shared/storage/memory';
import { CONTAINERS } from '../../shared/storage/names';
import type { DocumentStore } from '../../shared/storage/port';
import { Repositories } from '../../shared/storage/repositories';
import { scheduleDueSyncs } from '../../shared/sync/schedule';
import { relayedCosmos } from '../helpers/relayed-cosmos';

const integration = (tenantId: string, id: string, nextDueAt?: string): Integration => ({
  id,
  tenantId,
  type: 'integration',
  provider: 'fake',
  baseUrl: 'https://example.invalid',
  config: {},
  credentialsSecret: `cred-${id}`,
  scheduleMinutes: 60,
  status: 'active',
  conflictStrategy: 'provider-wins',
  createdAt: '2027-01-01T00:00:00.000Z',
  updatedAt: '2027-01-01T00:00:00.000Z',
  ...(nextDueAt === undefined ? {} : { nextDueAt }),
});

const record = (i: number, entityType: string): SyncRecord => ({
  id: `rec-${entityType}-${i}`,
  tenantId: 'acme',
  type: 'record',
  integrationId: 'int-1',
  provider: 'fake',
  entityType,
  externalId: String(i),
  updatedAt: '2027-01-01T00:00:00.000Z',
  deleted: false,
  data: {},
  contentHash: 'h',
  syncedAt: '2027-01-01T00:00:00.000Z',
  lastRunId: 'run',
});

interface Opened {
  store: DocumentStore;
  close(): Promise<void>;
}

describe.each([
  ['in-memory', (): Promise<Opened> => Promise.resolve({ store: new InMemoryDocumentStore(), close: () => Promise.resolve() })],
  ['Cosmos-protocol server', async (): Promise<Opened> => {
    const cosmos = await relayedCosmos();
    return { store: cosmos.store, close: () => cosmos.close() };
  }],
])('%s', (_name, open) => {
  let repos: Repositories;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const opened = await open();
    repos = new Repositories(opened.store);
    close = opened.close;
  });
  afterEach(async () => { await close(); });

  test('due integrations come earliest first and the scan stops at the first not yet due', async () => {
    await repos.putIntegration(integration('t2', 'later', '2027-01-01T10:30:00.000Z'));
    await repos.putIntegration(integration('t1', 'due-10', '2027-01-01T10:00:00.000Z'));
    await repos.putIntegration(integration('t1', 'due-0', '1970-01-01T00:00:00.000Z'));
    await repos.putIntegration(integration('t2', 'due-1005', '2027-01-01T10:05:00.000Z'));
    await repos.putIntegration(integration('t3', 'much-later', '2027-01-02T00:00:00.000Z'));
    const pages: { due: string[]; read: number }[] = [];
    for await (const page of repos.dueIntegrationPages('2027-01-01T10:05:00.000Z', 2)) pages.push({ due: page.due.map((i) => i.id), read: page.read });
    expect(pages.flatMap((p) => p.due)).toEqual(['due-0', 'due-10', 'due-1005']);
    // Two pages of two; the second ends at 'later' and 'much-later' is never read.
    expect(pages.map((p) => p.read)).toEqual([2, 2]);
  });

  test('an integration stored without the index (written before it existed) is scheduled by the top-of-the-hour pass and indexed', async () => {
    // Real Cosmos returns documents without the ORDER BY field first; the Cosmos-protocol server leaves them out. Either way:
    await repos.putIntegration(integration('t1', 'legacy'));
    await repos.putIntegration(integration('t2', 'indexed', '2027-01-01T11:00:00.000Z'));
    const queue = new EmbeddedQueue();
    let now = new Date('2027-01-01T11:00:00.000Z');
    const deps = { repos, queue, logger: createLogger(() => undefined), now: () => now };
    expect(await scheduleDueSyncs(deps, false)).toMatchObject({ enqueued: 2, slots: { legacy: 'i:499667', indexed: 'i:499667' } });
    expect((await repos.getIntegration('t1', 'legacy'))?.nextDueAt).toBe('2027-01-01T12:00:00.000Z');
    now = new Date('2027-01-01T11:05:00.000Z');
    expect(await scheduleDueSyncs(deps, false)).toMatchObject({ enqueued: 0, scanned: 1 });
    expect(queue.peek(QUEUES.syncInbound).map((m) => m.messageId).sort()).toEqual(['sched:indexed:i:499667', 'sched:legacy:i:499667']);
  });

  test('record counts stop at their cap', async () => {
    for (let i = 0; i < 7; i++) await repos.putRecord(record(i, 'page'), undefined, CONTAINERS.recordsContent);
    await repos.putRecord(record(0, 'task'), undefined, CONTAINERS.recordsContent);
    expect(await repos.countRecords('acme', { integrationId: 'int-1', entityType: 'page' }, CONTAINERS.recordsContent, 100)).toBe(7);
    expect(await repos.countRecords('acme', { integrationId: 'int-1', entityType: 'page' }, CONTAINERS.recordsContent, 5)).toBe(5);
    expect(await repos.countRecords('acme', { integrationId: 'int-1', entityType: 'page' }, CONTAINERS.records, 100)).toBe(0);
    expect(await repos.countRecords('other', { integrationId: 'int-1', entityType: 'page' }, CONTAINERS.recordsContent, 100)).toBe(0);
  });
});
