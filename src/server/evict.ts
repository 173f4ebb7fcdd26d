/**
 * Key eviction under `maxmemory` (evict.c): the eight `maxmemory-policy` values, Redis's
 * approximated LRU/LFU with a 16-entry eviction pool fed by `maxmemory-samples` random keys per
 * database, volatile-ttl, and the random policies.
 *
 * Before each command (and at the start of a script or EXEC) the server calls
 * `hooks.freeMemory()` when its used memory is over `maxmemory`. Evicting a key is an ordinary
 * deletion through the one write path: `DEL` (or `UNLINK` with lazyfree-lazy-eviction) is
 * propagated to the AOF and replicas, the `evicted` keyspace event fires, WATCH and client-side
 * caching see the key change, and INFO's evicted_keys counts it.
 *
 * Memory. Eviction reads used memory from the memory model (keyspace/memory.ts): what the
 * keyspace and the clients' buffers are charged, updated as keys are written and deleted. An
 * evicted key's charge leaves used memory at once, so a round frees exactly what it needs to,
 * with no garbage-collector timing involved (Redis's zmalloc_used_memory() deltas, likewise).
 *
 * Time. One round is bounded by `maxmemory-eviction-tenacity` (500 µs at the default 10, as in
 * Redis); what is left is done by a follow-up task on the event loop (startEvictionTimeProc),
 * and commands are not refused while it runs. CONFIG SET maxmemory starts that task too.
 *
 * Not done while loading, on a replica (its master's DELs keep it in step: nodis replicas behave
 * as with replica-ignore-maxmemory yes) or during CLIENT PAUSE (nothing may propagate then).
 */
import { freeValue } from '../types/value-arena.js';
import type { Server } from './server.js';
import type { Database } from '../keyspace/db.js';
import { type KeyDict, NO_RECORD, SamplePositions, keyHash } from '../keyspace/dict.js';
import type { RedisValue } from '../types/value.js';
import { idleMs, lfuCounter } from '../keyspace/access.js';
import { chargedValueBytes, keyOverheadBytes } from '../keyspace/memory.js';
import { recordLatencyEvent } from './latency.js';

export type EvictionPolicy =
  | 'noeviction'
  | 'allkeys-lru'
  | 'allkeys-lfu'
  | 'allkeys-random'
  | 'volatile-lru'
  | 'volatile-lfu'
  | 'volatile-random'
  | 'volatile-ttl';

export type EvictResult = 'ok' | 'running' | 'fail';

/** EVPOOL_SIZE */
const POOL_SIZE = 16;

/**
 * The eviction pool (EvictionPoolLRU): up to POOL_SIZE candidates sorted by rank, best on the
 * right, in parallel arrays so that an insert allocates nothing. The sorted positions hold
 * their rank (`idle`) and the number of a slot (`slot`), and the candidate's key, database and
 * hash stay in that slot while inserts shift the positions: shifting numbers in typed arrays
 * instead of the keys themselves, whose every move through an array in old space is a write
 * barrier that reads the key's page header (a cache miss per key; measured, this was a
 * quarter of evictionPoolPopulate's time). A position is empty when its slot's key is null.
 */
interface EvictionPool {
  /** By position: the rank. */
  idle: Float64Array;
  /** By position: the slot holding the candidate (a permutation of 0 … POOL_SIZE − 1). */
  slot: Int32Array;
  /**
   * By slot: the key, or null. Replaced by a fresh copy (`slice()`) in each populatePool call
   * that inserts: a store into an array in old space runs the write barrier, which reads the
   * stored key's page header — a cache miss per insert, ~a quarter of the pool's time in
   * evict3/evict4's annotated profiles — while a store into a young array (just allocated)
   * stops at the array's own page flags. The copy is 16 pointers of garbage per call.
   */
  key: (string | null)[];
  /** By slot. */
  dbId: Int32Array;
  /** By slot: the key's keyHash, from the sampled entry: its deletion needs not read the key's bytes. */
  hash: Int32Array;
}

/**
 * Where eviction reads memory from. The default is the memory model (server.usedMemory());
 * tests install their own to make eviction deterministic.
 */
export interface MemoryGauge {
  /** Used memory as eviction counts it. */
  used(): number;
  /** Bytes evicting this value frees. */
  freedBy(key: string, value: RedisValue): number;
}

interface EvictionState {
  gauge: MemoryGauge;
  pool: EvictionPool;
  /** Round-robin start for the random policies (next_db). */
  nextDb: number;
  /** The follow-up task is scheduled. */
  procRunning: boolean;
  /**
   * The configuration eviction reads, mirrored by config watchers so that a round reads fields
   * instead of looking names up in the registry (several lookups per evicted key otherwise).
   */
  policy: EvictionPolicy;
  /** The policy's parts, derived once when it is set: allkeys-*, *-random, *-lfu, volatile-ttl. */
  allkeys: boolean;
  random: boolean;
  lfu: boolean;
  ttl: boolean;
  samples: number;
  tenacity: number;
  lazy: boolean;
  /** latency-monitor-threshold: 0 means no clock reads around each deletion (latencyStartMonitor). */
  latencyThreshold: number;
}

const states = new WeakMap<Server, EvictionState>();

function stateOf(server: Server): EvictionState {
  let s = states.get(server);
  if (s === undefined) {
    s = {
      gauge: {
        used: () => server.usedMemoryForEvict(),
        // Exactly the key's charge in Database.memory.
        freedBy: (key, value) => chargedValueBytes(value) + keyOverheadBytes(key),
      },
      pool: {
        idle: new Float64Array(POOL_SIZE),
        slot: Int32Array.from({ length: POOL_SIZE }, (_, i) => i),
        key: new Array<string | null>(POOL_SIZE).fill(null),
        dbId: new Int32Array(POOL_SIZE),
        hash: new Int32Array(POOL_SIZE),
      },
      nextDb: 0,
      procRunning: false,
      policy: 'noeviction',
      allkeys: false,
      random: false,
      lfu: false,
      ttl: false,
      samples: 5,
      tenacity: 10,
      lazy: false,
      latencyThreshold: 0,
    };
    states.set(server, s);
    const st = s;
    const c = server.config;
    c.watch('maxmemory-policy', (v) => {
      const policy = v as EvictionPolicy;
      st.policy = policy;
      st.allkeys = policy.startsWith('allkeys-');
      st.random = policy.endsWith('-random');
      st.lfu = policy.endsWith('-lfu');
      st.ttl = policy === 'volatile-ttl';
    });
    c.watch('maxmemory-samples', (v) => (st.samples = v as number));
    c.watch('maxmemory-eviction-tenacity', (v) => (st.tenacity = v as number));
    c.watch('lazyfree-lazy-eviction', (v) => (st.lazy = v as boolean));
    if (c.def('latency-monitor-threshold') !== undefined) c.watch('latency-monitor-threshold', (v) => (st.latencyThreshold = v as number));
  }
  return s;
}

/** evictionTimeLimitUs(): how long one round may run. */
function timeLimitUs(tenacity: number): number {
  if (tenacity <= 10) return 50 * tenacity;
  if (tenacity < 100) return Math.floor(500 * 1.15 ** (tenacity - 10));
  return Infinity;
}

function isSafeToEvict(server: Server): boolean {
  return !server.loading && !server.role.isReplica() && server.pause.mode === null;
}

/** Reused buffer for the sampled entries' values in the sampled dictionary. */
const sampledValues: unknown[] = [];

/**
 * evictionPoolPopulate: samples keys of one database into the pool, kept sorted by rank (higher
 * = better candidate): idle time for LRU, 255 − counter for LFU, the nearer expiry for
 * volatile-ttl.
 *
 * Where the rank comes from. volatile-ttl samples the expires dictionary, whose values are the
 * expiry times. The LRU/LFU policies need each sample's access record, which the main
 * dictionary keeps in its entries (keyspace/db.ts): under allkeys-* the main dictionary is
 * sampled for its records (no key is read, no value is loaded), under volatile-* the expires
 * dictionary is sampled and each sample's record looked up, one probe each. A key without a
 * record (written before an LRU/LFU policy was set) ranks as idle since then.
 */
function populatePool(server: Server, st: EvictionState, db: Database): void {
  const values = sampledValues;
  const { ttl, lfu, allkeys, pool } = st;
  let poolKey = pool.key;
  let fresh = false;
  const poolIdle = pool.idle;
  const poolSlot = pool.slot;
  const poolDb = pool.dbId;
  const poolHash = pool.hash;
  const recordsSampled = !ttl && allkeys;
  const sample: KeyDict<unknown> = recordsSampled ? db.dict : db.expires;
  const at = SamplePositions.atLeast(st.samples);
  const { tables, positions, hashes, records } = at;
  // Under allkeys-* only the records are read per sample; a kept sample's key and hash are read
  // as it enters the pool.
  const n = sample.samplePositions(server.access.random, st.samples, tables, positions, recordsSampled ? null : values, recordsSampled ? null : hashes, records);
  const p = server.access;
  const last = POOL_SIZE - 1;
  for (let s = 0; s < n; s++) {
    let idle: number;
    if (ttl) idle = Number.MAX_SAFE_INTEGER - (values[s] as number);
    else {
      const r = recordsSampled ? records[s]! : db.dict.recordOf(sample.sampledKey(tables[s]!, positions[s]!), hashes[s]!);
      const record = r === NO_RECORD ? undefined : r;
      idle = lfu ? 255 - lfuCounter(p, record) : idleMs(p, record);
    }
    let k = 0;
    while (k < POOL_SIZE && poolKey[poolSlot[k]!] !== null && poolIdle[k]! < idle) k++;
    if (k === 0 && poolKey[poolSlot[last]!] !== null) continue; // worse than everything in a full pool
    if (k < POOL_SIZE && poolKey[poolSlot[k]!] === null) {
      // An empty position: insert here.
    } else if (poolKey[poolSlot[last]!] === null) {
      // Free space on the right: shift right from k; the empty last slot comes to k.
      const free = poolSlot[last]!;
      for (let i = last; i > k; i--) {
        poolSlot[i] = poolSlot[i - 1]!;
        poolIdle[i] = poolIdle[i - 1]!;
      }
      poolSlot[k] = free;
    } else {
      // No free space: drop the worst (leftmost) element and insert at k − 1 in its slot.
      k--;
      const free = poolSlot[0]!;
      for (let i = 0; i < k; i++) {
        poolSlot[i] = poolSlot[i + 1]!;
        poolIdle[i] = poolIdle[i + 1]!;
      }
      poolSlot[k] = free;
    }
    // The same key may be in the pool twice (sampled again); harmless, as in Redis.
    const slot = poolSlot[k]!;
    if (!fresh) {
      // A young copy: stores into it need no write barrier's page read (EvictionPool.key).
      poolKey = pool.key = poolKey.slice();
      fresh = true;
    }
    poolKey[slot] = sample.sampledKey(tables[s]!, positions[s]!);
    poolIdle[k] = idle;
    poolDb[slot] = db.id;
    poolHash[slot] = recordsSampled ? sample.sampledHash(tables[s]!, positions[s]!) : hashes[s]!;
  }
}

/** Replaces how eviction measures memory (tests). */
export function setMemoryGauge(server: Server, gauge: MemoryGauge): void {
  stateOf(server).gauge = gauge;
}

/**
 * Deletes `key` of `db` as an eviction if it is still there; the value it had, or undefined for
 * a key gone since it was sampled (a "ghost"). One probe picks and deletes it: the deletion
 * answers the value, whose bytes freed the caller then counts.
 */
function evictIfPresent(server: Server, st: EvictionState, db: Database, key: string, hash = keyHash(key)): RedisValue | undefined {
  let value: RedisValue | undefined;
  if (st.latencyThreshold === 0) value = db.take(key, hash);
  else {
    const started = performance.now();
    value = db.take(key, hash);
    if (value !== undefined) recordLatencyEvent(server, 'eviction-del', performance.now() - started);
  }
  if (value === undefined) return undefined;
  server.stats.evictedKeys++;
  db.modified(key, 'e', 'evicted', 0); // signalModifiedKey, then the event (no dirty: the DEL propagates)
  server.propagateDeletion(db, key, st.lazy);
  return value;
}

/**
 * Picks a key the policy may take and evicts it; the bytes its deletion frees, or -1 when there
 * is no key to evict.
 */
function evictOne(server: Server, st: EvictionState): number {
  const allkeys = st.allkeys;
  const dbs = server.dbs;
  if (st.random) {
    const n = dbs.length;
    for (let i = 0; i < n; i++) {
      st.nextDb = (st.nextDb + 1) % n;
      const db = dbs[st.nextDb]!;
      const key = (allkeys ? db.dict : db.expires).randomKey(server.rng.next());
      if (key === undefined) continue;
      const value = evictIfPresent(server, st, db, key);
      if (value !== undefined) return st.gauge.freedBy(key, value);
    }
    return -1;
  }
  const pool = st.pool;
  const poolSlot = pool.slot;
  for (let round = 0; round < 1000; round++) {
    let total = 0;
    for (let i = 0; i < dbs.length; i++) {
      const db = dbs[i]!;
      const size = allkeys ? db.dict.size : db.expires.size;
      if (size === 0) continue;
      populatePool(server, st, db);
      total += size;
    }
    if (total === 0) return -1;
    const poolKey = pool.key; // populatePool may have replaced it
    // Best candidates are on the right; entries whose key is gone ("ghosts") are skipped.
    for (let k = POOL_SIZE - 1; k >= 0; k--) {
      const slot = poolSlot[k]!;
      const key = poolKey[slot];
      if (key === null) continue;
      poolKey[slot] = null;
      const db = dbs[pool.dbId[slot]!]!;
      if (!allkeys && !db.expires.has(key)) continue;
      const value = evictIfPresent(server, st, db, key, pool.hash[slot]!);
      if (value !== undefined) {
        const freed = st.gauge.freedBy(key, value);
        freeValue(value);
        return freed;
      }
    }
  }
  // Only reachable if sampling keeps yielding keys that vanish; give up this round.
  return -1;
}

/**
 * performEvictions(): frees memory until used memory is under maxmemory. 'ok' when it is (or
 * eviction does not apply now), 'running' when the time limit was hit and the follow-up task
 * continues, 'fail' when nothing more can be evicted.
 */
export function performEvictions(server: Server): EvictResult {
  if (!isSafeToEvict(server)) return 'ok';
  const max = server.settings.maxmemory;
  if (max === 0) return 'ok';
  const st = stateOf(server);
  const used = st.gauge.used();
  if (used <= max) return 'ok';
  if (st.policy === 'noeviction') return 'fail';
  const toFree = used - max;
  const limitUs = timeLimitUs(st.tenacity);
  // The round's clock starts once a second key is needed (or at once for the latency monitor):
  // most rounds evict one key, and need no clock read. The first key's few µs go uncounted
  // against the 500 µs limit.
  let started = st.latencyThreshold !== 0 ? performance.now() : -1;
  let freed = 0;
  let keys = 0;
  let result: EvictResult = 'ok';
  while (freed < toFree) {
    const bytes = evictOne(server, st);
    if (bytes < 0) {
      result = 'fail';
      break;
    }
    freed += bytes;
    keys++;
    if (started < 0) {
      if (freed < toFree) started = performance.now();
    } else if (keys % 16 === 0 && (performance.now() - started) * 1000 > limitUs) {
      startEvictionTimeProc(server);
      result = 'running';
      break;
    }
  }
  // latencyAddSampleIfNeeded: nothing to record (nor a clock to read) while the monitor is off.
  if (st.latencyThreshold !== 0) recordLatencyEvent(server, 'eviction-cycle', performance.now() - started);
  if (result === 'ok' && st.procRunning) result = 'running';
  return result;
}

/**
 * Continues eviction on the event loop until memory is under the limit or nothing is left to
 * evict (evictionTimeProc). Each step is one bounded round, so clients are served in between.
 */
export function startEvictionTimeProc(server: Server): void {
  const st = stateOf(server);
  if (st.procRunning) return;
  st.procRunning = true;
  const step = (): void => {
    st.procRunning = false;
    // A round that runs out of time re-arms the task itself (performEvictions).
    if (!server.shuttingDown) performEvictions(server);
  };
  setImmediate(step);
}

export function install(server: Server): void {
  server.hooks.freeMemory = (): boolean => performEvictions(server) !== 'fail';
}
