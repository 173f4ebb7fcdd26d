/**
 * Listpack (listpack.c), the compact encoding Redis 7.0 writes for small hashes and sorted
 * sets and for the nodes of a quicklist:
 *   <total-bytes u32 LE> <num-elements u16 LE (65535 = unknown)> <entry>* <0xFF>
 * and each entry is <encoding+data> <backlen>, backlen being the size of encoding+data in a
 * 7-bits-per-byte variable form that lets the list be walked backwards. Integers take the
 * smallest of the 7/13/16/24/32/64-bit forms; strings that are canonical integers are stored as
 * integers, as lpAppend does.
 */
import { ByteReader, ByteWriter, RdbFormatError, normInt } from './bytes.js';
import { asInt, backlenSize, intEntrySize, strEntrySize, type PackedElement } from '../types/listpack-size.js';

export { listpackEntryBytes, type PackedElement } from '../types/listpack-size.js';

const HEADER_SIZE = 6;

function writeBacklen(w: ByteWriter, l: number): void {
  const n = backlenSize(l);
  // Most significant 7-bit group first; every byte but the first has the high bit set.
  for (let i = n - 1; i >= 0; i--) {
    const group = Math.floor(l / 2 ** (7 * i)) & 127;
    w.byte(i === n - 1 ? group : group | 128);
  }
}

function writeEntry(w: ByteWriter, e: PackedElement): void {
  const iv = asInt(e);
  if (iv !== null) {
    const size = intEntrySize(iv);
    w.ensure(size + 1);
    const b = w.buf;
    let p = w.len;
    if (size === 9) {
      b[p++] = 0xf4;
      b.writeBigInt64LE(BigInt(iv), p);
      p += 8;
    } else {
      const v = iv as number;
      if (size === 1) b[p++] = v;
      else if (size === 2) {
        const u = v < 0 ? v + 8192 : v;
        b[p++] = 0xc0 | (u >> 8);
        b[p++] = u & 0xff;
      } else if (size === 3) {
        b[p++] = 0xf1;
        b.writeInt16LE(v, p);
        p += 2;
      } else if (size === 4) {
        b[p++] = 0xf2;
        b.writeIntLE(v, p, 3);
        p += 3;
      } else {
        b[p++] = 0xf3;
        b.writeInt32LE(v, p);
        p += 4;
      }
    }
    w.len = p;
    writeBacklen(w, size);
    return;
  }
  const s = e as string;
  const len = s.length;
  if (len < 64) w.byte(0x80 | len);
  else if (len < 4096) {
    w.byte(0xe0 | (len >> 8));
    w.byte(len & 0xff);
  } else {
    w.byte(0xf0);
    w.u32le(len);
  }
  w.latin1(s);
  writeBacklen(w, strEntrySize(len));
}

/** Encodes elements (given as bytes or integers) into a listpack. */
export function encodeListpack(elements: Iterable<PackedElement>): Buffer {
  const w = new ByteWriter(256);
  w.len = HEADER_SIZE;
  let count = 0;
  for (const e of elements) {
    writeEntry(w, e);
    count++;
  }
  w.byte(0xff);
  w.buf.writeUInt32LE(w.len, 0);
  w.buf.writeUInt16LE(count < 65535 ? count : 65535, 4);
  return w.take();
}

/**
 * Decodes a listpack with lpValidateIntegrity's deep checks: the header's total bytes, the
 * terminator, each entry's encoding, bounds and backlen, and the element count when the header
 * knows it. Any damage throws RdbFormatError.
 */
export function decodeListpack(buf: Buffer): PackedElement[] {
  if (buf.length < HEADER_SIZE + 1) throw new RdbFormatError('listpack too short');
  const total = buf.readUInt32LE(0);
  if (total !== buf.length) throw new RdbFormatError('listpack size mismatch');
  if (buf[total - 1] !== 0xff) throw new RdbFormatError('listpack without terminator');
  const declared = buf.readUInt16LE(4);
  // The terminator is not part of the entries' range: an entry reaching it is damaged.
  const r = new ByteReader(buf, HEADER_SIZE, total - 1);
  const out: PackedElement[] = [];
  while (r.pos < total - 1) {
    const start = r.pos;
    const b = r.u8();
    let e: PackedElement;
    if ((b & 0x80) === 0) e = b;
    else if ((b & 0xc0) === 0x80) e = r.latin1(b & 0x3f);
    else if ((b & 0xe0) === 0xc0) {
      const u = ((b & 0x1f) << 8) | r.u8();
      e = u >= 4096 ? u - 8192 : u;
    } else if ((b & 0xf0) === 0xe0) e = r.latin1(((b & 0x0f) << 8) | r.u8());
    else if (b === 0xf0) e = r.latin1(r.u32le());
    else if (b === 0xf1) {
      r.need(2);
      e = buf.readInt16LE(r.pos);
      r.pos += 2;
    } else if (b === 0xf2) {
      r.need(3);
      e = buf.readIntLE(r.pos, 3);
      r.pos += 3;
    } else if (b === 0xf3) {
      r.need(4);
      e = buf.readInt32LE(r.pos);
      r.pos += 4;
    } else if (b === 0xf4) e = normInt(r.i64le());
    else throw new RdbFormatError('listpack: bad entry encoding');
    const l = r.pos - start;
    const bl = backlenSize(l);
    r.need(bl);
    // Validate the backlen: it must decode (read backwards) to this entry's size.
    let v = 0;
    for (let i = 0; i < bl; i++) v = v * 128 + (buf[r.pos + i]! & 127);
    if (v !== l) throw new RdbFormatError('listpack: bad backlen');
    r.pos += bl;
    out.push(e);
  }
  if (declared !== 65535 && declared !== out.length) throw new RdbFormatError('listpack: count mismatch');
  return out;
}

/** Element bytes as Redis would reply them. */
export function elementString(e: PackedElement): string {
  return typeof e === 'string' ? e : String(e);
}
