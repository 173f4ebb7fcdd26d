/**
 * Byte-level building blocks shared by the RDB codecs: a growable output buffer, a bounds-
 * checked input cursor, and the integer test Redis applies before storing a string as a number
 * (string2ll: canonical decimal int64).
 */
import { stringToInt } from '../types/listpack-size.js';

export { stringToInt };

/** Where in an RDB file a value failed to load (for redis-check-rdb's report). */
export interface RdbErrorContext {
  /** Offset reached when the error was found. */
  offset: number;
  keyOffset: number;
  key: string;
  type: number;
}

/** Thrown for malformed input (RDB file, DUMP payload, embedded listpack/ziplist…). */
export class RdbFormatError extends Error {
  /** Set by the file parser for an error inside a key's value. */
  context: RdbErrorContext | null = null;
}

/** A growable byte buffer; `take()` hands out what was written and starts over. */
export class ByteWriter {
  buf: Buffer;
  len = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  u16le(n: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(n, this.len);
    this.len += 2;
  }

  u32le(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.len);
    this.len += 4;
  }

  u32be(n: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(n >>> 0, this.len);
    this.len += 4;
  }

  i64le(n: bigint): void {
    this.ensure(8);
    this.buf.writeBigInt64LE(n, this.len);
    this.len += 8;
  }

  /** A millisecond timestamp as int64 LE (safe integers only, as nodis stores them). */
  ms64le(n: number): void {
    this.ensure(8);
    const lo = n % 0x100000000;
    const hi = Math.floor(n / 0x100000000);
    this.buf.writeUInt32LE(lo < 0 ? lo + 0x100000000 : lo, this.len);
    this.buf.writeInt32LE(lo < 0 ? hi : hi, this.len + 4);
    this.len += 8;
  }

  doubleLe(d: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(d, this.len);
    this.len += 8;
  }

  latin1(s: string): void {
    const n = s.length;
    this.ensure(n);
    if (n <= 16) {
      // Keys and small values, most of a snapshot's strings: a loop is several times cheaper
      // than latin1Write's native call for them (as ReplyWriter and lua-wasm.ts write them).
      const b = this.buf;
      let p = this.len;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
      this.len = p;
      return;
    }
    this.len += this.buf.latin1Write(s, this.len, n);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** A copy of the bytes written so far, then resets. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, 0, this.len);
    this.len = 0;
    return out;
  }

  /**
   * Like take() without the copy: hands out the bytes written in the buffer they were written
   * in and goes on in a new buffer of the same size (a snapshot's 256 KB chunks), or of
   * `maxNext` bytes when one big value had grown it past that.
   */
  handOver(maxNext = 1 << 20): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.min(this.buf.length, maxNext));
    this.len = 0;
    return out;
  }

  /** A view of the bytes written so far (valid until the next write). */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** A cursor over input bytes; every read checks bounds and throws RdbFormatError. */
export class ByteReader {
  pos: number;
  /**
   * Set when a read failed for want of bytes past `end` (not for a negative length): over an
   * image still arriving (parseRdbSteps with a feed) that means "wait for more", not damage.
   */
  shortRead = false;

  constructor(
    /** Replaced, with `end`, only by parseRdbSteps as a streamed image grows. */
    public buf: Buffer,
    start = 0,
    public end = buf.length,
  ) {
    this.pos = start;
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      if (n >= 0) this.shortRead = true;
      throw new RdbFormatError('Unexpected EOF reading RDB file');
    }
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16le(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32le(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u32be(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i64le(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  doubleLe(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  slice(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  latin1(n: number): string {
    this.need(n);
    const s = this.buf.latin1Slice(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}


/** A bigint back to a number when it is exactly representable. */
export function normInt(v: bigint): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}
