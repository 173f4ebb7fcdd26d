/**
 * Value introspection: OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP and MEMORY
 * USAGE|STATS|DOCTOR|MALLOC-STATS|PURGE|HELP (object.c).
 *
 * IDLETIME and FREQ read the key's access record (keyspace/access.ts) without counting as an
 * access themselves. MEMORY USAGE is an estimate from the value's byte lengths (sampled like
 * Redis for aggregates), not an allocator measurement.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';
import { idleMs, lfuCounter } from '../keyspace/access.js';
import { isStringValue, stringEncoding, stringLength, type RedisValue } from '../types/value.js';
import { SYNTAX, NOT_INTEGER } from '../protocol/errors.js';
import { parseInt64 } from '../protocol/args.js';
import { replyHelp } from './help.js';
import { collectGarbage } from '../server/gc.js';
import { dictBucketBytes, estimateValueSize, keyOverheadBytes } from '../keyspace/memory.js';
import { STARTUP_MEMORY } from '../server/server.js';

export { estimateValueSize };

/** Refcount Redis reports for its shared integers 0..9999 (OBJ_SHARED_REFCOUNT). */
const SHARED_REFCOUNT = 2147483647;

function isLfuPolicy(server: Server): boolean {
  return server.access.lfu;
}

/** Whether Redis would store this integer as a shared object. */
function isSharedInteger(server: Server, v: RedisValue): boolean {
  if (typeof v !== 'number' || v < 0 || v >= 10000) return false;
  const policy = server.config.getString('maxmemory-policy');
  // With an LRU/LFU policy and a maxmemory set, Redis stops sharing integers (each key needs
  // its own access clock).
  return !(server.settings.maxmemory > 0 && (policy.endsWith('-lru') || policy.endsWith('-lfu')));
}

/** OBJECT ENCODING's answer for any value. */
export function encodingOf(v: RedisValue): string {
  return isStringValue(v) ? stringEncoding(v) : v.encoding();
}

function lookupOrNull(c: Client): RedisValue | undefined {
  // objectCommandLookup: OBJECT and MEMORY USAGE do not count as accesses.
  const v = c.db.lookupNoTouch(c.argv[2]!);
  if (v === undefined) c.reply.nullBulk();
  return v;
}

function objectEncoding(c: Client): void {
  const v = lookupOrNull(c);
  if (v !== undefined) c.reply.bulk(encodingOf(v));
}

function objectRefcount(c: Client): void {
  const v = lookupOrNull(c);
  if (v !== undefined) c.reply.integer(isSharedInteger(c.server, v) ? SHARED_REFCOUNT : 1);
}

function objectIdletime(c: Client): void {
  const v = lookupOrNull(c);
  if (v === undefined) return;
  if (isLfuPolicy(c.server)) {
    c.reply.error(
      'ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
    );
    return;
  }
  c.reply.integer(Math.floor(idleMs(c.server.access, c.db.access.get(c.argv[2]!)) / 1000));
}

function objectFreq(c: Client): void {
  const v = lookupOrNull(c);
  if (v === undefined) return;
  if (!isLfuPolicy(c.server)) {
    c.reply.error(
      'ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.',
    );
    return;
  }
  c.reply.integer(lfuCounter(c.server.access, c.db.access.get(c.argv[2]!)));
}

function objectHelp(c: Client): void {
  replyHelp(c, [
    'ENCODING <key>',
    '    Return the kind of internal representation used in order to store the value',
    '    associated with a <key>.',
    'FREQ <key>',
    '    Return the access frequency index of the <key>. The returned integer is',
    '    proportional to the logarithm of the recent access frequency of the key.',
    'IDLETIME <key>',
    '    Return the idle time of the <key>, that is the approximated number of',
    '    seconds elapsed since the last access to the key.',
    'REFCOUNT <key>',
    '    Return the number of references of the value associated with the specified',
    '    <key>.',
  ]);
}

// ---- MEMORY -------------------------------------------------------------------------------------

/** jemalloc-like size class rounding, so estimates grow in steps as Redis's do. */
function memoryUsage(c: Client): void {
  let samples = 5;
  for (let i = 3; i < c.argv.length; i++) {
    if (c.argv[i]!.toLowerCase() === 'samples' && i + 1 < c.argv.length) {
      const n = parseInt64(c.argv[i + 1]!);
      if (n === null) {
        c.reply.error(NOT_INTEGER);
        return;
      }
      if (n < 0n) {
        c.reply.error(SYNTAX);
        return;
      }
      samples = n === 0n ? Number.MAX_SAFE_INTEGER : Number(n);
      i++;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const key = c.argv[2]!;
  const v = c.db.lookupNoTouch(key);
  if (v === undefined) {
    c.reply.nullBulk();
    return;
  }
  // Value + key sds + dictEntry, as Redis counts it.
  c.reply.integer(estimateValueSize(v, samples) + keyOverheadBytes(key));
}

function memoryStats(c: Client): void {
  const server = c.server;
  const used = server.usedMemory();
  const mu = process.memoryUsage();
  const dbs = server.dbs.filter((d) => d.dict.size > 0 || d.expires.size > 0);
  let keys = 0;
  for (const d of server.dbs) keys += d.dict.size;
  server.clientsMemory();
  const clientsNormal = server.clientsNormalMemory;
  const startup = STARTUP_MEMORY;
  const dbOverhead = dbs.map((d) => ({ id: d.id, main: dictBucketBytes(d.dict.size) + d.dict.size * 24, expires: dictBucketBytes(d.expires.size) + d.expires.size * 24 }));
  const overhead = startup + clientsNormal + server.replicaClientsMemory + server.replBacklogMemory() + dbOverhead.reduce((a, d) => a + d.main + d.expires, 0);
  const dataset = Math.max(0, used - overhead);
  const net = used - startup;
  const r = c.reply;
  r.map(27 + dbs.length);
  const int = (name: string, v: number): void => {
    r.bulk(name);
    r.integer(Math.floor(v));
  };
  const dbl = (name: string, v: number): void => {
    r.bulk(name);
    r.double(Number.isFinite(v) ? v : 0);
  };
  int('peak.allocated', server.usedMemoryPeak);
  int('total.allocated', used);
  int('startup.allocated', startup);
  int('replication.backlog', server.replBacklogMemory());
  int('clients.slaves', server.replicaClientsMemory);
  int('clients.normal', clientsNormal);
  int('cluster.links', 0);
  int('aof.buffer', 0);
  int('lua.caches', 0);
  int('functions.caches', 0);
  for (const d of dbOverhead) {
    r.bulk(`db.${d.id}`);
    r.map(3);
    int('overhead.hashtable.main', d.main);
    int('overhead.hashtable.expires', d.expires);
    int('overhead.hashtable.slot-to-keys', 0);
  }
  int('overhead.total', overhead);
  int('keys.count', keys);
  int('keys.bytes-per-key', keys > 0 ? net / keys : 0);
  int('dataset.bytes', dataset);
  dbl('dataset.percentage', net > 0 ? (dataset * 100) / net : 0);
  dbl('peak.percentage', server.usedMemoryPeak > 0 ? (used * 100) / server.usedMemoryPeak : 0);
  int('allocator.allocated', mu.heapUsed);
  int('allocator.active', mu.heapTotal);
  int('allocator.resident', mu.rss);
  dbl('allocator-fragmentation.ratio', mu.heapTotal / Math.max(1, mu.heapUsed));
  int('allocator-fragmentation.bytes', mu.heapTotal - mu.heapUsed);
  dbl('allocator-rss.ratio', mu.rss / Math.max(1, mu.heapTotal));
  int('allocator-rss.bytes', mu.rss - mu.heapTotal);
  dbl('rss-overhead.ratio', 1);
  int('rss-overhead.bytes', 0);
  dbl('fragmentation', mu.rss / Math.max(1, used));
  int('fragmentation.bytes', mu.rss - used);
}

function memoryDoctor(c: Client): void {
  let keys = 0;
  for (const d of c.server.dbs) keys += d.dict.size;
  const report =
    keys === 0 || c.server.usedMemory() < 5 * 1024 * 1024
      ? 'Hi Sam, this instance is empty or is using very little memory, my issues detector can\'t be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n'
      : "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
  c.reply.verbatim(report);
}

function memoryMallocStats(c: Client): void {
  c.reply.bulk('Stats not supported for the current allocator');
}

/**
 * MEMORY PURGE: Redis asks jemalloc to return dirty pages; the nearest thing here is a full,
 * compacting garbage collection (server/gc.ts): garbage is freed and the old generation packed,
 * so the pages it no longer needs leave the process's RSS. The memory benchmarks read RSS and
 * used_memory after it, on both servers.
 */
function memoryPurge(c: Client): void {
  collectGarbage(true);
  c.server.invalidateUsedMemory();
  c.reply.ok();
}

function memoryHelp(c: Client): void {
  replyHelp(c, [
    'DOCTOR',
    '    Return memory problems reports.',
    'MALLOC-STATS',
    '    Return internal statistics report from the memory allocator.',
    'PURGE',
    '    Attempt to purge dirty pages for reclamation by the allocator.',
    'STATS',
    '    Return information about the memory usage of the server.',
    'USAGE <key> [SAMPLES <count>]',
    '    Return memory in bytes used by <key> and its value. Nested values are',
    '    sampled up to <count> times (default: 5, 0 means sample all).',
  ]);
}

export const commands: CommandHandlers = {
  'object|encoding': objectEncoding,
  'object|refcount': objectRefcount,
  'object|idletime': objectIdletime,
  'object|freq': objectFreq,
  'object|help': objectHelp,
  'memory|usage': memoryUsage,
  'memory|stats': memoryStats,
  'memory|doctor': memoryDoctor,
  'memory|malloc-stats': memoryMallocStats,
  'memory|purge': memoryPurge,
  'memory|help': memoryHelp,
};
