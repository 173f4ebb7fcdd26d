/**
 * The compact encodings older Redis versions wrote and Redis 7.0 still loads (and converts):
 *   - ziplist (ziplist.c): lists, hashes and sorted sets up to Redis 6.2;
 *   - zipmap (zipmap.c): small hashes before Redis 2.6;
 * plus intset (intset.c), which 7.0 still writes for small integer sets.
 * Only the intset has an encoder: Redis 7.0 writes listpacks where it used to write ziplists.
 */
import { ByteReader, ByteWriter, RdbFormatError, normInt, stringToInt } from './bytes.js';
import type { PackedElement } from './listpack.js';

/** Decodes a ziplist: <zlbytes u32><zltail u32><zllen u16> entries <0xFF>. */
export function decodeZiplist(buf: Buffer): PackedElement[] {
  if (buf.length < 11) throw new RdbFormatError('ziplist too short');
  const total = buf.readUInt32LE(0);
  if (total !== buf.length) throw new RdbFormatError('ziplist size mismatch');
  const tail = buf.readUInt32LE(4);
  const declared = buf.readUInt16LE(8);
  const r = new ByteReader(buf, 10, total);
  const out: PackedElement[] = [];
  let prevLen = 0;
  let lastStart = 10;
  for (;;) {
    const start = r.pos;
    const first = r.u8();
    if (first === 0xff) break;
    // prevlen: 1 byte, or 0xFE followed by 4 bytes
    const prev = first === 0xfe ? r.u32le() : first;
    if (prev !== prevLen) throw new RdbFormatError('ziplist: bad prevlen');
    const enc = r.u8();
    let e: PackedElement;
    switch (enc >> 6) {
      case 0:
        e = r.latin1(enc & 0x3f);
        break;
      case 1:
        e = r.latin1(((enc & 0x3f) << 8) | r.u8());
        break;
      case 2:
        // ZIP_STR_32B: only the top two bits are the encoding (ZIP_ENTRY_ENCODING masks the rest).
        e = r.latin1(r.u32be());
        break;
      default:
        if (enc === 0xc0) {
          r.need(2);
          e = buf.readInt16LE(r.pos);
          r.pos += 2;
        } else if (enc === 0xd0) {
          r.need(4);
          e = buf.readInt32LE(r.pos);
          r.pos += 4;
        } else if (enc === 0xe0) e = normInt(r.i64le());
        else if (enc === 0xf0) {
          r.need(3);
          e = buf.readIntLE(r.pos, 3);
          r.pos += 3;
        } else if (enc === 0xfe) {
          r.need(1);
          e = buf.readInt8(r.pos);
          r.pos += 1;
        } else if (enc >= 0xf1 && enc <= 0xfd) e = (enc & 0x0f) - 1;
        else throw new RdbFormatError('ziplist: bad entry encoding');
    }
    prevLen = r.pos - start;
    lastStart = start;
    out.push(e);
  }
  if (r.pos !== total) throw new RdbFormatError('ziplist: trailing bytes');
  if (out.length > 0 && tail !== lastStart) throw new RdbFormatError('ziplist: bad tail offset');
  if (declared !== 65535 && declared !== out.length) throw new RdbFormatError('ziplist: count mismatch');
  return out;
}

/**
 * Decodes a zipmap into field/value pairs, with zipmapValidateIntegrity's checks (Redis always
 * runs them deep): entries inside the buffer, the terminator last, at least one pair, and the
 * count byte right unless it says "unknown" (254).
 */
export function decodeZipmap(buf: Buffer): [string, string][] {
  if (buf.length < 2 || buf[buf.length - 1] !== 0xff) throw new RdbFormatError('zipmap: bad header or terminator');
  // Entries end before the terminator (the reader cannot reach it).
  const r = new ByteReader(buf, 1, buf.length - 1);
  const declared = buf[0]!;
  const out: [string, string][] = [];
  // zipmapDecodeLength: one byte below 254, else a 4-byte length follows.
  const readLen = (): number => {
    const b = r.u8();
    return b < 254 ? b : r.u32le();
  };
  // Like zipmapNext, the first 0xFF where a field starts ends the map.
  while (r.pos < buf.length - 1 && buf[r.pos] !== 0xff) {
    const field = r.latin1(readLen());
    const vlen = readLen();
    const free = r.u8();
    const value = r.latin1(vlen);
    r.need(free);
    r.pos += free;
    out.push([field, value]);
  }
  if (out.length === 0) throw new RdbFormatError('zipmap: empty');
  if (declared < 254 && declared !== out.length) throw new RdbFormatError('zipmap: count mismatch');
  return out;
}

/**
 * Decodes an intset: <encoding u32 (2|4|8)><length u32><sorted ints>, with
 * intsetValidateIntegrity's deep checks (encoding, size, not empty, members strictly ascending).
 */
export function decodeIntset(buf: Buffer): (number | bigint)[] {
  if (buf.length < 8) throw new RdbFormatError('intset too short');
  const width = buf.readUInt32LE(0);
  const count = buf.readUInt32LE(4);
  if (width !== 2 && width !== 4 && width !== 8) throw new RdbFormatError('intset: bad encoding');
  if (8 + count * width !== buf.length) throw new RdbFormatError('intset: size mismatch');
  if (count === 0) throw new RdbFormatError('intset: empty');
  const out: (number | bigint)[] = [];
  let prev: number | bigint | null = null;
  for (let i = 0; i < count; i++) {
    const p = 8 + i * width;
    const v = width === 2 ? buf.readInt16LE(p) : width === 4 ? buf.readInt32LE(p) : normInt(buf.readBigInt64LE(p));
    if (prev !== null && !(prev < v)) throw new RdbFormatError('intset: not sorted');
    prev = v;
    out.push(v);
  }
  return out;
}

/**
 * Encodes integer members (canonical decimal strings) as an intset, with the narrowest width
 * that holds them all, sorted ascending.
 */
export function encodeIntset(members: Iterable<string>): Buffer {
  const values: bigint[] = [];
  let width = 2;
  for (const m of members) {
    const v = stringToInt(m);
    if (v === null) throw new RdbFormatError('intset: non-integer member');
    const b = BigInt(v);
    values.push(b);
    if (b < -2147483648n || b > 2147483647n) width = 8;
    else if ((b < -32768n || b > 32767n) && width < 4) width = 4;
  }
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const w = new ByteWriter(8 + values.length * width);
  w.u32le(width);
  w.u32le(values.length);
  w.ensure(values.length * width);
  for (const v of values) {
    if (width === 2) w.buf.writeInt16LE(Number(v), w.len);
    else if (width === 4) w.buf.writeInt32LE(Number(v), w.len);
    else w.buf.writeBigInt64LE(v, w.len);
    w.len += width;
  }
  return w.take();
}
