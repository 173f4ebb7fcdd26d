/**
 * The AOF-format BASE file (aof-use-rdb-preamble no): commands that rebuild each key, as
 * rewriteAppendOnlyFileRio writes them — SELECT per non-empty database, then per key one SET,
 * or RPUSH / SADD / ZADD / HMSET in batches of 64 items, or a stream's XADDs, XSETID and
 * groups (rewriteStreamObject), then PEXPIREAT when it has a TTL.
 *
 * This module only turns keys into RESP text; walking a consistent snapshot of the dataset
 * without stopping clients is the snapshot's job (snapshot.ts, format 'aof').
 */
import { isStringValue, stringOf, type RedisValue } from '../types/value.js';
import { ListValue, elementBytes } from '../types/list.js';
import { HashValue } from '../types/hash.js';
import { SetValue } from '../types/set.js';
import { ZSet } from '../types/zset.js';
import { StreamValue, formatId } from '../types/stream.js';
import { formatDouble } from '../protocol/format.js';

/** AOF_REWRITE_ITEMS_PER_CMD. */
export const ITEMS_PER_CMD = 64;

function bulk(s: string): string {
  return `$${s.length}\r\n${s}\r\n`;
}

/** `SELECT <db>` as the rewrite writes it. */
export function selectCommand(db: number): string {
  return `*2\r\n$6\r\nSELECT\r\n${bulk(String(db))}`;
}

/** `#TS:<unix seconds>` annotation (aof-timestamp-enabled). */
export function timestampAnnotation(unixSeconds: number): string {
  return `#TS:${unixSeconds}\r\n`;
}

/**
 * Emits `cmd key item…` commands with at most ITEMS_PER_CMD items (each item being `width`
 * arguments) per command.
 */
function batched(cmd: string, key: string, total: number, width: number, items: Iterable<string[]>): string {
  let out = '';
  let left = total;
  let inBatch = 0;
  for (const item of items) {
    if (inBatch === 0) {
      const n = Math.min(left, ITEMS_PER_CMD);
      out += `*${2 + n * width}\r\n${bulk(cmd)}${bulk(key)}`;
      inBatch = n;
      left -= n;
    }
    for (const a of item) out += bulk(a);
    inBatch--;
  }
  return out;
}

function* listItems(v: ListValue): IterableIterator<string[]> {
  const n = v.length;
  for (let i = 0; i < n; i++) yield [elementBytes(v.getRaw(i))];
}

function* setItems(v: SetValue): IterableIterator<string[]> {
  for (const m of v.values()) yield [m];
}

function* zsetItems(v: ZSet): IterableIterator<string[]> {
  // rioWriteBulkDouble uses %.17g, so scores round-trip exactly.
  for (const [m, score] of v.entries()) yield [formatDouble(score), m];
}

function* hashItems(v: HashValue): IterableIterator<string[]> {
  for (const [f, val] of v.entries()) yield [f, val];
}

function command(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += bulk(a);
  return out;
}

/**
 * rewriteStreamObject: one XADD per entry (an empty stream is made by `XADD key MAXLEN 0 0-1 x
 * y`), XSETID with the last id, entries-added and max-deleted id, then per group (name order)
 * XGROUP CREATE … ENTRIESREAD, and per consumer (name order) its pending entries as XCLAIM …
 * TIME RETRYCOUNT JUSTID FORCE, or XGROUP CREATECONSUMER when it has none.
 */
function rewriteStream(key: string, s: StreamValue): string {
  let out = '';
  if (s.length > 0) {
    for (const e of s) out += command(['XADD', key, formatId(e.id), ...e.fields]);
  } else {
    out += command(['XADD', key, 'MAXLEN', '0', '0-1', 'x', 'y']);
  }
  out += command(['XSETID', key, formatId(s.lastId), 'ENTRIESADDED', String(s.entriesAdded), 'MAXDELETEDID', formatId(s.maxDeletedId)]);
  for (const [name, group] of s.sortedGroups()) {
    out += command(['XGROUP', 'CREATE', key, name, formatId(group.lastId), 'ENTRIESREAD', String(group.entriesRead)]);
    for (const consumer of group.sortedConsumers()) {
      if (consumer.pel.size === 0) {
        out += command(['XGROUP', 'CREATECONSUMER', key, name, consumer.name]);
        continue;
      }
      for (const [id, nack] of consumer.pel.from()) {
        out += command(['XCLAIM', key, name, consumer.name, '0', formatId(id), 'TIME', String(nack.deliveryTime), 'RETRYCOUNT', String(nack.deliveryCount), 'JUSTID', 'FORCE']);
      }
    }
  }
  return out;
}

/**
 * The commands that rebuild one key (and its TTL, `expireAt` in ms or -1). Returns null for a
 * type that has no AOF form here (the caller reports the rewrite as failed).
 */
export function rewriteKey(key: string, value: RedisValue, expireAt: number): string | null {
  let out: string;
  if (isStringValue(value)) {
    out = `*3\r\n$3\r\nSET\r\n${bulk(key)}${bulk(stringOf(value))}`;
  } else if (value instanceof ListValue) {
    out = batched('RPUSH', key, value.length, 1, listItems(value));
  } else if (value instanceof SetValue) {
    out = batched('SADD', key, value.size(), 1, setItems(value));
  } else if (value instanceof ZSet) {
    out = batched('ZADD', key, value.size(), 2, zsetItems(value));
  } else if (value instanceof HashValue) {
    out = batched('HMSET', key, value.size(), 2, hashItems(value));
  } else if (value instanceof StreamValue) {
    out = rewriteStream(key, value);
  } else {
    return null;
  }
  if (expireAt !== -1) out += `*3\r\n$9\r\nPEXPIREAT\r\n${bulk(key)}${bulk(String(expireAt))}`;
  return out;
}
