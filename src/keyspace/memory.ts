/**
 * The memory model: what nodis counts as used memory (INFO used_memory, maxmemory, eviction,
 * MEMORY USAGE all read it).
 *
 * Redis counts what it allocated (zmalloc). nodis cannot ask V8 what one object costs, and V8's
 * heap figures include garbage not yet collected (a deleted value counts until the next major
 * collection), so eviction driven by them evicts for memory that is not in use. Instead nodis
 * counts what its data structures hold, in Redis's terms (robj, sds, dictEntry, listpack bytes,
 * jemalloc size classes): each key is charged its key overhead plus its value's estimate
 * (objectComputeSize with 5 samples — exactly MEMORY USAGE's answer) when it is written, and
 * the charge is recomputed when a value changes in place. The sum lives in `Database.memory`, so
 * reading used memory is O(databases + clients), never a walk of the keyspace. V8's own figures
 * only feed the RSS-like INFO fields.
 *
 * A primitive value (a latin1 string, an integer) always costs the same, so its charge is
 * recomputed from the value; an object (a collection, a string edited in place as a Buffer) keeps
 * the charge it was last given in a WeakMap, so a delete subtracts exactly what was added.
 */
import { Buffer } from 'node:buffer'; // not the global's getter (types/value.ts)
import { ArenaValue } from '../types/value-arena.js';
import { isStringValue, stringLength, type RedisValue, type TypedValue } from '../types/value.js';
import { ListValue, SAMPLED_HEAD } from '../types/list.js';
import { HEAD_ENTRIES } from '../types/field-table.js';
import { HashValue } from '../types/hash.js';
import { SetValue } from '../types/set.js';
import { ZSet, NIL } from '../types/zset.js';
import { listpackEntryBytes, stringToInt } from '../types/listpack-size.js';
import { formatDouble } from '../protocol/format.js';

/** jemalloc's size class for an allocation of `n` bytes. */
export function allocSize(n: number): number {
  if (n <= 8) return 8;
  if (n <= 128) return Math.ceil(n / 16) * 16;
  // The power of two below n by counting bits and a shift: Math.log2 and `2 **` (which V8
  // compiles to a call to pow) were 4% of an evicting SET's CPU, as every SET charges two
  // values and every eviction one.
  const p = n <= 2 ** 31 ? 1 << (31 - Math.clz32(n - 1)) : 2 ** Math.floor(Math.log2(n - 1));
  const step = p / 4;
  return Math.ceil(n / step) * step;
}

function elementBytes(e: unknown): number {
  if (typeof e === 'string') return e.length;
  if (typeof e === 'number') return 8;
  if (Buffer.isBuffer(e)) return e.length;
  if (Array.isArray(e)) return e.reduce((a: number, x) => a + elementBytes(x), 0);
  return 16;
}

/** objectComputeSize: an estimate of the bytes a value uses, sampling up to `samples` elements. */
export function estimateValueSize(v: RedisValue, samples: number): number {
  if (isStringValue(v)) {
    if (typeof v === 'number') return 16;
    const len = stringLength(v);
    // embstr: robj and sds in one allocation; raw: two.
    return len <= 44 ? allocSize(16 + 3 + len + 1) : 16 + allocSize(len + 9);
  }
  if (v instanceof HashValue) return hashSize(v, samples);
  if (v instanceof SetValue) return setSize(v, samples);
  if (v instanceof ZSet) return zsetSize(v, samples);
  const n = v.size();
  if (v instanceof ListValue) return sizeFrom(v, n, sampledListAverage(v, samples));
  const iterable = (v as unknown as { [Symbol.iterator]?: () => Iterator<unknown> })[Symbol.iterator];
  let avg = 16;
  if (typeof iterable === 'function' && n > 0) {
    const it = iterable.call(v);
    let seen = 0;
    let bytes = 0;
    for (let r = it.next(); !r.done && seen < samples; r = it.next(), seen++) bytes += elementBytes(r.value);
    if (seen > 0) avg = bytes / seen;
  }
  return sizeFrom(v, n, avg);
}

/** A list's average element length over its first `samples` elements (16 when empty). */
function sampledListAverage(l: ListValue, samples: number): number {
  // The list's own indexing instead of its generator: every push and pop recharges it.
  let bytes = 0;
  const seen = Math.min(l.size(), samples);
  for (let i = 0; i < seen; i++) bytes += l.get(i).length;
  return seen > 0 ? bytes / seen : 16;
}

/** objectComputeSize's total for `n` elements of `avg` bytes on average. */
function sizeFrom(v: TypedValue, n: number, avg: number): number {
  const encoding = v.encoding();
  const compact = encoding === 'listpack' || encoding === 'intset' || encoding === 'ziplist';
  const perElement = compact ? avg + 2 : allocSize(avg + 9) + 24;
  return 16 + Math.ceil(n * perElement) + (compact ? 7 : 64);
}

// objectComputeSize for hashes, sets and sorted sets. Like Redis, each samples its first
// `samples` elements (a dict's iteration order, a skiplist's lowest scores) and charges every
// element their average, so a hash of 1 KB values costs ~1 KB per field and one of 2-byte values
// a few dozen bytes; SAMPLES 0 (every element) makes it exact. Sizes are Redis's structs on a
// 64-bit build: robj 16, dict 56, dictEntry 24, zset 16, zskiplist 32, a skiplist node 24 + 16
// per level, a listpack 6 + its entries + 1, an intset 8 + 2/4/8 per member — in jemalloc's
// size classes.
const ROBJ = 16;
const DICT = 56;
const DICT_ENTRY = 24;
/** zset (dict + zsl pointers) and zskiplist (header, tail, length, level). */
const ZSET_STRUCTS = 16 + 32;
/** The skiplist's header node: 32 levels. */
const ZSKIPLIST_HEADER = 24 + 32 * 16;
const LISTPACK_HEADER_AND_END = 7;

/** sdsZmallocSize of a copy of `len` bytes (sdsdup: the smallest header for the length, the NUL). */
function sdsBytes(len: number): number {
  const header = len < 32 ? 1 : len < 256 ? 3 : len < 65536 ? 5 : 9;
  return allocSize(header + len + 1);
}

/** A listpack of `n` entries (or pairs) of `avg` bytes on average, as allocated. */
function listpackBytes(n: number, avg: number): number {
  return allocSize(Math.ceil(LISTPACK_HEADER_AND_END + n * avg));
}

/** robj + dict + its bucket table + `n` elements of `avg` bytes each (entry and sds included). */
function dictValueBytes(n: number, avg: number): number {
  return ROBJ + DICT + dictBucketBytes(n) + Math.ceil(n * avg);
}

/** hashSize's running sum for addDictEntryBytes (a closure per recharge would be garbage). */
let sampledBytes = 0;

function addDictEntryBytes(fieldLength: number, valueLength: number): void {
  sampledBytes += sdsBytes(fieldLength) + sdsBytes(valueLength) + DICT_ENTRY;
}

/** A dict-encoded hash's average bytes per field over its first `samples` fields. */
function sampledHashAverage(h: HashValue, samples: number): number {
  // A dict's entries by their lengths alone (a FieldTable makes no substring for them).
  sampledBytes = 0;
  const seen = h.sampleLengths(samples, addDictEntryBytes);
  return seen === 0 ? 0 : sampledBytes / seen;
}

function hashSize(h: HashValue, samples: number): number {
  const n = h.size();
  if (h.encoding() !== 'listpack') return dictValueBytes(n, sampledHashAverage(h, samples));
  let seen = 0;
  let bytes = 0;
  // Fields and values by two iterators in step: entries() made a [field, value] array per
  // element, 380 bytes of garbage per HSET (every write recharges its hash).
  const fields = h.keys();
  const values = h.values();
  for (; seen < samples; seen++) {
    const f = fields.next();
    if (f.done === true) break;
    bytes += listpackEntryBytes(f.value) + listpackEntryBytes(values.next().value as string);
  }
  return ROBJ + listpackBytes(n, seen === 0 ? 0 : bytes / seen);
}

/** A dict-encoded set's average bytes per member over its first `samples` members. */
function sampledSetAverage(s: SetValue, samples: number): number {
  let seen = 0;
  let bytes = 0;
  for (const member of s.liveValues()) {
    if (seen >= samples) break;
    bytes += sdsBytes(member.length) + DICT_ENTRY;
    seen++;
  }
  return seen === 0 ? 0 : bytes / seen;
}

function setSize(s: SetValue, samples: number): number {
  const n = s.size();
  if (s.encoding() !== 'intset') return dictValueBytes(n, sampledSetAverage(s, samples));
  let seen = 0;
  let width = 2;
  for (const member of s.liveValues()) {
    if (seen >= samples) break;
    // An intset's members all take the width of the widest one.
    const v = Number(stringToInt(member));
    if (v < -2147483648 || v > 2147483647) width = 8;
    else if ((v < -32768 || v > 32767) && width < 4) width = 4;
    seen++;
  }
  return ROBJ + allocSize(8 + width * n);
}

function zsetSize(z: ZSet, samples: number): number {
  const n = z.size();
  const list = z.list;
  const listpack = z.isCompact;
  let seen = 0;
  let bytes = 0;
  for (let node = list.first(); node !== NIL && seen < samples; node = list.next(node), seen++) {
    const member = list.member(node);
    bytes += listpack
      ? listpackEntryBytes(member) + listpackEntryBytes(formatDouble(list.score(node)))
      : sdsBytes(member.length) + DICT_ENTRY + allocSize(24 + 16 * list.levelOf(node));
  }
  const avg = seen === 0 ? 0 : bytes / seen;
  if (listpack) return ROBJ + listpackBytes(n, avg);
  return dictValueBytes(n, avg) + ZSET_STRUCTS + allocSize(ZSKIPLIST_HEADER);
}

/** Bytes a key costs besides its value: dictEntry (24) and the key's sds. */
export function keyOverheadBytes(key: string): number {
  return allocSize(key.length + 4) + 24;
}

/**
 * The charge last given to an object value (see above), and for a list, a dict-encoded hash or set the
 * average bytes per element its last estimate sampled, kept while the value's `headEpoch` (the
 * first elements, which the estimate samples) stays `epoch`: a write to a big hash or set then
 * recharges it without sampling again (docs/PERFORMANCE.md, "p1b").
 */
interface Charge {
  bytes: number;
  /** The value's headEpoch when `avg` was sampled; -1: none kept. */
  epoch: number;
  avg: number;
}

const charged = new WeakMap<object, Charge>();

/**
 * The estimate the recharge of a write gives (objectComputeSize with 5 samples): a list's
 * headEpoch watches exactly that many first elements (ListValue SAMPLED_HEAD), sets and hashes
 * HEAD_ENTRIES ≥ 5.
 */
const RECHARGE_SAMPLES = SAMPLED_HEAD;
if (RECHARGE_SAMPLES !== 5 || HEAD_ENTRIES < RECHARGE_SAMPLES) throw new Error('memory.ts: the recharge samples 5 elements, within what headEpoch watches');

/**
 * estimateValueSize(v, 5), from `r`'s kept sample when its epoch is the value's: the same number,
 * as the sample covers the first elements and their lengths did not change (HEAD_ENTRIES ≥ 5).
 */
function estimateKept(v: RedisValue, r: Charge | undefined): number {
  // A list, a dict-encoded set and a hash keep a sample (their estimate reads the lengths of the
  // first elements alone); everything else is estimated afresh. RPUSH onto a long list leaves
  // its head, and the sample with it (ListValue.headEpoch).
  let epoch = -1;
  if (v instanceof ListValue) epoch = v.headEpoch;
  else if (v instanceof SetValue) epoch = v.encoding() === 'hashtable' ? v.headEpoch : -1;
  else if (v instanceof HashValue) epoch = v.headEpoch;
  if (epoch < 0) return estimateValueSize(v, RECHARGE_SAMPLES);
  const value = v as ListValue | SetValue | HashValue;
  let avg: number;
  if (r !== undefined && r.epoch === epoch) avg = r.avg;
  else {
    avg =
      value instanceof ListValue
        ? sampledListAverage(value, RECHARGE_SAMPLES)
        : value instanceof SetValue
          ? sampledSetAverage(value, RECHARGE_SAMPLES)
          : sampledHashAverage(value, RECHARGE_SAMPLES);
    if (r !== undefined) {
      r.epoch = epoch;
      r.avg = avg;
    }
  }
  return value instanceof ListValue ? sizeFrom(value, value.size(), avg) : dictValueBytes(value.size(), avg);
}

/** What a value is charged now: primitives computed, objects as last charged (or now). */
export function chargedValueBytes(v: RedisValue): number {
  // Every SET charges two string values (the new one, the old one): estimateValueSize's
  // string case, without its type dispatch.
  if (typeof v === 'string') {
    const len = v.length;
    return len <= 44 ? allocSize(20 + len) : 16 + allocSize(len + 9);
  }
  if (typeof v === 'number') return 16;
  if (v instanceof ArenaValue) return 16 + allocSize(v.length + 9);
  const r = charged.get(v);
  if (r !== undefined) return r.bytes;
  const fresh: Charge = { bytes: 0, epoch: -1, avg: 0 };
  fresh.bytes = estimateKept(v, fresh);
  charged.set(v, fresh);
  return fresh.bytes;
}

/**
 * An object value changed in place: its new charge minus the old one (0 for primitives, which
 * are replaced, never changed, and charged on set).
 */
export function rechargeValue(v: RedisValue): number {
  if (typeof v !== 'object' || v instanceof ArenaValue) return 0;
  const r = charged.get(v);
  if (r === undefined) {
    chargedValueBytes(v);
    return 0;
  }
  const now = estimateKept(v, r);
  const before = r.bytes;
  r.bytes = now;
  return now - before;
}

/** A dict's bucket array (8 bytes per bucket, a power of two at least its size). */
export function dictBucketBytes(size: number): number {
  // The next power of two by counting bits (used memory is summed before every command).
  if (size <= 1) return size === 0 ? 0 : 8;
  if (size <= 2 ** 30) return 8 * (1 << (32 - Math.clz32(size - 1))); // a shift: `2 **` calls pow
  return 8 * 2 ** Math.ceil(Math.log2(size));
}
