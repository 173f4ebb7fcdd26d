/**
 * Reading RDB (rdbLoadObject and rdbLoadRio): every value type and encoding Redis 7.0 loads —
 * including the older ones it converts on load (zipmap and ziplist hashes, ziplist zsets and
 * lists, quicklist v1) — into nodis values, choosing each value's encoding with the same
 * thresholds Redis applies while loading (hash-max-listpack-*, set-max-intset-entries,
 * zset-max-listpack-*). Module values are refused with a clear error.
 *
 * The decoder reads from one Buffer; every read is bounds-checked and malformed input raises
 * RdbFormatError with rdbReportCorruptRDB's reason, so a corrupt file or DUMP payload is
 * refused, never half-applied by the caller (which collects the keys first or loads into fresh
 * databases).
 *
 * Validation is always deep, whatever sanitize-dump-payload says: nodis decodes every value
 * into its own structures, so it checks everything Redis's deep integrity validation does
 * (and a few more: a stream's parts agreeing, zset scores being numbers) and refuses any
 * damage rather than keeping part of a value. Redis without deep validation would keep the
 * damaged bytes and may later exit on an assertion when a command reaches them.
 */
import { ByteReader, RdbFormatError } from './bytes.js';
import { lzfDecompress } from './lzf.js';
import { decodeListpack, elementString, type PackedElement } from './listpack.js';
import { decodeIntset, decodeZiplist, decodeZipmap } from './legacy-encodings.js';
import { Crc64 } from './crc64.js';
import { RDB_VERSION, RdbEnc, RdbOpcode, RdbType, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, isObjectType } from './rdb-format.js';
import { encodeString, type RedisValue } from '../types/value.js';
import { ListValue } from '../types/list.js';
import { SetValue, DEFAULT_SET_LIMITS, type SetLimits } from '../types/set.js';
import { HashValue, DEFAULT_HASH_LIMITS, type HashLimits } from '../types/hash.js';
import { ZSet, type ZsetLimits } from '../types/zset.js';
import { decodeStream } from './stream-codec.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from '../types/stream.js';
import { parseDouble } from '../protocol/args.js';

/** The encoding thresholds in force while loading. */
export interface LoadLimits {
  hash: HashLimits;
  set: SetLimits;
  zset: ZsetLimits;
  stream: StreamLimits;
}

export function defaultLoadLimits(): LoadLimits {
  return { hash: DEFAULT_HASH_LIMITS, set: DEFAULT_SET_LIMITS, zset: { maxEntries: 128, maxValue: 64 }, stream: DEFAULT_STREAM_LIMITS };
}

/**
 * Decodes RDB values. Any damage — a bad length or encoding, a damaged ziplist, zipmap,
 * listpack, intset or stream, repeated fields or members — throws RdbFormatError with the
 * reason rdbReportCorruptRDB gives for it.
 */
export class RdbDecoder {
  readonly r: ByteReader;

  constructor(
    buf: Buffer,
    readonly limits: LoadLimits = defaultLoadLimits(),
    start = 0,
    end = buf.length,
  ) {
    this.r = new ByteReader(buf, start, end);
  }

  /** rdbLoadLen: returns [value, isEncoded]. */
  lengthOrEncoding(): [number, boolean] {
    const r = this.r;
    const first = r.u8();
    const kind = first >> 6;
    if (kind === 0) return [first & 0x3f, false];
    if (kind === 1) return [((first & 0x3f) << 8) | r.u8(), false];
    if (kind === 3) return [first & 0x3f, true];
    if (first === 0x80) return [r.u32be(), false];
    if (first === 0x81) {
      const hi = r.u32be();
      const lo = r.u32be();
      const v = hi * 0x100000000 + lo;
      if (!Number.isSafeInteger(v)) throw new RdbFormatError('length too large');
      return [v, false];
    }
    throw new RdbFormatError(`Unknown length encoding ${first} in rdbLoadLen()`);
  }

  length(): number {
    const [n, enc] = this.lengthOrEncoding();
    if (enc) throw new RdbFormatError('unexpected encoded length');
    return n;
  }

  /** A string's bytes (plain, integer-encoded or LZF-compressed). */
  stringBuf(): Buffer {
    const [n, enc] = this.lengthOrEncoding();
    if (!enc) return this.r.slice(n);
    return Buffer.from(this.encodedString(n), 'latin1');
  }

  /** A string as latin1 text (one char per byte). */
  string(): string {
    const [n, enc] = this.lengthOrEncoding();
    if (!enc) return this.r.latin1(n);
    return this.encodedString(n);
  }

  private encodedString(enc: number): string {
    const r = this.r;
    switch (enc) {
      case RdbEnc.Int8: {
        r.need(1);
        return String(r.buf.readInt8(r.pos++));
      }
      case RdbEnc.Int16: {
        r.need(2);
        const v = r.buf.readInt16LE(r.pos);
        r.pos += 2;
        return String(v);
      }
      case RdbEnc.Int32: {
        r.need(4);
        const v = r.buf.readInt32LE(r.pos);
        r.pos += 4;
        return String(v);
      }
      case RdbEnc.Lzf: {
        const clen = this.length();
        const len = this.length();
        const packed = r.slice(clen);
        // LZF expands at most 88-fold (a 3-byte back reference copies up to 264 bytes): refuse
        // a larger claimed length before allocating it.
        if (len > clen * 88) throw new RdbFormatError('Invalid LZF compressed string');
        const out = lzfDecompress(packed, len);
        if (out === null) throw new RdbFormatError('Invalid LZF compressed string');
        return out.latin1Slice(0, out.length);
      }
      default:
        throw new RdbFormatError(`Unknown RDB string encoding type ${enc}`);
    }
  }

  /** The old ZSET type's text double: a length byte, with 253/254/255 for nan/+inf/-inf. */
  private asciiDouble(): number {
    const len = this.r.u8();
    if (len === 253) return NaN;
    if (len === 254) return Infinity;
    if (len === 255) return -Infinity;
    const v = Number(this.r.latin1(len));
    if (Number.isNaN(v)) throw new RdbFormatError('bad double value');
    return v;
  }

  /**
   * One value of the given type. Returns null for a value that loads empty (Redis skips such
   * keys rather than failing).
   */
  value(type: number): RedisValue | null {
    switch (type) {
      case RdbType.String:
        return encodeString(this.string());
      case RdbType.List: {
        const n = this.length();
        const l = new ListValue();
        for (let i = 0; i < n; i++) l.pushTail(this.string());
        return l.length === 0 ? null : l;
      }
      case RdbType.ListZiplist:
        return this.listFrom(this.ziplist('List ziplist integrity check failed.'));
      case RdbType.ListQuicklist:
      case RdbType.ListQuicklist2:
        return this.quicklist(type === RdbType.ListQuicklist2);
      case RdbType.Set: {
        const n = this.length();
        const s = new SetValue(this.limits.set, undefined, n > this.limits.set.maxIntsetEntries);
        for (let i = 0; i < n; i++) {
          if (!s.add(this.string())) throw new RdbFormatError('Duplicate set members detected');
        }
        return s.size() === 0 ? null : s;
      }
      case RdbType.SetIntset:
        return this.intset();
      case RdbType.Zset:
      case RdbType.Zset2: {
        const n = this.length();
        const z = new ZSet(false);
        for (let i = 0; i < n; i++) {
          const member = this.string();
          const score = type === RdbType.Zset2 ? this.r.doubleLe() : this.asciiDouble();
          if (Number.isNaN(score)) throw new RdbFormatError('Zset with NAN score detected');
          if (z.score(member) !== undefined) throw new RdbFormatError('Duplicate zset fields detected');
          z.insertNew(member, score);
        }
        if (z.size() === 0) return null;
        z.convertToCompactIfFits(this.limits.zset);
        return z;
      }
      case RdbType.ZsetZiplist: {
        const reason = 'Zset ziplist integrity check failed.';
        return this.zsetFrom(this.pairs(this.ziplist(reason), reason), reason);
      }
      case RdbType.ZsetListpack: {
        const reason = 'Zset listpack integrity check failed.';
        return this.zsetFrom(this.pairs(this.listpack(reason), reason), reason);
      }
      case RdbType.Hash: {
        const n = this.length();
        const h = new HashValue(this.limits.hash, undefined, n > this.limits.hash.maxListpackEntries);
        for (let i = 0; i < n; i++) {
          const f = this.string();
          const v = this.string();
          if (!h.set(f, v)) throw new RdbFormatError('Duplicate hash fields detected');
        }
        return h.size() === 0 ? null : h;
      }
      case RdbType.HashZipmap:
        return this.zipmap();
      case RdbType.HashZiplist: {
        const reason = 'Hash ziplist integrity check failed.';
        return this.hashFrom(this.pairs(this.ziplist(reason), reason));
      }
      case RdbType.HashListpack: {
        const reason = 'Hash listpack integrity check failed.';
        return this.hashFrom(this.pairs(this.listpack(reason), reason));
      }
      case RdbType.StreamListpacks:
      case RdbType.StreamListpacks2:
        return decodeStream(this, type === RdbType.StreamListpacks2, this.limits.stream);
      case RdbType.ModulePreGa:
      case RdbType.Module2:
        throw new RdbFormatError('Module values are not supported by nodis (no modules can be loaded)');
      default:
        throw new RdbFormatError(`Unknown RDB encoding type ${type}`);
    }
  }

  /** A ziplist string, refused with `reason` when damaged. */
  private ziplist(reason: string, blob: Buffer = this.stringBuf()): PackedElement[] {
    try {
      return decodeZiplist(blob);
    } catch (e) {
      throw asReason(e, reason);
    }
  }

  /** A listpack string, refused with `reason` when damaged. */
  listpack(reason: string, blob: Buffer = this.stringBuf()): PackedElement[] {
    try {
      return decodeListpack(blob);
    } catch (e) {
      throw asReason(e, reason);
    }
  }

  /** Quicklist nodes (v1: ziplists; v2: a container kind each, listpack or one plain element). */
  private quicklist(v2: boolean): ListValue | null {
    const nodes = this.length();
    const l = new ListValue();
    for (let i = 0; i < nodes; i++) {
      let container = QUICKLIST_NODE_PACKED;
      if (v2) {
        container = this.length();
        if (container !== QUICKLIST_NODE_PACKED && container !== QUICKLIST_NODE_PLAIN) {
          throw new RdbFormatError('Quicklist integrity check failed.');
        }
      }
      const blob = this.stringBuf();
      if (blob.length === 0) throw new RdbFormatError('Quicklist node with no data');
      if (container === QUICKLIST_NODE_PLAIN) {
        l.pushTail(blob.latin1Slice(0, blob.length));
        continue;
      }
      const elements = v2 ? this.listpack('Listpack integrity check failed.', blob) : this.ziplist('Ziplist integrity check failed.', blob);
      for (const e of elements) l.pushTail(elementString(e));
    }
    return l.length === 0 ? null : l;
  }

  /** An intset; unsorted or repeated members are damage. */
  private intset(): SetValue {
    let members: (number | bigint)[];
    try {
      members = decodeIntset(this.stringBuf());
    } catch (e) {
      throw asReason(e, 'Intset integrity check failed.');
    }
    const s = new SetValue(this.limits.set);
    for (const m of members) s.add(String(m));
    return s;
  }

  /** A zipmap hash (Redis 2.4), always validated deeply, repeated fields refused. */
  private zipmap(): HashValue | null {
    let pairs: [string, string][];
    try {
      pairs = decodeZipmap(this.stringBuf());
    } catch (e) {
      throw asReason(e, 'Zipmap integrity check failed.');
    }
    const h = new HashValue(this.limits.hash);
    for (const [f, v] of pairs) {
      if (!h.set(f, v)) throw new RdbFormatError(`Hash zipmap with dup elements, or big length (${f.length})`);
    }
    return h;
  }

  /**
   * Field/value (hash) or member/score (zset) pairs, checked as Redis's pairs validators do: an
   * even count and no repeated field.
   */
  private pairs(parts: PackedElement[], reason: string): PackedElement[] {
    if (parts.length % 2 !== 0) throw new RdbFormatError(reason);
    const seen = new Set<string>();
    for (let i = 0; i < parts.length; i += 2) {
      const field = elementString(parts[i]!);
      if (seen.has(field)) throw new RdbFormatError(reason);
      seen.add(field);
    }
    return parts;
  }

  private listFrom(elements: PackedElement[]): ListValue | null {
    if (elements.length === 0) return null;
    const l = new ListValue();
    for (const e of elements) l.pushTail(elementString(e));
    return l;
  }

  /** A hash from checked pairs (compact unless past hash-max-listpack-entries). */
  private hashFrom(parts: PackedElement[]): HashValue | null {
    if (parts.length === 0) return null;
    const h = new HashValue(this.limits.hash);
    for (let i = 0; i < parts.length; i += 2) h.set(elementString(parts[i]!), elementString(parts[i + 1]!));
    return h;
  }

  /**
   * A zset from checked member/score pairs. A score that is not a number is damage (Redis would
   * read it as 0).
   */
  private zsetFrom(parts: PackedElement[], reason: string): ZSet | null {
    const z = new ZSet(true);
    for (let i = 0; i < parts.length; i += 2) z.insertNew(elementString(parts[i]!), packedScore(parts[i + 1]!, reason));
    if (z.size() === 0) return null;
    if (z.size() > this.limits.zset.maxEntries) z.setCompact(false);
    return z;
  }
}

/** A decoder error reported with Redis's reason for the enclosing encoding. */
function asReason(e: unknown, reason: string): unknown {
  return e instanceof RdbFormatError ? new RdbFormatError(reason) : e;
}

/** A zset score stored in a listpack/ziplist: an integer, or text strtod accepts (else refused with `reason`). */
function packedScore(e: PackedElement, reason: string): number {
  if (typeof e !== 'string') return Number(e);
  const v = parseDouble(e);
  if (v === null || Number.isNaN(v)) throw new RdbFormatError(reason);
  return v;
}

// ---- whole files ---------------------------------------------------------------------------------

/** Where a file's contents go while it is parsed. */
export interface RdbLoadTarget {
  /** Validates a SELECTDB index (throw to refuse). */
  selectDb(dbId: number): void;
  aux(name: string, value: string): void;
  /** A FUNCTION2 record: a library's source code. */
  functionCode(code: string): void;
  /** A key (the caller decides about expired keys and duplicates). */
  /** A key; `lfuFreq` / `lruIdle` (seconds) are -1 unless the file carried FREQ / IDLE for it. */
  key(dbId: number, key: string, value: RedisValue, expireMs: number, lfuFreq: number, lruIdle: number): void;
  /** A key whose value loads empty (Redis skips it: "rdbLoadObject skipping empty key"). */
  emptyKey?(dbId: number, key: string): void;
}

export interface RdbParseResult {
  version: number;
  /** Offset just past the EOF opcode and checksum (an AOF tail may follow a preamble). */
  end: number;
}

/**
 * Parses a whole RDB image: header, opcodes, values, and the trailing CRC64 (checked unless it
 * is zero, which means the writer had rdbchecksum off, or `verifyChecksum` is false).
 */
export function parseRdb(buf: Buffer, target: RdbLoadTarget, limits: LoadLimits, verifyChecksum = true): RdbParseResult {
  const steps = parseRdbSteps(buf, target, limits, verifyChecksum);
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
  }
}

/** Bytes of input folded into the checksum at a time while parsing in steps. */
const CRC_BATCH = 64 * 1024;

/**
 * An image still arriving (a replica's full sync, parsed while the master sends it). `end` is
 * how many of the image's bytes may be parsed so far (it grows; `complete` once it is the
 * image's end); `bytesFrom(from)` hands out bytes [from, end) in one Buffer, and the feed may
 * drop the bytes before `from` — the parser never reads behind the record it is on.
 */
export interface RdbFeed {
  readonly end: number;
  readonly complete: boolean;
  bytesFrom(from: number): Buffer;
}

/** What parseRdbSteps yields, with a feed, when it needs more bytes than the feed holds. */
export const RDB_WAIT = -1;

/**
 * parseRdb one key at a time: yields the input offset after each key, so a caller can load in
 * slices and serve clients in between (start-up loading); returns what parseRdb returns.
 * The checksum is computed as the parse goes, so the end of a big file is not one long step.
 *
 * With `feed` (an image still arriving) it parses what has arrived: a record cut off by the
 * feed's end is read again from its first byte once more bytes are in (RDB_WAIT is yielded
 * meanwhile), and nothing of it reaches `target` before it is whole. A record is retried only
 * once its bytes have doubled, so re-reading a value larger than many reads costs about twice
 * its size. Damage is damage only once the image is complete: until then a read past the end
 * means "wait", so every error is the one parseRdb would raise for the whole image.
 */
export function* parseRdbSteps(
  buf: Buffer,
  target: RdbLoadTarget,
  limits: LoadLimits,
  verifyChecksum = true,
  feed: RdbFeed | null = null,
): Generator<number, RdbParseResult> {
  // With a feed, `buf` holds the image's bytes from `base` on (the reader's positions are
  // relative to it), and is replaced when the parser waits for more.
  let base = 0;
  if (feed !== null) {
    while (!feed.complete && feed.end < 9) yield RDB_WAIT;
    buf = feed.bytesFrom(0);
  }
  const end = buf.length;
  if (end < 9 || buf.latin1Slice(0, 5) !== 'REDIS') {
    throw new RdbLoadError('Wrong signature trying to load DB from file', true);
  }
  const version = Number(buf.latin1Slice(5, 9));
  if (!Number.isInteger(version) || version < 1 || version > RDB_VERSION) {
    throw new RdbLoadError(`Can't handle RDB format version ${buf.latin1Slice(5, 9)}`, true);
  }
  const d = new RdbDecoder(buf, limits, 9, end);
  const r = d.r;
  let dbId = 0;
  let expireMs = -1;
  // RDB_OPCODE_FREQ / RDB_OPCODE_IDLE before a key: its LFU counter or LRU idle seconds.
  let lfuFreq = -1;
  let lruIdle = -1;
  const crc = new Crc64();
  let crcPos = 0;
  let opStart = 9;
  for (;;) {
    opStart = r.pos;
    try {
      const type = r.u8();
      if (type === RdbOpcode.ExpireTime) {
        r.need(4);
        expireMs = r.buf.readInt32LE(r.pos) * 1000;
        r.pos += 4;
        continue;
      }
      if (type === RdbOpcode.ExpireTimeMs) {
        expireMs = Number(r.i64le());
        continue;
      }
      if (type === RdbOpcode.Freq) {
        lfuFreq = r.u8();
        continue;
      }
      if (type === RdbOpcode.Idle) {
        lruIdle = d.length();
        continue;
      }
      if (type === RdbOpcode.Eof) break;
      if (type === RdbOpcode.SelectDb) {
        dbId = d.length();
        target.selectDb(dbId);
        continue;
      }
      if (type === RdbOpcode.ResizeDb) {
        d.length();
        d.length();
        continue;
      }
      if (type === RdbOpcode.Aux) {
        const name = d.string();
        const value = d.string();
        target.aux(name, value);
        continue;
      }
      if (type === RdbOpcode.Function2) {
        target.functionCode(d.string());
        continue;
      }
      if (type === RdbOpcode.FunctionPreGa) throw new RdbFormatError('Pre-release function format not supported.');
      if (type === RdbOpcode.ModuleAux) throw new RdbFormatError('Module auxiliary data is not supported by nodis');
      if (!isObjectType(type)) throw new RdbFormatError(`Unknown RDB encoding type ${type}`);
      const keyOffset = r.pos;
      const key = d.string();
      let value: RedisValue | null;
      try {
        value = d.value(type);
      } catch (e) {
        if (e instanceof RdbFormatError) e.context ??= { offset: base + r.pos, keyOffset: base + keyOffset, key, type };
        throw e;
      }
      if (value !== null) target.key(dbId, key, value, expireMs, lfuFreq, lruIdle);
      else target.emptyKey?.(dbId, key);
    } catch (e) {
      // Past the end of what the feed held when this record began: wait, or read on if the
      // feed has grown since (then even a complete image's record is read again).
      if (feed === null || !r.shortRead || (feed.complete && base + r.end === feed.end)) throw e;
      // The bytes before the record are done with: checksum them, then wait for more.
      if (verifyChecksum) crc.update(r.buf, crcPos, opStart);
      crcPos = 0;
      base = yield* waitForBytes(r, feed, base, opStart);
      continue;
    }
    expireMs = -1;
    lfuFreq = -1;
    lruIdle = -1;
    if (verifyChecksum && r.pos - crcPos >= CRC_BATCH) {
      crc.update(r.buf, crcPos, r.pos);
      crcPos = r.pos;
    }
    yield base + r.pos;
  }
  if (version >= 5) {
    while (feed !== null && r.end - r.pos < 8 && (!feed.complete || base + r.end < feed.end)) {
      if (verifyChecksum) crc.update(r.buf, crcPos, r.pos);
      crcPos = 0;
      base = yield* waitForBytes(r, feed, base, r.pos);
    }
    r.need(8);
    const stored = r.buf.subarray(r.pos, r.pos + 8);
    const zero = stored.every((b) => b === 0);
    if (verifyChecksum && !zero) {
      crc.update(r.buf, crcPos, r.pos);
      if (!crc.bytes().equals(stored)) {
        const got = Buffer.from(stored).reverse().toString('hex');
        throw new RdbLoadError(`Wrong RDB checksum expected: (${got}) got (${crc.hex()}). Aborting now.`, false, 'RDB CRC error');
      }
    }
    r.pos += 8;
  }
  return { version, end: base + r.pos };
}

/**
 * A read ran past what the feed held: wait (yielding RDB_WAIT) until the bytes from the
 * record's first byte on have doubled, or the image is complete, then go on reading from a
 * buffer that starts at that byte. Returns the new buffer's offset in the image.
 */
function* waitForBytes(r: ByteReader, feed: RdbFeed, base: number, recordStart: number): Generator<number, number> {
  const from = base + recordStart;
  const want = Math.max(base + r.end + 1, from + 2 * (base + r.end - from));
  while (!feed.complete && feed.end < want) yield RDB_WAIT;
  r.shortRead = false;
  r.buf = feed.bytesFrom(from);
  r.end = r.buf.length;
  r.pos = 0;
  return from;
}

/** A file-level load failure: the message to log and how Redis reports it. */
export class RdbLoadError extends Error {
  constructor(
    message: string,
    /** True when Redis treats it as not-an-RDB (signature/version) rather than corruption. */
    readonly badHeader = false,
    /** The rdbReportCorruptRDB reason line, when there is one. */
    readonly corruption: string | null = null,
  ) {
    super(message);
  }
}

// ---- DUMP payloads ------------------------------------------------------------------------------

/**
 * Verifies a DUMP payload's footer (RDB version ≤ ours, CRC64 unless skipped); returns false
 * when either is wrong (RESTORE's "payload version or checksum are wrong").
 */
export function verifyDumpPayload(p: Buffer, skipChecksum: boolean): boolean {
  if (p.length < 10) return false;
  const footer = p.length - 10;
  const version = p[footer]! | (p[footer + 1]! << 8);
  if (version > RDB_VERSION) return false;
  if (skipChecksum) return true;
  const crc = new Crc64().update(p, 0, p.length - 8).bytes();
  return crc.equals(p.subarray(p.length - 8));
}

/** Decodes a verified DUMP payload's value (null when it loads empty); throws RdbFormatError on bad data. */
export function decodeDumpPayload(p: Buffer, limits: LoadLimits): RedisValue | null {
  const d = new RdbDecoder(p, limits, 0, p.length - 10);
  const type = d.r.u8();
  if (!isObjectType(type)) throw new RdbFormatError(`Unknown RDB encoding type ${type}`);
  const value = d.value(type);
  if (d.r.pos !== p.length - 10) throw new RdbFormatError('DUMP payload has bytes after its value');
  return value;
}
