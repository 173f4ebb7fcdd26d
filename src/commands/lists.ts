/**
 * List commands (Redis's t_list.c): pushes and pops at both ends, ranges, LINDEX/LSET/LINSERT/
 * LREM/LTRIM/LPOS, LMOVE/RPOPLPUSH, LMPOP, and the blocking BLPOP/BRPOP/BLMOVE/BRPOPLPUSH/
 * BLMPOP on top of server/blocking.ts.
 *
 * Replies, error texts, keyspace events and dirty counts follow Redis 7.0.15. A list that
 * becomes empty deletes its key (`del` event). Blocking commands propagate as their
 * non-blocking forms: served at once they rewrite their argv (BLPOP → LPOP key, BLMPOP → LPOP
 * key n, BLMOVE → LMOVE …); served later, the blocking machinery propagates what serve*()
 * queues with `propagator.also` (LPOP key, LMOVE src dst LEFT RIGHT, RPOPLPUSH src dst).
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Database } from '../keyspace/db.js';
import { ListValue, encodeElement, type ListElement } from '../types/list.js';
import { isStringValue } from '../types/value.js';
import { NOT_INTEGER, NO_SUCH_KEY, SYNTAX, WRONGTYPE, wrongArity } from '../protocol/errors.js';
import { is, parseInteger } from '../protocol/args.js';
import { blockForKeys, canBlock, parseBlockingTimeout } from '../server/blocking.js';

const HEAD = 0;
const TAIL = 1;
type Where = typeof HEAD | typeof TAIL;

const OUT_OF_RANGE = 'ERR index out of range';
const MUST_BE_POSITIVE = 'ERR value is out of range, must be positive';
const RANK_ZERO =
  "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";

// ---- helpers ---------------------------------------------------------------------------------------

/** The list at `key`; undefined when missing; null after replying WRONGTYPE. */
function listAt(c: Client, key: string, read: boolean): ListValue | undefined | null {
  const v = read ? c.server.lookupRead(c.db, key) : c.db.lookup(key);
  if (v === undefined) return undefined;
  if (isStringValue(v) || v.type !== 'list') {
    c.reply.error(WRONGTYPE);
    return null;
  }
  return v as ListValue;
}

function replyElement(c: Client, e: ListElement): void {
  if (typeof e === 'number') c.reply.bulkInteger(e);
  else c.reply.bulk(e);
}

/** getLongFromObjectOrReply with an optional custom message (which also covers non-integers). */
function longArg(c: Client, s: string, msg: string | null = null): number | null {
  const n = parseInteger(s);
  if (n === null) c.reply.error(msg ?? NOT_INTEGER);
  return n;
}

/** getRangeLongFromObjectOrReply(min..LONG_MAX). */
function longAtLeast(c: Client, s: string, min: number, msg: string): number | null {
  const n = parseInteger(s);
  if (n === null || n < min) {
    c.reply.error(msg);
    return null;
  }
  return n;
}

function whereArg(c: Client, s: string): Where | null {
  if (is(s, 'left')) return HEAD;
  if (is(s, 'right')) return TAIL;
  c.reply.error(SYNTAX);
  return null;
}

function popEvent(where: Where): string {
  return where === HEAD ? 'lpop' : 'rpop';
}

function pushEvent(where: Where): string {
  return where === HEAD ? 'lpush' : 'rpush';
}

/** Replies positions start..end (Redis's addListRangeReply, negative indexes allowed). */
function replyRange(c: Client, list: ListValue, start: number, end: number, reverse: boolean): void {
  const llen = list.length;
  if (start < 0) start = llen + start;
  if (end < 0) end = llen + end;
  if (start < 0) start = 0;
  if (start > end || start >= llen) {
    c.reply.emptyArray();
    return;
  }
  if (end >= llen) end = llen - 1;
  c.reply.array(end - start + 1);
  if (!reverse) {
    for (let i = start; i <= end; i++) replyElement(c, list.getRaw(i));
  } else {
    for (let i = end; i >= start; i--) replyElement(c, list.getRaw(i));
  }
}

/** Removes `count` elements from one end (count ≤ length). */
function dropEnd(list: ListValue, where: Where, count: number): void {
  if (count === list.length) {
    list.clear();
    return;
  }
  if (where === HEAD) list.trim(count, list.length - 1);
  else list.trim(0, list.length - 1 - count);
}

/** listElementsRemoved: deleting an emptied key, the pop event, `del`, the signal, dirty += count. */
function elementsRemoved(db: Database, key: string, where: Where, list: ListValue, count: number): void {
  const emptied = list.length === 0;
  if (emptied) db.delete(key);
  db.removed(key, 'l', popEvent(where), count, emptied);
}

/** listPopRangeAndReplyWithKey: [key, [elements…]] for LMPOP/BLMPOP; returns the count. */
function popRangeWithKey(c: Client, db: Database, list: ListValue, key: string, where: Where, count: number): number {
  const n = Math.min(count, list.length);
  c.reply.array(2);
  c.reply.bulk(key);
  if (where === HEAD) replyRange(c, list, 0, n - 1, false);
  else replyRange(c, list, -n, -1, true);
  dropEnd(list, where, n);
  elementsRemoved(db, key, where, list, n);
  return n;
}

/** lmoveHandlePush: pushes onto the destination (creating it) and replies the element. */
function pushToDestination(c: Client, db: Database, dstKey: string, dst: ListValue | undefined, value: ListElement, where: Where): void {
  let list = dst;
  if (list === undefined) {
    list = new ListValue();
    db.set(dstKey, list);
  }
  if (where === HEAD) list.pushHeadRaw(value);
  else list.pushTailRaw(value);
  db.signalModified(dstKey);
  db.notify('l', pushEvent(where), dstKey);
  replyElement(c, value);
}

/**
 * The move itself (source known non-empty, destination checked): pop, push, events, delete an
 * emptied source. Shared by LMOVE, RPOPLPUSH and serving BLMOVE/BRPOPLPUSH.
 */
function moveElement(c: Client, db: Database, srcKey: string, src: ListValue, dstKey: string, dst: ListValue | undefined, from: Where, to: Where): void {
  const value = from === HEAD ? src.popHeadRaw()! : src.popTailRaw()!;
  pushToDestination(c, db, dstKey, dst, value, to);
  db.notify('l', popEvent(from), srcKey);
  if (src.length === 0) {
    db.delete(srcKey);
    db.notify('g', 'del', srcKey);
  }
  db.signalModified(srcKey);
  db.counted();
}

/** The destination list for a move; undefined if missing; null after WRONGTYPE. */
function destinationAt(c: Client, db: Database, key: string): ListValue | undefined | null {
  const v = db.lookup(key);
  if (v === undefined) return undefined;
  if (isStringValue(v) || v.type !== 'list') {
    c.reply.error(WRONGTYPE);
    return null;
  }
  return v as ListValue;
}

// ---- pushes ----------------------------------------------------------------------------------------

function pushGeneric(c: Client, where: Where, onlyIfExists: boolean): void {
  const argv = c.argv;
  const key = argv[1]!;
  let list = listAt(c, key, false);
  if (list === null) return;
  if (list === undefined) {
    if (onlyIfExists) {
      c.reply.zero();
      return;
    }
    list = new ListValue();
    c.db.set(key, list);
  }
  if (where === HEAD) for (let j = 2; j < argv.length; j++) list.pushHead(argv[j]!);
  else for (let j = 2; j < argv.length; j++) list.pushTail(argv[j]!);
  c.reply.integer(list.length);
  c.db.modified(key, 'l', pushEvent(where), argv.length - 2);
}

const lpush = (c: Client): void => pushGeneric(c, HEAD, false);
const rpush = (c: Client): void => pushGeneric(c, TAIL, false);
const lpushx = (c: Client): void => pushGeneric(c, HEAD, true);
const rpushx = (c: Client): void => pushGeneric(c, TAIL, true);

// ---- pops ------------------------------------------------------------------------------------------

function popGeneric(c: Client, where: Where): void {
  const argv = c.argv;
  if (argv.length > 3) {
    c.reply.error(wrongArity(c.cmd?.fullName ?? argv[0]!.toLowerCase()));
    return;
  }
  const hasCount = argv.length === 3;
  let count = 0;
  if (hasCount) {
    const n = longAtLeast(c, argv[2]!, 0, MUST_BE_POSITIVE);
    if (n === null) return;
    count = n;
  }
  const key = argv[1]!;
  const list = listAt(c, key, false);
  if (list === null) return;
  if (list === undefined) {
    if (hasCount) c.reply.nullArray();
    else c.reply.nullBulk();
    return;
  }
  if (hasCount && count === 0) {
    c.reply.emptyArray();
    return;
  }
  if (!hasCount) {
    const e = where === HEAD ? list.popHeadRaw()! : list.popTailRaw()!;
    replyElement(c, e);
    elementsRemoved(c.db, key, where, list, 1);
    return;
  }
  const n = Math.min(count, list.length);
  if (where === HEAD) replyRange(c, list, 0, n - 1, false);
  else replyRange(c, list, -n, -1, true);
  dropEnd(list, where, n);
  elementsRemoved(c.db, key, where, list, n);
}

const lpop = (c: Client): void => popGeneric(c, HEAD);
const rpop = (c: Client): void => popGeneric(c, TAIL);

// ---- reads -----------------------------------------------------------------------------------------

function llen(c: Client): void {
  const list = listAt(c, c.argv[1]!, true);
  if (list === null) return;
  c.reply.integer(list === undefined ? 0 : list.length);
}

function lrange(c: Client): void {
  const start = longArg(c, c.argv[2]!);
  if (start === null) return;
  const end = longArg(c, c.argv[3]!);
  if (end === null) return;
  const list = listAt(c, c.argv[1]!, true);
  if (list === null) return;
  if (list === undefined) c.reply.emptyArray();
  else replyRange(c, list, start, end, false);
}

function lindex(c: Client): void {
  const list = listAt(c, c.argv[1]!, true);
  if (list === null) return;
  if (list === undefined) {
    c.reply.nullBulk();
    return;
  }
  let index = longArg(c, c.argv[2]!);
  if (index === null) return;
  if (index < 0) index += list.length;
  if (index < 0 || index >= list.length) c.reply.nullBulk();
  else replyElement(c, list.getRaw(index));
}

function lpos(c: Client): void {
  const argv = c.argv;
  let rank = 1;
  let count = -1;
  let maxlen = 0;
  for (let j = 3; j < argv.length; j++) {
    const opt = argv[j]!;
    const moreArgs = argv.length - 1 - j;
    if (is(opt, 'rank') && moreArgs > 0) {
      const n = longArg(c, argv[++j]!);
      if (n === null) return;
      if (n === 0) {
        c.reply.error(RANK_ZERO);
        return;
      }
      rank = n;
    } else if (is(opt, 'count') && moreArgs > 0) {
      const n = longAtLeast(c, argv[++j]!, 0, "ERR COUNT can't be negative");
      if (n === null) return;
      count = n;
    } else if (is(opt, 'maxlen') && moreArgs > 0) {
      const n = longAtLeast(c, argv[++j]!, 0, "ERR MAXLEN can't be negative");
      if (n === null) return;
      maxlen = n;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const fromTail = rank < 0;
  if (fromTail) rank = -rank;
  const list = listAt(c, argv[1]!, true);
  if (list === null) return;
  if (list === undefined) {
    if (count !== -1) c.reply.emptyArray();
    else c.reply.nullBulk();
    return;
  }
  const wanted = encodeElement(argv[2]!);
  const llen = list.length;
  const scan = maxlen === 0 ? llen : Math.min(maxlen, llen);
  let matches = 0;
  if (count === -1) {
    for (let k = 0; k < scan; k++) {
      const idx = fromTail ? llen - 1 - k : k;
      if (list.getRaw(idx) === wanted && ++matches >= rank) {
        c.reply.integer(idx);
        return;
      }
    }
    c.reply.nullBulk();
    return;
  }
  const mark = c.reply.beginDeferred();
  let emitted = 0;
  for (let k = 0; k < scan; k++) {
    const idx = fromTail ? llen - 1 - k : k;
    if (list.getRaw(idx) !== wanted || ++matches < rank) continue;
    c.reply.integer(idx);
    emitted++;
    if (count !== 0 && emitted >= count) break;
  }
  c.reply.endDeferred(mark, 'array', emitted);
}

// ---- in-place edits --------------------------------------------------------------------------------

function lset(c: Client): void {
  const key = c.argv[1]!;
  const list = listAt(c, key, false);
  if (list === null) return;
  if (list === undefined) {
    c.reply.error(NO_SUCH_KEY);
    return;
  }
  let index = longArg(c, c.argv[2]!);
  if (index === null) return;
  if (index < 0) index += list.length;
  if (index < 0 || index >= list.length) {
    c.reply.error(OUT_OF_RANGE);
    return;
  }
  list.set(index, c.argv[3]!);
  c.reply.ok();
  c.db.modified(key, 'l', 'lset');
}

function linsert(c: Client): void {
  const argv = c.argv;
  let after: boolean;
  if (is(argv[2]!, 'after')) after = true;
  else if (is(argv[2]!, 'before')) after = false;
  else {
    c.reply.error(SYNTAX);
    return;
  }
  const key = argv[1]!;
  const list = listAt(c, key, false);
  if (list === null) return;
  if (list === undefined) {
    c.reply.zero();
    return;
  }
  const at = list.indexOf(argv[3]!);
  if (at < 0) {
    c.reply.integer(-1);
    return;
  }
  list.insertAt(after ? at + 1 : at, argv[4]!);
  c.db.modified(key, 'l', 'linsert');
  c.reply.integer(list.length);
}

function lrem(c: Client): void {
  const toRemove = longArg(c, c.argv[2]!);
  if (toRemove === null) return;
  const key = c.argv[1]!;
  const list = listAt(c, key, false);
  if (list === null) return;
  if (list === undefined) {
    c.reply.zero();
    return;
  }
  const removed = list.removeMatching(c.argv[3]!, Math.abs(toRemove), toRemove < 0);
  if (removed > 0) c.db.modified(key, 'l', 'lrem', removed);
  if (list.length === 0) {
    c.db.delete(key);
    c.db.notify('g', 'del', key);
  }
  c.reply.integer(removed);
}

function ltrim(c: Client): void {
  let start = longArg(c, c.argv[2]!);
  if (start === null) return;
  let end = longArg(c, c.argv[3]!);
  if (end === null) return;
  const key = c.argv[1]!;
  const list = listAt(c, key, false);
  if (list === null) return;
  if (list === undefined) {
    c.reply.ok();
    return;
  }
  const llen = list.length;
  if (start < 0) start = llen + start;
  if (end < 0) end = llen + end;
  if (start < 0) start = 0;
  let removed: number;
  if (start > end || start >= llen) {
    removed = llen;
    list.clear();
  } else {
    if (end >= llen) end = llen - 1;
    removed = start + (llen - end - 1);
    if (removed > 0) list.trim(start, end);
  }
  const emptied = list.length === 0;
  if (emptied) c.db.delete(key);
  c.db.removed(key, 'l', 'ltrim', removed, emptied);
  c.reply.ok();
}

// ---- moves -----------------------------------------------------------------------------------------

/** lmoveGenericCommand; `propagateAs` rewrites the blocking forms served at once. */
function lmoveGeneric(c: Client, from: Where, to: Where, propagateAs: string[] | null): void {
  const srcKey = c.argv[1]!;
  const dstKey = c.argv[2]!;
  const src = listAt(c, srcKey, false);
  if (src === null) return;
  if (src === undefined || src.length === 0) {
    c.reply.nullBulk();
    return;
  }
  const dst = destinationAt(c, c.db, dstKey);
  if (dst === null) return;
  moveElement(c, c.db, srcKey, src, dstKey, dst, from, to);
  if (propagateAs !== null) c.propagateArgv = propagateAs;
}

function lmove(c: Client): void {
  const from = whereArg(c, c.argv[3]!);
  if (from === null) return;
  const to = whereArg(c, c.argv[4]!);
  if (to === null) return;
  lmoveGeneric(c, from, to, null);
}

function rpoplpush(c: Client): void {
  lmoveGeneric(c, TAIL, HEAD, null);
}

// ---- LMPOP -----------------------------------------------------------------------------------------

/** mpopGenericCommand: pops from the first non-empty list among `keys`. */
function mpopFromKeys(c: Client, keys: readonly string[], where: Where, count: number): boolean {
  for (const key of keys) {
    const list = listAt(c, key, false);
    if (list === null) return true;
    if (list === undefined || list.length === 0) continue;
    const n = popRangeWithKey(c, c.db, list, key, where, count);
    c.propagateArgv = [where === HEAD ? 'LPOP' : 'RPOP', key, String(n)];
    return true;
  }
  return false;
}

interface MpopArgs {
  keys: string[];
  where: Where;
  count: number;
}

/** lmpopGenericCommand's parsing: numkeys, keys, LEFT|RIGHT, [COUNT n]. */
function parseMpop(c: Client, numkeysIdx: number): MpopArgs | null {
  const argv = c.argv;
  const numkeys = longAtLeast(c, argv[numkeysIdx]!, 1, 'ERR numkeys should be greater than 0');
  if (numkeys === null) return null;
  const whereIdx = numkeysIdx + numkeys + 1;
  if (whereIdx >= argv.length) {
    c.reply.error(SYNTAX);
    return null;
  }
  const where = whereArg(c, argv[whereIdx]!);
  if (where === null) return null;
  let count = -1;
  for (let j = whereIdx + 1; j < argv.length; j++) {
    const moreArgs = argv.length - 1 - j;
    if (count === -1 && is(argv[j]!, 'count') && moreArgs > 0) {
      const n = longAtLeast(c, argv[++j]!, 1, 'ERR count should be greater than 0');
      if (n === null) return null;
      count = n;
    } else {
      c.reply.error(SYNTAX);
      return null;
    }
  }
  return { keys: argv.slice(numkeysIdx + 1, whereIdx), where, count: count === -1 ? 1 : count };
}

function lmpop(c: Client): void {
  const args = parseMpop(c, 1);
  if (args === null) return;
  if (!mpopFromKeys(c, args.keys, args.where, args.count)) c.reply.nullArray();
}

// ---- blocking --------------------------------------------------------------------------------------

/**
 * serveClientBlockedOnList for BLPOP/BRPOP (count -1) and BLMPOP (count ≥ 1): pops, replies and
 * queues the propagated LPOP/RPOP.
 */
function servePop(c: Client, key: string, where: Where, count: number): boolean {
  const db = c.db;
  const list = db.lookup(key) as ListValue;
  const popName = where === HEAD ? 'LPOP' : 'RPOP';
  if (count !== -1) {
    c.server.propagator.also(db.id, [popName, key, String(Math.min(count, list.length))]);
    popRangeWithKey(c, db, list, key, where, count);
    return true;
  }
  c.server.propagator.also(db.id, [popName, key]);
  const e = where === HEAD ? list.popHeadRaw()! : list.popTailRaw()!;
  c.reply.array(2);
  c.reply.bulk(key);
  replyElement(c, e);
  elementsRemoved(db, key, where, list, 1);
  return true;
}

/** Serving BLMOVE/BRPOPLPUSH: a wrong-typed destination answers WRONGTYPE and ends the wait. */
function serveMove(c: Client, key: string, dstKey: string, from: Where, to: Where, asRpoplpush: boolean): boolean {
  const db = c.db;
  const src = db.lookup(key) as ListValue;
  const dst = destinationAt(c, db, dstKey);
  if (dst === null) return true;
  moveElement(c, db, key, src, dstKey, dst, from, to);
  c.server.propagator.also(
    db.id,
    asRpoplpush ? ['RPOPLPUSH', key, dstKey] : ['LMOVE', key, dstKey, from === HEAD ? 'LEFT' : 'RIGHT', to === HEAD ? 'LEFT' : 'RIGHT'],
  );
  return true;
}

/** blockingPopGenericCommand. */
function blockingPop(c: Client, keys: readonly string[], where: Where, timeoutArg: string, count: number): void {
  const timeout = parseBlockingTimeout(c, timeoutArg);
  if (timeout === null) return;
  for (const key of keys) {
    const list = listAt(c, key, false);
    if (list === null) return;
    if (list === undefined || list.length === 0) continue;
    const popName = where === HEAD ? 'LPOP' : 'RPOP';
    if (count !== -1) {
      const n = popRangeWithKey(c, c.db, list, key, where, count);
      c.propagateArgv = [popName, key, String(n)];
      return;
    }
    const e = where === HEAD ? list.popHeadRaw()! : list.popTailRaw()!;
    c.reply.array(2);
    c.reply.bulk(key);
    replyElement(c, e);
    elementsRemoved(c.db, key, where, list, 1);
    c.propagateArgv = [popName, key];
    return;
  }
  if (!canBlock(c)) {
    c.reply.nullArray();
    return;
  }
  blockForKeys(c, keys, timeout, { type: 'list', serve: (rc, key) => servePop(rc, key, where, count) });
}

function blpop(c: Client): void {
  const argv = c.argv;
  blockingPop(c, argv.slice(1, -1), HEAD, argv[argv.length - 1]!, -1);
}

function brpop(c: Client): void {
  const argv = c.argv;
  blockingPop(c, argv.slice(1, -1), TAIL, argv[argv.length - 1]!, -1);
}

function blmpop(c: Client): void {
  const args = parseMpop(c, 2);
  if (args === null) return;
  blockingPop(c, args.keys, args.where, c.argv[1]!, args.count);
}

/** blmoveGenericCommand. */
function blmoveGeneric(c: Client, from: Where, to: Where, timeout: number, asRpoplpush: boolean): void {
  const argv = c.argv;
  const src = listAt(c, argv[1]!, false);
  if (src === null) return;
  if (src !== undefined) {
    const propagateAs = asRpoplpush ? ['RPOPLPUSH', argv[1]!, argv[2]!] : ['LMOVE', argv[1]!, argv[2]!, argv[3]!, argv[4]!];
    lmoveGeneric(c, from, to, propagateAs);
    return;
  }
  if (!canBlock(c)) {
    c.reply.nullBulk();
    return;
  }
  const dstKey = argv[2]!;
  blockForKeys(c, [argv[1]!], timeout, { type: 'list', serve: (rc, key) => serveMove(rc, key, dstKey, from, to, asRpoplpush) });
}

function blmove(c: Client): void {
  const from = whereArg(c, c.argv[3]!);
  if (from === null) return;
  const to = whereArg(c, c.argv[4]!);
  if (to === null) return;
  const timeout = parseBlockingTimeout(c, c.argv[5]!);
  if (timeout === null) return;
  blmoveGeneric(c, from, to, timeout, false);
}

function brpoplpush(c: Client): void {
  const timeout = parseBlockingTimeout(c, c.argv[3]!);
  if (timeout === null) return;
  blmoveGeneric(c, TAIL, HEAD, timeout, true);
}

export const commands: CommandHandlers = {
  lpush,
  rpush,
  lpushx,
  rpushx,
  lpop,
  rpop,
  llen,
  lrange,
  lindex,
  lset,
  linsert,
  lrem,
  ltrim,
  lpos,
  lmove,
  rpoplpush,
  lmpop,
  blpop,
  brpop,
  blmpop,
  blmove,
  brpoplpush,
};
