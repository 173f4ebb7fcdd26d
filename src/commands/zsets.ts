/**
 * Sorted-set commands (Redis's t_zset.c): ZADD/ZINCRBY, removal, ranks and scores, the ZRANGE
 * family (by rank, score and lex; reversed; LIMIT; ZRANGESTORE), pops (ZPOPMIN/MAX, ZMPOP and
 * their blocking forms), set algebra (ZUNION/ZINTER/ZDIFF, their STORE forms, ZINTERCARD),
 * ZRANDMEMBER and ZSCAN.
 *
 * Replies follow Redis 7.0 exactly: scores print as %.17g (writer.double), WITHSCORES is a flat
 * array in RESP2 and an array of [member, score] pairs in RESP3, errors keep Redis's texts and
 * argument-checking order. Writes go through the keyspace's write API (`db.modified()`/`db.removed()`) with Redis's event names; pops
 * that may be served later (BZPOPMIN…) propagate as ZPOPMIN/ZPOPMAX, as Redis rewrites them.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { ZSet, NIL, type ZsetLimits, type ScoreRange, type LexRange, type LexBound, type ZNode } from '../types/zset.js';
import { scoreGteMin, scoreLteMax, lexGteMin, lexLteMax } from '../types/skiplist.js';
import { SetValue } from '../types/set.js';
import { is, parseDouble, parseInt64, parseInteger } from '../protocol/args.js';
import { NOT_INTEGER, NOT_FLOAT, SYNTAX, WRONGTYPE } from '../protocol/errors.js';
import { blockForKeys, canBlock, parseBlockingTimeout } from '../server/blocking.js';
import { parseCursor, parseScanOptions, scanStep, INVALID_CURSOR } from '../keyspace/scan.js';
import { stringMatch } from '../keyspace/glob.js';
import { formatDouble } from '../protocol/format.js';

const NAN_SCORE = 'ERR resulting score is not a number (NaN)';
const NOT_FLOAT_RANGE = 'ERR min or max is not a float';
const NOT_LEX_RANGE = 'ERR min or max not valid string range item';
const OUT_OF_RANGE = 'ERR value is out of range';
const MUST_BE_POSITIVE = 'ERR value is out of range, must be positive';
const LONG_MAX = 2n ** 63n - 1n;

// ---- argument parsing ---------------------------------------------------------------------------

/** The listpack thresholds of this server (kept in step with its config). */
export function zsetLimits(c: Client): ZsetLimits {
  return c.server.limits.zset;
}

/**
 * getDoubleFromObject: strtod over the whole string, no leading space, no NaN, and no
 * overflow/underflow (ERANGE) — "1e400" is refused though "inf" is fine.
 */
export function parseScore(s: string): number | null {
  const v = parseDouble(s);
  if (v === null) return null;
  if (!Number.isFinite(v) && !/inf/i.test(s)) return null;
  if (v === 0 && /^[^e]*[1-9]/i.test(s) && !/^[+-]?0x/i.test(s)) return null;
  return v;
}

/** strtod as zslParseRange uses it: leading space and an empty string (→ 0) are accepted. */
function strtodWhole(s: string): number | null {
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  if (s === '') return 0;
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 32 || (s.charCodeAt(i) >= 9 && s.charCodeAt(i) <= 13))) i++;
  if (i === s.length) return null;
  return parseDouble(s.slice(i));
}

/** zslParseRange: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`. */
export function parseScoreRange(min: string, max: string): ScoreRange | null {
  const minex = min.charCodeAt(0) === 40; /* ( */
  const maxex = max.charCodeAt(0) === 40;
  const lo = strtodWhole(minex ? min.slice(1) : min);
  const hi = strtodWhole(maxex ? max.slice(1) : max);
  if (lo === null || hi === null) return null;
  return { min: lo, max: hi, minex, maxex };
}

function parseLexBound(s: string): LexBound | null {
  switch (s.charCodeAt(0)) {
    case 43: /* + */
      return s.length === 1 ? { value: '', inf: 1, exclusive: true } : null;
    case 45: /* - */
      return s.length === 1 ? { value: '', inf: -1, exclusive: true } : null;
    case 40: /* ( */
      return { value: s.slice(1), inf: 0, exclusive: true };
    case 91: /* [ */
      return { value: s.slice(1), inf: 0, exclusive: false };
    default:
      return null;
  }
}

/** zslParseLexRange: `[a`, `(a`, `-`, `+`. */
export function parseLexRange(min: string, max: string): LexRange | null {
  const lo = parseLexBound(min);
  const hi = parseLexBound(max);
  return lo === null || hi === null ? null : { min: lo, max: hi };
}

/** getLongFromObjectOrReply (with an optional custom message for every failure). */
function longArg(c: Client, s: string, msg?: string): number | null {
  const v = parseInteger(s);
  if (v === null) {
    c.reply.error(msg ?? NOT_INTEGER);
    return null;
  }
  return v;
}

/** getRangeLongFromObjectOrReply. */
function rangeLongArg(c: Client, s: string, min: number, max: number, msg?: string): number | null {
  const v = longArg(c, s, msg);
  if (v === null) return null;
  if (v < min || v > max) {
    c.reply.error(msg ?? `ERR value is out of range, value must between ${min} and ${max}`);
    return null;
  }
  return v;
}

// ---- lookups ------------------------------------------------------------------------------------

/** The zset at `key` (undefined if missing); replies WRONGTYPE and returns null for another type. */
function zsetAt(c: Client, key: string, read: boolean): ZSet | undefined | null {
  const v = read ? c.server.lookupRead(c.db, key) : c.db.lookup(key);
  if (v === undefined) return undefined;
  if (v instanceof ZSet) return v;
  c.reply.error(WRONGTYPE);
  return null;
}

/** Deletes a key emptied by a removal and sends `del` after the command's own event. */
function deleteIfEmpty(c: Client, z: ZSet, key: string): boolean {
  if (z.size() !== 0) return false;
  c.db.delete(key);
  return true;
}

/** Stores a computed result at `dst` (setKey: the TTL goes), or deletes `dst` when empty. */
function storeResult(c: Client, dst: string, z: ZSet, event: string): void {
  const db = c.db;
  if (z.size() > 0) {
    db.set(dst, z);
    c.reply.integer(z.size());
    db.modified(dst, 'z', event);
  } else {
    c.reply.zero();
    if (db.delete(dst)) db.modified(dst, 'g', 'del');
  }
}

// ---- replies ------------------------------------------------------------------------------------

/** An array of members, with scores (flat in RESP2, [member, score] pairs in RESP3). */
function replyNodes(c: Client, z: ZSet, nodes: readonly ZNode[], withScores: boolean): void {
  const r = c.reply;
  const resp3 = r.proto === 3;
  r.array(withScores && !resp3 ? nodes.length * 2 : nodes.length);
  for (const n of nodes) {
    if (withScores) {
      if (resp3) r.array(2);
      r.bulk(z.member(n));
      r.double(z.nodeScore(n));
    } else {
      r.bulk(z.member(n));
    }
  }
}

// ---- ZADD / ZINCRBY -------------------------------------------------------------------------------

function zaddGeneric(c: Client, incrCommand: boolean): void {
  const argv = c.argv;
  const key = argv[1]!;
  let nx = false, xx = false, gt = false, lt = false, ch = false, incr = incrCommand;
  let scoreIdx = 2;
  for (; scoreIdx < argv.length; scoreIdx++) {
    const opt = argv[scoreIdx]!;
    if (is(opt, 'nx')) nx = true;
    else if (is(opt, 'xx')) xx = true;
    else if (is(opt, 'ch')) ch = true;
    else if (is(opt, 'incr')) incr = true;
    else if (is(opt, 'gt')) gt = true;
    else if (is(opt, 'lt')) lt = true;
    else break;
  }
  const rest = argv.length - scoreIdx;
  if (rest % 2 !== 0 || rest === 0) return c.reply.error(SYNTAX);
  const elements = rest / 2;
  if (nx && xx) return c.reply.error('ERR XX and NX options at the same time are not compatible');
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    return c.reply.error('ERR GT, LT, and/or NX options at the same time are not compatible');
  }
  if (incr && elements > 1) return c.reply.error('ERR INCR option supports a single increment-element pair');
  // One score-member pair (the common ZADD) keeps its score in a local: no array per command.
  const first = parseScore(argv[scoreIdx]!);
  if (first === null) return c.reply.error(NOT_FLOAT);
  let scores: number[] | null = null;
  if (elements > 1) {
    scores = new Array<number>(elements);
    scores[0] = first;
    for (let j = 1; j < elements; j++) {
      const s = parseScore(argv[scoreIdx + j * 2]!);
      if (s === null) return c.reply.error(NOT_FLOAT);
      scores[j] = s;
    }
  }
  let z = zsetAt(c, key, false);
  if (z === null) return;
  let added = 0, updated = 0, processed = 0;
  let score = 0;
  if (z === undefined) {
    if (xx) return replyZadd(c, incr, ch, 0, 0, 0, 0);
  }
  // Read from the config only when a member is added (score updates, the common case, skip it).
  let limits: ZsetLimits | null = null;
  if (z === undefined) {
    limits = zsetLimits(c);
    z = ZSet.forFirstMember(limits, argv[scoreIdx + 1]!.length);
    c.db.set(key, z);
  }
  let failed = false;
  for (let j = 0; j < elements; j++) {
    score = scores === null ? first : scores[j]!;
    const member = argv[scoreIdx + 1 + j * 2]!;
    const node = z.find(member);
    if (node !== NIL) {
      if (nx) continue;
      const current = z.nodeScore(node);
      if (incr) {
        score += current;
        if (Number.isNaN(score)) {
          failed = true;
          break;
        }
      }
      if ((lt && score >= current) || (gt && score <= current)) continue;
      processed++;
      if (score !== current) {
        z.setNodeScore(node, score, member);
        updated++;
      }
    } else if (!xx) {
      z.insertNew(member, score, limits ??= zsetLimits(c));
      added++;
      processed++;
    }
  }
  if (failed) c.reply.error(NAN_SCORE);
  else replyZadd(c, incr, ch, added, updated, processed, score);
  if (added + updated > 0) c.db.modified(key, 'z', incr ? 'zincr' : 'zadd', failed ? 0 : added + updated);
}

function replyZadd(c: Client, incr: boolean, ch: boolean, added: number, updated: number, processed: number, score: number): void {
  if (incr) {
    if (processed > 0) c.reply.double(score);
    else c.reply.nullBulk();
  } else {
    c.reply.integer(ch ? added + updated : added);
  }
}

function zadd(c: Client): void {
  zaddGeneric(c, false);
}

function zincrby(c: Client): void {
  zaddGeneric(c, true);
}

// ---- removal ------------------------------------------------------------------------------------

function zrem(c: Client): void {
  const key = c.argv[1]!;
  const z = zsetAt(c, key, false);
  if (z === null) return;
  if (z === undefined) return c.reply.zero();
  let deleted = 0;
  let removedKey = false;
  for (let j = 2; j < c.argv.length; j++) {
    if (z.remove(c.argv[j]!)) deleted++;
    if (z.size() === 0) {
      c.db.delete(key);
      removedKey = true;
      break;
    }
  }
  if (deleted > 0) c.db.removed(key, 'z', 'zrem', deleted, removedKey);
  c.reply.integer(deleted);
}

type RangeKind = 'rank' | 'score' | 'lex';

function zremrangeGeneric(c: Client, kind: RangeKind): void {
  const key = c.argv[1]!;
  let start = 0, end = 0;
  let scoreRange: ScoreRange | null = null;
  let lexRange: LexRange | null = null;
  if (kind === 'rank') {
    const s = longArg(c, c.argv[2]!);
    if (s === null) return;
    const e = longArg(c, c.argv[3]!);
    if (e === null) return;
    start = s;
    end = e;
  } else if (kind === 'score') {
    scoreRange = parseScoreRange(c.argv[2]!, c.argv[3]!);
    if (scoreRange === null) return c.reply.error(NOT_FLOAT_RANGE);
  } else {
    lexRange = parseLexRange(c.argv[2]!, c.argv[3]!);
    if (lexRange === null) return c.reply.error(NOT_LEX_RANGE);
  }
  const z = zsetAt(c, key, false);
  if (z === null) return;
  if (z === undefined) return c.reply.zero();
  let deleted: number;
  if (kind === 'rank') {
    const llen = z.size();
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    if (start > end || start >= llen) return c.reply.zero();
    if (end >= llen) end = llen - 1;
    deleted = z.deleteRangeByRank(start, end);
  } else if (kind === 'score') {
    deleted = z.deleteRangeByScore(scoreRange!);
  } else {
    deleted = z.deleteRangeByLex(lexRange!);
  }
  const removedKey = deleteIfEmpty(c, z, key);
  if (deleted > 0) {
    c.db.modified(key, 'z', `zremrangeby${kind}`, deleted);
    if (removedKey) c.db.notify('g', 'del', key);
  }
  c.reply.integer(deleted);
}

// ---- reads --------------------------------------------------------------------------------------

function zcard(c: Client): void {
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  c.reply.integer(z === undefined ? 0 : z.size());
}

function zscore(c: Client): void {
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  const s = z?.score(c.argv[2]!);
  if (s === undefined) c.reply.nullBulk();
  else c.reply.double(s);
}

function zmscore(c: Client): void {
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  c.reply.array(c.argv.length - 2);
  for (let j = 2; j < c.argv.length; j++) {
    const s = z?.score(c.argv[j]!);
    if (s === undefined) c.reply.nullBulk();
    else c.reply.double(s);
  }
}

function zrankGeneric(c: Client, reverse: boolean): void {
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  if (z === undefined) return c.reply.nullBulk();
  const r = z.rank(c.argv[2]!, reverse);
  if (r < 0) c.reply.nullBulk();
  else c.reply.integer(r);
}

function zcount(c: Client): void {
  const range = parseScoreRange(c.argv[2]!, c.argv[3]!);
  if (range === null) return c.reply.error(NOT_FLOAT_RANGE);
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  if (z === undefined) return c.reply.zero();
  const first = z.firstInRange(range);
  if (first === NIL) return c.reply.zero();
  const last = z.lastInRange(range);
  c.reply.integer(z.rankOf(last) - z.rankOf(first) + 1);
}

function zlexcount(c: Client): void {
  const range = parseLexRange(c.argv[2]!, c.argv[3]!);
  if (range === null) return c.reply.error(NOT_LEX_RANGE);
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  if (z === undefined) return c.reply.zero();
  const first = z.firstInLexRange(range);
  if (first === NIL) return c.reply.zero();
  const last = z.lastInLexRange(range);
  c.reply.integer(z.rankOf(last) - z.rankOf(first) + 1);
}

// ---- ZRANGE family --------------------------------------------------------------------------------

type Direction = 'auto' | 'forward' | 'reverse';

/** Nodes of a rank range (zslGetElementByRank and a walk). */
function nodesByRank(z: ZSet, start: number, end: number, reverse: boolean): ZNode[] {
  const llen = z.size();
  if (start < 0) start = llen + start;
  if (end < 0) end = llen + end;
  if (start < 0) start = 0;
  if (start > end || start >= llen) return [];
  if (end >= llen) end = llen - 1;
  const out: ZNode[] = [];
  let n = reverse ? z.at(llen - 1 - start) : z.at(start);
  for (let k = end - start + 1; k > 0 && n !== NIL; k--) {
    out.push(n);
    n = reverse ? z.prev(n) : z.next(n);
  }
  return out;
}

/**
 * Walks from the first in-range node, skipping `offset` nodes, taking up to `limit` (negative:
 * no limit) while `inRange` holds. A negative offset walks off the end, as Redis's
 * `while (ln && offset--)` does.
 */
function walkRange(z: ZSet, start: ZNode, offset: number, limit: number, reverse: boolean, inRange: (n: ZNode) => boolean): ZNode[] {
  const out: ZNode[] = [];
  let n = start;
  if (offset < 0) return out;
  while (n !== NIL && offset-- > 0) n = reverse ? z.prev(n) : z.next(n);
  while (n !== NIL && limit-- !== 0) {
    if (!inRange(n)) break;
    out.push(n);
    n = reverse ? z.prev(n) : z.next(n);
  }
  return out;
}

/**
 * zrangeGenericCommand: `<src> <min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT o c]` for
 * ZRANGE/ZRANGESTORE, and the fixed-mode legacy commands.
 */
function zrangeGeneric(c: Client, argStart: number, dst: string | null, kindIn: RangeKind | 'auto', dirIn: Direction): void {
  const argv = c.argv;
  const key = argv[argStart]!;
  let minIdx = argStart + 1;
  let maxIdx = argStart + 2;
  let withScores = false;
  let offset = 0;
  let limit = -1;
  let kind = kindIn;
  let direction = dirIn;
  for (let j = argStart + 3; j < argv.length; j++) {
    const left = argv.length - j - 1;
    const a = argv[j]!;
    if (dst === null && is(a, 'withscores')) {
      withScores = true;
    } else if (is(a, 'limit') && left >= 2) {
      const o = longArg(c, argv[j + 1]!);
      if (o === null) return;
      const l = longArg(c, argv[j + 2]!);
      if (l === null) return;
      offset = o;
      limit = l;
      j += 2;
    } else if (direction === 'auto' && is(a, 'rev')) {
      direction = 'reverse';
    } else if (kind === 'auto' && is(a, 'bylex')) {
      kind = 'lex';
    } else if (kind === 'auto' && is(a, 'byscore')) {
      kind = 'score';
    } else {
      return c.reply.error(SYNTAX);
    }
  }
  if (direction === 'auto') direction = 'forward';
  if (kind === 'auto') kind = 'rank';
  if (limit !== -1 && kind === 'rank') {
    return c.reply.error('ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX');
  }
  if (withScores && kind === 'lex') {
    return c.reply.error('ERR syntax error, WITHSCORES not supported in combination with BYLEX');
  }
  const reverse = direction === 'reverse';
  if (reverse && kind !== 'rank') [minIdx, maxIdx] = [maxIdx, minIdx];
  let start = 0, end = 0;
  let scoreRange: ScoreRange | null = null;
  let lexRange: LexRange | null = null;
  if (kind === 'rank') {
    const s = longArg(c, argv[minIdx]!);
    if (s === null) return;
    const e = longArg(c, argv[maxIdx]!);
    if (e === null) return;
    start = s;
    end = e;
  } else if (kind === 'score') {
    scoreRange = parseScoreRange(argv[minIdx]!, argv[maxIdx]!);
    if (scoreRange === null) return c.reply.error(NOT_FLOAT_RANGE);
  } else {
    lexRange = parseLexRange(argv[minIdx]!, argv[maxIdx]!);
    if (lexRange === null) return c.reply.error(NOT_LEX_RANGE);
  }
  const z = zsetAt(c, key, true);
  if (z === null) return;
  let nodes: ZNode[];
  if (z === undefined) {
    nodes = [];
  } else if (kind === 'rank') {
    nodes = nodesByRank(z, start, end, reverse);
  } else if (kind === 'score') {
    const r = scoreRange!;
    if (offset > 0 && offset >= z.size()) nodes = [];
    else {
      const first = reverse ? z.lastInRange(r) : z.firstInRange(r);
      nodes = walkRange(z, first, offset, limit, reverse, reverse ? (n) => scoreGteMin(z.nodeScore(n), r) : (n) => scoreLteMax(z.nodeScore(n), r));
    }
  } else {
    const r = lexRange!;
    const first = reverse ? z.lastInLexRange(r) : z.firstInLexRange(r);
    nodes = walkRange(z, first, offset, limit, reverse, reverse ? (n) => lexGteMin(z.member(n), r) : (n) => lexLteMax(z.member(n), r));
  }
  if (dst === null) {
    if (z === undefined) c.reply.emptyArray();
    else replyNodes(c, z, nodes, withScores);
    return;
  }
  const limits = zsetLimits(c);
  const out = new ZSet(!(kind === 'rank' && nodes.length > limits.maxEntries));
  for (const n of nodes) out.insertNew(z!.member(n), z!.nodeScore(n), limits);
  storeResult(c, dst, out, 'zrangestore');
}

const zrange = (c: Client): void => zrangeGeneric(c, 1, null, 'auto', 'auto');
const zrangestore = (c: Client): void => zrangeGeneric(c, 2, c.argv[1]!, 'auto', 'auto');
const zrevrange = (c: Client): void => zrangeGeneric(c, 1, null, 'rank', 'reverse');
const zrangebyscore = (c: Client): void => zrangeGeneric(c, 1, null, 'score', 'forward');
const zrevrangebyscore = (c: Client): void => zrangeGeneric(c, 1, null, 'score', 'reverse');
const zrangebylex = (c: Client): void => zrangeGeneric(c, 1, null, 'lex', 'forward');
const zrevrangebylex = (c: Client): void => zrangeGeneric(c, 1, null, 'lex', 'reverse');

// ---- pops ---------------------------------------------------------------------------------------

type Where = 'min' | 'max';

/**
 * genericZpopCommand. `count` -1 is the plain single pop. Shapes: flat [m, s, …] (ZPOPMIN in
 * RESP2 or without count), nested [[m, s], …] (with count in RESP3), flat with the key first
 * (BZPOPMIN), or [key, [[m, s], …]] (ZMPOP/BZMPOP). Returns the key popped from and how many
 * were asked for after clamping, or null when nothing was popped.
 */
function genericZpop(c: Client, keys: readonly string[], where: Where, emitKey: boolean, count: number, nested: boolean, nilWhenEmpty: boolean): { key: string; popped: number } | null {
  let key = '';
  let z: ZSet | undefined;
  for (const k of keys) {
    const v = zsetAt(c, k, false);
    if (v === null) return null;
    if (v === undefined) continue;
    key = k;
    z = v;
    break;
  }
  if (z === undefined) {
    if (nilWhenEmpty) c.reply.nullArray();
    else c.reply.emptyArray();
    return null;
  }
  const popped = popFrom(c, key, z, where, emitKey, count, nested);
  return popped === 0 ? null : { key, popped };
}

/** genericZpop's pops from the set `z` at `key` (not empty); returns how many (0 for count 0). */
function popFrom(c: Client, key: string, z: ZSet, where: Where, emitKey: boolean, count: number, nested: boolean): number {
  const r = c.reply;
  if (count === 0) {
    r.emptyArray();
    return 0;
  }
  if (count === -1) count = 1;
  const llen = z.size();
  const n = Math.min(count, llen);
  if (!nested && !emitKey) r.array(n * 2);
  else if (nested && !emitKey) r.array(n);
  else if (!nested && emitKey) {
    r.array(n * 2 + 1);
    r.bulk(key);
  } else {
    r.array(2);
    r.bulk(key);
    r.array(n);
  }
  for (let i = 0; i < n; i++) {
    const node = where === 'max' ? z.last() : z.first();
    const member = z.member(node);
    const score = z.nodeScore(node);
    z.removeNode(node, member);
    if (nested) r.array(2);
    r.bulk(member);
    r.double(score);
  }
  const emptied = z.size() === 0;
  if (emptied) c.db.delete(key);
  c.db.removed(key, 'z', where === 'max' ? 'zpopmax' : 'zpopmin', n, emptied);
  return n;
}

function zpopMinMax(c: Client, where: Where): void {
  if (c.argv.length > 3) return c.reply.error(SYNTAX);
  let count = -1;
  if (c.argv.length === 3) {
    const v = rangeLongArg(c, c.argv[2]!, 0, Infinity, MUST_BE_POSITIVE);
    if (v === null) return;
    count = v;
  }
  // One key: looked up here, without genericZpop's key list and result (ZPOPMIN's garbage).
  const key = c.argv[1]!;
  const z = zsetAt(c, key, false);
  if (z === null) return;
  if (z === undefined) return c.reply.emptyArray();
  popFrom(c, key, z, where, false, count, c.reply.proto === 3 && count !== -1);
}

/** The deterministic form of a pop served by a blocking or multi-key command. */
function popArgv(where: Where, key: string, count: number, popped: number): string[] {
  const name = where === 'max' ? 'ZPOPMAX' : 'ZPOPMIN';
  return count === -1 ? [name, key] : [name, key, String(popped)];
}

/** blockingGenericZpopCommand: pops now if any key has members, else blocks. */
function blockingZpop(c: Client, keys: readonly string[], where: Where, timeoutArg: string, count: number, nested: boolean): void {
  const timeout = parseBlockingTimeout(c, timeoutArg);
  if (timeout === null) return;
  for (const key of keys) {
    const z = zsetAt(c, key, false);
    if (z === null) return;
    if (z === undefined || z.size() === 0) continue;
    const res = genericZpop(c, [key], where, true, count, nested, nested);
    if (res !== null) c.propagateArgv = popArgv(where, key, count, res.popped);
    return;
  }
  if (!canBlock(c)) return c.reply.nullArray();
  blockForKeys(c, keys, timeout, {
    type: 'zset',
    serve: (client, key) => {
      const res = genericZpop(client, [key], where, true, count, nested, nested);
      if (res === null) return false;
      client.server.propagator.also(client.db.id, popArgv(where, key, count, res.popped));
      return true;
    },
  });
}

function bzpopGeneric(c: Client, where: Where): void {
  const argv = c.argv;
  blockingZpop(c, argv.slice(1, argv.length - 1), where, argv[argv.length - 1]!, -1, false);
}

/** zmpopGenericCommand: `[timeout] numkeys key… MIN|MAX [COUNT n]`. */
function zmpopGeneric(c: Client, numkeysIdx: number, block: boolean): void {
  const argv = c.argv;
  const numkeys = rangeLongArg(c, argv[numkeysIdx]!, 1, Infinity, 'ERR numkeys should be greater than 0');
  if (numkeys === null) return;
  const whereIdx = numkeysIdx + numkeys + 1;
  if (whereIdx >= argv.length) return c.reply.error(SYNTAX);
  let where: Where;
  if (is(argv[whereIdx]!, 'min')) where = 'min';
  else if (is(argv[whereIdx]!, 'max')) where = 'max';
  else return c.reply.error(SYNTAX);
  let count = -1;
  for (let j = whereIdx + 1; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    if (count === -1 && is(argv[j]!, 'count') && more > 0) {
      j++;
      const v = rangeLongArg(c, argv[j]!, 1, Infinity, 'ERR count should be greater than 0');
      if (v === null) return;
      count = v;
    } else {
      return c.reply.error(SYNTAX);
    }
  }
  if (count === -1) count = 1;
  const keys = argv.slice(numkeysIdx + 1, numkeysIdx + 1 + numkeys);
  if (block) {
    blockingZpop(c, keys, where, argv[1]!, count, true);
    return;
  }
  const res = genericZpop(c, keys, where, true, count, true, true);
  if (res !== null) c.propagateArgv = popArgv(where, res.key, count, res.popped);
}

// ---- set algebra ----------------------------------------------------------------------------------

type SetOp = 'union' | 'inter' | 'diff';

/** One input of ZUNION/ZINTER/ZDIFF: a zset, a plain set (scores 1), or missing (empty). */
interface OpSource {
  value: ZSet | SetValue | null;
  weight: number;
}

function sourceSize(s: OpSource): number {
  return s.value === null ? 0 : s.value.size();
}

function* sourceEntries(s: OpSource): Generator<[string, number]> {
  const v = s.value;
  if (v === null) return;
  if (v instanceof ZSet) {
    for (let n = v.first(); n !== NIL; n = v.next(n)) yield [v.member(n), v.nodeScore(n)];
  } else {
    for (const m of v.values()) yield [m, 1];
  }
}

function sourceScore(s: OpSource, member: string): number | undefined {
  const v = s.value;
  if (v === null) return undefined;
  if (v instanceof ZSet) return v.score(member);
  return v.has(member) ? 1 : undefined;
}

type Aggregate = 'sum' | 'min' | 'max';

function aggregate(target: number, val: number, how: Aggregate): number {
  if (how === 'sum') {
    const r = target + val;
    // inf + -inf is NaN; Redis keeps the convention that it is 0.
    return Number.isNaN(r) ? 0 : r;
  }
  if (how === 'min') return val < target ? val : target;
  return val > target ? val : target;
}

function zsetOpGeneric(c: Client, dst: string | null, numkeysIdx: number, op: SetOp, cardinalityOnly: boolean): void {
  const argv = c.argv;
  const setnum = longArg(c, argv[numkeysIdx]!);
  if (setnum === null) return;
  if (setnum < 1) return c.reply.error(`ERR at least 1 input key is needed for '${c.cmd?.fullName ?? argv[0]!.toLowerCase()}' command`);
  if (setnum > argv.length - (numkeysIdx + 1)) return c.reply.error(SYNTAX);
  const src: OpSource[] = [];
  let j = numkeysIdx + 1;
  for (let i = 0; i < setnum; i++, j++) {
    const v = c.server.lookupRead(c.db, argv[j]!);
    if (v !== undefined && !(v instanceof ZSet) && !(v instanceof SetValue)) return c.reply.error(WRONGTYPE);
    src.push({ value: v === undefined ? null : (v as ZSet | SetValue), weight: 1 });
  }
  let how: Aggregate = 'sum';
  let withScores = false;
  let limit = 0;
  let remaining = argv.length - j;
  while (remaining > 0) {
    const a = argv[j]!;
    if (op !== 'diff' && !cardinalityOnly && remaining >= setnum + 1 && is(a, 'weights')) {
      j++;
      remaining--;
      for (let i = 0; i < setnum; i++, j++, remaining--) {
        const w = parseScore(argv[j]!);
        if (w === null) return c.reply.error('ERR weight value is not a float');
        src[i]!.weight = w;
      }
    } else if (op !== 'diff' && !cardinalityOnly && remaining >= 2 && is(a, 'aggregate')) {
      j++;
      remaining--;
      const v = argv[j]!;
      if (is(v, 'sum')) how = 'sum';
      else if (is(v, 'min')) how = 'min';
      else if (is(v, 'max')) how = 'max';
      else return c.reply.error(SYNTAX);
      j++;
      remaining--;
    } else if (remaining >= 1 && dst === null && !cardinalityOnly && is(a, 'withscores')) {
      j++;
      remaining--;
      withScores = true;
    } else if (cardinalityOnly && remaining >= 2 && is(a, 'limit')) {
      j++;
      remaining--;
      const l = rangeLongArg(c, argv[j]!, 0, Infinity, "ERR LIMIT can't be negative");
      if (l === null) return;
      limit = l;
      j++;
      remaining--;
    } else {
      return c.reply.error(SYNTAX);
    }
  }
  // Smallest inputs first (a stable sort, as glibc's qsort is for these arrays).
  if (op !== 'diff') src.sort((a, b) => sourceSize(a) - sourceSize(b));
  const result = new ZSet(false);
  let cardinality = 0;
  if (op === 'inter') {
    if (sourceSize(src[0]!) > 0) {
      const first = src[0]!;
      for (const [member, s0] of sourceEntries(first)) {
        let score = first.weight * s0;
        if (Number.isNaN(score)) score = 0;
        let k = 1;
        for (; k < setnum; k++) {
          const other = src[k]!;
          const v = other.value === first.value ? s0 : sourceScore(other, member);
          if (v === undefined) break;
          score = aggregate(score, v * other.weight, how);
        }
        if (k !== setnum) continue;
        if (cardinalityOnly) {
          cardinality++;
          if (limit > 0 && cardinality >= limit) break;
        } else {
          result.insertNew(member, score);
        }
      }
    }
  } else if (op === 'union') {
    const acc = new Map<string, number>();
    for (const s of src) {
      for (const [member, raw] of sourceEntries(s)) {
        let score = s.weight * raw;
        if (Number.isNaN(score)) score = 0;
        const cur = acc.get(member);
        acc.set(member, cur === undefined ? score : aggregate(cur, score, how));
      }
    }
    for (const [member, score] of acc) result.insertNew(member, score);
  } else {
    const first = src[0]!;
    if (sourceSize(first) > 0 && !src.slice(1).some((s) => s.value === first.value)) {
      for (const [member, score] of sourceEntries(first)) {
        let found = false;
        for (let k = 1; k < setnum && !found; k++) found = sourceScore(src[k]!, member) !== undefined;
        if (!found) result.insertNew(member, score);
      }
    }
  }
  if (dst !== null) {
    result.convertToCompactIfFits(zsetLimits(c));
    storeResult(c, dst, result, op === 'union' ? 'zunionstore' : op === 'inter' ? 'zinterstore' : 'zdiffstore');
  } else if (cardinalityOnly) {
    c.reply.integer(cardinality);
  } else {
    const nodes: ZNode[] = [];
    for (let n = result.first(); n !== NIL; n = result.next(n)) nodes.push(n);
    replyNodes(c, result, nodes, withScores);
  }
}

const zunionstore = (c: Client): void => zsetOpGeneric(c, c.argv[1]!, 2, 'union', false);
const zinterstore = (c: Client): void => zsetOpGeneric(c, c.argv[1]!, 2, 'inter', false);
const zdiffstore = (c: Client): void => zsetOpGeneric(c, c.argv[1]!, 2, 'diff', false);
const zunion = (c: Client): void => zsetOpGeneric(c, null, 1, 'union', false);
const zinter = (c: Client): void => zsetOpGeneric(c, null, 1, 'inter', false);
const zdiff = (c: Client): void => zsetOpGeneric(c, null, 1, 'diff', false);
const zintercard = (c: Client): void => zsetOpGeneric(c, null, 1, 'inter', true);

// ---- ZRANDMEMBER ---------------------------------------------------------------------------------

/** How much bigger than the request a set must be to pick members one by one (CASE 4). */
const ZRANDMEMBER_SUB_STRATEGY_MUL = 3;

function zrandmember(c: Client): void {
  const argv = c.argv;
  if (argv.length >= 3) {
    const big = parseInt64(argv[2]!);
    if (big === null) return c.reply.error(NOT_INTEGER);
    if (big < -LONG_MAX || big > LONG_MAX) {
      return c.reply.error(`ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`);
    }
    let withScores = false;
    if (argv.length > 4 || (argv.length === 4 && !is(argv[3]!, 'withscores'))) return c.reply.error(SYNTAX);
    if (argv.length === 4) {
      withScores = true;
      if (big < -LONG_MAX / 2n || big > LONG_MAX / 2n) return c.reply.error(OUT_OF_RANGE);
    }
    zrandmemberWithCount(c, big, withScores);
    return;
  }
  const z = zsetAt(c, argv[1]!, true);
  if (z === null) return;
  if (z === undefined) return c.reply.nullBulk();
  c.reply.bulk(z.member(z.at(c.server.rng.below(z.size()))));
}

function zrandmemberWithCount(c: Client, requested: bigint, withScores: boolean): void {
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  const r = c.reply;
  if (z === undefined) return r.emptyArray();
  const size = z.size();
  const unique = requested >= 0n;
  const count = unique ? requested : -requested;
  if (count === 0n) return r.emptyArray();
  const resp3 = r.proto === 3;
  const emit = (n: ZNode): void => {
    if (withScores && resp3) r.array(2);
    r.bulk(z.member(n));
    if (withScores) r.double(z.nodeScore(n));
  };
  const rng = c.server.rng;
  // CASE 1: repeats allowed (or a single pick): sample the whole set every time.
  if (!unique || count === 1n) {
    const n = Number(count);
    r.array(withScores && !resp3 ? n * 2 : n);
    for (let i = 0; i < n; i++) {
      emit(z.at(rng.below(size)));
      if (c.closeAsap) break;
    }
    return;
  }
  const want = Number(count);
  const replySize = Math.min(want, size);
  r.array(withScores && !resp3 ? replySize * 2 : replySize);
  // CASE 2: the whole set (Redis's zset iterator walks from the highest score down).
  if (want >= size) {
    for (let n = z.last(); n !== NIL; n = z.prev(n)) emit(n);
    return;
  }
  // CASE 3: close to the set size: copy everything, then drop random members.
  if (want * ZRANDMEMBER_SUB_STRATEGY_MUL > size) {
    const all: ZNode[] = [];
    for (let n = z.first(); n !== NIL; n = z.next(n)) all.push(n);
    let left = size;
    while (left > want) {
      const i = rng.below(left);
      all[i] = all[left - 1]!;
      left--;
    }
    for (let i = 0; i < want; i++) emit(all[i]!);
    return;
  }
  // CASE 4: much bigger set: pick until enough distinct members.
  const picked = new Set<string>();
  while (picked.size < want) {
    const n = z.at(rng.below(size));
    const member = z.member(n);
    if (picked.has(member)) continue;
    picked.add(member);
    emit(n);
  }
}

// ---- ZSCAN --------------------------------------------------------------------------------------

/**
 * ZSCAN key cursor [MATCH p] [COUNT n]. Listpack-sized sets answer in one call with cursor 0,
 * in score order, as Redis does; larger ones walk a live iterator over the member map
 * (keyspace/scan.ts).
 * Scores are bulk strings in both protocols (d2string, which prints like %.17g).
 */
function zscan(c: Client): void {
  const cursor = parseCursor(c.argv[2]!);
  if (cursor === null) return c.reply.error(INVALID_CURSOR);
  const z = zsetAt(c, c.argv[1]!, true);
  if (z === null) return;
  const r = c.reply;
  if (z === undefined) {
    r.array(2);
    r.bulk('0');
    r.emptyArray();
    return;
  }
  const opts = parseScanOptions(c, 3, false);
  if (opts === null) return;
  const found: [string, number][] = [];
  const pattern = opts.pattern;
  const next = scanStep<[string, number]>(
    z,
    z.isCompact ? 0n : cursor,
    () => (z.isCompact ? z.entries() : z.memberScores()),
    z.isCompact ? Infinity : opts.count,
    (e) => {
      if (pattern === null || stringMatch(pattern, e[0])) found.push(e);
    },
    z.size(),
  );
  r.array(2);
  r.bulk(next);
  r.array(found.length * 2);
  for (const [member, score] of found) {
    r.bulk(member);
    r.bulk(formatDouble(score));
  }
}

export const commands: CommandHandlers = {
  zadd,
  zincrby,
  zrem,
  zcard,
  zscore,
  zmscore,
  zrank: (c) => zrankGeneric(c, false),
  zrevrank: (c) => zrankGeneric(c, true),
  zcount,
  zlexcount,
  zrange,
  zrangestore,
  zrevrange,
  zrangebyscore,
  zrevrangebyscore,
  zrangebylex,
  zrevrangebylex,
  zremrangebyrank: (c) => zremrangeGeneric(c, 'rank'),
  zremrangebyscore: (c) => zremrangeGeneric(c, 'score'),
  zremrangebylex: (c) => zremrangeGeneric(c, 'lex'),
  zpopmin: (c) => zpopMinMax(c, 'min'),
  zpopmax: (c) => zpopMinMax(c, 'max'),
  bzpopmin: (c) => bzpopGeneric(c, 'min'),
  bzpopmax: (c) => bzpopGeneric(c, 'max'),
  zmpop: (c) => zmpopGeneric(c, 1, false),
  bzmpop: (c) => zmpopGeneric(c, 2, true),
  zunion,
  zinter,
  zdiff,
  zunionstore,
  zinterstore,
  zdiffstore,
  zintercard,
  zrandmember,
  zscan,
};

