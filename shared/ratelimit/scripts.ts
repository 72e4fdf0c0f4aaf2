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
 * Check and count requests of one tenant at three levels: a batch of checks
 * (concurrent callers of one instance, collected per tick) in one round
 * trip, each check atomic and in order, exactly as if sent one by one. The
 * window state of all a tenant's levels lives in one hash, read and written
 * whole: three Redis calls per check (two HMGETs, one HSET) and one TIME per
 * batch.
 *
 * Sliding window over buckets (see window.ts for the bound). A window `w`
 * ('t', 'i:<integration>' or 'o:<integration>:<op>') is the fields `w|n`
 * (live total), `w|o` (oldest live bucket) and `w|<bucket index>` (counts).
 * Buckets that slid out are removed when their window is next checked; the
 * hash expires one window after the tenant's last request.
 *
 * KEYS[1]  the tenant's config hash: limits (t, i:<I>, o:<I>:<op>) and
 *          adaptive state (a:<I> = "blockedUntil pushback since usage since")
 * KEYS[2]  the tenant's windows hash
 * ARGV[1]  window ms     ARGV[2]  bucket ms
 * ARGV[3]  adaptive recovery ms (a factor climbs back to 1 over this long)
 * ARGV[4]  default tenant limit
 * then per check, 4 arguments: integration id, operation, default
 *          integration limit, default operation limit ('' for "the
 *          integration's configured limit")
 * Reply    array of 10 integers per check: admitted (1|0), refusing level (0
 *          none, 1 tenant, 2 integration, 3 operation), retry-after ms, then
 *          count and limit of tenant, integration, operation (count includes
 *          this request when admitted; the integration limit is after adaptive
 *          scaling), and the ms the integration stays blocked by its provider
 *          (0 when not).
 */
export const CHECK_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win, bms, rec = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local span = math.floor(win / bms)
local cur = math.floor(now / bms)
local first = cur - span
local sc = tostring(cur)
local out, fresh = {}, false

local function recovered(f, since)
  if now <= since then return f end
  return math.min(1, f + (now - since) / rec)
end

local function check(I, OP, dI, dO)
  local ifield = 'i:' .. I
  local ofield = 'o:' .. I .. ':' .. OP
  local afield = 'a:' .. I

  local cfg = redis.call('HMGET', KEYS[1], 't', ifield, ofield, afield)
  local iconf = tonumber(cfg[2]) or tonumber(dI)
  local limits = { tonumber(cfg[1]) or tonumber(ARGV[4]), iconf, tonumber(cfg[3]) or tonumber(dO) or iconf }
  local blocked = 0
  if cfg[4] then
    local b, pf, ps, uf, us = string.match(cfg[4], '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
    b, pf, ps, uf, us = tonumber(b), tonumber(pf), tonumber(ps), tonumber(uf), tonumber(us)
    if b and pf and ps and uf and us then
      local factor = math.min(recovered(pf, ps), recovered(uf, us))
      limits[2] = math.max(1, math.floor(iconf * factor))
      blocked = math.max(0, b - now)
      if blocked == 0 and factor >= 1 then redis.call('HDEL', KEYS[1], afield) end
    end
  end

  -- Field names per level: total, oldest bucket, current bucket.
  local names = { 't', ifield, ofield }
  local N = { 't|n', ifield .. '|n', ofield .. '|n' }
  local O = { 't|o', ifield .. '|o', ofield .. '|o' }
  local B = { 't|' .. sc, ifield .. '|' .. sc, ofield .. '|' .. sc }
  local v = redis.call('HMGET', KEYS[2], N[1], O[1], B[1], N[2], O[2], B[2], N[3], O[3], B[3])
  local totals, curs, olds = {}, {}, {}
  for n = 1, 3 do
    local total = tonumber(v[3 * n - 2]) or 0
    local oldest = tonumber(v[3 * n - 1]) or cur
    curs[n] = tonumber(v[3 * n]) or 0
    if total > 0 and oldest < first then
      local hi = math.min(first - 1, oldest + span)
      local fields = {}
      for i = oldest, hi do fields[#fields + 1] = names[n] .. '|' .. i end
      local gone = total
      if first - oldest <= span then
        gone = 0
        for _, c in ipairs(redis.call('HMGET', KEYS[2], unpack(fields))) do gone = gone + (tonumber(c) or 0) end
      end
      redis.call('HDEL', KEYS[2], unpack(fields))
      total = total - gone
      if total > 0 then
        redis.call('HSET', KEYS[2], N[n], total, O[n], first)
        oldest = first
      else
        total = 0
        redis.call('HDEL', KEYS[2], N[n], O[n])
      end
    end
    totals[n] = total
    olds[n] = oldest
  end

  -- When enough of the oldest requests slide out for one more: walk the live
  -- buckets oldest first, 8 at a time (usually the first batch answers).
  local function wait(n)
    local excess = totals[n] - limits[n] + 1
    local acc, i = 0, math.max(first, olds[n])
    while i <= cur do
      local fields, hi = {}, math.min(cur, i + 7)
      for j = i, hi do fields[#fields + 1] = names[n] .. '|' .. j end
      for j, c in ipairs(redis.call('HMGET', KEYS[2], unpack(fields))) do
        acc = acc + (tonumber(c) or 0)
        if acc >= excess then return (i + j + span) * bms - now end
      end
      i = hi + 1
    end
    return win
  end

  local level, retry = 0, 0
  for n = 1, 3 do
    if totals[n] >= limits[n] then
      local w = wait(n)
      if w > retry then level, retry = n, w end
    end
  end
  if blocked > retry then level, retry = 2, blocked end

  if level == 0 then
    local set = {}
    for n = 1, 3 do
      totals[n] = totals[n] + 1
      set[#set + 1] = N[n]
      set[#set + 1] = totals[n]
      set[#set + 1] = B[n]
      set[#set + 1] = curs[n] + 1
      if totals[n] == 1 then
        set[#set + 1] = O[n]
        set[#set + 1] = sc
      end
      if curs[n] == 0 then fresh = true end
    end
    redis.call('HSET', KEYS[2], unpack(set))
  end
  local k = #out
  out[k + 1], out[k + 2], out[k + 3] = level == 0 and 1 or 0, level, retry
  out[k + 4], out[k + 5], out[k + 6], out[k + 7] = totals[1], limits[1], totals[2], limits[2]
  out[k + 8], out[k + 9], out[k + 10] = totals[3], limits[3], blocked
end

for c = 5, #ARGV, 4 do check(ARGV[c], ARGV[c + 1], ARGV[c + 2], ARGV[c + 3]) end
if fresh then redis.call('PEXPIRE', KEYS[2], win + 2 * bms) end
return out
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
export const CHECK_REPLY_LENGTH = 10;

/** A batch's reply: CHECK_REPLY_LENGTH integers per check, each slice then parsed by checkReplySchema. */
export const checkBatchReplySchema = z.array(z.number().int());

/**
 * Record a provider's rate-limit signal in the integration's adaptive state
 * (field a:<I> of the config hash; the check script removes it once it no
 * longer changes anything). A pause (429 / Retry-After) blocks until it ends
 * and halves the push-back factor, once per pause: the other in-flight
 * requests' 429s extend the block without halving again. A reset time blocks
 * until then. A usage factor (near the provider's allocation) replaces the
 * usage factor. Both factors climb back linearly to 1 over the recovery time.
 *
 * KEYS[1]  the tenant's config hash
 * ARGV[1]  integration id
 * ARGV[2]  pause ms, or ''            ARGV[3]  block until (epoch ms), or ''
 * ARGV[4]  usage factor 0..1, or ''   ARGV[5]  recovery ms
 * ARGV[6]  push-back multiplier       ARGV[7]  minimum factor
 * ARGV[8]  longest block accepted, ms
 * Reply    array of 3 integers: ms the integration stays blocked (0 when not),
 *          push-back factor and usage factor now, in thousandths
 */
export const SIGNAL_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec, mult, minf, maxb = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local field = 'a:' .. ARGV[1]
local blocked, pf, ps, uf, us = 0, 1, 0, 1, 0
local packed = redis.call('HGET', KEYS[1], field)
if packed then
  local b, p1, p2, u1, u2 = string.match(packed, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  if b then blocked, pf, ps, uf, us = tonumber(b), tonumber(p1), tonumber(p2), tonumber(u1), tonumber(u2) end
end
local function recovered(f, since)
  if now <= since then return f end
  return math.min(1, f + (now - since) / rec)
end

local pause = tonumber(ARGV[2])
if pause then
  if blocked <= now then pf = math.max(minf, recovered(pf, ps) * mult) end
  blocked = math.max(blocked, now + math.min(pause, maxb))
  ps = blocked
end
local reset = tonumber(ARGV[3])
if reset then blocked = math.max(blocked, math.min(reset, now + maxb)) end
local usage = tonumber(ARGV[4])
if usage then uf, us = math.max(minf, math.min(1, usage)), now end

redis.call('HSET', KEYS[1], field, table.concat({ blocked, pf, ps, uf, us }, ' '))
return { math.max(0, blocked - now), math.floor(recovered(pf, ps) * 1000), math.floor(recovered(uf, us) * 1000) }
`;
export const SIGNAL_SHA = sha1(SIGNAL_SCRIPT);

export const signalReplySchema = z.tuple([count, count.max(1000), count.max(1000)]);

/**
 * Replace a tenant's custom limits in one step, so a check never sees half
 * of an update. Adaptive state (a:<I> fields) is kept.
 *
 * KEYS[1]  the tenant's config hash
 * ARGV     field, value, field, value, … (may be empty: no custom limits)
 * Reply    integer: number of limit fields written
 */
export const REPLACE_LIMITS_SCRIPT = `
local keep = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'a:' then
    keep[#keep + 1] = all[i]
    keep[#keep + 1] = all[i + 1]
  end
end
redis.call('DEL', KEYS[1])
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
if #keep > 0 then redis.call('HSET', KEYS[1], unpack(keep)) end
return #ARGV / 2
`;
export const REPLACE_LIMITS_SHA = sha1(REPLACE_LIMITS_SCRIPT);

/**
 * Replace one integration's custom limits, leaving the rest of the tenant's.
 *
 * KEYS[1]  the tenant's config hash
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
