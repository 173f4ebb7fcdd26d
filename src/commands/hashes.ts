/**
 * Hash commands (Redis's t_hash.c): HSET/HSETNX/HMSET, HGET/HMGET/HGETALL/HKEYS/HVALS, HDEL,
 * HLEN, HEXISTS, HSTRLEN, HINCRBY/HINCRBYFLOAT, HRANDFIELD, HSCAN.
 *
 * The structure itself is src/types/hash.ts. Handlers follow t_hash.c's order of checks so
 * that errors win in the same order as in Redis (argument parsing before the type check where
 * Redis does so). Every change goes through the keyspace's write API (`db.modified()`) with Redis's event names; an
 * emptied hash is deleted with a `del` event. HINCRBYFLOAT propagates as HSET with the final
 * value, as Redis 7.0 does.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { deleteMembers } from './members.js';
import { HashValue } from '../types/hash.js';
import { isStringValue } from '../types/value.js';
import { WRONGTYPE, SYNTAX, NOT_INTEGER, NOT_FLOAT, wrongArity } from '../protocol/errors.js';
import { parseInt64, is } from '../protocol/args.js';
import { INVALID_CURSOR, parseCursor, parseScanOptions, scanStep } from '../keyspace/scan.js';
import { stringMatch } from '../keyspace/glob.js';
import { parseLongDouble, addLongDouble, formatLongDoubleHuman, isInfinite, longDoubleFromInteger } from '../types/long-double.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** LONG_MAX and -LONG_MAX, HRANDFIELD's count range. */
const LONG_MAX = INT64_MAX;

// ---- Lookups ----------------------------------------------------------------------------------

/**
 * The hash at `key` for reading: a HashValue, null when missing, or undefined after replying
 * WRONGTYPE.
 */
function readHash(c: Client, key: string): HashValue | null | undefined {
  const v = c.server.lookupRead(c.db, key);
  if (v === undefined) return null;
  if (isStringValue(v) || v.type !== 'hash') {
    c.reply.error(WRONGTYPE);
    return undefined;
  }
  return v as HashValue;
}

/** The hash at `key` for writing: existing, null when missing, undefined after WRONGTYPE. */
function writeHash(c: Client, key: string): HashValue | null | undefined {
  const v = c.db.lookup(key);
  if (v === undefined) return null;
  if (isStringValue(v) || v.type !== 'hash') {
    c.reply.error(WRONGTYPE);
    return undefined;
  }
  return v as HashValue;
}

/** The hash at `key`, created (and added to the db) when missing; undefined after WRONGTYPE. */
function writeHashOrCreate(c: Client, key: string): HashValue | undefined {
  const h = writeHash(c, key);
  if (h === undefined) return undefined;
  if (h !== null) return h;
  const created = new HashValue(c.server.limits.hash);
  c.db.set(key, created);
  return created;
}

// ---- Writes -------------------------------------------------------------------------------------

/** HSET key field value [field value ...] and the deprecated HMSET (same, replies OK). */
function hsetGeneric(c: Client, isHmset: boolean): void {
  const argv = c.argv;
  if (argv.length % 2 === 1) {
    c.reply.error(wrongArity(isHmset ? 'hmset' : 'hset'));
    return;
  }
  const key = argv[1]!;
  const h = writeHashOrCreate(c, key);
  if (h === undefined) return;
  let created = 0;
  for (let i = 2; i < argv.length; i += 2) if (h.set(argv[i]!, argv[i + 1]!)) created++;
  if (isHmset) c.reply.ok();
  else c.reply.integer(created);
  c.db.modified(key, 'h', 'hset', (argv.length - 2) / 2);
}

function hsetnx(c: Client): void {
  const key = c.argv[1]!;
  const field = c.argv[2]!;
  const existing = writeHash(c, key);
  if (existing === undefined) return;
  if (existing !== null && existing.has(field)) {
    c.reply.zero();
    return;
  }
  const h = existing ?? writeHashOrCreate(c, key)!;
  h.set(field, c.argv[3]!);
  c.reply.one();
  c.db.modified(key, 'h', 'hset');
}

function hdel(c: Client): void {
  const key = c.argv[1]!;
  const h = writeHash(c, key);
  if (h === undefined) return;
  if (h === null) {
    c.reply.zero();
    return;
  }
  deleteMembers(c, key, h, 'h', 'hdel');
}

function hincrby(c: Client): void {
  const key = c.argv[1]!;
  const field = c.argv[2]!;
  const incr = parseInt64(c.argv[3]!);
  if (incr === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  const existing = writeHash(c, key);
  if (existing === undefined) return;
  let value = 0n;
  const current = existing?.get(field);
  if (current !== undefined) {
    const parsed = parseInt64(current);
    if (parsed === null) {
      c.reply.error('ERR hash value is not an integer');
      return;
    }
    value = parsed;
  }
  const result = value + incr;
  if (result < INT64_MIN || result > INT64_MAX) {
    c.reply.error('ERR increment or decrement would overflow');
    return;
  }
  const h = existing ?? writeHashOrCreate(c, key)!;
  h.set(field, result.toString());
  c.reply.integer(result);
  c.db.modified(key, 'h', 'hincrby');
}

function hincrbyfloat(c: Client): void {
  const key = c.argv[1]!;
  const field = c.argv[2]!;
  // Redis does this arithmetic in x87 long double; so does long-double.ts, bit for bit.
  const incr = parseLongDouble(c.argv[3]!);
  if (incr === null) {
    c.reply.error(NOT_FLOAT);
    return;
  }
  if (isInfinite(incr)) {
    c.reply.error('ERR value is NaN or Infinity');
    return;
  }
  const existing = writeHash(c, key);
  if (existing === undefined) return;
  let value = longDoubleFromInteger(0);
  const current = existing?.get(field);
  if (current !== undefined) {
    const parsed = parseLongDouble(current);
    if (parsed === null) {
      c.reply.error('ERR hash value is not a float');
      return;
    }
    value = parsed;
  }
  const result = addLongDouble(value, incr);
  if (result === null || isInfinite(result)) {
    c.reply.error('ERR increment would produce NaN or Infinity');
    return;
  }
  const text = formatLongDoubleHuman(result);
  const h = existing ?? writeHashOrCreate(c, key)!;
  h.set(field, text);
  c.reply.bulk(text);
  c.db.modified(key, 'h', 'hincrbyfloat');
  // Replicas and the AOF get the final value, never the float arithmetic.
  c.propagateArgv = ['HSET', key, field, text];
}

// ---- Reads ------------------------------------------------------------------------------------

function hget(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  const v = h?.get(c.argv[2]!);
  if (v === undefined) c.reply.nullBulk();
  else c.reply.bulk(v);
}

function hmget(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  const n = c.argv.length - 2;
  c.reply.array(n);
  for (let i = 2; i < c.argv.length; i++) {
    const v = h?.get(c.argv[i]!);
    if (v === undefined) c.reply.nullBulk();
    else c.reply.bulk(v);
  }
}

function hlen(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  c.reply.integer(h === null ? 0 : h.size());
}

function hstrlen(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  c.reply.integer(h === null ? 0 : h.valueLength(c.argv[2]!));
}

function hexists(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  if (h !== null && h.has(c.argv[2]!)) c.reply.one();
  else c.reply.zero();
}

function hgetall(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  if (h === null) {
    c.reply.map(0);
    return;
  }
  c.reply.map(h.size());
  for (const [f, v] of h.entries()) {
    c.reply.bulk(f);
    c.reply.bulk(v);
  }
}

function hkeys(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  if (h === null) {
    c.reply.emptyArray();
    return;
  }
  c.reply.array(h.size());
  for (const f of h.keys()) c.reply.bulk(f);
}

function hvals(c: Client): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  if (h === null) {
    c.reply.emptyArray();
    return;
  }
  c.reply.array(h.size());
  for (const v of h.values()) c.reply.bulk(v);
}

// ---- HRANDFIELD -------------------------------------------------------------------------------

/** Above this, HRANDFIELD's "remove random fields from a copy" strategy is used (Redis's 3). */
const HRANDFIELD_SUB_STRATEGY_MUL = 3;

function hrandfield(c: Client): void {
  const argv = c.argv;
  if (argv.length >= 3) {
    const l = parseInt64(argv[2]!);
    if (l === null) {
      c.reply.error(NOT_INTEGER);
      return;
    }
    if (l < -LONG_MAX) {
      c.reply.error(`ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`);
      return;
    }
    let withValues = false;
    if (argv.length > 4 || (argv.length === 4 && !is(argv[3]!, 'withvalues'))) {
      c.reply.error(SYNTAX);
      return;
    } else if (argv.length === 4) {
      withValues = true;
      if (l < -LONG_MAX / 2n || l > LONG_MAX / 2n) {
        c.reply.error('ERR value is out of range');
        return;
      }
    }
    hrandfieldWithCount(c, l, withValues);
    return;
  }
  const h = readHash(c, argv[1]!);
  if (h === undefined) return;
  if (h === null) c.reply.nullBulk();
  else c.reply.bulk(h.randomField(c.server.rng));
}

function hrandfieldWithCount(c: Client, l: bigint, withValues: boolean): void {
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  if (h === null || l === 0n) {
    c.reply.emptyArray();
    return;
  }
  const unique = l >= 0n;
  // Counts beyond the safe-integer range cannot be served anyway; clamp for arithmetic.
  const count = Number(unique ? l : -l);
  const size = h.size();
  const resp3 = c.reply.proto === 3;
  const rng = c.server.rng;
  const emit = (field: string, value: string | undefined): void => {
    if (withValues && resp3) c.reply.array(2);
    c.reply.bulk(field);
    if (withValues) c.reply.bulk(value!);
  };

  // Case 1: repeats allowed (or a single field): independent uniform picks, in pick order.
  if (!unique || count === 1) {
    c.reply.array(withValues && !resp3 ? count * 2 : count);
    for (let i = 0; i < count; i++) {
      const f = h.randomField(rng);
      emit(f, withValues ? h.get(f) : undefined);
      if (c.closeAsap) break;
    }
    return;
  }

  const replySize = Math.min(count, size);
  c.reply.array(withValues && !resp3 ? replySize * 2 : replySize);

  // Case 2: asked for at least the whole hash: all of it, in hash order.
  if (count >= size) {
    for (const [f, v] of h.entries()) emit(f, v);
    return;
  }

  // Case 3: most of the hash: copy it and drop random fields until `count` remain.
  if (count * HRANDFIELD_SUB_STRATEGY_MUL > size) {
    const fields = Array.from(h.keys());
    let remaining = fields.length;
    while (remaining > count) {
      const i = rng.below(remaining);
      fields[i] = fields[remaining - 1]!;
      remaining--;
    }
    for (let i = 0; i < count; i++) emit(fields[i]!, withValues ? h.get(fields[i]!) : undefined);
    return;
  }

  // Case 4: few fields of a big hash: random picks until `count` distinct ones.
  const picked = new Set<string>();
  while (picked.size < count) {
    const f = h.randomField(rng);
    if (picked.has(f)) continue;
    picked.add(f);
    emit(f, withValues ? h.get(f) : undefined);
  }
}

// ---- HSCAN ------------------------------------------------------------------------------------

/**
 * HSCAN key cursor [MATCH pattern] [COUNT count]. Checks in Redis's order: cursor, key/type,
 * then options. A listpack-encoded hash answers in one call with cursor 0, as in Redis;
 * larger ones step the hash's live iterator (keyspace/scan.ts). MATCH applies to fields.
 */
function hscan(c: Client): void {
  const cursor = parseCursor(c.argv[2]!);
  if (cursor === null) {
    c.reply.error(INVALID_CURSOR);
    return;
  }
  const h = readHash(c, c.argv[1]!);
  if (h === undefined) return;
  if (h === null) {
    c.reply.array(2);
    c.reply.bulk('0');
    c.reply.emptyArray();
    return;
  }
  const opts = parseScanOptions(c, 3, false);
  if (opts === null) return;
  const found: string[] = [];
  const collect = ([f, v]: [string, string]): void => {
    if (opts.pattern === null || stringMatch(opts.pattern, f)) found.push(f, v);
  };
  let next = '0';
  if (h.encoding() === 'listpack') for (const e of h.entries()) collect(e);
  else next = scanStep(h, cursor, () => h.entries(), opts.count, collect, h.size());
  c.reply.array(2);
  c.reply.bulk(next);
  c.reply.array(found.length);
  for (const x of found) c.reply.bulk(x);
}

export const commands: CommandHandlers = {
  hset: (c) => hsetGeneric(c, false),
  hmset: (c) => hsetGeneric(c, true),
  hsetnx,
  hget,
  hmget,
  hgetall,
  hdel,
  hlen,
  hexists,
  hkeys,
  hvals,
  hstrlen,
  hincrby,
  hincrbyfloat,
  hrandfield,
  hscan,
};
