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
import {
  ConsumerGroup,
  ID_MAX,
  STREAM_LISTPACK_MAX_SIZE,
  StreamValue,
  UINT64_MAX,
  formatId,
  idMs,
  idSeq,
  makeId,
  type StreamConsumer,
  type StreamID,
} from '../types/stream.js';
import { NO_SUCH_KEY, SYNTAX, wrongArity } from '../protocol/errors.js';
import { is, parseInt64 } from '../protocol/args.js';
import { blockForKeys, canBlock } from '../server/blocking.js';
import { xack, xautoclaim, xclaim, xgroupCreate, xgroupCreateConsumer, xgroupDelConsumer, xgroupDestroy, xgroupHelp, xgroupSetid, xpending } from './stream-groups.js';
import { xinfoConsumers, xinfoGroups, xinfoHelp, xinfoStream } from './stream-info.js';
import { XADD_TOO_SMALL, XREAD_BLOCKED_DEFAULT_COUNT, createConsumer, longLongArg, lookupConsumer, noGroup, parseIdGeneric, parseRangeEnd, parseRangeStart, parseStrictId, replyConsumerHistory, replyRange, streamAt } from './stream-common.js';

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
  db.modified(key, 't', 'xadd');
  let out: string[] | null = null;
  if (args.strategy !== 'none') {
    if (doTrim(s, args) !== 0) db.notify('t', 'xtrim', key);
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
    c.db.notify('t', 'xtrim', key);
    if (args.approx) {
      const out = [...c.argv];
      rewriteTrim(out, s, args);
      c.propagateArgv = out;
    }
    c.db.signalModified(key);
    c.db.counted(deleted);
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
    c.db.modified(key, 't', 'xdel', deleted);
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
      c.db.counted();
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

// ---- XSETID -------------------------------------------------------------------------------------

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
  c.db.counted();
  c.db.notify('t', 'xsetid', key);
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
