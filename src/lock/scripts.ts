/**
 * The Lua side of nodis/lock. Every script is a pure function of its keys and arguments plus
 * the server's TIME, so it replicates by effects on Redis 7 and nodis alike.
 *
 * Shared protocol: an acquire script answers `{1, fencingToken}` on success and
 * `{0, msUntilFree}` otherwise (-1: held without expiry, -2: free but reserved for the head of a
 * fair queue); release and extend answer 1 (done) or 0 (not the owner any more).
 *
 * The fencing token is a hybrid logical clock kept in `<name>:fence`: max(last + 1, server time
 * in microseconds). On one master it grows by at least 1 per grant. A failover can lose the last
 * grants that did not reach the promoted replica, but the new master's clock has moved on by at
 * least the failure-detection time (down-after-milliseconds) since then, so its next token is
 * still larger — as long as the nodes' clocks disagree by less than that, which NTP keeps them
 * far below. The `SET` of the counter replicates the exact value.
 */
import { Script } from './client.js';

const PRELUDE = `
local function now_ms()
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fence(key)
  local t = redis.call('time')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('get', key) or '0') or 0
  local tok = math.max(last + 1, now)
  redis.call('set', key, string.format('%.0f', tok))
  return tok
end
-- Wakes one waiter: the head of the fair queue if there is one, else whoever waits on the
-- shared list. The list holds at most one wake-up and expires, so nothing piles up. Nothing is
-- pushed unless a waiter announced itself in <wake>:waiting (set by a failed acquire), so an
-- uncontended release costs three calls.
local function waiting(shared, slice)
  redis.call('set', shared .. ':waiting', '1', 'PX', slice)
end
local function wake(shared, queue, prefix)
  if redis.call('exists', shared .. ':waiting') == 0 then return end
  local key = shared
  local head = redis.call('lindex', queue, 0)
  if head then key = prefix .. head end
  redis.call('del', key)
  redis.call('rpush', key, '1')
  redis.call('pexpire', key, 10000)
end
`;

/**
 * Exclusive lock, the value format of redis-py's Lock (the owner's token as a plain string
 * under the lock's own key), so both exclude each other.
 * KEYS: lock, fence, queue, queueTimes, wake. ARGV: owner, ttl, queueLease (0: unfair),
 * join (1/0: will wait), waiting flag lease (ms).
 */
export const LOCK_ACQUIRE = new Script(`${PRELUDE}
local lock, fkey, queue, qtimes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, ttl, lease, join = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if lease == 0 then
  if redis.call('set', lock, owner, 'NX', 'PX', ttl) then return {1, fence(fkey)} end
  if join == '1' then waiting(KEYS[5], ARGV[5]) end
  return {0, redis.call('pttl', lock)}
end
local now = now_ms()
while true do
  local head = redis.call('lindex', queue, 0)
  if not head then break end
  local expires = tonumber(redis.call('hget', qtimes, head) or '0')
  if expires >= now then break end
  redis.call('lpop', queue)
  redis.call('hdel', qtimes, head)
end
local head = redis.call('lindex', queue, 0)
if redis.call('exists', lock) == 0 and (not head or head == owner) then
  redis.call('set', lock, owner, 'PX', ttl)
  if head then
    redis.call('lpop', queue)
    redis.call('hdel', qtimes, owner)
  end
  return {1, fence(fkey)}
end
if join == '1' then
  waiting(KEYS[5], ARGV[5])
  if redis.call('hexists', qtimes, owner) == 0 then redis.call('rpush', queue, owner) end
  redis.call('hset', qtimes, owner, now + lease)
  redis.call('pexpire', queue, lease * 2)
  redis.call('pexpire', qtimes, lease * 2)
end
local pttl = redis.call('pttl', lock)
if pttl == -2 then return {0, -2} end
return {0, pttl}
`);

/** KEYS: lock, wake, queue. ARGV: owner, wake prefix. redis-py's release plus the wake-up. */
export const LOCK_RELEASE = new Script(`${PRELUDE}
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
wake(KEYS[2], KEYS[3], ARGV[2])
return 1
`);

/** Leaves a fair queue (a waiter that gives up); wakes the next one if it was the head. */
export const QUEUE_LEAVE = new Script(`${PRELUDE}
local wasHead = redis.call('lindex', KEYS[2], 0) == ARGV[1]
redis.call('lrem', KEYS[2], 0, ARGV[1])
redis.call('hdel', KEYS[3], ARGV[1])
if wasHead and redis.call('exists', KEYS[1]) == 0 then wake(KEYS[4], KEYS[2], ARGV[2]) end
return 1
`);

/** KEYS: lock. ARGV: owner, ttl. redis-py's reacquire: the TTL becomes `ttl` if still owned. */
export const LOCK_EXTEND = new Script(`
local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then return 0 end
redis.call('pexpire', KEYS[1], ARGV[2])
return 1
`);

/**
 * Read-write lock: a hash under the lock's key, field `mode` (read/write) and one field per
 * holder whose value is the holder's expiry (server ms); the key expires with the last holder.
 * KEYS: lock, fence, wake. ARGV: owner, ttl, mode, waiting flag lease, join (1/0).
 */
export const RW_ACQUIRE = new Script(`${PRELUDE}
local lock, fkey, wakekey = KEYS[1], KEYS[2], KEYS[3]
local owner, ttl, want = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local now = now_ms()
local fields = redis.call('hgetall', lock)
local mode, holders, latest = nil, 0, 0
for i = 1, #fields, 2 do
  local f, v = fields[i], fields[i + 1]
  if f == 'mode' then mode = v
  elseif tonumber(v) <= now then redis.call('hdel', lock, f)
  else
    holders = holders + 1
    latest = math.max(latest, tonumber(v))
  end
end
if holders > 0 and (want == 'write' or mode == 'write') then
  if ARGV[5] == '1' then waiting(wakekey, ARGV[4]) end
  return {0, latest - now}
end
redis.call('hset', lock, 'mode', want, owner, now + ttl)
latest = math.max(latest, now + ttl)
redis.call('pexpire', lock, latest - now)
-- Readers share: pass the wake-up on, so a crowd of waiting readers all get in.
if want == 'read' then wake(wakekey, wakekey .. ':none', '') end
return {1, fence(fkey)}
`);

/** KEYS: lock, wake. ARGV: owner. */
export const RW_RELEASE = new Script(`${PRELUDE}
if redis.call('hdel', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('hlen', KEYS[1]) <= 1 then redis.call('del', KEYS[1]) end
wake(KEYS[2], KEYS[2] .. ':none', '')
return 1
`);

/** KEYS: lock. ARGV: owner, ttl. */
export const RW_EXTEND = new Script(`${PRELUDE}
local now = now_ms()
local expires = tonumber(redis.call('hget', KEYS[1], ARGV[1]) or '0')
if expires <= now then return 0 end
redis.call('hset', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
local latest = 0
local fields = redis.call('hgetall', KEYS[1])
for i = 1, #fields, 2 do
  if fields[i] ~= 'mode' then latest = math.max(latest, tonumber(fields[i + 1])) end
end
redis.call('pexpire', KEYS[1], latest - now)
return 1
`);

/**
 * Counting semaphore: a sorted set of holders scored by their expiry (server ms).
 * KEYS: semaphore, fence, wake. ARGV: owner, ttl, permits, waiting flag lease, join (1/0).
 */
export const SEM_ACQUIRE = new Script(`${PRELUDE}
local key, fkey, wakekey = KEYS[1], KEYS[2], KEYS[3]
local owner, ttl, permits = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
redis.call('zremrangebyscore', key, '-inf', now)
local held = redis.call('zcard', key)
if held >= permits then
  if ARGV[5] == '1' then waiting(wakekey, ARGV[4]) end
  local first = redis.call('zrange', key, 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}
end
redis.call('zadd', key, now + ttl, owner)
local last = redis.call('zrange', key, -1, -1, 'WITHSCORES')
redis.call('pexpire', key, tonumber(last[2]) - now)
if held + 1 < permits then wake(wakekey, wakekey .. ':none', '') end
return {1, fence(fkey)}
`);

/** KEYS: semaphore, wake. ARGV: owner. */
export const SEM_RELEASE = new Script(`${PRELUDE}
if redis.call('zrem', KEYS[1], ARGV[1]) == 0 then return 0 end
wake(KEYS[2], KEYS[2] .. ':none', '')
return 1
`);

/** KEYS: semaphore. ARGV: owner, ttl. */
export const SEM_EXTEND = new Script(`${PRELUDE}
local now = now_ms()
local score = redis.call('zscore', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then return 0 end
redis.call('zadd', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('zrange', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('pexpire', KEYS[1], tonumber(last[2]) - now)
return 1
`);

/**
 * A fenced storage write (the resource side of fencing, kept in Redis): stores the value only
 * if the token is at least the highest token this key has accepted.
 * KEYS: value key, its fence key. ARGV: value, token. Answers 1 (written) or 0 (stale token).
 */
export const FENCED_SET = new Script(`
local seen = tonumber(redis.call('get', KEYS[2]) or '0') or 0
local tok = tonumber(ARGV[2])
if tok < seen then return 0 end
redis.call('set', KEYS[2], ARGV[2])
redis.call('set', KEYS[1], ARGV[1])
return 1
`);
