/**
 * XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS (t_stream.c's xinfoCommand),
 * with Redis's field names and order, including the rax node count and group lag.
 */
import type { Client } from '../server/client.js';
import {
  ConsumerGroup,
  ID_MAX,
  INVALID_ENTRIES_READ,
  StreamValue,
  formatId,
  idMs,
  idSeq,
} from '../types/stream.js';
import { NO_SUCH_KEY } from '../protocol/errors.js';
import { is } from '../protocol/args.js';
import { replyHelp, subcommandSyntaxError } from './help.js';
import { longLongArg, noGroup, replyEntry, replyRange, streamAt } from './stream-common.js';

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

export function xinfoStream(c: Client): void {
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

export function xinfoGroups(c: Client): void {
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

export function xinfoConsumers(c: Client): void {
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

export function xinfoHelp(c: Client): void {
  replyHelp(c, [
    'CONSUMERS <key> <groupname>',
    '    Show consumers of <groupname>.',
    'GROUPS <key>',
    '    Show the stream consumer groups.',
    'STREAM <key> [FULL [COUNT <count>]',
    '    Show information about the stream.',
  ]);
}

