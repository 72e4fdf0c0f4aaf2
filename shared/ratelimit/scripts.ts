/**
 * The limiter's Lua scripts. Each runs atomically inside Redis: no other
 * command interleaves, so concurrent checks from any number of instances see
 * one consistent count. The clock is Redis `TIME`, never the caller's, so app
 * instances with skewed clocks still share one window. Scripts call TIME
 * before writing, which needs effect replication (the default since Redis 5).
 *
 * Every script is loaded into the real Redis by a test that validates its
 * reply against the schema exported beside it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

const sha1 = (script: string): string => createHash('sha1').update(script).digest('hex');

/**
 * Check and count one request at three levels. Sliding window over buckets
 * (see window.ts for the bound): each window is a hash with `t` (live total),
 * `o` (oldest live bucket index) and one field per bucket index. Expired
 * buckets are removed as the window slides, a few per call.
 *
 * KEYS[1]  custom limits hash        (fields t, i:<integration>, o:<integration>:<op>)
 * KEYS[2]  adaptive state hash       (b blocked-until ms, pf/ps push-back factor/since, uf/us usage factor/since)
 * KEYS[3]  tenant window
 * KEYS[4]  integration window
 * KEYS[5]  operation window
 * ARGV[1]  integration field in KEYS[1]      ARGV[2]  operation field in KEYS[1]
 * ARGV[3]  default tenant limit              ARGV[4]  default integration limit
 * ARGV[5]  default operation limit, or '' for "the integration's configured limit"
 * ARGV[6]  window ms                         ARGV[7]  bucket ms
 * ARGV[8]  adaptive recovery ms (a factor climbs back to 1 over this long)
 * Reply    array of 10 integers: admitted (1|0), refusing level (0 none, 1 tenant,
 *          2 integration, 3 operation), retry-after ms, then count and limit of
 *          tenant, integration, operation (count includes this request when
 *          admitted; the integration limit is after adaptive scaling), and the
 *          ms the integration stays blocked by its provider (0 when not).
 */
export const CHECK_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win, bms, rec = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local span = math.floor(win / bms)
local cur = math.floor(now / bms)
local first = cur - span

local cfg = redis.call('HMGET', KEYS[1], 't', ARGV[1], ARGV[2])
local iconf = tonumber(cfg[2]) or tonumber(ARGV[4])
local limits = { tonumber(cfg[1]) or tonumber(ARGV[3]), iconf, tonumber(cfg[3]) or tonumber(ARGV[5]) or iconf }

local a = redis.call('HMGET', KEYS[2], 'b', 'pf', 'ps', 'uf', 'us')
local function recovered(f, since)
  f = tonumber(f)
  if not f then return 1 end
  since = tonumber(since) or 0
  if now <= since then return f end
  local v = f + (now - since) / rec
  if v > 1 then return 1 end
  return v
end
local factor = math.min(recovered(a[2], a[3]), recovered(a[4], a[5]))
limits[2] = math.max(1, math.floor(iconf * factor))
local blocked = math.max(0, (tonumber(a[1]) or 0) - now)

local function load(key)
  local v = redis.call('HMGET', key, 't', 'o')
  local total = tonumber(v[1])
  if not total then return 0, true end
  local oldest = tonumber(v[2]) or first
  if oldest >= first then return total, false end
  if first - oldest > span then
    redis.call('DEL', key)
    return 0, true
  end
  local fields = {}
  for i = oldest, first - 1 do fields[#fields + 1] = i end
  local gone = 0
  for _, c in ipairs(redis.call('HMGET', key, unpack(fields))) do gone = gone + (tonumber(c) or 0) end
  redis.call('HDEL', key, unpack(fields))
  total = total - gone
  if total <= 0 then
    redis.call('DEL', key)
    return 0, true
  end
  redis.call('HSET', key, 't', total, 'o', first)
  return total, false
end

local function wait(key, total, limit)
  local excess = total - limit + 1
  local fields = {}
  for i = first, cur do fields[#fields + 1] = i end
  local acc = 0
  for j, c in ipairs(redis.call('HMGET', key, unpack(fields))) do
    acc = acc + (tonumber(c) or 0)
    if acc >= excess then return (first + j + span) * bms - now end
  end
  return win
end

local keys = { KEYS[3], KEYS[4], KEYS[5] }
local totals, fresh = {}, {}
for n = 1, 3 do totals[n], fresh[n] = load(keys[n]) end

local level, retry = 0, 0
for n = 1, 3 do
  if totals[n] >= limits[n] then
    local w = wait(keys[n], totals[n], limits[n])
    if w > retry then level, retry = n, w end
  end
end
if blocked > retry then level, retry = 2, blocked end

if level == 0 then
  for n = 1, 3 do
    if fresh[n] then
      redis.call('HSET', keys[n], 't', 1, 'o', cur, cur, 1)
      redis.call('PEXPIRE', keys[n], win + 2 * bms)
    else
      if redis.call('HINCRBY', keys[n], cur, 1) == 1 then redis.call('PEXPIRE', keys[n], win + 2 * bms) end
      redis.call('HINCRBY', keys[n], 't', 1)
    end
    totals[n] = totals[n] + 1
  end
end
return { level == 0 and 1 or 0, level, retry, totals[1], limits[1], totals[2], limits[2], totals[3], limits[3], blocked }
`;
export const CHECK_SHA = sha1(CHECK_SCRIPT);

const count = z.number().int().nonnegative();
export const checkReplySchema = z.tuple([
  z.union([z.literal(0), z.literal(1)]),
  z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
  count,
  count,
  count.min(1),
  count,
  count.min(1),
  count,
  count.min(1),
  count,
]);
export type CheckReply = z.infer<typeof checkReplySchema>;

/**
 * Record a provider's rate-limit signal in the integration's adaptive state.
 * A pause (429 / Retry-After) blocks until it ends and halves the push-back
 * factor, once per pause: the other in-flight requests' 429s extend the block
 * without halving again. A reset time blocks until then. A usage factor
 * (near the provider's allocation) replaces the usage factor. Both factors
 * climb back linearly to 1 over the recovery time; the state expires once
 * fully recovered.
 *
 * KEYS[1]  adaptive state hash of the integration
 * ARGV[1]  pause ms, or ''            ARGV[2]  block until (epoch ms), or ''
 * ARGV[3]  usage factor 0..1, or ''   ARGV[4]  recovery ms
 * ARGV[5]  push-back multiplier       ARGV[6]  minimum factor
 * ARGV[7]  longest block accepted, ms
 * Reply    array of 3 integers: ms the integration stays blocked (0 when not),
 *          push-back factor and usage factor now, in thousandths
 */
export const SIGNAL_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec, mult, minf, maxb = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local a = redis.call('HMGET', KEYS[1], 'b', 'pf', 'ps', 'uf', 'us')
local blocked = tonumber(a[1]) or 0
local pf, ps = tonumber(a[2]) or 1, tonumber(a[3]) or 0
local uf, us = tonumber(a[4]) or 1, tonumber(a[5]) or 0
local function recovered(f, since)
  if now <= since then return f end
  return math.min(1, f + (now - since) / rec)
end

local pause = tonumber(ARGV[1])
if pause then
  if blocked <= now then pf = math.max(minf, recovered(pf, ps) * mult) end
  blocked = math.max(blocked, now + math.min(pause, maxb))
  ps = blocked
end
local reset = tonumber(ARGV[2])
if reset then blocked = math.max(blocked, math.min(reset, now + maxb)) end
local usage = tonumber(ARGV[3])
if usage then uf, us = math.max(minf, math.min(1, usage)), now end

redis.call('HSET', KEYS[1], 'b', blocked, 'pf', pf, 'ps', ps, 'uf', uf, 'us', us)
redis.call('PEXPIRE', KEYS[1], math.max(1000, math.max(blocked, ps, us) - now + rec))
return { math.max(0, blocked - now), math.floor(recovered(pf, ps) * 1000), math.floor(recovered(uf, us) * 1000) }
`;
export const SIGNAL_SHA = sha1(SIGNAL_SCRIPT);

export const signalReplySchema = z.tuple([count, count.max(1000), count.max(1000)]);

/**
 * Replace a tenant's custom limits in one step, so a check never sees half
 * of an update.
 *
 * KEYS[1]  custom limits hash
 * ARGV     field, value, field, value, … (may be empty: no custom limits)
 * Reply    integer: number of fields written
 */
export const REPLACE_LIMITS_SCRIPT = `
redis.call('DEL', KEYS[1])
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return #ARGV / 2
`;
export const REPLACE_LIMITS_SHA = sha1(REPLACE_LIMITS_SCRIPT);

/**
 * Replace one integration's custom limits, leaving the rest of the tenant's.
 *
 * KEYS[1]  custom limits hash
 * ARGV[1]  integration field, ARGV[2..5] its four operation fields (all cleared)
 * ARGV[6…] field, value, … to write (may be empty: back to the defaults)
 * Reply    integer: number of fields written
 */
export const SET_INTEGRATION_LIMITS_SCRIPT = `
redis.call('HDEL', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
local set = {}
for i = 6, #ARGV do set[#set + 1] = ARGV[i] end
if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
return #set / 2
`;
export const SET_INTEGRATION_LIMITS_SHA = sha1(SET_INTEGRATION_LIMITS_SCRIPT);

export const fieldsWrittenReplySchema = count;
