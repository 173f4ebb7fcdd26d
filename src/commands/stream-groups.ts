/**
 * Consumer-group stream commands (t_stream.c): XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER,
 * DELCONSUMER), XACK, XPENDING, XCLAIM and XAUTOCLAIM. Propagation as described in streams.ts:
 * XCLAIM and XAUTOCLAIM queue one `XCLAIM … FORCE JUSTID LASTID` per claimed entry.
 */
import type { Client } from '../server/client.js';
import {
  ConsumerGroup,
  INVALID_ENTRIES_READ,
  StreamValue,
  formatId,
  type StreamConsumer,
  type StreamID,
} from '../types/stream.js';
import { SYNTAX } from '../protocol/errors.js';
import { is, parseInt64 } from '../protocol/args.js';
import { signalKeyAsReady } from '../server/blocking.js';
import { replyHelp, subcommandSyntaxError } from './help.js';
import { LLONG_MAX, createConsumer, longLongArg, lookupConsumer, noGroup, parseId, parseRangeEnd, parseRangeStart, parseStrictId, propagateGroupId, propagateXclaim, replyEntry, streamAt } from './stream-common.js';

// ---- XACK / XPENDING -----------------------------------------------------------------------------

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

export function xgroupCreate(c: Client): void {
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
    c.db.signalModified(key);
  }
  if (s.createGroup(argv[3]!, id, ctx.entriesRead) !== null) {
    c.reply.ok();
    c.db.counted();
    c.db.notify('t', 'xgroup-create', key);
  } else {
    c.reply.error('BUSYGROUP Consumer Group name already exists');
  }
}

export function xgroupSetid(c: Client): void {
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
  c.db.counted();
  c.db.notify('t', 'xgroup-setid', argv[2]!);
}

export function xgroupDestroy(c: Client): void {
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const key = c.argv[2]!;
  if (ctx.g !== undefined) {
    ctx.s!.groups!.delete(c.argv[3]!);
    c.reply.one();
    c.db.counted();
    c.db.notify('t', 'xgroup-destroy', key);
    signalKeyAsReady(c.db, key);
  } else {
    c.reply.zero();
  }
}

export function xgroupCreateConsumer(c: Client): void {
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const created = createConsumer(c, c.db, c.argv[2]!, ctx.g!, c.argv[4]!);
  c.reply.integer(created !== null ? 1 : 0);
}

export function xgroupDelConsumer(c: Client): void {
  const ctx = xgroupPrologue(c);
  if (ctx === null) return;
  const g = ctx.g!;
  const consumer = g.consumers.get(c.argv[4]!);
  let pending = 0;
  if (consumer !== undefined) {
    pending = g.deleteConsumer(consumer);
    c.db.counted();
    c.db.notify('t', 'xgroup-delconsumer', c.argv[2]!);
  }
  c.reply.integer(pending);
}

export function xgroupHelp(c: Client): void {
  replyHelp(c, XGROUP_HELP);
}

export function xack(c: Client): void {
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
    c.db.counted();
  }
  c.reply.integer(acked);
}

export function xpending(c: Client): void {
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

export function xclaim(c: Client): void {
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
        c.db.counted();
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
    c.db.counted();
  }
  if (propagateLastId) {
    propagateGroupId(c, key, g, groupName);
    c.db.counted();
  }
  r.endDeferred(mark, 'array', n);
}

export function xautoclaim(c: Client): void {
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
      c.db.counted();
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
    c.db.counted();
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

