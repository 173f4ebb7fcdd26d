/**
 * Set commands (Redis's t_set.c): SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
 * SRANDMEMBER, SMOVE, SINTER/SUNION/SDIFF and their STORE forms, SINTERCARD, SSCAN.
 *
 * The structure itself is src/types/set.ts. Handlers keep t_set.c's order of checks, reply
 * types (RESP3 sets for SMEMBERS/SINTER/SUNION/SDIFF/SPOP with a count, arrays for
 * SRANDMEMBER) and keyspace events. SPOP propagates as SREM (one per popped member, or DEL when
 * it pops the whole set), as Redis 7.0 does, so replicas and the AOF never replay randomness.
 * SRANDMEMBER/SPOP use the same four strategies as Redis, with the server's seeded random source.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { deleteMembers } from './members.js';
import { SetValue } from '../types/set.js';
import { isStringValue } from '../types/value.js';
import { WRONGTYPE, SYNTAX, NOT_INTEGER } from '../protocol/errors.js';
import { parseInt64, is } from '../protocol/args.js';
import { INVALID_CURSOR, parseCursor, parseScanOptions, scanStep } from '../keyspace/scan.js';
import { stringMatch } from '../keyspace/glob.js';

const LONG_MAX = 2n ** 63n - 1n;

/** A new empty set (intset-encoded until a member says otherwise). */
function newSet(c: Client): SetValue {
  return new SetValue(c.server.limits.set);
}

// ---- Lookups ----------------------------------------------------------------------------------

/** Outcome of a typed lookup: the set, null when missing, undefined when not a set. */
type Lookup = SetValue | null | undefined;

function asSet(v: ReturnType<Client['db']['lookup']>): Lookup {
  if (v === undefined) return null;
  if (isStringValue(v) || v.type !== 'set') return undefined;
  return v as SetValue;
}

/** The set at `key` for reading; replies WRONGTYPE and returns undefined for other types. */
function readSet(c: Client, key: string): Lookup {
  const s = asSet(c.server.lookupRead(c.db, key));
  if (s === undefined) c.reply.error(WRONGTYPE);
  return s;
}

/** The set at `key` for writing; replies WRONGTYPE and returns undefined for other types. */
function writeSet(c: Client, key: string): Lookup {
  const s = asSet(c.db.lookup(key));
  if (s === undefined) c.reply.error(WRONGTYPE);
  return s;
}

/**
 * getRangeLongFromObjectOrReply: an int64 within [min, max]; replies and returns null when not.
 * `msg` replaces both the not-an-integer and the out-of-range errors, as in Redis.
 */
function rangeLong(c: Client, arg: string, min: bigint, max: bigint, msg?: string): bigint | null {
  const v = parseInt64(arg);
  if (v === null) {
    c.reply.error(msg ?? NOT_INTEGER);
    return null;
  }
  if (v < min || v > max) {
    c.reply.error(msg ?? `ERR value is out of range, value must between ${min} and ${max}`);
    return null;
  }
  return v;
}

// ---- Single-set commands ----------------------------------------------------------------------

function sadd(c: Client): void {
  const key = c.argv[1]!;
  let s = writeSet(c, key);
  if (s === undefined) return;
  if (s === null) {
    s = newSet(c);
    c.db.set(key, s);
  }
  let added = 0;
  for (let i = 2; i < c.argv.length; i++) if (s.add(c.argv[i]!)) added++;
  if (added > 0) c.db.modified(key, 's', 'sadd', added);
  c.reply.integer(added);
}

function srem(c: Client): void {
  const key = c.argv[1]!;
  const s = writeSet(c, key);
  if (s === undefined) return;
  if (s === null) {
    c.reply.zero();
    return;
  }
  deleteMembers(c, key, s, 's', 'srem');
}

function sismember(c: Client): void {
  const s = readSet(c, c.argv[1]!);
  if (s === undefined) return;
  if (s !== null && s.has(c.argv[2]!)) c.reply.one();
  else c.reply.zero();
}

function smismember(c: Client): void {
  const s = readSet(c, c.argv[1]!);
  if (s === undefined) return;
  c.reply.array(c.argv.length - 2);
  for (let i = 2; i < c.argv.length; i++) {
    if (s !== null && s.has(c.argv[i]!)) c.reply.one();
    else c.reply.zero();
  }
}

function scard(c: Client): void {
  const s = readSet(c, c.argv[1]!);
  if (s === undefined) return;
  c.reply.integer(s === null ? 0 : s.size());
}

/** Replies a whole set as a RESP3 set (an array in RESP2), in Redis's order for its encoding. */
function replySet(c: Client, s: SetValue): void {
  c.reply.set(s.size());
  for (const m of s.values()) c.reply.bulk(m);
}

function smove(c: Client): void {
  const srcKey = c.argv[1]!;
  const dstKey = c.argv[2]!;
  const member = c.argv[3]!;
  const srcValue = c.db.lookup(srcKey);
  const dstValue = c.db.lookup(dstKey);
  if (srcValue === undefined) {
    c.reply.zero();
    return;
  }
  const src = asSet(srcValue);
  const existingDst = asSet(dstValue);
  if (src === undefined || src === null || existingDst === undefined) {
    c.reply.error(WRONGTYPE);
    return;
  }
  if (src === existingDst) {
    if (src.has(member)) c.reply.one();
    else c.reply.zero();
    return;
  }
  if (!src.delete(member)) {
    c.reply.zero();
    return;
  }
  const emptied = src.size() === 0;
  if (emptied) c.db.delete(srcKey);
  c.db.removed(srcKey, 's', 'srem', 1, emptied);
  let dst = existingDst;
  if (dst === null) {
    dst = newSet(c);
    c.db.set(dstKey, dst);
  }
  if (dst.add(member)) c.db.modified(dstKey, 's', 'sadd');
  c.reply.one();
}

// ---- SPOP / SRANDMEMBER -------------------------------------------------------------------------

/** SPOP with a count switches to "build the remainder" when few members would stay (Redis: 5). */
const SPOP_MOVE_STRATEGY_MUL = 5;
/** SRANDMEMBER switches to "copy and remove" when most members are asked for (Redis: 3). */
const SRANDMEMBER_SUB_STRATEGY_MUL = 3;

function spop(c: Client): void {
  if (c.argv.length === 3) {
    spopWithCount(c);
    return;
  }
  if (c.argv.length > 3) {
    c.reply.error(SYNTAX);
    return;
  }
  const key = c.argv[1]!;
  const s = writeSet(c, key);
  if (s === undefined) return;
  if (s === null) {
    c.reply.nullBulk();
    return;
  }
  const member = s.popRandom(c.server.rng);
  c.propagateArgv = ['SREM', key, member];
  c.reply.bulk(member);
  const emptied = s.size() === 0;
  if (emptied) c.db.delete(key);
  c.db.removed(key, 's', 'spop', 1, emptied);
}

function spopWithCount(c: Client): void {
  const l = rangeLong(c, c.argv[2]!, 0n, LONG_MAX, 'ERR value is out of range, must be positive');
  if (l === null) return;
  const key = c.argv[1]!;
  const s = writeSet(c, key);
  if (s === undefined) return;
  if (s === null || l === 0n) {
    c.reply.set(0);
    return;
  }
  const size = s.size();
  const count = l >= BigInt(size) ? size : Number(l);
  const server = c.server;
  const db = c.db;
  // spopWithCountCommand: the event and the count first, the signal once the set changed.
  db.notify('s', 'spop', key);
  db.counted(count);

  // Case 1: the whole set: reply it, delete the key, propagate as DEL.
  if (count === size) {
    // Redis replies through SUNION's result set, which is an intset (sorted) whenever the
    // members allow it, even when the popped set itself had been converted to a hashtable.
    if (s.encoding() === 'hashtable' && size <= c.server.limits.set.maxIntsetEntries) {
      const copy = newSet(c);
      for (const m of s.values()) copy.add(m);
      replySet(c, copy);
    } else {
      replySet(c, s);
    }
    db.delete(key);
    db.notify('g', 'del', key);
    c.propagateArgv = ['DEL', key];
    db.signalModified(key);
    return;
  }

  // Cases 2 and 3 propagate one SREM per popped member instead of the SPOP.
  c.preventPropagation = true;
  const propagateSrem = (member: string): void => server.propagator.also(db.id, ['SREM', key, member]);
  c.reply.set(count);
  let remaining = size - count;
  if (remaining * SPOP_MOVE_STRATEGY_MUL > count) {
    // Case 2: few members popped: pop them one by one.
    for (let i = 0; i < count; i++) {
      const member = s.popRandom(server.rng);
      c.reply.bulk(member);
      propagateSrem(member);
    }
  } else {
    // Case 3: most members popped: move the few survivors to a new set, reply the rest.
    let survivors: SetValue | null = null;
    while (remaining-- > 0) {
      const member = s.popRandom(server.rng);
      survivors ??= SetValue.forFirstMember(member, c.server.limits.set);
      survivors.add(member);
    }
    for (const member of s.values()) {
      c.reply.bulk(member);
      propagateSrem(member);
    }
    db.replace(key, survivors!);
  }
  db.signalModified(key);
}

function srandmember(c: Client): void {
  if (c.argv.length === 3) {
    srandmemberWithCount(c);
    return;
  }
  if (c.argv.length > 3) {
    c.reply.error(SYNTAX);
    return;
  }
  const s = readSet(c, c.argv[1]!);
  if (s === undefined) return;
  if (s === null) c.reply.nullBulk();
  else c.reply.bulk(s.randomMember(c.server.rng));
}

function srandmemberWithCount(c: Client): void {
  const l = rangeLong(c, c.argv[2]!, -LONG_MAX, LONG_MAX);
  if (l === null) return;
  const s = readSet(c, c.argv[1]!);
  if (s === undefined) return;
  if (s === null || l === 0n) {
    c.reply.emptyArray();
    return;
  }
  const unique = l > 0n;
  const count = Number(unique ? l : -l);
  const size = s.size();
  const rng = c.server.rng;

  // Case 1: repeats allowed (or one member): independent uniform picks.
  if (!unique || count === 1) {
    c.reply.array(count);
    for (let i = 0; i < count; i++) {
      c.reply.bulk(s.randomMember(rng));
      if (c.closeAsap) break;
    }
    return;
  }

  // Case 2: at least the whole set: all of it.
  if (count >= size) {
    c.reply.array(size);
    for (const m of s.values()) c.reply.bulk(m);
    return;
  }

  c.reply.array(count);
  if (count * SRANDMEMBER_SUB_STRATEGY_MUL > size) {
    // Case 3: most of the set: copy it and drop random members until `count` remain.
    const members = Array.from(s.values());
    let kept = members.length;
    while (kept > count) {
      const i = rng.below(kept);
      members[i] = members[kept - 1]!;
      kept--;
    }
    for (let i = 0; i < count; i++) c.reply.bulk(members[i]!);
    return;
  }

  // Case 4: few members of a big set: random picks until `count` distinct ones.
  const picked = new Set<string>();
  while (picked.size < count) {
    const m = s.randomMember(rng);
    if (picked.has(m)) continue;
    picked.add(m);
    c.reply.bulk(m);
  }
}

// ---- Multi-set operations ---------------------------------------------------------------------

/** Looks up every key as a set (missing → null); replies WRONGTYPE and returns null if any is not. */
function lookupSets(c: Client, keys: readonly string[]): (SetValue | null)[] | null {
  const sets: (SetValue | null)[] = [];
  for (const key of keys) {
    const s = asSet(c.server.lookupRead(c.db, key));
    if (s === undefined) {
      c.reply.error(WRONGTYPE);
      return null;
    }
    sets.push(s);
  }
  return sets;
}

/**
 * Stores `result` at `dstKey` (replacing it and its TTL) or, when empty, deletes `dstKey`.
 * Replies the stored cardinality.
 */
function storeResult(c: Client, dstKey: string, result: SetValue, event: string): void {
  const n = result.size();
  if (n > 0) {
    c.db.set(dstKey, result);
    c.reply.integer(n);
    c.db.modified(dstKey, 's', event);
  } else {
    c.reply.zero();
    if (c.db.delete(dstKey)) c.db.modified(dstKey, 'g', 'del');
  }
}

/**
 * SINTER, SMEMBERS, SINTERSTORE and SINTERCARD (`cardinalityOnly`, stopping at `limit` when
 * it is not 0).
 */
function sinterGeneric(c: Client, keys: readonly string[], dstKey: string | null, cardinalityOnly: boolean, limit: number): void {
  const found = lookupSets(c, keys);
  if (found === null) return;
  if (found.includes(null)) {
    // The intersection with an empty set is empty.
    if (dstKey !== null) {
      if (c.db.delete(dstKey)) c.db.modified(dstKey, 'g', 'del');
      c.reply.zero();
    } else if (cardinalityOnly) {
      c.reply.zero();
    } else {
      c.reply.set(0);
    }
    return;
  }
  const sets = (found as SetValue[]).sort((a, b) => a.size() - b.size());
  const first = sets[0]!;
  const others = sets.slice(1).filter((s) => s !== first);
  const isInAll = (m: string): boolean => {
    for (const s of others) if (!s.has(m)) return false;
    return true;
  };

  if (cardinalityOnly) {
    let cardinality = 0;
    for (const m of first.values()) {
      if (!isInAll(m)) continue;
      cardinality++;
      if (limit !== 0 && cardinality >= limit) break;
    }
    c.reply.integer(cardinality);
    return;
  }
  if (dstKey !== null) {
    const result = newSet(c);
    for (const m of first.values()) if (isInAll(m)) result.add(m);
    storeResult(c, dstKey, result, 'sinterstore');
    return;
  }
  if (others.length === 0) {
    // SMEMBERS, or SINTER of one set: its members, count known upfront.
    replySet(c, first);
    return;
  }
  const mark = c.reply.beginDeferred();
  let cardinality = 0;
  for (const m of first.values()) {
    if (!isInAll(m)) continue;
    c.reply.bulk(m);
    cardinality++;
  }
  c.reply.endDeferred(mark, 'set', cardinality);
}

function sinter(c: Client): void {
  sinterGeneric(c, c.argv.slice(1), null, false, 0);
}

function sinterstore(c: Client): void {
  sinterGeneric(c, c.argv.slice(2), c.argv[1]!, false, 0);
}

function sintercard(c: Client): void {
  const argv = c.argv;
  const numkeys = rangeLong(c, argv[1]!, 1n, LONG_MAX, 'ERR numkeys should be greater than 0');
  if (numkeys === null) return;
  if (numkeys > BigInt(argv.length - 2)) {
    c.reply.error("ERR Number of keys can't be greater than number of args");
    return;
  }
  const n = Number(numkeys);
  let limit = 0;
  for (let j = 2 + n; j < argv.length; j++) {
    const moreArgs = argv.length - 1 - j;
    if (is(argv[j]!, 'limit') && moreArgs > 0) {
      j++;
      const l = rangeLong(c, argv[j]!, 0n, LONG_MAX, "ERR LIMIT can't be negative");
      if (l === null) return;
      limit = l > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(l);
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  sinterGeneric(c, argv.slice(2, 2 + n), null, true, limit);
}

/** SUNION, SDIFF and their STORE forms. */
function sunionDiffGeneric(c: Client, keys: readonly string[], dstKey: string | null, op: 'union' | 'diff'): void {
  const sets = lookupSets(c, keys);
  if (sets === null) return;
  const result = newSet(c);
  const first = sets[0]!;
  if (op === 'union') {
    for (const s of sets) if (s !== null) for (const m of s.values()) result.add(m);
  } else if (first !== null && !sets.slice(1).includes(first)) {
    // Subtracting the first set from itself leaves nothing; otherwise keep the members of the
    // first set that no other set has (Redis's algorithm 1; the result is the same for 2).
    const others = sets.slice(1).filter((s): s is SetValue => s !== null);
    others.sort((a, b) => b.size() - a.size());
    outer: for (const m of first.values()) {
      for (const s of others) if (s.has(m)) continue outer;
      result.add(m);
    }
  }
  if (dstKey === null) {
    replySet(c, result);
    return;
  }
  storeResult(c, dstKey, result, op === 'union' ? 'sunionstore' : 'sdiffstore');
}

// ---- SSCAN ------------------------------------------------------------------------------------

/**
 * SSCAN key cursor [MATCH pattern] [COUNT count]. Checks in Redis's order: cursor, key/type,
 * then options. An intset-encoded set answers in one call with cursor 0 (in numeric order), as
 * in Redis; larger ones step a live Set iterator (keyspace/scan.ts).
 */
function sscan(c: Client): void {
  const cursor = parseCursor(c.argv[2]!);
  if (cursor === null) {
    c.reply.error(INVALID_CURSOR);
    return;
  }
  const s = readSet(c, c.argv[1]!);
  if (s === undefined) return;
  if (s === null) {
    c.reply.array(2);
    c.reply.bulk('0');
    c.reply.emptyArray();
    return;
  }
  const opts = parseScanOptions(c, 3, false);
  if (opts === null) return;
  const found: string[] = [];
  const collect = (m: string): void => {
    if (opts.pattern === null || stringMatch(opts.pattern, m)) found.push(m);
  };
  let next = '0';
  if (s.encoding() === 'intset') for (const m of s.values()) collect(m);
  else next = scanStep(s, cursor, () => s.liveValues(), opts.count, collect, s.size());
  c.reply.array(2);
  c.reply.bulk(next);
  c.reply.array(found.length);
  for (const m of found) c.reply.bulk(m);
}

export const commands: CommandHandlers = {
  sadd,
  srem,
  smembers: sinter,
  sismember,
  smismember,
  scard,
  spop,
  srandmember,
  smove,
  sinter,
  sinterstore,
  sintercard,
  sunion: (c) => sunionDiffGeneric(c, c.argv.slice(1), null, 'union'),
  sunionstore: (c) => sunionDiffGeneric(c, c.argv.slice(2), c.argv[1]!, 'union'),
  sdiff: (c) => sunionDiffGeneric(c, c.argv.slice(1), null, 'diff'),
  sdiffstore: (c) => sunionDiffGeneric(c, c.argv.slice(2), c.argv[1]!, 'diff'),
  sscan,
};
