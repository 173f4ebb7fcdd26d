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
 * Memory. nodis measures its used memory from the V8 heap (server.usedMemory()), and a deleted
 * value only leaves the heap at the next major garbage collection. So each evicted key's size is
 * estimated and added to `server.pendingFreedMemory`, which usedMemory() subtracts until a major
 * GC has run (observed through perf_hooks): without it every command would evict again for
 * memory already freed. The estimate is Redis's MEMORY USAGE estimate plus nodis's per-key
 * overhead; an error either way corrects itself at the next collection. Other garbage (request
 * buffers, replaced values) also counts until collected, so eviction may free somewhat more than
 * Redis would. So a full collection is forced (spaced so that at most ~10% of the time goes to
 * them) before an eviction of more than a tenth of used memory, when evicted memory piles up
 * past a quarter of maxmemory, when nothing is left to evict, and before noeviction refuses a
 * write.
 *
 * Time. One round is bounded by `maxmemory-eviction-tenacity` (500 µs at the default 10, as in
 * Redis); what is left is done by a follow-up task on the event loop (startEvictionTimeProc),
 * and commands are not refused while it runs. CONFIG SET maxmemory starts that task too.
 *
 * Not done while loading, on a replica (its master's DELs keep it in step: nodis replicas behave
 * as with replica-ignore-maxmemory yes) or during CLIENT PAUSE (nothing may propagate then).
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import type { Server } from './server.js';
import type { Database } from '../keyspace/db.js';
import type { KeyDict } from '../keyspace/dict.js';
import type { RedisValue } from '../types/value.js';
import { idleMs, lfuCounter } from '../keyspace/access.js';
import { estimateValueSize } from '../commands/object.js';
import { recordLatencyEvent } from './latency.js';
import { collectGarbage } from './gc.js';

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
 * Forced full collections pause the server in proportion to the heap, so they are spaced: at
 * least MIN_COLLECT_INTERVAL_MS apart, and COLLECT_DUTY times their own duration (at most ~10%
 * of the time spent collecting).
 */
const MIN_COLLECT_INTERVAL_MS = 50;
const COLLECT_DUTY = 10;
/** When more than this share of used memory would have to go, collect garbage first. */
const LARGE_EVICTION_SHARE = 0.1;
/** Evicted-but-uncollected memory, as a share of maxmemory, that justifies a forced collection. */
const PENDING_COLLECT_SHARE = 0.25;
/** Bytes nodis spends per key beyond Redis's estimate: two Map entries (value, access record) and a string header. */
const PER_KEY_OVERHEAD = 96;

interface PoolEntry {
  idle: number;
  key: string;
  dbId: number;
}

/**
 * Where eviction reads memory from. The default measures the server (usedMemory(), minus what
 * was evicted but not yet collected); tests install a model to make eviction deterministic.
 */
export interface MemoryGauge {
  /** Used memory as eviction counts it. */
  used(): number;
  /** Bytes evicting this value frees. */
  freedBy(key: string, value: RedisValue): number;
  /** `bytes` were just evicted (estimates from freedBy). */
  evicted(bytes: number): void;
  /**
   * Collects garbage if that may lower used(): when nothing more can be evicted, or evicted
   * memory piles up uncollected. Rate-limited; false when it did not run.
   */
  collect(): boolean;
}

interface EvictionState {
  gauge: MemoryGauge;
  /** When the last forced collection ended (performance.now()) and how long it took. */
  lastCollectEnd: number;
  lastCollectMs: number;
  pool: (PoolEntry | null)[];
  /** Round-robin start for the random policies (next_db). */
  nextDb: number;
  /** The follow-up task is scheduled. */
  procRunning: boolean;
  observer: PerformanceObserver | null;
}

const states = new WeakMap<Server, EvictionState>();

function stateOf(server: Server): EvictionState {
  let s = states.get(server);
  if (s === undefined) {
    const st: EvictionState = {
      gauge: {
        // Measured at most every 10 ms; evictions are subtracted as they happen.
        used: () => server.usedMemory(),
        freedBy: (key, value) => estimateValueSize(value, 5) + key.length + PER_KEY_OVERHEAD,
        evicted: (bytes) => {
          server.pendingFreedMemory += bytes;
          watchCollections(server, st);
        },
        collect: () => {
          const started = performance.now();
          if (started - st.lastCollectEnd < Math.max(MIN_COLLECT_INTERVAL_MS, st.lastCollectMs * COLLECT_DUTY)) return false;
          collectGarbage();
          st.lastCollectEnd = performance.now();
          st.lastCollectMs = st.lastCollectEnd - started;
          server.pendingFreedMemory = 0;
          server.invalidateUsedMemory();
          return true;
        },
      },
      lastCollectEnd: -Infinity,
      lastCollectMs: 0,
      pool: new Array<PoolEntry | null>(POOL_SIZE).fill(null),
      nextDb: 0,
      procRunning: false,
      observer: null,
    };
    s = st;
    states.set(server, s);
  }
  return s;
}

function policyOf(server: Server): EvictionPolicy {
  return server.config.getString('maxmemory-policy') as EvictionPolicy;
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

/**
 * The eviction pool's ranking value for a key (higher = better candidate): idle time for LRU,
 * 255 − counter for LFU, and the nearer expiry for volatile-ttl.
 */
function rank(server: Server, policy: EvictionPolicy, db: Database, key: string): number {
  if (policy === 'volatile-ttl') return Number.MAX_SAFE_INTEGER - (db.expires.get(key) ?? 0);
  const record = db.access.get(key);
  if (policy.endsWith('-lfu')) return 255 - lfuCounter(server.access, record);
  return idleMs(server.access, record);
}

/** Reused buffer for sampled keys. */
const sampled: string[] = [];

/** evictionPoolPopulate: samples keys of one database into the pool, kept sorted by rank. */
function populatePool(server: Server, policy: EvictionPolicy, db: Database, sample: KeyDict<unknown>, pool: (PoolEntry | null)[]): void {
  const keys = sampled;
  sample.sampleKeys(server.access.random, server.config.getNumber('maxmemory-samples'), keys);
  for (const key of keys) {
    const idle = rank(server, policy, db, key);
    let k = 0;
    while (k < POOL_SIZE && pool[k] !== null && pool[k]!.idle < idle) k++;
    if (k === 0 && pool[POOL_SIZE - 1] !== null) continue; // worse than everything in a full pool
    if (k < POOL_SIZE && pool[k] === null) {
      // An empty slot: insert here.
    } else if (pool[POOL_SIZE - 1] === null) {
      // Free space on the right: shift right from k.
      for (let i = POOL_SIZE - 1; i > k; i--) pool[i] = pool[i - 1]!;
    } else {
      // No free space: drop the worst (leftmost) element and insert at k − 1.
      k--;
      for (let i = 0; i < k; i++) pool[i] = pool[i + 1]!;
    }
    // The same key may be in the pool twice (sampled again); harmless, as in Redis.
    pool[k] = { idle, key, dbId: db.id };
  }
}

/** Picks the key to evict, or null when there is none the policy may take. */
function selectKey(server: Server, policy: EvictionPolicy, st: EvictionState): { db: Database; key: string } | null {
  const allkeys = policy.startsWith('allkeys-');
  const dictOf = (db: Database): KeyDict<unknown> => (allkeys ? db.dict : db.expires);
  if (policy.endsWith('-random')) {
    const n = server.dbs.length;
    for (let i = 0; i < n; i++) {
      st.nextDb = (st.nextDb + 1) % n;
      const db = server.dbs[st.nextDb]!;
      const key = dictOf(db).randomKey(server.rng.next());
      if (key !== undefined) return { db, key };
    }
    return null;
  }
  const pool = st.pool;
  for (let round = 0; round < 1000; round++) {
    let total = 0;
    for (const db of server.dbs) {
      const d = dictOf(db);
      if (d.size === 0) continue;
      populatePool(server, policy, db, d, pool);
      total += d.size;
    }
    if (total === 0) return null;
    // Best candidates are on the right; entries whose key is gone ("ghosts") are skipped.
    for (let k = POOL_SIZE - 1; k >= 0; k--) {
      const e = pool[k];
      if (e === null) continue;
      pool[k] = null;
      const db = server.dbs[e.dbId]!;
      if (dictOf(db).has(e.key)) return { db, key: e.key };
    }
  }
  // Only reachable if sampling keeps yielding keys that vanish; give up this round.
  return null;
}

/** Replaces how eviction measures memory (tests). */
export function setMemoryGauge(server: Server, gauge: MemoryGauge): void {
  stateOf(server).gauge = gauge;
}

/** Deletes one key as an eviction; returns the bytes it is estimated to free. */
function evictKey(server: Server, gauge: MemoryGauge, db: Database, key: string): number {
  const value = db.dict.get(key);
  if (value === undefined) return 0;
  const bytes = gauge.freedBy(key, value);
  const started = performance.now();
  db.delete(key);
  recordLatencyEvent(server, 'eviction-del', performance.now() - started);
  server.stats.evictedKeys++;
  server.signalModifiedKey(db, key);
  server.hooks.notify('e', 'evicted', key, db.id);
  server.propagateDeletion(db, key, server.config.getBool('lazyfree-lazy-eviction'));
  return bytes;
}

/** Starts watching for a major GC, after which the heap measurement includes the evictions. */
function watchCollections(server: Server, st: EvictionState): void {
  if (st.observer !== null) return;
  st.observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        server.pendingFreedMemory = 0;
        server.invalidateUsedMemory();
        st.observer?.disconnect();
        st.observer = null;
        return;
      }
    }
  });
  st.observer.observe({ entryTypes: ['gc'] });
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
  const gauge = st.gauge;
  let used = gauge.used();
  if (used <= max) return 'ok';
  const policy = policyOf(server);
  // Garbage the collector has not reclaimed yet counts as used: collect once before refusing
  // writes or evicting everything.
  if (policy === 'noeviction') return gauge.collect() && gauge.used() <= max ? 'ok' : 'fail';
  let collected = false;
  // A large eviction is more likely to be mostly garbage not yet collected.
  if (used - max > used * LARGE_EVICTION_SHARE && gauge.collect()) {
    collected = true;
    used = gauge.used();
    if (used <= max) return 'ok';
  }
  let toFree = used - max;
  const limitUs = timeLimitUs(server.config.getNumber('maxmemory-eviction-tenacity'));
  const started = performance.now();
  let freed = 0;
  let keys = 0;
  let result: EvictResult = 'ok';
  while (freed < toFree) {
    const pick = selectKey(server, policy, st);
    if (pick === null) {
      if (!collected && gauge.collect()) {
        collected = true;
        used = gauge.used();
        toFree = used - max;
        freed = 0;
        continue;
      }
      result = 'fail';
      break;
    }
    freed += evictKey(server, gauge, pick.db, pick.key);
    keys++;
    if (keys % 16 === 0 && (performance.now() - started) * 1000 > limitUs) {
      startEvictionTimeProc(server);
      result = 'running';
      break;
    }
  }
  if (freed > 0) {
    gauge.evicted(freed);
    if (server.pendingFreedMemory > max * PENDING_COLLECT_SHARE) gauge.collect();
  }
  recordLatencyEvent(server, 'eviction-cycle', performance.now() - started);
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
