// A separate app instance for the rate-limit process tests: its own Node
// process, its own Redis connection and, optionally, a wrong clock.
//
// env: REDIS_URL, PREFIX, TENANT, INTEGRATION, PROVIDER, COUNT (concurrent checks),
//      SKEW_MS (added to Date.now in this process).
// Protocol: sends { ready, now } once connected; on { go } fires COUNT checks
// at once and sends { admitted, refused, errors, now }, then exits.
'use strict';
require('./ratelimit-swc-register');

const skew = Number(process.env.SKEW_MS ?? '0');
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + skew;

const { createRateLimitRedisClient } = require('../../shared/ratelimit/client.ts');
const { RedisRateLimiter } = require('../../shared/ratelimit/redis.ts');

async function main() {
  const client = createRateLimitRedisClient(process.env.REDIS_URL);
  const limiter = new RedisRateLimiter(client, { prefix: process.env.PREFIX });
  const scope = { tenantId: process.env.TENANT, integrationId: process.env.INTEGRATION, provider: process.env.PROVIDER ?? 'slack' };
  await client.connect();
  process.send({ ready: true, now: Date.now() });
  await new Promise((resolve) => process.once('message', resolve));
  const count = Number(process.env.COUNT);
  const results = await Promise.allSettled(Array.from({ length: count }, () => limiter.check(scope, 'fetch')));
  const admitted = results.filter((r) => r.status === 'fulfilled' && r.value.allowed).length;
  const refused = results.filter((r) => r.status === 'fulfilled' && !r.value.allowed).length;
  const errors = results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
  process.send({ admitted, refused, errors, now: Date.now() }, () => {
    limiter.close().finally(() => process.exit(0));
  });
}

main().catch((error) => {
  process.send?.({ fatal: String(error) });
  process.exit(1);
});
