/**
 * Shared by the stream command files (streams.ts, stream-groups.ts, stream-info.ts): ID and
 * argument parsing with Redis's error texts, the entry and range replies, and the consumer and
 * propagation helpers the group commands and XREADGROUP both use.
 */
import type { Client } from '../server/client.js';
import type { Database } from '../keyspace/db.js';
import { isStringValue } from '../types/value.js';
import {
  ConsumerGroup,
  ID_MAX,
  INVALID_ENTRIES_READ,
  StreamValue,
  UINT64_MAX,
  formatId,
  makeId,
  type StreamConsumer,
  type StreamEntry,
  type StreamID,
  type StreamNack,
} from '../types/stream.js';
import { NOT_INTEGER, WRONGTYPE } from '../protocol/errors.js';
import { parseInt64 } from '../protocol/args.js';

const INVALID_ID = 'ERR Invalid stream ID specified as stream command argument';
export const XADD_TOO_SMALL = 'ERR The ID specified in XADD is equal or smaller than the target stream top item';
export const XREAD_BLOCKED_DEFAULT_COUNT = 1000;
export const LLONG_MAX = 9223372036854775807n;

// ---- helpers ------------------------------------------------------------------------------------

/** The stream at `key`: undefined when missing, null after replying WRONGTYPE. */
export function streamAt(c: Client, key: string, read: boolean): StreamValue | undefined | null {
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
export function parseIdGeneric(c: Client | null, s: string, missingSeq: bigint, strict: boolean, allowSeqStar: boolean): ParsedId | null {
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

export function parseId(c: Client, s: string, missingSeq = 0n): StreamID | null {
  return parseIdGeneric(c, s, missingSeq, false, false)?.id ?? null;
}

export function parseStrictId(c: Client | null, s: string, missingSeq = 0n): StreamID | null {
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
export function parseRangeStart(c: Client, s: string): StreamID | null {
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

export function parseRangeEnd(c: Client, s: string): StreamID | null {
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
export function longLongArg(c: Client, s: string, msg: string | null = null): bigint | null {
  const v = parseInt64(s);
  if (v === null) c.reply.error(msg ?? NOT_INTEGER);
  return v;
}

export function replyEntry(c: Client, e: StreamEntry): void {
  const r = c.reply;
  r.array(2);
  r.bulk(formatId(e.id));
  r.array(e.fields.length);
  for (const f of e.fields) r.bulk(f);
}

export function noGroup(c: Client, msg: string): void {
  c.reply.error(`NOGROUP ${msg}`);
}

// ---- propagation helpers --------------------------------------------------------------------------

/** streamPropagateXCLAIM. */
export function propagateXclaim(c: Client, key: string, g: ConsumerGroup, groupName: string, id: string, nack: StreamNack): void {
  c.server.propagator.also(c.db.id, [
    'XCLAIM', key, groupName, nack.consumer?.name ?? '', '0', id,
    'TIME', String(nack.deliveryTime), 'RETRYCOUNT', String(nack.deliveryCount),
    'FORCE', 'JUSTID', 'LASTID', formatId(g.lastId),
  ]);
}

/** streamPropagateGroupID. */
export function propagateGroupId(c: Client, key: string, g: ConsumerGroup, groupName: string): void {
  c.server.propagator.also(c.db.id, ['XGROUP', 'SETID', key, groupName, formatId(g.lastId), 'ENTRIESREAD', String(g.entriesRead)]);
}

/** streamCreateConsumer with its dirty++ and event. */
export function createConsumer(c: Client, db: Database, key: string, g: ConsumerGroup, name: string): StreamConsumer | null {
  const consumer = g.createConsumer(name, c.server.clock.now());
  if (consumer === null) return null;
  db.counted();
  db.notify('t', 'xgroup-createconsumer', key);
  return consumer;
}

/** streamLookupConsumer with refresh of the seen time. */
export function lookupConsumer(c: Client, g: ConsumerGroup, name: string, refresh: boolean): StreamConsumer | undefined {
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
export function replyRange(c: Client, s: StreamValue, start: StreamID, end: StreamID, count: number, rev: boolean, gr: GroupRead | null): number {
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
export function replyConsumerHistory(c: Client, s: StreamValue, start: StreamID, count: number, consumer: StreamConsumer): number {
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

