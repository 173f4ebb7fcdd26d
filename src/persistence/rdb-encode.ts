/**
 * Serialising values into RDB (rdbSaveObject and friends), with the encodings Redis 7.0 itself
 * writes for each of its in-memory encodings:
 *   string → raw / int-encoded (≤ 11 bytes that are an int32) / LZF (> 20 bytes, rdbcompression)
 *   list   → QUICKLIST_2: listpack nodes split by list-max-listpack-size, plain nodes for
 *            elements at or above the packed threshold
 *   set    → INTSET blob when intset-encoded, else SET (members)
 *   zset   → ZSET_LISTPACK blob when listpack-encoded, else ZSET_2 (highest score first, so a
 *            loader inserts at the head in O(1), and binary doubles)
 *   hash   → HASH_LISTPACK blob when listpack-encoded, else HASH (field, value pairs)
 * The same encoder produces file snapshots and DUMP payloads.
 */
import { ArenaValue, arena } from '../types/value-arena.js';
import { ByteWriter, stringToInt } from './bytes.js';
import { lzfCompress } from './lzf.js';
import { encodeListpack, listpackEntryBytes, type PackedElement } from './listpack.js';
import { encodeIntset } from './legacy-encodings.js';
import { RDB_VERSION, RdbEnc, RdbOpcode, RdbType, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN } from './rdb-format.js';
import { Crc64 } from './crc64.js';
import { isStringValue, type RedisValue, type StringValue } from '../types/value.js';
import { ListValue, type ListElement } from '../types/list.js';
import { SetValue } from '../types/set.js';
import { HashValue } from '../types/hash.js';
import { ZSet, NIL } from '../types/zset.js';
import { StreamValue } from '../types/stream.js';
import { encodeStream } from './stream-codec.js';
import { formatDouble } from '../protocol/format.js';

/** Settings that shape the encoding (read from the config when a save starts). */
export interface EncodeOptions {
  /** rdbcompression: LZF for strings longer than 20 bytes. */
  compress: boolean;
  /** list-max-listpack-size: > 0 entries per node, < 0 a byte-size class (-2 = 8 KB). */
  listMaxListpackSize: number;
  /** Elements at least this big get a quicklist node of their own (plain node). */
  packedThreshold: number;
}

export const DEFAULT_ENCODE_OPTIONS: EncodeOptions = { compress: true, listMaxListpackSize: -2, packedThreshold: 1 << 30 };

/** At most this long, a string is never LZF-compressed (> 20 bytes) and its length is one byte (< 64). */
const SHORT_STRING = 20;

/** Whether string() may write `s` (of length n) int-encoded: what it tests before stringToInt. */
function intLike(s: string, n: number): boolean {
  if (n === 0 || n > 11) return false;
  const c = s.charCodeAt(0);
  return (c >= 48 && c <= 57) || c === 45;
}

const NODE_SIZE_CLASSES = [4096, 8192, 16384, 32768, 65536];
/** quicklist's SIZE_SAFETY_LIMIT for count-limited nodes. */
const SIZE_SAFETY_LIMIT = 8192;
/** Scores in this open range that are integers print as integers (d2string). */
const D2S_INT_MAX = 4503599627370496;

export class RdbEncoder extends ByteWriter {
  constructor(
    readonly opts: EncodeOptions = DEFAULT_ENCODE_OPTIONS,
    initial = 64 * 1024,
  ) {
    super(initial);
  }

  /** rdbSaveLen: 6-bit, 14-bit, 32-bit or 64-bit big-endian lengths. */
  length(n: number): void {
    if (n < 64) this.byte(n);
    else if (n < 16384) {
      this.byte(0x40 | (n >> 8));
      this.byte(n & 0xff);
    } else if (n <= 0xffffffff) {
      this.byte(0x80);
      this.u32be(n);
    } else {
      this.byte(0x81);
      this.u32be(Math.floor(n / 0x100000000));
      this.u32be(n % 0x100000000);
    }
  }

  /** An integer as the 8/16/32-bit string encodings (caller checked the int32 range). */
  private encodedInt(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let p = this.len;
    if (v >= -128 && v <= 127) {
      b[p++] = 0xc0 | RdbEnc.Int8;
      b.writeInt8(v, p);
      p += 1;
    } else if (v >= -32768 && v <= 32767) {
      b[p++] = 0xc0 | RdbEnc.Int16;
      b.writeInt16LE(v, p);
      p += 2;
    } else {
      b[p++] = 0xc0 | RdbEnc.Int32;
      b.writeInt32LE(v, p);
      p += 4;
    }
    this.len = p;
  }

  /** rdbSaveRawString: int encoding when it fits, LZF when worth it, else length + bytes. */
  string(s: string): void {
    const n = s.length;
    if (n <= 11 && n > 0) {
      const c = s.charCodeAt(0);
      if ((c >= 48 && c <= 57) || c === 45) {
        const v = stringToInt(s);
        if (typeof v === 'number' && v >= -2147483648 && v <= 2147483647) {
          this.encodedInt(v);
          return;
        }
      }
    }
    if (this.opts.compress && n > 20) {
      const raw = Buffer.from(s, 'latin1');
      if (this.lzf(raw)) return;
      this.length(n);
      this.bytes(raw);
      return;
    }
    this.length(n);
    this.latin1(s);
  }

  /** A binary blob (listpack, intset): LZF when enabled and worth it, else raw. */
  blob(b: Buffer): void {
    if (this.opts.compress && b.length > 20 && this.lzf(b)) return;
    this.length(b.length);
    this.bytes(b);
  }

  private lzf(raw: Buffer): boolean {
    const packed = lzfCompress(raw, raw.length - 4);
    if (packed === null) return false;
    this.byte(0xc0 | RdbEnc.Lzf);
    this.length(packed.length);
    this.length(raw.length);
    this.bytes(packed);
    return true;
  }

  stringValue(v: StringValue): void {
    if (typeof v === 'number') {
      if (v >= -2147483648 && v <= 2147483647) this.encodedInt(v);
      else this.string(String(v));
    } else if (typeof v === 'string') {
      this.string(v);
    } else if (v instanceof ArenaValue) {
      this.blob(arena.view(v.handle));
    } else {
      this.blob(v);
    }
  }

  /** The type byte of a value as it will be written. */
  static typeOf(v: RedisValue): RdbType {
    if (isStringValue(v)) return RdbType.String;
    if (v instanceof ListValue) return RdbType.ListQuicklist2;
    if (v instanceof SetValue) return v.encoding() === 'intset' ? RdbType.SetIntset : RdbType.Set;
    if (v instanceof ZSet) return v.isCompact ? RdbType.ZsetListpack : RdbType.Zset2;
    if (v instanceof HashValue) return v.encoding() === 'listpack' ? RdbType.HashListpack : RdbType.Hash;
    if (v instanceof StreamValue) return RdbType.StreamListpacks2;
    throw new Error(`cannot serialise a value of type ${v.type}`);
  }

  /** <type><payload>: what DUMP carries and what follows a key in a file. */
  typedValue(v: RedisValue): void {
    const t = RdbEncoder.typeOf(v);
    this.byte(t);
    this.valuePayload(v, t);
  }

  /**
   * One key record: [EXPIRETIME_MS ms] [IDLE seconds | FREQ counter] <type> <key> <value>.
   * `idle` / `freq` are -1 when not written (Redis writes IDLE under an LRU policy, FREQ under
   * an LFU one).
   */
  keyValue(key: string, v: RedisValue, expireMs: number, idle = -1, freq = -1): void {
    if (typeof v === 'string' && expireMs === -1 && idle < 0 && freq < 0 && this.shortStrings(key, v)) return;
    if (expireMs !== -1) {
      this.byte(RdbOpcode.ExpireTimeMs);
      this.ms64le(expireMs);
    }
    if (idle >= 0) {
      this.byte(RdbOpcode.Idle);
      this.length(idle);
    }
    if (freq >= 0) {
      this.byte(RdbOpcode.Freq);
      this.byte(freq);
    }
    const t = RdbEncoder.typeOf(v);
    this.byte(t);
    this.string(key);
    this.valuePayload(v, t);
  }

  /**
   * The commonest record of a snapshot (DEBUG POPULATE's, a cache's), in one pass: a string
   * key and a string value, each of at most SHORT_STRING bytes and not int-like, so each is a
   * 1-byte length and its bytes (what string() writes for them: no int encoding, no LZF at
   * ≤ 20 bytes). One bounds check and no calls per string instead of string()'s tests,
   * length() and latin1() each (jobs7: a 1M-key snapshot's walk and encoding ~20% less CPU). False when they do not fit.
   */
  private shortStrings(key: string, v: string): boolean {
    const kn = key.length;
    const vn = v.length;
    if (kn > SHORT_STRING || vn > SHORT_STRING || intLike(key, kn) || intLike(v, vn)) return false;
    this.ensure(3 + kn + vn);
    const b = this.buf;
    let p = this.len;
    b[p++] = RdbType.String;
    b[p++] = kn;
    for (let i = 0; i < kn; i++) b[p++] = key.charCodeAt(i);
    b[p++] = vn;
    for (let i = 0; i < vn; i++) b[p++] = v.charCodeAt(i);
    this.len = p;
    return true;
  }

  /** An AUX field (both parts as strings). */
  aux(name: string, value: string): void {
    this.byte(RdbOpcode.Aux);
    this.string(name);
    this.string(value);
  }

  private valuePayload(v: RedisValue, t: RdbType): void {
    if (isStringValue(v)) {
      this.stringValue(v);
      return;
    }
    switch (t) {
      case RdbType.ListQuicklist2:
        this.list(v as ListValue);
        return;
      case RdbType.SetIntset:
        this.blob(encodeIntset((v as SetValue).liveValues()));
        return;
      case RdbType.Set: {
        const s = v as SetValue;
        this.length(s.size());
        for (const m of s.liveValues()) this.string(m);
        return;
      }
      case RdbType.ZsetListpack: {
        const z = v as ZSet;
        const parts: PackedElement[] = [];
        for (let n = z.first(); n !== NIL; n = z.next(n)) parts.push(z.member(n), scoreElement(z.nodeScore(n)));
        this.blob(encodeListpack(parts));
        return;
      }
      case RdbType.Zset2: {
        const z = v as ZSet;
        this.length(z.size());
        for (let n = z.last(); n !== NIL; n = z.prev(n)) {
          this.string(z.member(n));
          this.doubleLe(z.nodeScore(n));
        }
        return;
      }
      case RdbType.HashListpack: {
        const h = v as HashValue;
        const parts: string[] = [];
        for (const [f, val] of h.entries()) parts.push(f, val);
        this.blob(encodeListpack(parts));
        return;
      }
      case RdbType.Hash: {
        const h = v as HashValue;
        this.length(h.size());
        for (const [f, val] of h.entries()) {
          this.string(f);
          this.string(val);
        }
        return;
      }
      case RdbType.StreamListpacks2:
        encodeStream(this, v as StreamValue);
        return;
      default:
        throw new Error(`unexpected RDB type ${t}`);
    }
  }

  /** Quicklist 2: <node count> then per node <container> <listpack or plain element>. */
  private list(l: ListValue): void {
    const fill = this.opts.listMaxListpackSize;
    const sizeLimit = fill < 0 ? NODE_SIZE_CLASSES[Math.min(-fill, 5) - 1]! : SIZE_SAFETY_LIMIT;
    const countLimit = fill > 0 ? fill : Infinity;
    const threshold = this.opts.packedThreshold;
    type Node = { plain: true; element: string } | { plain: false; elements: ListElement[] };
    const nodes: Node[] = [];
    let current: ListElement[] = [];
    let currentBytes = 7; // listpack header + terminator
    const flush = (): void => {
      if (current.length > 0) nodes.push({ plain: false, elements: current });
      current = [];
      currentBytes = 7;
    };
    l.forRange(0, l.length - 1, (e) => {
      if (typeof e === 'string' && e.length >= threshold) {
        flush();
        nodes.push({ plain: true, element: e });
        return;
      }
      const add = listpackEntryBytes(e);
      if (current.length > 0 && (current.length >= countLimit || currentBytes + add > sizeLimit)) flush();
      current.push(e);
      currentBytes += add;
    });
    flush();
    this.length(nodes.length);
    for (const node of nodes) {
      if (node.plain) {
        this.length(QUICKLIST_NODE_PLAIN);
        this.string(node.element);
      } else {
        this.length(QUICKLIST_NODE_PACKED);
        this.blob(encodeListpack(node.elements));
      }
    }
  }
}

/** A zset score as zzlInsertAt stores it in a listpack (d2string, then lpAppend's int test). */
function scoreElement(score: number): PackedElement {
  if (Number.isInteger(score) && score > -D2S_INT_MAX + 1 && score < D2S_INT_MAX && !Object.is(score, -0)) return score;
  return formatDouble(score);
}

/** The DUMP payload of a value: <type><value><RDB version u16 LE><CRC64 LE>. */
export function dumpPayload(value: RedisValue, opts: EncodeOptions): Buffer {
  const enc = new RdbEncoder(opts, 256);
  enc.typedValue(value);
  enc.u16le(RDB_VERSION);
  enc.bytes(new Crc64().update(enc.view()).bytes());
  return enc.take();
}
