/**
 * The generic keyspace commands (Redis's db.c and expire.c): DEL, UNLINK, EXISTS, TYPE, KEYS,
 * SCAN, RANDOMKEY, RENAME, RENAMENX, MOVE, COPY, SWAPDB, TOUCH, the EXPIRE family, TTL/PTTL,
 * EXPIRETIME/PEXPIRETIME and PERSIST.
 *
 * Expiry times are absolute unix times in ms kept in each database's `expires` dict. Relative
 * forms are turned into absolute ones at the command's (frozen) time and propagated as
 * PEXPIREAT, so replicas and the AOF agree however late they apply them; a time already in the
 * past deletes the key and propagates DEL (UNLINK with lazyfree-lazy-expire), except on a
 * replica, which keeps the key until its master's DEL arrives.
 *
 * Keyspace events are Redis's, all class 'g': del, expire, rename_from/rename_to,
 * move_from/move_to, copy_to, persist.
 */
import { ArenaValue, arena } from '../types/value-arena.js';
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Database } from '../keyspace/db.js';
import { typeOf, type RedisValue } from '../types/value.js';
import { parseInt64, parseInteger, is } from '../protocol/args.js';
import { NOT_INTEGER, NO_SUCH_KEY, SYNTAX } from '../protocol/errors.js';
import { stringMatch, matchesEverything } from '../keyspace/glob.js';
import { INVALID_CURSOR, parseCursor, parseScanOptions, scanStep } from '../keyspace/scan.js';
import { freedLazily } from '../keyspace/lazyfree.js';

const SAME_OBJECT = 'ERR source and destination objects are the same';
const DB_OUT_OF_RANGE = 'ERR DB index is out of range';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const LLONG_MAX = 2n ** 63n - 1n;
const LLONG_MIN = -(2n ** 63n);

/**
 * getIntFromObjectOrReply: a 32-bit int, or an error reply and null. `error` (when given)
 * replaces both of Redis's default texts, as its `msg` argument does.
 */
function intArg(c: Client, arg: string, error?: string): number | null {
  const n = parseInteger(arg);
  if (n === null) {
    c.reply.error(error ?? NOT_INTEGER);
    return null;
  }
  if (n < INT32_MIN || n > INT32_MAX) {
    c.reply.error(error ?? `ERR value is out of range, value must between ${INT32_MIN} and ${INT32_MAX}`);
    return null;
  }
  return n;
}

/** The database selected by a DB-index argument, or an error reply and undefined. */
function targetDb(c: Client, arg: string): Database | undefined {
  const id = intArg(c, arg);
  if (id === null) return undefined;
  const db = c.server.db(id);
  if (db === undefined) c.reply.error(DB_OUT_OF_RANGE);
  return db;
}

/** True when the key has a TTL that has passed (keyIsExpired: no deletion, no role check). */
function isLogicallyExpired(c: Client, db: Database, key: string): boolean {
  if (db.expires.size === 0) return false;
  const when = db.expires.get(key);
  return when !== undefined && when <= c.server.expiryNow();
}

/** A private copy of a value for COPY (strings edited in place as Buffers are copied too). */
function duplicate(v: RedisValue): RedisValue {
  if (typeof v === 'string' || typeof v === 'number') return v;
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof ArenaValue) return arena.latin1(v.handle);
  return v.clone();
}

// ---- DEL / UNLINK / EXISTS / TOUCH / TYPE -----------------------------------------------------

function deleteKeys(c: Client): void {
  const db = c.db;
  const stats = c.server.stats;
  // delGenericCommand's lazy flag: UNLINK, or DEL under lazyfree-lazy-user-del.
  const lazy = c.server.settings.lazyfreeLazyUserDel || c.argv[0]!.toLowerCase() === 'unlink';
  let deleted = 0;
  for (let i = 1; i < c.argv.length; i++) {
    const key = c.argv[i]!;
    // lookup() applies lazy expiry first: an expired key is deleted (and propagated) as
    // expired, not counted here.
    const value = db.lookup(key);
    if (value === undefined) continue;
    if (lazy && freedLazily(value)) stats.lazyfreedObjects++;
    db.delete(key);
    db.modified(key, 'g', 'del');
    deleted++;
  }
  c.reply.integer(deleted);
}

/** EXISTS: counts every argument that names an existing key, duplicates included. */
function exists(c: Client): void {
  let n = 0;
  for (let i = 1; i < c.argv.length; i++) if (c.server.lookupRead(c.db, c.argv[i]!, true) !== undefined) n++;
  c.reply.integer(n);
}

/** TOUCH: EXISTS that counts as an access (updates the keys' LRU clock / LFU counter). */
function touch(c: Client): void {
  let n = 0;
  for (let i = 1; i < c.argv.length; i++) if (c.server.lookupRead(c.db, c.argv[i]!) !== undefined) n++;
  c.reply.integer(n);
}

function type(c: Client): void {
  const v = c.server.lookupRead(c.db, c.argv[1]!, true);
  c.reply.status(v === undefined ? 'none' : typeOf(v));
}

// ---- KEYS / SCAN / RANDOMKEY ------------------------------------------------------------------

function keys(c: Client): void {
  const db = c.db;
  const pattern = c.argv[1]!;
  const all = matchesEverything(pattern);
  const out: string[] = [];
  for (const key of db.dict.keys()) {
    if ((all || stringMatch(pattern, key)) && !isLogicallyExpired(c, db, key)) out.push(key);
  }
  c.reply.array(out.length);
  for (const key of out) {
    c.reply.bulk(key);
    if (c.closeAsap) break;
  }
}

function scan(c: Client): void {
  const cursor = parseCursor(c.argv[1]!);
  if (cursor === null) {
    c.reply.error(INVALID_CURSOR);
    return;
  }
  const opts = parseScanOptions(c, 2, true);
  if (opts === null) return;
  const db = c.db;
  const dict = db.dict;
  const found: string[] = [];
  // KeyDict's iterator bounds itself per Map (dict.ts), so no overall size bound is passed.
  const next = scanStep(dict, cursor, () => dict.keys(), opts.count, (key: string) => found.push(key));
  // Filter after sampling, as Redis does: pattern, then type, then expiry.
  const out: string[] = [];
  for (const key of found) {
    if (opts.pattern !== null && !stringMatch(opts.pattern, key)) continue;
    if (opts.type !== null) {
      const v = c.server.lookupRead(db, key);
      const name = v === undefined ? 'none' : typeOf(v);
      if (opts.type.toLowerCase() !== name) continue;
    }
    // Also drops a key removed since it was sampled (FLUSHDB while a cursor was open).
    if (!dict.has(key) || db.expireIfNeeded(key)) continue;
    out.push(key);
  }
  c.reply.array(2);
  c.reply.bulk(next);
  c.reply.array(out.length);
  for (const key of out) c.reply.bulk(key);
}

function randomkey(c: Client): void {
  const key = c.db.randomKey();
  if (key === undefined) c.reply.nullBulk();
  else c.reply.bulk(key);
}

// ---- RENAME / RENAMENX / MOVE / COPY / SWAPDB ----------------------------------------------------

function renameGeneric(c: Client, nx: boolean): void {
  const db = c.db;
  const src = c.argv[1]!;
  const dst = c.argv[2]!;
  const value = db.lookup(src);
  if (value === undefined) {
    c.reply.error(NO_SUCH_KEY);
    return;
  }
  if (src === dst) {
    if (nx) c.reply.integer(0);
    else c.reply.ok();
    return;
  }
  const expire = db.getExpire(src);
  if (db.lookup(dst) !== undefined) {
    if (nx) {
      c.reply.integer(0);
      return;
    }
    db.delete(dst);
  }
  db.set(dst, value);
  if (expire !== -1) db.setExpire(dst, expire);
  db.take(src); // not delete(): the value lives on under dst (an arena value is not freed)
  // renameGenericCommand: both keys signalled, then both events, one change.
  db.signalModified(src);
  db.signalModified(dst);
  db.notify('g', 'rename_from', src);
  db.notify('g', 'rename_to', dst);
  db.counted();
  if (nx) c.reply.integer(1);
  else c.reply.ok();
}

function rename(c: Client): void {
  renameGeneric(c, false);
}

function renamenx(c: Client): void {
  renameGeneric(c, true);
}

function move(c: Client): void {
  if (c.server.cluster !== null) {
    c.reply.error('ERR MOVE is not allowed in cluster mode');
    return;
  }
  const src = c.db;
  const key = c.argv[1]!;
  const dst = targetDb(c, c.argv[2]!);
  if (dst === undefined) return;
  if (dst === src) {
    c.reply.error(SAME_OBJECT);
    return;
  }
  const value = src.lookup(key);
  if (value === undefined) {
    c.reply.integer(0);
    return;
  }
  const expire = src.getExpire(key);
  if (dst.lookup(key) !== undefined) {
    c.reply.integer(0);
    return;
  }
  dst.set(key, value);
  if (expire !== -1) dst.setExpire(key, expire);
  src.take(key); // not delete(): the value lives on in dst
  src.signalModified(key);
  dst.signalModified(key);
  src.notify('g', 'move_from', key);
  dst.notify('g', 'move_to', key);
  src.counted();
  c.reply.integer(1);
}

function copy(c: Client): void {
  const src = c.db;
  let dst = src;
  let replace = false;
  const argv = c.argv;
  for (let j = 3; j < argv.length; j++) {
    if (is(argv[j]!, 'replace')) {
      replace = true;
    } else if (is(argv[j]!, 'db') && j + 1 < argv.length) {
      const db = targetDb(c, argv[++j]!);
      if (db === undefined) return;
      dst = db;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  if (c.server.cluster !== null && (src.id !== 0 || dst.id !== 0)) {
    c.reply.error('ERR Copying to another database is not allowed in cluster mode');
    return;
  }
  const key = argv[1]!;
  const newKey = argv[2]!;
  if (src === dst && key === newKey) {
    c.reply.error(SAME_OBJECT);
    return;
  }
  const value = c.server.lookupRead(src, key);
  if (value === undefined) {
    c.reply.integer(0);
    return;
  }
  const expire = src.getExpire(key);
  if (dst.lookup(newKey) !== undefined) {
    if (!replace) {
      c.reply.integer(0);
      return;
    }
    dst.delete(newKey);
  }
  dst.set(newKey, duplicate(value));
  if (expire !== -1) dst.setExpire(newKey, expire);
  dst.modified(newKey, 'g', 'copy_to');
  c.reply.integer(1);
}

function swapdb(c: Client): void {
  if (c.server.cluster !== null) {
    c.reply.error('ERR SWAPDB is not allowed in cluster mode');
    return;
  }
  const id1 = intArg(c, c.argv[1]!, 'ERR invalid first DB index');
  if (id1 === null) return;
  const id2 = intArg(c, c.argv[2]!, 'ERR invalid second DB index');
  if (id2 === null) return;
  const db1 = c.server.db(id1);
  const db2 = c.server.db(id2);
  if (db1 === undefined || db2 === undefined) {
    c.reply.error(DB_OUT_OF_RANGE);
    return;
  }
  if (db1 !== db2) {
    db1.swapWith(db2);
    // Invalidates WATCHes on both dbs and lets clients blocked on keys there re-check them
    // (the blocking module re-signals every waited key of a touched db).
    c.server.signalDbTouched(id1, id2);
    c.server.signalDbTouched(id2, id1);
  }
  c.db.counted();
  c.reply.ok();
}

// ---- EXPIRE family --------------------------------------------------------------------------------

const EXPIRE_NX = 1;
const EXPIRE_XX = 2;
const EXPIRE_GT = 4;
const EXPIRE_LT = 8;

/** parseExtendedExpireArgumentsOrReply: NX|XX|GT|LT after the time; null after an error. */
function expireFlags(c: Client): number | null {
  let flags = 0;
  for (let j = 3; j < c.argv.length; j++) {
    const opt = c.argv[j]!;
    if (is(opt, 'nx')) flags |= EXPIRE_NX;
    else if (is(opt, 'xx')) flags |= EXPIRE_XX;
    else if (is(opt, 'gt')) flags |= EXPIRE_GT;
    else if (is(opt, 'lt')) flags |= EXPIRE_LT;
    else {
      c.reply.error(`ERR Unsupported option ${opt}`);
      return null;
    }
  }
  if (flags & EXPIRE_NX && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) {
    c.reply.error('ERR NX and XX, GT or LT options at the same time are not compatible');
    return null;
  }
  if (flags & EXPIRE_GT && flags & EXPIRE_LT) {
    c.reply.error('ERR GT and LT options at the same time are not compatible');
    return null;
  }
  return flags;
}

/** expireGenericCommand: `relative` adds the current time; `seconds` scales by 1000. */
function expireGeneric(c: Client, relative: boolean, seconds: boolean): void {
  const db = c.db;
  const key = c.argv[1]!;
  const flags = expireFlags(c);
  if (flags === null) return;
  let when = parseInt64(c.argv[2]!);
  if (when === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  const invalid = `ERR invalid expire time in '${c.cmd?.fullName ?? c.argv[0]!.toLowerCase()}' command`;
  if (seconds) {
    if (when > LLONG_MAX / 1000n || when < LLONG_MIN / 1000n) {
      c.reply.error(invalid);
      return;
    }
    when *= 1000n;
  }
  const base = relative ? BigInt(c.server.expiryNow()) : 0n;
  if (when > LLONG_MAX - base) {
    c.reply.error(invalid);
    return;
  }
  when += base;
  if (db.lookup(key) === undefined) {
    c.reply.integer(0);
    return;
  }
  const whenMs = Number(when);
  if (flags !== 0) {
    const current = db.getExpire(key);
    if (flags & EXPIRE_NX && current !== -1) return c.reply.integer(0);
    if (flags & EXPIRE_XX && current === -1) return c.reply.integer(0);
    // No TTL counts as an infinite one: GT never beats it, LT always does.
    if (flags & EXPIRE_GT && (current === -1 || whenMs <= current)) return c.reply.integer(0);
    if (flags & EXPIRE_LT && current !== -1 && whenMs >= current) return c.reply.integer(0);
  }
  // checkAlreadyExpired: a replica (or our master's stream) and AOF loading keep the key with
  // a past TTL and wait for the master's DEL.
  if (whenMs <= c.server.expiryNow() && !c.server.loading && !c.server.role.isReplica() && !c.isMaster) {
    const lazy = c.server.settings.lazyfreeLazyExpire;
    db.delete(key);
    c.propagateArgv = [lazy ? 'UNLINK' : 'DEL', key];
    db.modified(key, 'g', 'del');
    c.reply.integer(1);
    return;
  }
  db.setExpire(key, whenMs);
  c.propagateArgv = ['PEXPIREAT', key, when.toString(), ...c.argv.slice(3)];
  db.modified(key, 'g', 'expire');
  c.reply.integer(1);
}

function expire(c: Client): void {
  expireGeneric(c, true, true);
}
function pexpire(c: Client): void {
  expireGeneric(c, true, false);
}
function expireat(c: Client): void {
  expireGeneric(c, false, true);
}
function pexpireat(c: Client): void {
  expireGeneric(c, false, false);
}

/** ttlGenericCommand: -2 missing key, -1 no TTL; else remaining (or absolute) s/ms. */
function ttlGeneric(c: Client, ms: boolean, absolute: boolean): void {
  const key = c.argv[1]!;
  if (c.server.lookupRead(c.db, key, true) === undefined) {
    c.reply.integer(-2);
    return;
  }
  const when = c.db.getExpire(key);
  if (when === -1) {
    c.reply.integer(-1);
    return;
  }
  let t = absolute ? when : when - c.server.clock.now();
  if (t < 0) t = 0;
  c.reply.integer(ms ? t : Math.floor((t + 500) / 1000));
}

function ttl(c: Client): void {
  ttlGeneric(c, false, false);
}
function pttl(c: Client): void {
  ttlGeneric(c, true, false);
}
function expiretime(c: Client): void {
  ttlGeneric(c, false, true);
}
function pexpiretime(c: Client): void {
  ttlGeneric(c, true, true);
}

function persist(c: Client): void {
  const key = c.argv[1]!;
  if (c.db.lookup(key) !== undefined && c.db.persist(key)) {
    c.db.modified(key, 'g', 'persist');
    c.reply.integer(1);
  } else {
    c.reply.integer(0);
  }
}

export const commands: CommandHandlers = {
  del: deleteKeys,
  unlink: deleteKeys,
  exists,
  touch,
  type,
  keys,
  scan,
  randomkey,
  rename,
  renamenx,
  move,
  copy,
  swapdb,
  expire,
  pexpire,
  expireat,
  pexpireat,
  ttl,
  pttl,
  expiretime,
  pexpiretime,
  persist,
};
