/**
 * Stream commands (Redis 7.0.15 t_stream.c): XADD, XRANGE/XREVRANGE, XLEN, XDEL, XTRIM, XREAD,
 * XREADGROUP (with BLOCK through server/blocking.ts), XGROUP, XACK, XPENDING, XCLAIM,
 * XAUTOCLAIM, XINFO and XSETID, on top of types/stream.ts.
 *
 * Replies, error texts, keyspace events (class 't') and dirty counts follow Redis. Propagation
 * is deterministic as in Redis: XADD rewrites `*`/`ms-*` to the generated ID and an
 * approximate trim to its exact result (`=` and the resulting length / first ID); XREADGROUP,
 * XCLAIM and XAUTOCLAIM never propagate themselves but queue one `XCLAIM … FORCE JUSTID
 * LASTID` per delivered or claimed entry, `XGROUP SETID … ENTRIESREAD` when NOACK moved the
 * group, and `XGROUP CREATECONSUMER` for consumers NOACK created.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Database } from '../keyspace/db.js';
import { isStringValue } from '../types/value.js';
import {
  ConsumerGroup,
  ID_MAX,
  INVALID_ENTRIES_READ,
  STREAM_LISTPACK_MAX_SIZE,
  StreamValue,
  UINT64_MAX,
  formatId,
  idMs,
  idSeq,
  makeId,
  type StreamConsumer,
  type StreamEntry,
  type StreamID,
  type StreamNack,
} from '../types/stream.js';
import { NO_SUCH_KEY, NOT_INTEGER, SYNTAX, WRONGTYPE, wrongArity } from '../protocol/errors.js';
import { is, parseInt64 } from '../protocol/args.js';
import { blockForKeys, canBlock, signalKeyAsReady } from '../server/blocking.js';
import { replyHelp, subcommandSyntaxError } from './help.js';

const INVALID_ID = 'ERR Invalid stream ID specified as stream command argument';
const XADD_TOO_SMALL = 'ERR The ID specified in XADD is equal or smaller than the target stream top item';
const XREAD_BLOCKED_DEFAULT_COUNT = 1000;
const LLONG_MAX = 9223372036854775807n;

// ---- helpers ------------------------------------------------------------------------------------

/** The stream at `key`: undefined when missing, null after replying WRONGTYPE. */
function streamAt(c: Client, key: string, read: boolean): StreamValue | undefined | null {
  const v = read ? c.server.lookupRead(c.db, key) : c.db.lookup(key);
  if (v === undefined) return undefined;
  if (isStringValue(v) || v.type !== 'stream') {
    c.reply.error(WRONGTYPE);
    return null;
  }
  return v as StreamValue;
}

/** string2ull: decimal digits (strtoull's optional sign/whitespace), within 0..2^64-1. */
function parseU64(s: string): bigint | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/.exec(s);
  if (m === null) return null;
  const v = BigInt(m[2]!);
  if (v > UINT64_MAX) return null;
  if (m[1] === '-') return v === 0n ? 0n : null;
  return v;
}

interface ParsedId {
  id: StreamID;
  /** False for XADD's `ms-*` form. */
  seqGiven: boolean;
}

/** streamGenericParseIDOrReply; null after replying (when c is given). */
function parseIdGeneric(c: Client | null, s: string, missingSeq: bigint, strict: boolean, allowSeqStar: boolean): ParsedId | null {
  const fail = (): null => {
    if (c !== null) c.reply.error(INVALID_ID);
    return null;
  };
  if (s.length > 127) return fail();
  if (strict && (s === '-' || s === '+')) return fail();
  if (s === '-') return { id: 0n, seqGiven: true };
  if (s === '+') return { id: ID_MAX, seqGiven: true };
  // Redis's buffer is a C string: an embedded NUL ends it.
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  const dash = s.indexOf('-');
  const ms = parseU64(dash >= 0 ? s.slice(0, dash) : s);
  if (ms === null) return fail();
  let seq = missingSeq;
  let seqGiven = true;
  if (dash >= 0) {
    const rest = s.slice(dash + 1);
    if (allowSeqStar && rest === '*') {
      seq = 0n;
      seqGiven = false;
    } else {
      const v = parseU64(rest);
      if (v === null) return fail();
      seq = v;
    }
  }
  return { id: makeId(ms, seq), seqGiven };
}

function parseId(c: Client, s: string, missingSeq = 0n): StreamID | null {
  return parseIdGeneric(c, s, missingSeq, false, false)?.id ?? null;
}

function parseStrictId(c: Client | null, s: string, missingSeq = 0n): StreamID | null {
  return parseIdGeneric(c, s, missingSeq, true, false)?.id ?? null;
}

/** streamParseIntervalIDOrReply: `(id` is exclusive. */
function parseIntervalId(c: Client, s: string, missingSeq: bigint): { id: StreamID; exclusive: boolean } | null {
  if (s.length > 1 && s[0] === '(') {
    const id = parseStrictId(c, s.slice(1), missingSeq);
    return id === null ? null : { id, exclusive: true };
  }
  const id = parseId(c, s, missingSeq);
  return id === null ? null : { id, exclusive: false };
}

/** Range start/end parsing with the exclusive adjustment; null after replying. */
function parseRangeStart(c: Client, s: string): StreamID | null {
  const p = parseIntervalId(c, s, 0n);
  if (p === null) return null;
  if (p.exclusive) {
    if (p.id === ID_MAX) {
      c.reply.error('ERR invalid start ID for the interval');
      return null;
    }
    return p.id + 1n;
  }
  return p.id;
}

function parseRangeEnd(c: Client, s: string): StreamID | null {
  const p = parseIntervalId(c, s, UINT64_MAX);
  if (p === null) return null;
  if (p.exclusive) {
    if (p.id === 0n) {
      c.reply.error('ERR invalid end ID for the interval');
      return null;
    }
    return p.id - 1n;
  }
  return p.id;
}

/** getLongLongFromObjectOrReply. */
function longLongArg(c: Client, s: string, msg: string | null = null): bigint | null {
  const v = parseInt64(s);
  if (v === null) c.reply.error(msg ?? NOT_INTEGER);
  return v;
}

function replyEntry(c: Client, e: StreamEntry): void {
  const r = c.reply;
  r.array(2);
  r.bulk(formatId(e.id));
  r.array(e.fields.length);
  for (const f of e.fields) r.bulk(f);
}

function noGroup(c: Client, msg: string): void {
  c.reply.error(`NOGROUP ${msg}`);
}

// ---- propagation helpers --------------------------------------------------------------------------

/** streamPropagateXCLAIM. */
function propagateXclaim(c: Client, key: string, g: ConsumerGroup, groupName: string, id: string, nack: StreamNack): void {
  c.server.propagator.also(c.db.id, [
    'XCLAIM', key, groupName, nack.consumer?.name ?? '', '0', id,
    'TIME', String(nack.deliveryTime), 'RETRYCOUNT', String(nack.deliveryCount),
    'FORCE', 'JUSTID', 'LASTID', formatId(g.lastId),
  ]);
}

/** streamPropagateGroupID. */
function propagateGroupId(c: Client, key: string, g: ConsumerGroup, groupName: string): void {
  c.server.propagator.also(c.db.id, ['XGROUP', 'SETID', key, groupName, formatId(g.lastId), 'ENTRIESREAD', String(g.entriesRead)]);
}

/** streamCreateConsumer with its dirty++ and event. */
function createConsumer(c: Client, db: Database, key: string, g: ConsumerGroup, name: string): StreamConsumer | null {
  const consumer = g.createConsumer(name, c.server.clock.now());
  if (consumer === null) return null;
  c.server.dirty++;
  c.server.notify('t', 'xgroup-createconsumer', key, db.id);
  return consumer;
}

/** streamLookupConsumer with refresh of the seen time. */
function lookupConsumer(c: Client, g: ConsumerGroup, name: string, refresh: boolean): StreamConsumer | undefined {
  const consumer = g.consumers.get(name);
  if (consumer !== undefined && refresh) consumer.seenTime = c.server.clock.now();
  return consumer;
}

// ---- reading ranges ---------------------------------------------------------------------------------

interface GroupRead {
  group: ConsumerGroup;
  consumer: StreamConsumer;
  noack: boolean;
  key: string;
  groupName: string;
}

/**
 * streamReplyWithRange: replies the entries start..end (count 0 = all), updating the group's
 * last ID, entries-read and PELs when reading for a group.
 */
function replyRange(c: Client, s: StreamValue, start: StreamID, end: StreamID, count: number, rev: boolean, gr: GroupRead | null): number {
  const r = c.reply;
  const mark = r.beginDeferred();
  let n = 0;
  let propagateLastId = false;
  for (const e of s.range(start, end, rev)) {
    if (gr !== null) {
      const g = gr.group;
      if (e.id > g.lastId) {
        if (g.entriesRead !== INVALID_ENTRIES_READ && !s.rangeHasTombstones(e.id, ID_MAX)) g.entriesRead++;
        else if (s.entriesAdded !== 0) g.entriesRead = s.estimateDistanceFromFirstEverEntry(e.id);
        g.lastId = e.id;
        if (gr.noack) propagateLastId = true;
      }
    }
    replyEntry(c, e);
    if (gr !== null && !gr.noack) {
      const g = gr.group;
      const now = c.server.clock.now();
      let nack = g.pel.get(e.id);
      if (nack === undefined) {
        nack = { consumer: gr.consumer, deliveryTime: now, deliveryCount: 1 };
        g.pel.set(e.id, nack);
        gr.consumer.pel.set(e.id, nack);
      } else {
        nack.consumer?.pel.delete(e.id);
        nack.consumer = gr.consumer;
        nack.deliveryTime = now;
        nack.deliveryCount = 1;
        gr.consumer.pel.set(e.id, nack);
      }
      propagateXclaim(c, gr.key, g, gr.groupName, formatId(e.id), nack);
    }
    n++;
    if (count !== 0 && n === count) break;
  }
  if (gr !== null && propagateLastId) propagateGroupId(c, gr.key, gr.group, gr.groupName);
  r.endDeferred(mark, 'array', n);
  return n;
}

/** streamReplyWithRangeFromConsumerPEL: a consumer's history from `start`. */
function replyConsumerHistory(c: Client, s: StreamValue, start: StreamID, count: number, consumer: StreamConsumer): number {
  const r = c.reply;
  const mark = r.beginDeferred();
  let n = 0;
  for (const [id, nack] of consumer.pel.from(start)) {
    if (count !== 0 && n >= count) break;
    const fields = s.get(id);
    if (fields === undefined) {
      r.array(2);
      r.bulk(formatId(id));
      r.nullArray();
    } else {
      replyEntry(c, { id, fields });
      nack.deliveryTime = c.server.clock.now();
      nack.deliveryCount++;
    }
    n++;
  }
  r.endDeferred(mark, 'array', n);
  return n;
}

// ---- XADD / XTRIM -------------------------------------------------------------------------------

interface AddTrimArgs {
  id: StreamID;
  idGiven: boolean;
  seqGiven: boolean;
  noMkstream: boolean;
  strategy: 'none' | 'maxlen' | 'minid';
  strategyArgIdx: number;
  approx: boolean;
  limit: number;
  maxlen: number;
  minid: StreamID;
}

/** streamParseAddOrTrimArgsOrReply: returns the ID position (XADD) or -1 after replying. */
function parseAddTrimArgs(c: Client, xadd: boolean): { idpos: number; args: AddTrimArgs } | null {
  const argv = c.argv;
  const argc = argv.length;
  const args: AddTrimArgs = {
    id: 0n, idGiven: false, seqGiven: true, noMkstream: false, strategy: 'none', strategyArgIdx: 0, approx: false, limit: 0, maxlen: 0, minid: 0n,
  };
  let limitGiven = false;
  let i = 2;
  for (; i < argc; i++) {
    const moreargs = argc - 1 - i;
    const opt = argv[i]!;
    if (xadd && opt === '*') break;
    if (is(opt, 'maxlen') && moreargs) {
      if (args.strategy !== 'none') {
        c.reply.error('ERR syntax error, MAXLEN and MINID options at the same time are not compatible');
        return null;
      }
      args.approx = false;
      const next = argv[i + 1]!;
      if (moreargs >= 2 && next === '~') {
        args.approx = true;
        i++;
      } else if (moreargs >= 2 && next === '=') {
        i++;
      }
      const v = longLongArg(c, argv[i + 1]!);
      if (v === null) return null;
      if (v < 0n) {
        c.reply.error('ERR The MAXLEN argument must be >= 0.');
        return null;
      }
      args.maxlen = Number(v);
      i++;
      args.strategy = 'maxlen';
      args.strategyArgIdx = i;
    } else if (is(opt, 'minid') && moreargs) {
      if (args.strategy !== 'none') {
        c.reply.error('ERR syntax error, MAXLEN and MINID options at the same time are not compatible');
        return null;
      }
      args.approx = false;
      const next = argv[i + 1]!;
      if (moreargs >= 2 && next === '~') {
        args.approx = true;
        i++;
      } else if (moreargs >= 2 && next === '=') {
        i++;
      }
      const id = parseStrictId(c, argv[i + 1]!);
      if (id === null) return null;
      args.minid = id;
      i++;
      args.strategy = 'minid';
      args.strategyArgIdx = i;
    } else if (is(opt, 'limit') && moreargs) {
      const v = longLongArg(c, argv[i + 1]!);
      if (v === null) return null;
      if (v < 0n) {
        c.reply.error('ERR The LIMIT argument must be >= 0.');
        return null;
      }
      args.limit = Number(v);
      limitGiven = true;
      i++;
    } else if (xadd && is(opt, 'nomkstream')) {
      args.noMkstream = true;
    } else if (xadd) {
      const p = parseIdGeneric(c, opt, 0n, true, true);
      if (p === null) return null;
      args.id = p.id;
      args.seqGiven = p.seqGiven;
      args.idGiven = true;
      break;
    } else {
      c.reply.error(SYNTAX);
      return null;
    }
  }
  if (args.limit !== 0 && args.strategy === 'none') {
    c.reply.error('ERR syntax error, LIMIT cannot be used without specifying a trimming strategy');
    return null;
  }
  if (!xadd && args.strategy === 'none') {
    c.reply.error('ERR syntax error, XTRIM must be called with a trimming strategy');
    return null;
  }
  if (c.isMaster || c.kind === 'master') {
    args.limit = 0;
  } else if (limitGiven) {
    if (!args.approx) {
      c.reply.error('ERR syntax error, LIMIT cannot be used without the special ~ option');
      return null;
    }
  } else if (args.approx) {
    let limit = 100 * c.server.limits.stream.nodeMaxEntries;
    if (limit <= 0) limit = 10000;
    if (limit > 1000000) limit = 1000000;
    args.limit = limit;
  } else {
    args.limit = 0;
  }
  return { idpos: i, args };
}

/** streamRewriteApproxSpecifier + streamRewriteTrimArgument, into `out`. */
function rewriteTrim(out: string[], s: StreamValue, args: AddTrimArgs): void {
  out[args.strategyArgIdx - 1] = '=';
  // streamGetEdgeID without skipping tombstones: a node's first entry, deleted or not, is its
  // master entry; an empty stream answers the maximum ID.
  out[args.strategyArgIdx] = args.strategy === 'maxlen' ? String(s.length) : formatId(s.nodes[0]?.master ?? ID_MAX);
}

function doTrim(s: StreamValue, args: AddTrimArgs): number {
  if (args.strategy === 'none') return 0;
  return s.trim(args.strategy, args.maxlen, args.minid, args.approx, args.limit);
}

function xadd(c: Client): void {
  const parsed = parseAddTrimArgs(c, true);
  if (parsed === null) return;
  const { idpos, args } = parsed;
  const argv = c.argv;
  const fieldPos = idpos + 1;
  if (argv.length - fieldPos < 2 || (argv.length - fieldPos) % 2 === 1) {
    c.reply.error(wrongArity('xadd'));
    return;
  }
  if (args.idGiven && args.seqGiven && args.id === 0n) {
    c.reply.error('ERR The ID specified in XADD must be greater than 0-0');
    return;
  }
  const key = argv[1]!;
  const db = c.db;
  let s = streamAt(c, key, false);
  if (s === null) return;
  let created = false;
  if (s === undefined) {
    if (args.noMkstream) {
      c.reply.nullBulk();
      return;
    }
    s = new StreamValue(c.server.limits.stream);
    created = true;
  }
  if (s.lastId === ID_MAX) {
    c.reply.error('ERR The stream has exhausted the last possible ID, unable to add more items');
    return;
  }
  // streamAppendItem's ID choice.
  let id: StreamID;
  if (args.idGiven) {
    if (args.seqGiven) id = args.id;
    else if (idMs(s.lastId) === idMs(args.id)) {
      if (idSeq(s.lastId) === UINT64_MAX) {
        c.reply.error(XADD_TOO_SMALL);
        return;
      }
      id = s.lastId + 1n;
    } else id = args.id;
  } else {
    const ms = BigInt(c.server.clock.now());
    const lastMs = idMs(s.lastId);
    if (ms > lastMs) id = makeId(ms, 0n);
    else id = s.lastId === ID_MAX ? ID_MAX : s.lastId + 1n; // streamIncrID carries into ms
  }
  if (id <= s.lastId) {
    c.reply.error(XADD_TOO_SMALL);
    return;
  }
  const fv = argv.slice(fieldPos);
  let total = 0;
  for (const f of fv) total += f.length;
  if (total > STREAM_LISTPACK_MAX_SIZE) {
    c.reply.error('ERR Elements are too large to be stored');
    return;
  }
  if (created) db.set(key, s);
  s.append(id, fv);
  const idStr = formatId(id);
  c.reply.bulk(idStr);
  c.server.modified(db, key, 't', 'xadd');
  let out: string[] | null = null;
  if (args.strategy !== 'none') {
    if (doTrim(s, args) !== 0) c.server.notify('t', 'xtrim', key, db.id);
    if (args.approx) {
      out = [...argv];
      rewriteTrim(out, s, args);
    }
  }
  if (!args.idGiven || !args.seqGiven) {
    out ??= [...argv];
    out[idpos] = idStr;
  }
  if (out !== null) c.propagateArgv = out;
}

function xtrim(c: Client): void {
  const parsed = parseAddTrimArgs(c, false);
  if (parsed === null) return;
  const { args } = parsed;
  const key = c.argv[1]!;
  const s = streamAt(c, key, false);
  if (s === null) return;
  if (s === undefined) {
    c.reply.zero();
    return;
  }
  const deleted = doTrim(s, args);
  if (deleted !== 0) {
    c.server.notify('t', 'xtrim', key, c.db.id);
    if (args.approx) {
      const out = [...c.argv];
      rewriteTrim(out, s, args);
      c.propagateArgv = out;
    }
    c.server.signalModifiedKey(c.db, key);
    c.server.dirty += deleted;
  }
  c.reply.integer(deleted);
}

// ---- XRANGE / XREVRANGE / XLEN / XDEL --------------------------------------------------------------

function xrangeGeneric(c: Client, rev: boolean): void {
  const argv = c.argv;
  const start = parseRangeStart(c, rev ? argv[3]! : argv[2]!);
  if (start === null) return;
  const end = parseRangeEnd(c, rev ? argv[2]! : argv[3]!);
  if (end === null) return;
  let count = -1;
  for (let j = 4; j < argv.length; j++) {
    const additional = argv.length - j - 1;
    if (is(argv[j]!, 'count') && additional >= 1) {
      const v = longLongArg(c, argv[j + 1]!);
      if (v === null) return;
      count = v < 0n ? 0 : Number(v);
      j++;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const s = streamAt(c, argv[1]!, true);
  if (s === null) return;
  if (s === undefined) {
    c.reply.emptyArray();
    return;
  }
  if (count === 0) {
    c.reply.nullArray();
    return;
  }
  replyRange(c, s, start, end, count === -1 ? 0 : count, rev, null);
}

function xrange(c: Client): void {
  xrangeGeneric(c, false);
}

function xrevrange(c: Client): void {
  xrangeGeneric(c, true);
}

function xlen(c: Client): void {
  const s = streamAt(c, c.argv[1]!, true);
  if (s === null) return;
  c.reply.integer(s === undefined ? 0 : s.length);
}

function xdel(c: Client): void {
  const argv = c.argv;
  const key = argv[1]!;
  const s = streamAt(c, key, false);
  if (s === null) return;
  if (s === undefined) {
    c.reply.zero();
    return;
  }
  const ids: StreamID[] = [];
  for (let j = 2; j < argv.length; j++) {
    const id = parseStrictId(c, argv[j]!);
    if (id === null) return;
    ids.push(id);
  }
  let deleted = 0;
  let firstEntry = false;
  for (const id of ids) {
    if (!s.deleteEntry(id)) continue;
    if (id === s.firstId) firstEntry = true;
    if (id > s.maxDeletedId) s.maxDeletedId = id;
    deleted++;
  }
  if (deleted !== 0) {
    if (s.length === 0) s.firstId = 0n;
    else if (firstEntry) s.firstId = s.firstValidId();
    c.server.modified(c.db, key, 't', 'xdel', deleted);
  }
  c.reply.integer(deleted);
}

// ---- XREAD / XREADGROUP -------------------------------------------------------------------------

interface BlockedRead {
  keys: string[];
  /** Per key: the ID the reader wants entries after. */
  ids: Map<string, StreamID>;
  count: number;
  group: string | null;
  consumer: string;
  noack: boolean;
}

function xreadGeneric(c: Client, xreadgroup: boolean): void {
  const argv = c.argv;
  const argc = argv.length;
  const cmdName = argv[0]!;
  let timeout = -1;
  let count = 0;
  let streamsArg = 0;
  let streamsCount = 0;
  let noack = false;
  let groupName: string | null = null;
  let consumerName = '';
  for (let i = 1; i < argc; i++) {
    const moreargs = argc - i - 1;
    const o = argv[i]!;
    if (is(o, 'block') && moreargs) {
      if (c.fake && c.kind !== 'master') {
        c.reply.error(`ERR ${cmdName} command is not allowed with BLOCK option from scripts`);
        return;
      }
      i++;
      const t = parseBlockingTimeoutMs(c, argv[i]!);
      if (t === null) return;
      timeout = t;
    } else if (is(o, 'count') && moreargs) {
      i++;
      const v = longLongArg(c, argv[i]!);
      if (v === null) return;
      count = v < 0n ? 0 : Number(v);
    } else if (is(o, 'streams') && moreargs) {
      streamsArg = i + 1;
      streamsCount = argc - streamsArg;
      if (streamsCount % 2 !== 0) {
        c.reply.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
        return;
      }
      streamsCount /= 2;
      break;
    } else if (is(o, 'group') && moreargs >= 2) {
      if (!xreadgroup) {
        c.reply.error('ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.');
        return;
      }
      groupName = argv[i + 1]!;
      consumerName = argv[i + 2]!;
      i += 2;
    } else if (is(o, 'noack')) {
      if (!xreadgroup) {
        c.reply.error('ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.');
        return;
      }
      noack = true;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  c.preventPropagation = true;
  if (streamsArg === 0) {
    c.reply.error(SYNTAX);
    return;
  }
  if (xreadgroup && groupName === null) {
    c.reply.error('ERR Missing GROUP option for XREADGROUP');
    return;
  }
  const keys: string[] = [];
  const ids: StreamID[] = [];
  const groups: ConsumerGroup[] = [];
  for (let i = streamsArg + streamsCount; i < argc; i++) {
    const key = argv[i - streamsCount]!;
    const s = streamAt(c, key, true);
    if (s === null) return;
    keys.push(key);
    if (groupName !== null) {
      const g = s?.group(groupName);
      if (g === undefined) {
        noGroup(c, `No such key '${key}' or consumer group '${groupName}' in XREADGROUP with GROUP option`);
        return;
      }
      groups.push(g);
    }
    const a = argv[i]!;
    if (a === '$') {
      if (xreadgroup) {
        c.reply.error(
          'ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.',
        );
        return;
      }
      ids.push(s !== undefined ? s.lastId : 0n);
      continue;
    }
    if (a === '>') {
      if (!xreadgroup) {
        c.reply.error('ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.');
        return;
      }
      ids.push(ID_MAX);
      continue;
    }
    const id = parseStrictId(c, a);
    if (id === null) return;
    ids.push(id);
  }
  // The serving loop looks every key up again, counting keyspace hits/misses as Redis does.
  const r = c.reply;
  let n = 0;
  let mark = 0;
  for (let i = 0; i < streamsCount; i++) {
    const key = keys[i]!;
    const s = c.server.lookupRead(c.db, key) as StreamValue | undefined;
    if (s === undefined) continue;
    let gt = ids[i]!;
    let serve = false;
    let history = false;
    if (groupName !== null) {
      if (gt !== ID_MAX) {
        serve = true;
        history = true;
      } else if (s.length !== 0 && s.lastValidId() > groups[i]!.lastId) {
        serve = true;
        gt = groups[i]!.lastId;
      }
    } else if (s.length !== 0 && s.lastValidId() > gt) {
      serve = true;
    }
    if (!serve) continue;
    n++;
    if (n === 1) mark = r.beginDeferred();
    if (c.resp === 2) r.array(2);
    r.bulk(key);
    if (groupName !== null) {
      const g = groups[i]!;
      let consumer = lookupConsumer(c, g, consumerName, true);
      if (consumer === undefined) {
        consumer = createConsumer(c, c.db, key, g, consumerName)!;
        if (noack) c.server.propagator.also(c.db.id, ['XGROUP', 'CREATECONSUMER', key, groupName, consumerName]);
      }
      if (history) replyConsumerHistory(c, s, gt + 1n, count, consumer);
      else replyRange(c, s, gt + 1n, ID_MAX, count, false, { group: g, consumer, noack, key, groupName });
      c.server.dirty++;
    } else {
      replyRange(c, s, gt + 1n, ID_MAX, count, false, null);
    }
  }
  if (n !== 0) {
    r.endDeferred(mark, c.resp === 2 ? 'array' : 'map', n);
    return;
  }
  if (timeout !== -1) {
    if (!canBlock(c)) {
      r.nullArray();
      return;
    }
    const wait: BlockedRead = {
      keys,
      ids: new Map(),
      count: count !== 0 ? count : XREAD_BLOCKED_DEFAULT_COUNT,
      group: groupName,
      consumer: consumerName,
      noack,
    };
    // A key given twice waits on its first ID, as Redis's bpop.keys dict keeps the first.
    for (let i = 0; i < keys.length; i++) if (!wait.ids.has(keys[i]!)) wait.ids.set(keys[i]!, ids[i]!);
    blockForKeys(c, keys, timeout, {
      type: 'stream',
      serve: (rc, key) => serveBlockedRead(rc, key, wait),
      // unblockDeletedStreamReadgroupClients: a group reader cannot be served by a new key.
      onKeyGone: (rc) => {
        if (wait.group === null) return false;
        rc.reply.error('UNBLOCKED the stream key no longer exists');
        return true;
      },
    });
    return;
  }
  r.nullArray();
}

/** getTimeoutFromObjectOrReply with UNIT_MILLISECONDS: an integer number of ms, 0 = forever. */
function parseBlockingTimeoutMs(c: Client, arg: string): number | null {
  const v = parseInt64(arg);
  if (v === null) {
    c.reply.error('ERR timeout is not an integer or out of range');
    return null;
  }
  if (v < 0n) {
    c.reply.error('ERR timeout is negative');
    return null;
  }
  return Number(v);
}

/** serveClientsBlockedOnStreamKey for one blocked XREAD/XREADGROUP client. */
function serveBlockedRead(c: Client, key: string, w: BlockedRead): boolean {
  const s = c.db.lookup(key) as StreamValue;
  let gt = w.ids.get(key)!;
  let g: ConsumerGroup | undefined;
  if (w.group !== null) {
    g = s.group(w.group);
    if (g === undefined) {
      noGroup(c, 'the consumer group this client was blocked on no longer exists');
      return true;
    }
    gt = g.lastId;
    w.ids.set(key, gt);
  }
  if (!(s.lastId > gt)) return false;
  let consumer: StreamConsumer | undefined;
  if (g !== undefined) {
    consumer = lookupConsumer(c, g, w.consumer, true);
    if (consumer === undefined) {
      consumer = createConsumer(c, c.db, key, g, w.consumer)!;
      if (w.noack) c.server.propagator.also(c.db.id, ['XGROUP', 'CREATECONSUMER', key, w.group!, w.consumer]);
    }
  }
  const r = c.reply;
  if (c.resp === 2) {
    r.array(1);
    r.array(2);
  } else {
    r.map(1);
  }
  r.bulk(key);
  replyRange(
    c, s, gt + 1n, ID_MAX, w.count, false,
    g !== undefined ? { group: g, consumer: consumer!, noack: w.noack, key, groupName: w.group! } : null,
  );
  return true;
}

function xread(c: Client): void {
  xreadGeneric(c, false);
}

function xreadgroup(c: Client): void {
  xreadGeneric(c, true);
}

// ---- XGROUP -------------------------------------------------------------------------------------

const XGROUP_HELP = [
  'CREATE <key> <groupname> <id|$> [option]',
  '    Create a new consumer group. Options are:',
  '    * MKSTREAM',
  '      Create the empty stream if it does not exist.',
  '    * ENTRIESREAD entries_read',
  "      Set the group's entries_read counter (internal use).",
  'CREATECONSUMER <key> <groupname> <consumer>',
  '    Create a new consumer in the specified group.',
  'DELCONSUMER <key> <groupname> <consumer>',
  '    Remove the specified consumer.',
  'DESTROY <key> <groupname>',
  '    Remove the specified group.',
  'SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]',
  '    Set the current group ID and entries_read counter.',
];

interface XgroupCtx {
  s: StreamValue | undefined;
  g: ConsumerGroup | undefined;
  mkstream: boolean;
  entriesRead: number;
}

/** The common prologue of xgroupCommand; null after replying. */
function xgroupPrologue(c: Client): XgroupCtx | null {
  const argv = c.argv;
  const argc = argv.length;
  const opt = argv[1]!;
  const ctx: XgroupCtx = { s: undefined, g: undefined, mkstream: false, entriesRead: INVALID_ENTRIES_READ };
  const create = is(opt, 'create');
  const setid = is(opt, 'setid');
  let i = 5;
  while (i < argc) {
    if (create && is(argv[i]!, 'mkstream')) {
      ctx.mkstream = true;
      i++;
    } else if ((create || setid) && is(argv[i]!, 'entriesread') && i + 1 < argc) {
      const v = longLongArg(c, argv[i + 1]!);
      if (v === null) return null;
      if (v < 0n && v !== -1n) {
        c.reply.error('ERR value for ENTRIESREAD must be positive or -1');
        return null;
      }
      ctx.entriesRead = Number(v);
      i += 2;
    } else {
      subcommandSyntaxError(c);
      return null;
    }
  }
  const s = streamAt(c, argv[2]!, false);
  if (s === null) return null;
  ctx.s = s;
  const grp = argv[3]!;
  if (!ctx.mkstream) {
    if (s === undefined) {
      c.reply.error(
        'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.',
      );
      return null;
    }
    ctx.g = s.group(grp);
    if (ctx.g === undefined && (setid || is(opt, 'createconsumer') || is(opt, 'delconsumer'))) {
      noGroup(c, `No such consumer group '${grp}' for key name '${argv[2]!}'`);
      return null;
    }
  }
  return ctx;
}

function xgroupCreate(c: Client): void {
  const argv = c.argv;
  if (argv.length > 8) {
    subcommandSyntaxError(c);
    return;
  }
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const key = argv[2]!;
  let id: StreamID;
  if (argv[4] === '$') id = ctx.s !== undefined ? ctx.s.lastId : 0n;
  else {
    const p = parseStrictId(c, argv[4]!);
    if (p === null) return;
    id = p;
  }
  let s = ctx.s;
  if (s === undefined) {
    s = new StreamValue(c.server.limits.stream);
    c.db.set(key, s);
    c.server.signalModifiedKey(c.db, key);
  }
  if (s.createGroup(argv[3]!, id, ctx.entriesRead) !== null) {
    c.reply.ok();
    c.server.dirty++;
    c.server.notify('t', 'xgroup-create', key, c.db.id);
  } else {
    c.reply.error('BUSYGROUP Consumer Group name already exists');
  }
}

function xgroupSetid(c: Client): void {
  const argv = c.argv;
  if (argv.length !== 5 && argv.length !== 7) {
    subcommandSyntaxError(c);
    return;
  }
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const s = ctx.s!;
  let id: StreamID;
  if (argv[4] === '$') id = s.lastId;
  else {
    const p = parseId(c, argv[4]!);
    if (p === null) return;
    id = p;
  }
  ctx.g!.lastId = id;
  ctx.g!.entriesRead = ctx.entriesRead;
  c.reply.ok();
  c.server.dirty++;
  c.server.notify('t', 'xgroup-setid', argv[2]!, c.db.id);
}

function xgroupDestroy(c: Client): void {
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const key = c.argv[2]!;
  if (ctx.g !== undefined) {
    ctx.s!.groups!.delete(c.argv[3]!);
    c.reply.one();
    c.server.dirty++;
    c.server.notify('t', 'xgroup-destroy', key, c.db.id);
    signalKeyAsReady(c.db, key);
  } else {
    c.reply.zero();
  }
}

function xgroupCreateConsumer(c: Client): void {
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const created = createConsumer(c, c.db, c.argv[2]!, ctx.g!, c.argv[4]!);
  c.reply.integer(created !== null ? 1 : 0);
}

function xgroupDelConsumer(c: Client): void {
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const g = ctx.g!;
  const consumer = g.consumers.get(c.argv[4]!);
  let pending = 0;
  if (consumer !== undefined) {
    pending = g.deleteConsumer(consumer);
    c.server.dirty++;
    c.server.notify('t', 'xgroup-delconsumer', c.argv[2]!, c.db.id);
  }
  c.reply.integer(pending);
}

function xgroupHelp(c: Client): void {
  replyHelp(c, XGROUP_HELP);
}

// ---- XSETID / XACK / XPENDING ---------------------------------------------------------------------

function xsetid(c: Client): void {
  const argv = c.argv;
  const id = parseStrictId(c, argv[2]!);
  if (id === null) return;
  let entriesAdded = -1n;
  let maxXdel = 0n;
  let i = 3;
  while (i < argv.length) {
    const moreargs = argv.length - 1 - i;
    const opt = argv[i]!;
    if (is(opt, 'entriesadded') && moreargs) {
      const v = longLongArg(c, argv[i + 1]!);
      if (v === null) return;
      if (v < 0n) {
        c.reply.error('ERR entries_added must be positive');
        return;
      }
      entriesAdded = v;
      i += 2;
    } else if (is(opt, 'maxdeletedid') && moreargs) {
      const v = parseStrictId(c, argv[i + 1]!);
      if (v === null) return;
      if (id < v) {
        c.reply.error('ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id');
        return;
      }
      maxXdel = v;
      i += 2;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const key = argv[1]!;
  const s = streamAt(c, key, false);
  if (s === null) return;
  if (s === undefined) {
    c.reply.error(NO_SUCH_KEY);
    return;
  }
  if (s.length > 0) {
    if (id < s.lastValidId()) {
      c.reply.error('ERR The ID specified in XSETID is smaller than the target stream top item');
      return;
    }
    if (entriesAdded !== -1n && BigInt(s.length) > entriesAdded) {
      c.reply.error('ERR The entries_added specified in XSETID is smaller than the target stream length');
      return;
    }
  }
  s.lastId = id;
  if (entriesAdded !== -1n) s.entriesAdded = Number(entriesAdded);
  if (maxXdel !== 0n) s.maxDeletedId = maxXdel;
  c.reply.ok();
  c.server.dirty++;
  c.server.notify('t', 'xsetid', key, c.db.id);
}

function xack(c: Client): void {
  const argv = c.argv;
  const s = streamAt(c, argv[1]!, true);
  if (s === null) return;
  const g = s?.group(argv[2]!);
  if (s === undefined || g === undefined) {
    c.reply.zero();
    return;
  }
  const ids: StreamID[] = [];
  for (let j = 3; j < argv.length; j++) {
    const id = parseStrictId(c, argv[j]!);
    if (id === null) return;
    ids.push(id);
  }
  let acked = 0;
  for (const id of ids) {
    const nack = g.pel.get(id);
    if (nack === undefined) continue;
    g.pel.delete(id);
    nack.consumer?.pel.delete(id);
    acked++;
    c.server.dirty++;
  }
  c.reply.integer(acked);
}

function xpending(c: Client): void {
  const argv = c.argv;
  const argc = argv.length;
  const justinfo = argc === 3;
  const key = argv[1]!;
  const groupName = argv[2]!;
  let consumerName: string | null = null;
  let start = 0n;
  let end = 0n;
  let count = 0;
  let minidle = 0;
  if (argc !== 3 && (argc < 6 || argc > 9)) {
    c.reply.error(SYNTAX);
    return;
  }
  if (argc >= 6) {
    let startidx = 3;
    if (is(argv[3]!, 'idle')) {
      const v = longLongArg(c, argv[4]!);
      if (v === null) return;
      minidle = Number(v);
      if (argc < 8) {
        c.reply.error(SYNTAX);
        return;
      }
      startidx += 2;
    }
    const cv = longLongArg(c, argv[startidx + 2]!);
    if (cv === null) return;
    count = cv < 0n ? 0 : Number(cv);
    const st = parseRangeStart(c, argv[startidx]!);
    if (st === null) return;
    const en = parseRangeEnd(c, argv[startidx + 1]!);
    if (en === null) return;
    start = st;
    end = en;
    if (startidx + 3 < argc) consumerName = argv[startidx + 3]!;
  }
  const s = streamAt(c, key, true);
  if (s === null) return;
  const g = s?.group(groupName);
  if (s === undefined || g === undefined) {
    noGroup(c, `No such key '${key}' or consumer group '${groupName}'`);
    return;
  }
  const r = c.reply;
  if (justinfo) {
    r.array(4);
    r.integer(g.pel.size);
    if (g.pel.size === 0) {
      r.nullBulk();
      r.nullBulk();
      r.nullArray();
    } else {
      r.bulk(formatId(g.pel.firstKey()!));
      r.bulk(formatId(g.pel.lastKey()!));
      const withPending = g.sortedConsumers().filter((x) => x.pel.size !== 0);
      r.array(withPending.length);
      for (const consumer of withPending) {
        r.array(2);
        r.bulk(consumer.name);
        r.bulkInteger(consumer.pel.size);
      }
    }
    return;
  }
  let pel = g.pel;
  if (consumerName !== null) {
    const consumer = g.consumers.get(consumerName);
    if (consumer === undefined) {
      r.emptyArray();
      return;
    }
    pel = consumer.pel;
  }
  const now = c.server.clock.now();
  const mark = r.beginDeferred();
  let n = 0;
  if (count !== 0) {
    for (const [id, nack] of pel.from(start)) {
      if (id > end) break;
      if (minidle !== 0 && now - nack.deliveryTime < minidle) continue;
      n++;
      r.array(4);
      r.bulk(formatId(id));
      r.bulk(nack.consumer?.name ?? '');
      r.integer(Math.max(0, now - nack.deliveryTime));
      r.integer(nack.deliveryCount);
      if (--count === 0) break;
    }
  }
  r.endDeferred(mark, 'array', n);
}

// ---- XCLAIM / XAUTOCLAIM --------------------------------------------------------------------------

function xclaim(c: Client): void {
  const argv = c.argv;
  const argc = argv.length;
  const key = argv[1]!;
  const groupName = argv[2]!;
  const s = streamAt(c, key, true);
  if (s === null) return;
  const g = s?.group(groupName);
  if (s === undefined || g === undefined) {
    noGroup(c, `No such key '${key}' or consumer group '${groupName}'`);
    return;
  }
  const mi = longLongArg(c, argv[4]!, 'ERR Invalid min-idle-time argument for XCLAIM');
  if (mi === null) return;
  const minidle = mi < 0n ? 0 : Number(mi);
  const ids: StreamID[] = [];
  let j = 5;
  for (; j < argc; j++) {
    const id = parseStrictId(null, argv[j]!);
    if (id === null) break;
    ids.push(id);
  }
  const lastIdArg = j - 1;
  const now = c.server.clock.now();
  let deliveryTime = -1;
  let retryCount = -1;
  let force = false;
  let justid = false;
  let lastId = 0n;
  for (; j < argc; j++) {
    const moreargs = argc - 1 - j;
    const opt = argv[j]!;
    if (is(opt, 'force')) force = true;
    else if (is(opt, 'justid')) justid = true;
    else if (is(opt, 'idle') && moreargs) {
      j++;
      const v = longLongArg(c, argv[j]!, 'ERR Invalid IDLE option argument for XCLAIM');
      if (v === null) return;
      deliveryTime = now - Number(v);
    } else if (is(opt, 'time') && moreargs) {
      j++;
      const v = longLongArg(c, argv[j]!, 'ERR Invalid TIME option argument for XCLAIM');
      if (v === null) return;
      deliveryTime = Number(v);
    } else if (is(opt, 'retrycount') && moreargs) {
      j++;
      const v = longLongArg(c, argv[j]!, 'ERR Invalid RETRYCOUNT option argument for XCLAIM');
      if (v === null) return;
      retryCount = Number(v);
    } else if (is(opt, 'lastid') && moreargs) {
      j++;
      const v = parseStrictId(c, argv[j]!);
      if (v === null) return;
      lastId = v;
    } else {
      c.reply.error(`ERR Unrecognized XCLAIM option '${opt}'`);
      return;
    }
  }
  let propagateLastId = false;
  if (lastId > g.lastId) {
    g.lastId = lastId;
    propagateLastId = true;
  }
  if (deliveryTime !== -1) {
    if (deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  } else {
    deliveryTime = now;
  }
  c.preventPropagation = true;
  let consumer: StreamConsumer | undefined;
  const r = c.reply;
  const mark = r.beginDeferred();
  let n = 0;
  for (let k = 5; k <= lastIdArg; k++) {
    const id = ids[k - 5]!;
    let nack = g.pel.get(id);
    const fields = s.get(id);
    if (fields === undefined) {
      if (nack !== undefined) {
        propagateXclaim(c, key, g, groupName, argv[k]!, nack);
        propagateLastId = false;
        c.server.dirty++;
        g.pel.delete(id);
        nack.consumer?.pel.delete(id);
      }
      continue;
    }
    if (force && nack === undefined) {
      nack = { consumer: null, deliveryTime: now, deliveryCount: 1 };
      g.pel.set(id, nack);
    }
    if (nack === undefined) continue;
    if (nack.consumer !== null && minidle !== 0 && now - nack.deliveryTime < minidle) continue;
    if (consumer === undefined) {
      consumer = lookupConsumer(c, g, argv[3]!, true) ?? createConsumer(c, c.db, key, g, argv[3]!)!;
    }
    if (nack.consumer !== consumer) nack.consumer?.pel.delete(id);
    nack.deliveryTime = deliveryTime;
    if (retryCount >= 0) nack.deliveryCount = retryCount;
    else if (!justid) nack.deliveryCount++;
    if (nack.consumer !== consumer) {
      consumer.pel.set(id, nack);
      nack.consumer = consumer;
    }
    if (justid) r.bulk(formatId(id));
    else replyEntry(c, { id, fields });
    n++;
    propagateXclaim(c, key, g, groupName, argv[k]!, nack);
    propagateLastId = false;
    c.server.dirty++;
  }
  if (propagateLastId) {
    propagateGroupId(c, key, g, groupName);
    c.server.dirty++;
  }
  r.endDeferred(mark, 'array', n);
}

function xautoclaim(c: Client): void {
  const argv = c.argv;
  const argc = argv.length;
  const key = argv[1]!;
  const groupName = argv[2]!;
  const mi = longLongArg(c, argv[4]!, 'ERR Invalid min-idle-time argument for XAUTOCLAIM');
  if (mi === null) return;
  const minidle = mi < 0n ? 0 : Number(mi);
  const start = parseRangeStart(c, argv[5]!);
  if (start === null) return;
  let count = 100;
  let justid = false;
  const maxCount = LLONG_MAX / 16n;
  for (let j = 6; j < argc; j++) {
    const moreargs = argc - 1 - j;
    const opt = argv[j]!;
    if (is(opt, 'count') && moreargs) {
      const v = parseInt64(argv[j + 1]!);
      if (v === null || v < 1n || v > maxCount) {
        c.reply.error('ERR COUNT must be > 0');
        return;
      }
      count = Number(v);
      j++;
    } else if (is(opt, 'justid')) {
      justid = true;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const s = streamAt(c, key, true);
  if (s === null) return;
  const g = s?.group(groupName);
  if (s === undefined || g === undefined) {
    noGroup(c, `No such key '${key}' or consumer group '${groupName}'`);
    return;
  }
  c.preventPropagation = true;
  const r = c.reply;
  const now = c.server.clock.now();
  let attempts = count * 10;
  let consumer: StreamConsumer | undefined;
  const deletedIds: StreamID[] = [];
  r.array(3);
  // The cursor is only known after the scan: the claimed entries go into a side buffer.
  const claimed: (() => void)[] = [];
  let next: StreamID = 0n;
  const it = g.pel.from(start);
  let cur = it.next();
  while (attempts-- > 0 && count > 0 && !cur.done) {
    const [id, nack] = cur.value;
    const fields = s.get(id);
    if (fields === undefined) {
      propagateXclaim(c, key, g, groupName, formatId(id), nack);
      c.server.dirty++;
      g.pel.delete(id);
      nack.consumer?.pel.delete(id);
      deletedIds.push(id);
      count--;
      cur = it.next();
      continue;
    }
    if (minidle !== 0 && now - nack.deliveryTime < minidle) {
      cur = it.next();
      continue;
    }
    if (consumer === undefined) {
      consumer = lookupConsumer(c, g, argv[3]!, true) ?? createConsumer(c, c.db, key, g, argv[3]!)!;
    }
    if (nack.consumer !== consumer) nack.consumer?.pel.delete(id);
    nack.deliveryTime = now;
    if (!justid) nack.deliveryCount++;
    if (nack.consumer !== consumer) {
      consumer.pel.set(id, nack);
      nack.consumer = consumer;
    }
    if (justid) claimed.push(() => r.bulk(formatId(id)));
    else claimed.push(() => replyEntry(c, { id, fields }));
    count--;
    propagateXclaim(c, key, g, groupName, formatId(id), nack);
    c.server.dirty++;
    cur = it.next();
  }
  // Redis's raxNext after the loop: the entry following the last one examined, or 0-0.
  if (!cur.done) next = cur.value[0];
  r.bulk(formatId(next));
  r.array(claimed.length);
  for (const f of claimed) f();
  r.array(deletedIds.length);
  for (const id of deletedIds) r.bulk(formatId(id));
}

// ---- XINFO ----------------------------------------------------------------------------------------

function replyLag(c: Client, s: StreamValue, g: ConsumerGroup): void {
  const lag = s.groupLag(g);
  if (lag === null) c.reply.nullBulk();
  else c.reply.integer(lag);
}

function replyEntriesRead(c: Client, g: ConsumerGroup): void {
  if (g.entriesRead !== INVALID_ENTRIES_READ) c.reply.integer(g.entriesRead);
  else c.reply.nullBulk();
}

/**
 * The number of nodes Redis's rax would have for the stream's node keys (16-byte big-endian
 * master IDs), as a canonical compressed radix tree: a compressed node per shared run of bytes,
 * a branching node where keys diverge, and a leaf per key. (A rax that went through deletions
 * may hold a few nodes more in Redis.)
 */
function raxNodeCount(s: StreamValue): number {
  const keys = s.nodes.map((n) => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64BE(idMs(n.master), 0);
    b.writeBigUInt64BE(idSeq(n.master), 8);
    return b;
  });
  if (keys.length === 0) return 1;
  const count = (lo: number, hi: number, d: number): number => {
    if (d === 16) return 1;
    const first = keys[lo]!;
    const last = keys[hi - 1]!;
    let l = 0;
    while (d + l < 16 && first[d + l] === last[d + l]) l++;
    if (l > 0) return 1 + count(lo, hi, d + l);
    let total = 1;
    let i = lo;
    while (i < hi) {
      const byte = keys[i]![d];
      let j = i + 1;
      while (j < hi && keys[j]![d] === byte) j++;
      total += count(i, j, d + 1);
      i = j;
    }
    return total;
  };
  return count(0, keys.length, 0);
}

function xinfoStream(c: Client): void {
  const argv = c.argv;
  const s = xinfoLookup(c);
  if (s === null) return;
  const optc = argv.length - 3;
  let full = false;
  let count = 10;
  if (optc !== 0) {
    if (optc !== 1 && optc !== 3) {
      subcommandSyntaxError(c);
      return;
    }
    if (!is(argv[3]!, 'full')) {
      subcommandSyntaxError(c);
      return;
    }
    full = true;
    if (optc === 3) {
      if (!is(argv[4]!, 'count')) {
        subcommandSyntaxError(c);
        return;
      }
      const v = longLongArg(c, argv[5]!);
      if (v === null) return;
      count = v < 0n ? 10 : Number(v);
    }
  }
  const r = c.reply;
  r.map(full ? 9 : 10);
  r.bulk('length');
  r.integer(s.length);
  r.bulk('radix-tree-keys');
  r.integer(s.nodes.length);
  r.bulk('radix-tree-nodes');
  r.integer(raxNodeCount(s));
  r.bulk('last-generated-id');
  r.bulk(formatId(s.lastId));
  r.bulk('max-deleted-entry-id');
  r.bulk(formatId(s.maxDeletedId));
  r.bulk('entries-added');
  r.integer(s.entriesAdded);
  r.bulk('recorded-first-entry-id');
  r.bulk(formatId(s.firstId));
  if (!full) {
    r.bulk('groups');
    r.integer(s.groups?.size ?? 0);
    r.bulk('first-entry');
    const first = s.range(0n, ID_MAX, false).next();
    if (first.done) r.nullBulk();
    else replyEntry(c, first.value);
    r.bulk('last-entry');
    const last = s.range(0n, ID_MAX, true).next();
    if (last.done) r.nullBulk();
    else replyEntry(c, last.value);
    return;
  }
  r.bulk('entries');
  replyRange(c, s, 0n, ID_MAX, count, false, null);
  r.bulk('groups');
  const groups = s.sortedGroups();
  r.array(groups.length);
  for (const [name, g] of groups) {
    r.map(7);
    r.bulk('name');
    r.bulk(name);
    r.bulk('last-delivered-id');
    r.bulk(formatId(g.lastId));
    r.bulk('entries-read');
    replyEntriesRead(c, g);
    r.bulk('lag');
    replyLag(c, s, g);
    r.bulk('pel-count');
    r.integer(g.pel.size);
    r.bulk('pending');
    let mark = r.beginDeferred();
    let n = 0;
    for (const [id, nack] of g.pel.from()) {
      if (count !== 0 && n >= count) break;
      r.array(4);
      r.bulk(formatId(id));
      r.bulk(nack.consumer?.name ?? '');
      r.integer(nack.deliveryTime);
      r.integer(nack.deliveryCount);
      n++;
    }
    r.endDeferred(mark, 'array', n);
    r.bulk('consumers');
    const consumers = g.sortedConsumers();
    r.array(consumers.length);
    for (const consumer of consumers) {
      r.map(4);
      r.bulk('name');
      r.bulk(consumer.name);
      r.bulk('seen-time');
      r.integer(consumer.seenTime);
      r.bulk('pel-count');
      r.integer(consumer.pel.size);
      r.bulk('pending');
      mark = r.beginDeferred();
      n = 0;
      for (const [id, nack] of consumer.pel.from()) {
        if (count !== 0 && n >= count) break;
        r.array(3);
        r.bulk(formatId(id));
        r.integer(nack.deliveryTime);
        r.integer(nack.deliveryCount);
        n++;
      }
      r.endDeferred(mark, 'array', n);
    }
  }
}

/** lookupKeyReadOrReply(nokeyerr) + checkType for XINFO; null after replying. */
function xinfoLookup(c: Client): StreamValue | null {
  const s = streamAt(c, c.argv[2]!, true);
  if (s === null) return null;
  if (s === undefined) {
    c.reply.error(NO_SUCH_KEY);
    return null;
  }
  return s;
}

function xinfoGroups(c: Client): void {
  const s = xinfoLookup(c);
  if (s === null) return;
  const r = c.reply;
  const groups = s.sortedGroups();
  r.array(groups.length);
  for (const [name, g] of groups) {
    r.map(6);
    r.bulk('name');
    r.bulk(name);
    r.bulk('consumers');
    r.integer(g.consumers.size);
    r.bulk('pending');
    r.integer(g.pel.size);
    r.bulk('last-delivered-id');
    r.bulk(formatId(g.lastId));
    r.bulk('entries-read');
    replyEntriesRead(c, g);
    r.bulk('lag');
    replyLag(c, s, g);
  }
}

function xinfoConsumers(c: Client): void {
  const s = xinfoLookup(c);
  if (s === null) return;
  const g = s.group(c.argv[3]!);
  if (g === undefined) {
    noGroup(c, `No such consumer group '${c.argv[3]!}' for key name '${c.argv[2]!}'`);
    return;
  }
  const r = c.reply;
  const now = c.server.clock.now();
  const consumers = g.sortedConsumers();
  r.array(consumers.length);
  for (const consumer of consumers) {
    r.map(3);
    r.bulk('name');
    r.bulk(consumer.name);
    r.bulk('pending');
    r.integer(consumer.pel.size);
    r.bulk('idle');
    r.integer(Math.max(0, now - consumer.seenTime));
  }
}

function xinfoHelp(c: Client): void {
  replyHelp(c, [
    'CONSUMERS <key> <groupname>',
    '    Show consumers of <groupname>.',
    'GROUPS <key>',
    '    Show the stream consumer groups.',
    'STREAM <key> [FULL [COUNT <count>]',
    '    Show information about the stream.',
  ]);
}

export const commands: CommandHandlers = {
  xadd,
  xtrim,
  xrange,
  xrevrange,
  xlen,
  xdel,
  xread,
  xreadgroup,
  xsetid,
  xack,
  xpending,
  xclaim,
  xautoclaim,
  'xgroup|create': xgroupCreate,
  'xgroup|setid': xgroupSetid,
  'xgroup|destroy': xgroupDestroy,
  'xgroup|createconsumer': xgroupCreateConsumer,
  'xgroup|delconsumer': xgroupDelConsumer,
  'xgroup|help': xgroupHelp,
  'xinfo|stream': xinfoStream,
  'xinfo|groups': xinfoGroups,
  'xinfo|consumers': xinfoConsumers,
  'xinfo|help': xinfoHelp,
};
