/**
 * Streams in RDB files and DUMP payloads: Redis 7.0's RDB_TYPE_STREAM_LISTPACKS_2 (type 19),
 * and loading of the older RDB_TYPE_STREAM_LISTPACKS (15). Layout (rdb.c rdbSaveObject):
 *
 *   <node count> { <16-byte big-endian master ID> <listpack> }*
 *   <length> <last ms> <last seq> <first ms> <first seq> <max-deleted ms> <max-deleted seq>
 *   <entries added> <group count>
 *   { <name> <last ms> <last seq> <entries read>
 *     <PEL size> { <16-byte ID> <delivery time ms, 8 bytes LE> <delivery count> }*
 *     <consumer count> { <name> <seen time ms, 8 bytes LE> <PEL size> { <16-byte ID> }* }* }*
 *
 * All numbers are RDB lengths, which carry 64-bit values (entries read -1 is 2^64-1). Each
 * node's listpack is Redis's stream node format (t_stream.c): a master entry (count, deleted,
 * master field count, master fields, 0) then per entry flags, ms and seq deltas from the master
 * ID, [field count, fields and values | values only when the fields are the master's], and
 * the entry's element count. nodis keeps no flagged-deleted entries, so it writes deleted = 0.
 */
import { ByteReader, RdbFormatError, stringToInt } from './bytes.js';
import { decodeListpack, encodeListpack, elementString, type PackedElement } from './listpack.js';
import {
  ConsumerGroup,
  StreamValue,
  type StreamLimits,
  idMs,
  idSeq,
  makeId,
  type StreamConsumer,
  type StreamID,
  type StreamNack,
  type StreamNode,
} from '../types/stream.js';

const FLAG_DELETED = 1;
const FLAG_SAMEFIELDS = 2;
const U64 = (1n << 64n) - 1n;

/** What the codec needs from the RDB writer. */
export interface StreamRdbWriter {
  /** A string from raw bytes (rdbSaveRawString, with LZF when enabled). */
  blob(b: Buffer): void;
  string(s: string): void;
  bytes(b: Uint8Array): void;
  ms64le(n: number): void;
}

/** What the codec needs from the RDB reader. */
export interface StreamRdbReader {
  readonly r: ByteReader;
  stringBuf(): Buffer;
  string(): string;
  /** A listpack string, refused with `reason` when damaged. */
  listpack(reason: string, blob: Buffer): PackedElement[];
}

/** rdbReportCorruptRDB's reason for a stream node that fails validation. */
const LISTPACK_REASON = 'Stream listpack integrity check failed.';

function encodeId(id: StreamID): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(idMs(id), 0);
  b.writeBigUInt64BE(idSeq(id), 8);
  return b;
}

function decodeId(b: Buffer): StreamID {
  return makeId(b.readBigUInt64BE(0), b.readBigUInt64BE(8));
}

/** rdbSaveLen for a 64-bit value. */
function writeLen(w: StreamRdbWriter, v: bigint | number): void {
  const n = BigInt.asUintN(64, BigInt(v));
  if (n < 64n) {
    w.bytes(Buffer.of(Number(n)));
  } else if (n < 16384n) {
    w.bytes(Buffer.of(0x40 | Number(n >> 8n), Number(n & 0xffn)));
  } else if (n <= 0xffffffffn) {
    const b = Buffer.alloc(5);
    b[0] = 0x80;
    b.writeUInt32BE(Number(n), 1);
    w.bytes(b);
  } else {
    const b = Buffer.alloc(9);
    b[0] = 0x81;
    b.writeBigUInt64BE(n, 1);
    w.bytes(b);
  }
}

/** rdbLoadLen as a 64-bit value. */
function readLen(r: ByteReader): bigint {
  const first = r.u8();
  const kind = first >> 6;
  if (kind === 0) return BigInt(first & 0x3f);
  if (kind === 1) return BigInt(((first & 0x3f) << 8) | r.u8());
  if (first === 0x80) return BigInt(r.u32be());
  if (first === 0x81) return r.slice(8).readBigUInt64BE(0);
  throw new RdbFormatError(`Unknown length encoding ${first} in rdbLoadLen()`);
}

function readCount(r: ByteReader): number {
  const n = readLen(r);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RdbFormatError('length too large');
  return Number(n);
}

/** A node's listpack in Redis's stream node format. */
export function encodeStreamNode(n: StreamNode): Buffer {
  const parts: PackedElement[] = [n.ids.length, 0, n.masterFields.length, ...n.masterFields, 0];
  for (let i = 0; i < n.ids.length; i++) {
    const id = n.ids[i]!;
    const fv = n.fields[i]!;
    const nf = fv.length / 2;
    let same = n.masterFields.length === nf;
    for (let j = 0; same && j < nf; j++) if (n.masterFields[j] !== fv[j * 2]) same = false;
    parts.push(same ? FLAG_SAMEFIELDS : 0);
    parts.push(normalize(BigInt.asIntN(64, idMs(id) - idMs(n.master))));
    parts.push(normalize(BigInt.asIntN(64, idSeq(id) - idSeq(n.master))));
    if (same) {
      for (let j = 1; j < fv.length; j += 2) parts.push(fv[j]!);
      parts.push(nf + 3);
    } else {
      parts.push(nf);
      for (const x of fv) parts.push(x);
      parts.push(nf * 2 + 4);
    }
  }
  return encodeListpack(parts);
}

function normalize(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** An element that must be an integer (lpGetIntegerIfValid), or null. */
function intOf(e: PackedElement | undefined): bigint | null {
  if (e === undefined) return null;
  const v = typeof e === 'string' ? stringToInt(e) : e;
  return v === null ? null : BigInt(v);
}

/** Refuses a stream node that fails a check. */
function check(ok: boolean): asserts ok {
  if (!ok) throw new RdbFormatError(LISTPACK_REASON);
}

/**
 * Parses one node's listpack elements with streamValidateListpackIntegrity's deep checks (the
 * master entry, each entry's integers and lp-count, count + deleted entries and nothing after)
 * plus what nodis relies on: live IDs ascending, after `after`. Null when it holds no live entry.
 */
function parseNode(master: StreamID, el: PackedElement[], lpBytes: number, after: StreamID): StreamNode | null {
  let p = 0;
  const count = intOf(el[p++]);
  const deleted = intOf(el[p++]);
  const nMaster = intOf(el[p++]);
  check(count !== null && deleted !== null && nMaster !== null && nMaster >= 0n && BigInt(p) + nMaster + 1n <= BigInt(el.length));
  const masterFields: string[] = [];
  for (let i = 0n; i < nMaster; i++) masterFields.push(elementString(el[p++]!));
  check(intOf(el[p++]) === 0n);
  const ids: StreamID[] = [];
  const fields: string[][] = [];
  let flaggedDeleted = 0;
  let last = after;
  while (p < el.length) {
    const flags = intOf(el[p++]);
    const msDelta = intOf(el[p++]);
    const seqDelta = intOf(el[p++]);
    check(flags !== null && msDelta !== null && seqDelta !== null);
    const same = (flags & BigInt(FLAG_SAMEFIELDS)) !== 0n;
    const nf = same ? BigInt(masterFields.length) : intOf(el[p++]);
    check(nf !== null && nf >= 0n);
    // The fields (unless the master's), the values, then lp-count: all must be there.
    check(BigInt(p) + (same ? nf : nf * 2n) + 1n <= BigInt(el.length));
    const fv: string[] = [];
    if (same) {
      for (const f of masterFields) fv.push(f, elementString(el[p++]!));
    } else {
      for (let i = 0n; i < nf * 2n; i++) fv.push(elementString(el[p++]!));
    }
    check(intOf(el[p++]) === (same ? nf + 3n : nf * 2n + 4n));
    if ((flags & BigInt(FLAG_DELETED)) !== 0n) {
      flaggedDeleted++;
      continue;
    }
    const id = makeId((idMs(master) + msDelta) & U64, (idSeq(master) + seqDelta) & U64);
    check(id > last);
    last = id;
    ids.push(id);
    fields.push(fv);
  }
  check(BigInt(ids.length) === count && BigInt(flaggedDeleted) === deleted);
  if (ids.length === 0) return null;
  // Size bookkeeping as Redis sees this listpack (the count/deleted header is counted apart).
  const bodyBytes = lpBytes - encodeListpack([ids.length, flaggedDeleted]).length;
  return { master, masterFields, ids, fields, deleted: flaggedDeleted, bodyBytes };
}

/** Parses one node's listpack (tests). Null when it holds no live entry. */
export function decodeStreamNode(master: StreamID, lp: Buffer): StreamNode | null {
  const el = decodeListpack(lp);
  if (el.length === 0) throw new RdbFormatError('Empty listpack inside stream');
  return parseNode(master, el, lp.length, -1n);
}

/** The stream payload (after the type byte). */
export function encodeStream(w: StreamRdbWriter, s: StreamValue): void {
  writeLen(w, s.nodes.length);
  for (const n of s.nodes) {
    w.blob(encodeId(n.master));
    w.blob(encodeStreamNode(n));
  }
  writeLen(w, s.length);
  writeLen(w, idMs(s.lastId));
  writeLen(w, idSeq(s.lastId));
  writeLen(w, idMs(s.firstId));
  writeLen(w, idSeq(s.firstId));
  writeLen(w, idMs(s.maxDeletedId));
  writeLen(w, idSeq(s.maxDeletedId));
  writeLen(w, s.entriesAdded);
  const groups = s.sortedGroups();
  writeLen(w, groups.length);
  for (const [name, g] of groups) {
    w.string(name);
    writeLen(w, idMs(g.lastId));
    writeLen(w, idSeq(g.lastId));
    writeLen(w, g.entriesRead);
    writeLen(w, g.pel.size);
    for (const [id, nack] of g.pel.from()) {
      w.bytes(encodeId(id));
      w.ms64le(nack.deliveryTime);
      writeLen(w, nack.deliveryCount);
    }
    const consumers = g.sortedConsumers();
    writeLen(w, consumers.length);
    for (const c of consumers) {
      w.string(c.name);
      w.ms64le(c.seenTime);
      writeLen(w, c.pel.size);
      for (const [id] of c.pel.from()) w.bytes(encodeId(id));
    }
  }
}

/**
 * Loads a stream payload of RDB type 15 (`v2` false) or 19 (`v2` true), with rdbLoadObject's
 * checks (node keys, empty listpacks, repeated groups, consumers and PEL entries, consumer PEL
 * entries missing from the group PEL), the deep ones (each node's listpack, PEL entries without
 * a consumer), and the ones nodis's structure needs, which Redis does not make: entry IDs
 * ascending across nodes, the length and last ID agreeing with the entries, and no PEL entry
 * owned by two consumers. Any failure throws RdbFormatError.
 */
export function decodeStream(d: StreamRdbReader, v2: boolean, limits?: StreamLimits): StreamValue {
  const r = d.r;
  const s = new StreamValue(limits);
  const masters = new Set<StreamID>();
  let nodes = readCount(r);
  let last: StreamID = -1n;
  const loadedNodes = nodes;
  while (nodes-- > 0) {
    const key = d.stringBuf();
    if (key.length !== 16) throw new RdbFormatError('Stream node key entry is not the size of a stream ID');
    const master = decodeId(key);
    const lp = d.stringBuf();
    const el = d.listpack(LISTPACK_REASON, lp);
    if (lp[6] === 0xff) throw new RdbFormatError('Empty listpack inside stream');
    if (masters.has(master)) throw new RdbFormatError('Listpack re-added with existing key');
    masters.add(master);
    const node = parseNode(master, el, lp.length, last);
    if (node === null) continue;
    last = node.ids[node.ids.length - 1]!;
    s.appendLoadedNode(node);
  }
  const length = readCount(r);
  if (length > 0 && loadedNodes === 0) throw new RdbFormatError('Stream length inconsistent with rax entries');
  if (length !== s.length) throw new RdbFormatError('Stream length inconsistent with its entries');
  s.lastId = makeId(readLen(r), readLen(r));
  if (s.length > 0 && s.lastId < last) throw new RdbFormatError('Stream last ID is smaller than its last entry');
  if (v2) {
    s.firstId = makeId(readLen(r), readLen(r));
    s.maxDeletedId = makeId(readLen(r), readLen(r));
    s.entriesAdded = readCount(r);
  } else {
    s.firstId = s.firstValidId();
    s.maxDeletedId = 0n;
    s.entriesAdded = s.length;
  }
  let ngroups = readCount(r);
  while (ngroups-- > 0) {
    const name = d.string();
    const lastId = makeId(readLen(r), readLen(r));
    const entriesRead = v2 ? Number(BigInt.asIntN(64, readLen(r))) : s.estimateDistanceFromFirstEverEntry(lastId);
    const g: ConsumerGroup | null = s.createGroup(name, lastId, entriesRead);
    if (g === null) throw new RdbFormatError(`Duplicated consumer group name ${name}`);
    let pel = readCount(r);
    while (pel-- > 0) {
      const id = decodeId(r.slice(16));
      const nack: StreamNack = { consumer: null, deliveryTime: Number(r.i64le()), deliveryCount: readCount(r) };
      if (g.pel.has(id)) throw new RdbFormatError('Duplicated global PEL entry loading stream consumer group');
      g.pel.set(id, nack);
    }
    let consumers = readCount(r);
    while (consumers-- > 0) {
      const cname = d.string();
      const seen = Number(r.i64le());
      const c: StreamConsumer | null = g.createConsumer(cname, seen);
      if (c === null) throw new RdbFormatError('Duplicate stream consumer detected.');
      let cpel = readCount(r);
      while (cpel-- > 0) {
        const id = decodeId(r.slice(16));
        const nack = g.pel.get(id);
        if (nack === undefined) throw new RdbFormatError('Consumer entry not found in group global PEL');
        if (nack.consumer === c) throw new RdbFormatError('Duplicated consumer PEL entry  loading a stream consumer group');
        // Redis would move the entry and leave it in the first consumer's PEL too.
        if (nack.consumer !== null) throw new RdbFormatError('Stream PEL entry owned by two consumers');
        nack.consumer = c;
        c.pel.set(id, nack);
      }
    }
    for (const [, nack] of g.pel.from()) {
      if (nack.consumer === null) throw new RdbFormatError('Stream CG PEL entry without consumer');
    }
  }
  return s;
}
