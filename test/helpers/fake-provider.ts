/**
 * A test-only provider whose data lives in memory, so sync-engine tests can
 * script exactly what the "provider" returns page by page: deletions,
 * duplicates, failures at a given page, pushes. It goes through the same
 * registry interface as the real providers.
 */
import { z } from 'zod';
import { AuthError, RateLimitedError, RetryableError, UnrecoverableError } from '../../shared/errors';
import type { NormalizedRecord, ProviderDefinition, ProviderRegistry, PushOperation } from '../../shared/providers/types';
import { providerRegistry } from '../../shared/providers/registry';

export interface FakeDataset {
  records: NormalizedRecord[];
  pageSize: number;
  /** Fail when this page index (0-based) is requested, `times` times. */
  failAt?: { page: number; times: number; error: 'retryable' | 'auth' | 'rate' };
  pushes: PushOperation[];
  pushFails?: 'retryable' | 'auth' | 'rate' | 'unrecoverable';
  requests: number;
  /** Called as each page is requested (0-based), before it is returned. */
  onPage?: (page: number) => Promise<void>;
}

export const datasets = new Map<string, FakeDataset>();

export function dataset(name: string, records: NormalizedRecord[], pageSize = 10): FakeDataset {
  const d: FakeDataset = { records, pageSize, pushes: [], requests: 0 };
  datasets.set(name, d);
  return d;
}

const configSchema = z.object({ dataset: z.string() });
const credentialsSchema = z.object({ type: z.literal('token'), token: z.string().min(1) });
const cursorSchema = z.object({ offset: z.number().int().min(0) });

function fail(kind: 'retryable' | 'auth' | 'rate' | 'unrecoverable'): never {
  if (kind === 'auth') throw new AuthError('fake: token revoked');
  if (kind === 'rate') throw new RateLimitedError('fake: slow down', 5_000);
  if (kind === 'unrecoverable') throw new UnrecoverableError('fake: 422 validation failed');
  throw new RetryableError('fake: 503');
}

export const fakeProvider: ProviderDefinition<z.infer<typeof configSchema>, z.infer<typeof credentialsSchema>> = {
  key: 'fake',
  displayName: 'Fake',
  // Never fetched (datasets live in memory); https and a declared host so the egress policy accepts it.
  defaultBaseUrl: 'https://fake.invalid',
  egress: { hosts: ['fake.invalid'] },
  configSchema,
  credentialsSchema,
  parseRateLimit: () => ({}),
  async *pull(ctx) {
    const d = datasets.get(ctx.config.dataset);
    if (!d) throw new Error(`no dataset ${ctx.config.dataset}`);
    const start = cursorSchema.safeParse(ctx.cursor);
    let offset = start.success ? start.data.offset : 0;
    for (;;) {
      d.requests++;
      const page = Math.floor(offset / d.pageSize);
      if (d.failAt && d.failAt.page === page && d.failAt.times > 0) {
        d.failAt.times--;
        await Promise.resolve();
        fail(d.failAt.error);
      }
      await d.onPage?.(page);
      const records = d.records.slice(offset, offset + d.pageSize);
      offset += records.length;
      const done = offset >= d.records.length;
      yield { records: structuredClone(records), cursor: { offset }, done };
      if (done) return;
    }
  },
  push: {
    entityTypes: ['item'],
    apply(ctx, operation) {
      const d = datasets.get(ctx.config.dataset);
      if (!d) throw new Error('no dataset');
      if (d.pushFails) fail(d.pushFails);
      d.pushes.push(operation);
      const externalId = operation.externalId ?? `new-${d.pushes.length}`;
      return Promise.resolve({ externalId, version: `v${d.pushes.length}`, updatedAt: new Date().toISOString() });
    },
  },
};

/** The real registry plus the fake provider. */
export const registryWithFake: ProviderRegistry = {
  get: (key) => (key === 'fake' ? fakeProvider : providerRegistry.get(key)),
  keys: () => [...providerRegistry.keys(), 'fake'],
};

export function item(id: number, updatedAt: string, extra: Partial<NormalizedRecord> = {}, data: Record<string, unknown> = {}): NormalizedRecord {
  return { externalId: String(id), entityType: 'item', updatedAt, deleted: false, data: { id, title: `item ${id}`, ...data }, ...extra };
}
