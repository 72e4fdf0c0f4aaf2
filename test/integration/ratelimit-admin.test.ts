import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { getTenantLimits, putTenantLimits, type LimitsAdminDeps } from '../../shared/api/limits';
import { createRateLimitRedisClient } from '../../shared/ratelimit/client';
import { rateLimitingFor } from '../../shared/ratelimit/factory';
import { RedisRateLimiter } from '../../shared/ratelimit/redis';
import { RedisLimitsStore } from '../../shared/ratelimit/redis-limits';
import { apiRequest, seedGithubIntegration } from '../helpers/api';
import { embeddedServices, type TestServices } from '../helpers/services';

let t: TestServices;
let deps: LimitsAdminDeps;
let integrationId: string;

beforeEach(async () => {
  t = await embeddedServices();
  deps = { ...t.services.adminDeps, limits: rateLimitingFor(t.services).limits };
  ({ integrationId } = await seedGithubIntegration(t.services, 'http://127.0.0.1:9', { tenantId: 'acme' }));
});
afterEach(async () => {
  await rateLimitingFor(t.services).close();
  await t.cleanup();
});

const put = (body: unknown, params: Record<string, string> = { tenantId: 'acme' }, key?: string | null) =>
  putTenantLimits(deps, apiRequest({ method: 'PUT', params, body, ...(key === undefined ? {} : { key }) }));

test('PUT replaces the tenant’s limits and GET shows them beside the defaults', async () => {
  const body = { perMinute: 1_000, integrations: { [integrationId]: { perMinute: 120, operations: { create: 20 } } } };
  const res = await put(body);
  expect(res.status).toBe(200);
  expect(res.jsonBody).toMatchObject({ tenantId: 'acme', perMinute: 1_000, integrations: body.integrations });
  const got = await getTenantLimits(deps, apiRequest({ params: { tenantId: 'acme' } }));
  expect(got.status).toBe(200);
  expect(got.jsonBody).toMatchObject({ perMinute: 1_000, integrations: body.integrations, defaults: { tenantPerMinute: 5_000, providers: { github: { perMinute: 360 } } } });
  // A PUT without integrations puts them back on their defaults.
  await put({ perMinute: 2_000 });
  expect((await getTenantLimits(deps, apiRequest({ params: { tenantId: 'acme' } }))).jsonBody).toMatchObject({ perMinute: 2_000, integrations: {} });
});

test('a new limit applies to the very next check, with no restart', async () => {
  const { limiter } = rateLimitingFor(t.services);
  const scope = { tenantId: 'acme', integrationId, provider: 'github' };
  expect((await limiter.check(scope, 'update')).allowed).toBe(true);
  await put({ integrations: { [integrationId]: { operations: { update: 1 } } } });
  expect(await limiter.check(scope, 'update')).toMatchObject({ allowed: false, level: 'operation' });
});

test('bad bodies are 400 with a reason and change nothing; unknown tenant 404; no key 401', async () => {
  await put({ perMinute: 700 });
  for (const body of [
    { perMinute: 0 },
    { perMinute: -1 },
    { perMinute: 2.5 },
    { perMinute: 1_000_000 },
    { integrations: { [integrationId]: { operations: { fetch: 0 } } } },
    { integrations: { 'no-such-integration': { perMinute: 5 } } },
    { burst: 5 },
  ]) {
    const res = await put(body);
    expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    expect(res.jsonBody).toMatchObject({ reason: expect.any(String) as unknown });
  }
  expect((await putTenantLimits(deps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, rawBody: '{not json' }))).status).toBe(400);
  expect((await getTenantLimits(deps, apiRequest({ params: { tenantId: 'acme' } }))).jsonBody).toMatchObject({ perMinute: 700 });
  expect((await put({ perMinute: 5 }, { tenantId: 'ghost' })).status).toBe(404);
  expect((await getTenantLimits(deps, apiRequest({ params: { tenantId: 'ghost' } }))).status).toBe(404);
  expect((await put({ perMinute: 5 }, { tenantId: 'acme' }, null)).status).toBe(401);
  expect((await getTenantLimits(deps, apiRequest({ params: { tenantId: 'acme' }, key: 'wrong-key-wrong-key' }))).status).toBe(401);
});

test('through Redis, a limit set by one instance governs another instance’s next check', async () => {
  const prefix = `test:rladmin:${randomUUID()}:`;
  const adminClient = createRateLimitRedisClient('redis://127.0.0.1:6379');
  const workerClient = createRateLimitRedisClient('redis://127.0.0.1:6379');
  const worker = new RedisRateLimiter(workerClient, { prefix });
  try {
    const redisDeps = { ...t.services.adminDeps, limits: new RedisLimitsStore(adminClient, prefix) };
    const scope = { tenantId: 'acme', integrationId, provider: 'github' };
    expect((await worker.check(scope, 'fetch')).usage[1]).toEqual({ level: 'integration', count: 1, limit: 360 });
    const res = await putTenantLimits(redisDeps, apiRequest({ method: 'PUT', params: { tenantId: 'acme' }, body: { integrations: { [integrationId]: { perMinute: 2 } } } }));
    expect(res.status).toBe(200);
    expect(await worker.check(scope, 'fetch')).toMatchObject({ allowed: true, usage: [expect.anything(), { level: 'integration', count: 2, limit: 2 }, expect.anything()] });
    expect(await worker.check(scope, 'fetch')).toMatchObject({ allowed: false, level: 'integration' });
  } finally {
    await worker.close();
    const cleanup = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    const keys = await cleanup.keys(`${prefix}*`);
    if (keys.length > 0) await cleanup.del(...keys);
    await cleanup.quit();
    await adminClient.quit();
  }
});
