/**
 * String commands (Redis's t_string.c): SET and its variants, GET/GETEX/GETDEL/GETSET, MGET/
 * MSET/MSETNX, the INCR family, INCRBYFLOAT, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, LCS.
 *
 * Values are stored in their cheapest faithful form (see types/value.ts): a latin1 string, a
 * number for canonical safe integers (INCR's fast path), or a Buffer once edited in place
 * (APPEND/SETRANGE grow it with spare capacity, see types/string-ops.ts).
 *
 * Propagation follows Redis 7.0: relative expirations become absolute (SET … PXAT, GETEX →
 * PEXPIREAT), GETDEL → DEL, GETSET → SET, INCRBYFLOAT → SET … KEEPTTL, SET … GET drops GET.
 */
import { LONG_ARG } from '../protocol/parser.js';
import { ArenaValue, arena, arenaValue } from '../types/value-arena.js';
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { encodeString, isStringValue, stringOf, type StringValue } from '../types/value.js';
import { NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONGTYPE, wrongArity } from '../protocol/errors.js';
import { parseInt64, parseInteger } from '../protocol/args.js';
import { appendBytes, allocOwned, bytesOf, latin1Of, mutableBytes } from '../types/string-ops.js';
import { incrByFloatText } from '../types/long-double.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const STRING_TOO_LONG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)';

// ---- shared helpers ----------------------------------------------------------------------------

/** Replies a string value's bytes as a bulk string. */
export function replyString(c: Client, v: StringValue): void {
  if (typeof v === 'string') c.reply.bulk(v);
  else if (v instanceof ArenaValue) {
    const reply = c.reply;
    const n = v.length;
    const at = reply.beginBulk(n); // first: it may grow (replace) reply.buf
    arena.copyTo(v.handle, reply.buf, at);
    reply.endBulk(n);
  }
  else if (typeof v === 'number') c.reply.bulkInteger(v);
  else c.reply.bulkBytes(v);
}

/** Length in bytes of a string value. */
function byteLength(v: StringValue): number {
  return typeof v === 'string' ? v.length : typeof v === 'number' ? String(v).length : v.length;
}

/** Clients whose writes are applied without limits (our master's stream). */
function mustObey(c: Client): boolean {
  return c.isMaster || c.kind === 'master';
}

/** checkStringLength: refuses results longer than proto-max-bulk-len. */
export function checkStringLength(c: Client, size: number, append: number): boolean {
  if (mustObey(c)) return true;
  if (size + append > c.server.settings.protoMaxBulkLen) {
    c.reply.error(STRING_TOO_LONG);
    return false;
  }
  return true;
}

/** getGenericCommand: replies the value (or null); false after a WRONGTYPE error. */
function replyGet(c: Client, key: string): boolean {
  const v = c.server.lookupRead(c.db, key);
  if (v === undefined) {
    c.reply.nullBulk();
    return true;
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return false;
  }
  replyString(c, v);
  return true;
}

// ---- SET and its extended options ------------------------------------------------------------

const F_NX = 1;
const F_XX = 2;
const F_EX = 4;
const F_PX = 8;
const F_KEEPTTL = 16;
const F_GET = 32;
const F_EXAT = 64;
const F_PXAT = 128;
const F_PERSIST = 256;
const F_ANY_EXPIRE = F_EX | F_PX | F_EXAT | F_PXAT;

interface ExtendedArgs {
  flags: number;
  /** The EX/PX/EXAT/PXAT argument, or null. */
  expire: string | null;
}

/** parseExtendedStringArgumentsOrReply: the option grammar shared by SET and GETEX. */
function parseExtended(c: Client, forSet: boolean): ExtendedArgs | null {
  const argv = c.argv;
  let flags = 0;
  let expire: string | null = null;
  for (let j = forSet ? 3 : 2; j < argv.length; j++) {
    const opt = argv[j]!.toLowerCase();
    const hasNext = j < argv.length - 1;
    if (opt === 'nx' && forSet && !(flags & F_XX)) flags |= F_NX;
    else if (opt === 'xx' && forSet && !(flags & F_NX)) flags |= F_XX;
    else if (opt === 'get' && forSet) flags |= F_GET;
    else if (opt === 'keepttl' && forSet && !(flags & (F_PERSIST | F_ANY_EXPIRE))) flags |= F_KEEPTTL;
    else if (opt === 'persist' && !forSet && !(flags & (F_ANY_EXPIRE | F_KEEPTTL))) flags |= F_PERSIST;
    else if (hasNext && !(flags & (F_KEEPTTL | F_PERSIST)) && (opt === 'ex' || opt === 'px' || opt === 'exat' || opt === 'pxat')) {
      const f = opt === 'ex' ? F_EX : opt === 'px' ? F_PX : opt === 'exat' ? F_EXAT : F_PXAT;
      if (flags & F_ANY_EXPIRE & ~f) {
        c.reply.error(SYNTAX);
        return null;
      }
      flags |= f;
      expire = argv[++j]!;
    } else {
      c.reply.error(SYNTAX);
      return null;
    }
  }
  return { flags, expire };
}

/**
 * getExpireMillisecondsOrReply: the absolute expiry in ms for an EX/PX/EXAT/PXAT argument, or
 * null after replying the error. The text names the command, as addReplyErrorExpireTime does.
 */
function expireMsOrReply(c: Client, arg: string, flags: number, cmdName: string): number | null {
  const seconds = (flags & (F_EX | F_EXAT)) !== 0;
  const relative = (flags & (F_EX | F_PX)) !== 0;
  const invalid = `ERR invalid expire time in '${cmdName}' command`;
  const small = arg.length <= 15 ? parseInteger(arg) : null;
  if (small !== null) {
    if (small <= 0) {
      c.reply.error(invalid);
      return null;
    }
    let ms = seconds ? small * 1000 : small;
    if (relative) ms += c.server.clock.now();
    if (Number.isSafeInteger(ms)) return ms;
  }
  const big = parseInt64(arg);
  if (big === null) {
    c.reply.error(NOT_INTEGER);
    return null;
  }
  if (big <= 0n || (seconds && big > INT64_MAX / 1000n)) {
    c.reply.error(invalid);
    return null;
  }
  let ms = seconds ? big * 1000n : big;
  if (relative) ms += BigInt(c.server.clock.now());
  if (ms > INT64_MAX) {
    // C's signed overflow turns this negative, which Redis reports as an invalid time.
    c.reply.error(invalid);
    return null;
  }
  return Number(ms);
}

/**
 * setGenericCommand. `okReply`/`abortReply` let SETNX answer 1/0; by default +OK and null.
 */
function setGeneric(c: Client, flags: number, key: string, value: string, expireArg: string | null, cmdName: string, integerReplies: boolean): void {
  let when = 0;
  if (expireArg !== null) {
    const ms = expireMsOrReply(c, expireArg, flags, cmdName);
    if (ms === null) return;
    when = ms;
  }
  if (flags & F_GET && !replyGet(c, key)) return;
  const db = c.db;
  const found = db.lookup(key) !== undefined;
  if ((flags & F_NX && found) || (flags & F_XX && !found)) {
    if (!(flags & F_GET)) {
      if (integerReplies) c.reply.zero();
      else c.reply.nullBulk();
    }
    return;
  }
  db.set(key, encodeString(value), (flags & F_KEEPTTL) !== 0);
  db.modified(key, '$', 'set');
  if (expireArg !== null) {
    db.setExpire(key, when);
    c.propagateArgv = ['SET', key, value, 'PXAT', String(when)];
    db.notify('g', 'expire', key);
  }
  if (!(flags & F_GET)) {
    if (integerReplies) c.reply.one();
    else c.reply.ok();
  } else if (expireArg === null) {
    // Propagate without the GET argument(s).
    c.propagateArgv = c.argv.filter((a, j) => j < 3 || a.length !== 3 || a.toLowerCase() !== 'get');
  }
}

function set(c: Client): void {
  const argv = c.argv;
  if (argv.length === 3) {
    // Plain SET: the hot path.
    const key = argv[1]!;
    const raw = argv[2]!;
    if (raw === LONG_ARG && c.parser.holdsLongArgument(argv)) {
      const p = c.parser;
      c.db.set(key, arenaValue(p.longBuf, p.longStart, p.longLen));
      c.db.modified(key, '$', 'set');
      c.reply.ok();
      return;
    }
    c.db.set(key, encodeString(raw));
    c.db.modified(key, '$', 'set');
    c.reply.ok();
    return;
  }
  const ext = parseExtended(c, true);
  if (ext === null) return;
  setGeneric(c, ext.flags, argv[1]!, argv[2]!, ext.expire, 'set', false);
}

function setnx(c: Client): void {
  setGeneric(c, F_NX, c.argv[1]!, c.argv[2]!, null, 'setnx', true);
}

function setex(c: Client): void {
  setGeneric(c, F_EX, c.argv[1]!, c.argv[3]!, c.argv[2]!, 'setex', false);
}

function psetex(c: Client): void {
  setGeneric(c, F_PX, c.argv[1]!, c.argv[3]!, c.argv[2]!, 'psetex', false);
}

// ---- GET family --------------------------------------------------------------------------------

function get(c: Client): void {
  replyGet(c, c.argv[1]!);
}

function getex(c: Client): void {
  const ext = parseExtended(c, false);
  if (ext === null) return;
  const key = c.argv[1]!;
  const db = c.db;
  const v = c.server.lookupRead(db, key);
  if (v === undefined) {
    c.reply.nullBulk();
    return;
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return;
  }
  let when = 0;
  if (ext.expire !== null) {
    const ms = expireMsOrReply(c, ext.expire, ext.flags, 'getex');
    if (ms === null) return;
    when = ms;
  }
  replyString(c, v);
  const server = c.server;
  if (ext.flags & (F_EXAT | F_PXAT) && when <= server.expiryNow() && !server.role.isReplica()) {
    // An absolute time already in the past deletes the key.
    db.delete(key);
    c.propagateArgv = [server.settings.lazyfreeLazyExpire ? 'UNLINK' : 'DEL', key];
    db.modified(key, 'g', 'del');
  } else if (ext.expire !== null) {
    db.setExpire(key, when);
    c.propagateArgv = ['PEXPIREAT', key, String(when)];
    db.modified(key, 'g', 'expire');
  } else if (ext.flags & F_PERSIST) {
    if (db.persist(key)) {
      c.propagateArgv = ['PERSIST', key];
      db.modified(key, 'g', 'persist');
    }
  }
}

function getdel(c: Client): void {
  const key = c.argv[1]!;
  if (!replyGet(c, key)) return;
  if (c.db.delete(key)) {
    c.propagateArgv = [c.server.settings.lazyfreeLazyUserDel ? 'UNLINK' : 'DEL', key];
    c.db.modified(key, 'g', 'del');
  }
}

function getset(c: Client): void {
  const key = c.argv[1]!;
  if (!replyGet(c, key)) return;
  c.db.set(key, encodeString(c.argv[2]!));
  c.db.modified(key, '$', 'set');
  c.propagateArgv = ['SET', key, c.argv[2]!];
}

function mget(c: Client): void {
  const argv = c.argv;
  c.reply.array(argv.length - 1);
  for (let j = 1; j < argv.length; j++) {
    const v = c.server.lookupRead(c.db, argv[j]!);
    if (v === undefined || !isStringValue(v)) c.reply.nullBulk();
    else replyString(c, v);
  }
}

/** MSET's key hashes (Database.warm), reused: no command runs inside another's set(). */
const MSET_HASHES: number[] = [];

function msetGeneric(c: Client, nx: boolean): void {
  const argv = c.argv;
  if (argv.length % 2 === 0) {
    c.reply.error(wrongArity(nx ? 'msetnx' : 'mset'));
    return;
  }
  const db = c.db;
  // The keys' cache misses overlap here instead of one per set() below (Database.warm).
  const hashes = MSET_HASHES;
  db.warm(argv, 1, 2, hashes);
  if (nx) {
    for (let j = 1; j < argv.length; j += 2) {
      if (db.lookup(argv[j]!) !== undefined) {
        c.reply.zero();
        return;
      }
    }
  }
  for (let j = 1, i = 0; j < argv.length; j += 2, i++) {
    db.set(argv[j]!, encodeString(argv[j + 1]!), false, hashes[i]!);
    db.modified(argv[j]!, '$', 'set');
  }
  if (nx) c.reply.one();
  else c.reply.ok();
}

function mset(c: Client): void {
  msetGeneric(c, false);
}

function msetnx(c: Client): void {
  msetGeneric(c, true);
}

// ---- INCR family -------------------------------------------------------------------------------

/** The integer a string value holds, as Redis's getLongLongFromObject reads it, or null. */
function integerOf(v: StringValue): number | bigint | null {
  if (typeof v === 'number') return v;
  const s = typeof v === 'string' ? v : latin1Of(v);
  if (s.length <= 15) return parseInteger(s);
  return parseInt64(s);
}

/** Stores the result of an increment, keeping any TTL (dbOverwrite/dbAdd). */
function storeKeepingTtl(c: Client, key: string, existed: boolean, v: StringValue): void {
  if (existed) c.db.replace(key, v);
  else c.db.set(key, v);
}

function incrDecr(c: Client, incr: number | bigint): void {
  const key = c.argv[1]!;
  const v = c.db.lookup(key);
  let current: number | bigint = 0;
  if (v !== undefined) {
    if (!isStringValue(v)) {
      c.reply.error(WRONGTYPE);
      return;
    }
    const n = integerOf(v);
    if (n === null) {
      c.reply.error(NOT_INTEGER);
      return;
    }
    current = n;
  }
  let result: number | bigint;
  if (typeof current === 'number' && typeof incr === 'number' && Number.isSafeInteger(current + incr)) {
    result = current + incr;
  } else {
    const a = BigInt(current);
    const b = BigInt(incr);
    if ((b < 0n && a < 0n && b < INT64_MIN - a) || (b > 0n && a > 0n && b > INT64_MAX - a)) {
      c.reply.error(OVERFLOW);
      return;
    }
    const r = a + b;
    result = r >= -9007199254740991n && r <= 9007199254740991n ? Number(r) : r;
  }
  storeKeepingTtl(c, key, v !== undefined, typeof result === 'number' ? result : result.toString());
  c.db.modified(key, '$', 'incrby');
  c.reply.integer(result);
}

/** The increment argument (int64), or null after replying the error. */
function incrementArg(c: Client, s: string): number | bigint | null {
  const n = s.length <= 15 ? parseInteger(s) : parseInt64(s);
  if (n === null) c.reply.error(NOT_INTEGER);
  return n;
}

function incr(c: Client): void {
  incrDecr(c, 1);
}

function decr(c: Client): void {
  incrDecr(c, -1);
}

function incrby(c: Client): void {
  const n = incrementArg(c, c.argv[2]!);
  if (n !== null) incrDecr(c, n);
}

function decrby(c: Client): void {
  const n = incrementArg(c, c.argv[2]!);
  if (n === null) return;
  if (n === INT64_MIN) {
    c.reply.error('ERR decrement would overflow');
    return;
  }
  incrDecr(c, -n);
}

function incrbyfloat(c: Client): void {
  const key = c.argv[1]!;
  const v = c.db.lookup(key);
  if (v !== undefined && !isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return;
  }
  const text = incrByFloatText(v === undefined ? null : latin1Of(v), c.argv[2]!);
  if (text === 'not-float') {
    c.reply.error(NOT_FLOAT);
    return;
  }
  if (text === 'nan-or-inf') {
    c.reply.error('ERR increment would produce NaN or Infinity');
    return;
  }
  // Redis stores the formatted text as a plain string (not int-encoded).
  storeKeepingTtl(c, key, v !== undefined, text);
  c.db.modified(key, '$', 'incrbyfloat');
  c.reply.bulk(text);
  // Replicate the final value so float formatting can never diverge on replicas or AOF.
  c.propagateArgv = ['SET', key, text, 'KEEPTTL'];
}

// ---- APPEND, STRLEN, ranges --------------------------------------------------------------------

function append(c: Client): void {
  const key = c.argv[1]!;
  const tail = c.argv[2]!;
  const db = c.db;
  const v = db.lookup(key);
  let total: number;
  if (v === undefined) {
    db.set(key, encodeString(tail));
    total = tail.length;
  } else {
    if (!isStringValue(v)) {
      c.reply.error(WRONGTYPE);
      return;
    }
    if (!checkStringLength(c, byteLength(v), tail.length)) return;
    const out = appendBytes(v, tail);
    if (out !== v) db.replace(key, out);
    total = out.length;
  }
  db.modified(key, '$', 'append');
  c.reply.integer(total);
}

function strlen(c: Client): void {
  const v = c.server.lookupRead(c.db, c.argv[1]!);
  if (v === undefined) c.reply.zero();
  else if (!isStringValue(v)) c.reply.error(WRONGTYPE);
  else c.reply.integer(byteLength(v));
}

function getrange(c: Client): void {
  let start = parseInteger(c.argv[2]!);
  let end = parseInteger(c.argv[3]!);
  if (start === null || end === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  const v = c.server.lookupRead(c.db, c.argv[1]!);
  if (v === undefined) {
    c.reply.bulk('');
    return;
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return;
  }
  const len = byteLength(v);
  if (start < 0 && end < 0 && start > end) {
    c.reply.bulk('');
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len === 0) {
    c.reply.bulk('');
  } else if (Buffer.isBuffer(v)) {
    c.reply.bulkBytes(v.subarray(start, end + 1));
  } else {
    c.reply.bulk(stringOf(v).slice(start, end + 1));
  }
}

function setrange(c: Client): void {
  const key = c.argv[1]!;
  const value = c.argv[3]!;
  const offset = parseInteger(c.argv[2]!);
  if (offset === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  if (offset < 0) {
    c.reply.error('ERR offset is out of range');
    return;
  }
  const db = c.db;
  const v = db.lookup(key);
  let out: Buffer;
  if (v === undefined) {
    if (value.length === 0) {
      c.reply.zero();
      return;
    }
    if (!checkStringLength(c, offset, value.length)) return;
    out = allocOwned(offset + value.length);
    db.set(key, out);
  } else {
    if (!isStringValue(v)) {
      c.reply.error(WRONGTYPE);
      return;
    }
    const olen = byteLength(v);
    if (value.length === 0) {
      c.reply.integer(olen);
      return;
    }
    if (!checkStringLength(c, offset, value.length)) return;
    out = mutableBytes(v, offset + value.length, true);
    if (out !== v) db.replace(key, out);
  }
  out.latin1Write(value, offset);
  db.modified(key, '$', 'setrange');
  c.reply.integer(out.length);
}

// ---- LCS -----------------------------------------------------------------------------------------

function lcs(c: Client): void {
  const argv = c.argv;
  const va = c.server.lookupRead(c.db, argv[1]!);
  const vb = c.server.lookupRead(c.db, argv[2]!);
  if ((va !== undefined && !isStringValue(va)) || (vb !== undefined && !isStringValue(vb))) {
    c.reply.error('ERR The specified keys must contain string values');
    return;
  }
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0;
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j]!.toLowerCase();
    const moreArgs = argv.length - 1 - j;
    if (opt === 'idx') getIdx = true;
    else if (opt === 'len') getLen = true;
    else if (opt === 'withmatchlen') withMatchLen = true;
    else if (opt === 'minmatchlen' && moreArgs > 0) {
      const n = parseInteger(argv[j + 1]!);
      if (n === null) {
        c.reply.error(NOT_INTEGER);
        return;
      }
      minMatchLen = n < 0 ? 0 : n;
      j++;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  if (getLen && getIdx) {
    c.reply.error('ERR If you want both the length and indexes, please just use IDX.');
    return;
  }
  const a = va === undefined ? Buffer.alloc(0) : bytesOf(va as StringValue);
  const b = vb === undefined ? Buffer.alloc(0) : bytesOf(vb as StringValue);
  const alen = a.length;
  const blen = b.length;
  const cells = (alen + 1) * (blen + 1);
  if (cells * 4 > c.server.settings.protoMaxBulkLen) {
    c.reply.error('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len');
    return;
  }
  // LCS(i,j) = length of the LCS of a[0..i) and b[0..j), row-major with rows of blen+1.
  const table = new Uint32Array(cells);
  const w = blen + 1;
  for (let i = 1; i <= alen; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= blen; j++) {
      if (ai === b[j - 1]) table[i * w + j] = table[(i - 1) * w + j - 1]! + 1;
      else {
        const l1 = table[(i - 1) * w + j]!;
        const l2 = table[i * w + j - 1]!;
        table[i * w + j] = l1 > l2 ? l1 : l2;
      }
    }
  }
  const total = table[alen * w + blen]!;
  const computeLcs = getIdx || !getLen;
  const result = computeLcs ? Buffer.alloc(total) : null;
  let mark = -1;
  let ranges = 0;
  if (getIdx) {
    c.reply.map(2);
    c.reply.bulk('matches');
    mark = c.reply.beginDeferred();
  }
  // Walk back from the end, emitting contiguous match ranges (same order and quirks as Redis).
  let idx = total;
  let i = alen;
  let j = blen;
  let aStart = alen;
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  while (computeLcs && i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result![idx - 1] = a[i - 1]!;
      if (aStart === alen) {
        aStart = i - 1;
        aEnd = i - 1;
        bStart = j - 1;
        bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      const l1 = table[(i - 1) * w + j]!;
      const l2 = table[i * w + j - 1]!;
      if (l1 > l2) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    const matchLen = aEnd - aStart + 1;
    if (emit) {
      if ((minMatchLen === 0 || matchLen >= minMatchLen) && mark >= 0) {
        c.reply.array(withMatchLen ? 3 : 2);
        c.reply.array(2);
        c.reply.integer(aStart);
        c.reply.integer(aEnd);
        c.reply.array(2);
        c.reply.integer(bStart);
        c.reply.integer(bEnd);
        if (withMatchLen) c.reply.integer(matchLen);
        ranges++;
      }
      aStart = alen;
    }
  }
  if (mark >= 0) {
    c.reply.endDeferred(mark, 'array', ranges);
    c.reply.bulk('len');
    c.reply.integer(total);
  } else if (getLen) {
    c.reply.integer(total);
  } else {
    c.reply.bulkBytes(result!);
  }
}

export const commands: CommandHandlers = {
  get,
  set,
  setnx,
  setex,
  psetex,
  getex,
  getdel,
  getset,
  mget,
  mset,
  msetnx,
  incr,
  decr,
  incrby,
  decrby,
  incrbyfloat,
  append,
  strlen,
  getrange,
  substr: getrange,
  setrange,
  lcs,
};
