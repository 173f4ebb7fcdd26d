/**
 * Bitmap commands (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
 * BITFIELD_RO.
 *
 * Bitmaps are ordinary string values; bit 0 is the most significant bit of byte 0. Writes go to
 * an owned Buffer edited in place (types/string-ops.ts), grown with spare capacity so a run of
 * SETBITs at increasing offsets stays amortised O(1) each. Reads work on every representation
 * without converting it. BITFIELD arithmetic uses BigInt so 64-bit fields and the overflow
 * rules (WRAP/SAT/FAIL) are exact.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { isStringValue, type StringValue } from '../types/value.js';
import { NOT_INTEGER, SYNTAX, WRONGTYPE } from '../protocol/errors.js';
import { is, parseInt64, parseInteger } from '../protocol/args.js';
import { allocOwned, byteAt, bytesOf, mutableBytes } from '../types/string-ops.js';

const BIT_OFFSET_ERR = 'ERR bit offset is not an integer or out of range';
const BIT_VALUE_ERR = 'ERR bit is not an integer or out of range';
const BITFIELD_TYPE_ERR = 'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.';

/** Set bits in each byte value. */
const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;

function mustObey(c: Client): boolean {
  return c.isMaster || c.kind === 'master';
}

function lengthOf(v: StringValue): number {
  return typeof v === 'string' ? v.length : typeof v === 'number' ? String(v).length : v.length;
}

/**
 * getBitOffsetFromArgument: a bit offset within proto-max-bulk-len bytes. With `bits` > 0 the
 * `#n` form (BITFIELD) means n * bits. Returns null after replying the error.
 */
function bitOffsetOrReply(c: Client, arg: string, bits: number): number | null {
  const useHash = bits > 0 && arg.charCodeAt(0) === 35; /* # */
  let n = parseInt64(useHash ? arg.slice(1) : arg);
  if (n !== null && useHash) n = BigInt.asIntN(64, n * BigInt(bits));
  if (n === null || n < 0n || (!mustObey(c) && n >> 3n >= BigInt(c.server.settings.protoMaxBulkLen))) {
    c.reply.error(BIT_OFFSET_ERR);
    return null;
  }
  return Number(n);
}

/**
 * lookupStringForBitCommand: the key's value as a writable Buffer long enough to address
 * `maxBit`, creating or zero-padding it. `grew` tells whether the key was created or extended.
 * Returns null after a WRONGTYPE reply.
 */
function writableBitmap(c: Client, key: string, maxBit: number): { buf: Buffer; grew: boolean } | null {
  const bytes = Math.floor(maxBit / 8) + 1;
  const db = c.db;
  const v = db.lookup(key);
  if (v === undefined) {
    const buf = allocOwned(bytes);
    db.set(key, buf);
    return { buf, grew: true };
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return null;
  }
  const before = lengthOf(v);
  const buf = mutableBytes(v, bytes, true);
  if (buf !== v) db.replace(key, buf);
  return { buf, grew: buf.length !== before };
}

// ---- SETBIT / GETBIT --------------------------------------------------------------------------

function setbit(c: Client): void {
  const offset = bitOffsetOrReply(c, c.argv[2]!, 0);
  if (offset === null) return;
  const on = parseInteger(c.argv[3]!);
  if (on === null || (on !== 0 && on !== 1)) {
    c.reply.error(BIT_VALUE_ERR);
    return;
  }
  const key = c.argv[1]!;
  const target = writableBitmap(c, key, offset);
  if (target === null) return;
  const { buf, grew } = target;
  const byte = offset >>> 3;
  const mask = 1 << (7 - (offset & 7));
  const old = (buf[byte]! & mask) !== 0 ? 1 : 0;
  if (grew || old !== on) {
    buf[byte] = on ? buf[byte]! | mask : buf[byte]! & ~mask;
    c.db.modified(key, '$', 'setbit');
  }
  if (old) c.reply.one();
  else c.reply.zero();
}

function getbit(c: Client): void {
  const offset = bitOffsetOrReply(c, c.argv[2]!, 0);
  if (offset === null) return;
  const v = c.server.lookupRead(c.db, c.argv[1]!);
  if (v === undefined) {
    c.reply.zero();
    return;
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return;
  }
  const bit = byteAt(v, Math.floor(offset / 8)) & (1 << (7 - (offset & 7)));
  if (bit) c.reply.one();
  else c.reply.zero();
}

// ---- BITOP ------------------------------------------------------------------------------------

function bitop(c: Client): void {
  const argv = c.argv;
  const opName = argv[1]!.toLowerCase();
  if (opName !== 'and' && opName !== 'or' && opName !== 'xor' && opName !== 'not') {
    c.reply.error(SYNTAX);
    return;
  }
  if (opName === 'not' && argv.length !== 4) {
    c.reply.error('ERR BITOP NOT must be called with a single source key.');
    return;
  }
  const sources: Buffer[] = [];
  let maxLen = 0;
  for (let j = 3; j < argv.length; j++) {
    const v = c.server.lookupRead(c.db, argv[j]!);
    if (v === undefined) {
      sources.push(Buffer.alloc(0));
      continue;
    }
    if (!isStringValue(v)) {
      c.reply.error(WRONGTYPE);
      return;
    }
    const b = bytesOf(v);
    sources.push(b);
    if (b.length > maxLen) maxLen = b.length;
  }
  const target = argv[2]!;
  const db = c.db;
  if (maxLen > 0) {
    const res = allocOwned(maxLen);
    const first = sources[0]!;
    first.copy(res, 0);
    if (opName === 'not') {
      for (let i = 0; i < maxLen; i++) res[i] = ~res[i]! & 0xff;
    } else {
      for (let s = 1; s < sources.length; s++) {
        const src = sources[s]!;
        const n = src.length;
        if (opName === 'and') {
          for (let i = 0; i < n; i++) res[i]! &= src[i]!;
          res.fill(0, n);
        } else if (opName === 'or') {
          for (let i = 0; i < n; i++) res[i]! |= src[i]!;
        } else {
          for (let i = 0; i < n; i++) res[i]! ^= src[i]!;
        }
      }
    }
    db.set(target, res);
    db.modified(target, '$', 'set');
  } else if (db.delete(target)) {
    db.modified(target, 'g', 'del');
  }
  c.reply.integer(maxLen);
}

// ---- BITCOUNT / BITPOS ------------------------------------------------------------------------

/** Resolves the [start, end] arguments as bitcount/bitpos do; null after an error reply. */
function parseRangeArg(c: Client, arg: string): number | null {
  const n = parseInteger(arg);
  if (n === null) c.reply.error(NOT_INTEGER);
  return n;
}

/**
 * BITCOUNT/BITPOS ranges: negative indexes from the end, clamped to the string; a BIT range
 * becomes bytes plus the masks of the bits outside it in its first and last byte.
 */
function byteRange(start: number, end: number, strlen: number, isBit: boolean): { start: number; end: number; firstNegMask: number; lastNegMask: number } {
  const totlen = isBit ? strlen * 8 : strlen;
  if (start < 0) start = totlen + start;
  if (end < 0) end = totlen + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= totlen) end = totlen - 1;
  if (!isBit || start > end) return { start, end, firstNegMask: 0, lastNegMask: 0 };
  return {
    start: Math.floor(start / 8),
    end: Math.floor(end / 8),
    firstNegMask: ~((1 << (8 - (start & 7))) - 1) & 0xff,
    lastNegMask: (1 << (7 - (end & 7))) - 1,
  };
}

function bitcount(c: Client): void {
  const argv = c.argv;
  const v = c.server.lookupRead(c.db, argv[1]!);
  if (v === undefined) {
    c.reply.zero();
    return;
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return;
  }
  const p = bytesOf(v);
  const strlen = p.length;
  let start: number;
  let end: number;
  let firstNegMask = 0;
  let lastNegMask = 0;
  if (argv.length === 4 || argv.length === 5) {
    const s = parseRangeArg(c, argv[2]!);
    if (s === null) return;
    const e = parseRangeArg(c, argv[3]!);
    if (e === null) return;
    start = s;
    end = e;
    if (start < 0 && end < 0 && start > end) {
      c.reply.zero();
      return;
    }
    let isBit = false;
    if (argv.length === 5) {
      if (is(argv[4]!, 'bit')) isBit = true;
      else if (!is(argv[4]!, 'byte')) {
        c.reply.error(SYNTAX);
        return;
      }
    }
    ({ start, end, firstNegMask, lastNegMask } = byteRange(start, end, strlen, isBit));
  } else if (argv.length === 2) {
    start = 0;
    end = strlen - 1;
  } else {
    c.reply.error(SYNTAX);
    return;
  }
  if (start > end) {
    c.reply.zero();
    return;
  }
  let count = 0;
  for (let i = start; i <= end; i++) count += POPCOUNT[p[i]!]!;
  if (firstNegMask !== 0) count -= POPCOUNT[p[start]! & firstNegMask]!;
  if (lastNegMask !== 0) count -= POPCOUNT[p[end]! & lastNegMask]!;
  c.reply.integer(count);
}

/**
 * redisBitpos over `count` bytes from `from`: the first bit equal to `bit`, relative to `from`.
 * Not found: -1 when looking for 1, count*8 when looking for 0 (the string is zero padded).
 */
function findBit(p: Uint8Array, from: number, count: number, bit: number): number {
  const skip = bit ? 0 : 0xff;
  for (let i = 0; i < count; i++) {
    const b = p[from + i]!;
    if (b !== skip) {
      for (let k = 0; k < 8; k++) {
        if (((b >> (7 - k)) & 1) === bit) return i * 8 + k;
      }
    }
  }
  return bit ? -1 : count * 8;
}

function bitpos(c: Client): void {
  const argv = c.argv;
  const bit = parseInteger(argv[2]!);
  if (bit === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  if (bit !== 0 && bit !== 1) {
    c.reply.error('ERR The bit argument must be 1 or 0.');
    return;
  }
  const v = c.server.lookupRead(c.db, argv[1]!);
  if (v === undefined) {
    c.reply.integer(bit ? -1 : 0);
    return;
  }
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return;
  }
  const p = bytesOf(v);
  const strlen = p.length;
  let start: number;
  let end: number;
  let endGiven = false;
  let firstNegMask = 0;
  let lastNegMask = 0;
  if (argv.length >= 4 && argv.length <= 6) {
    const s = parseRangeArg(c, argv[3]!);
    if (s === null) return;
    start = s;
    let isBit = false;
    if (argv.length === 6) {
      if (is(argv[5]!, 'bit')) isBit = true;
      else if (!is(argv[5]!, 'byte')) {
        c.reply.error(SYNTAX);
        return;
      }
    }
    if (argv.length >= 5) {
      const e = parseRangeArg(c, argv[4]!);
      if (e === null) return;
      end = e;
      endGiven = true;
    } else {
      end = isBit ? strlen * 8 + 7 : strlen - 1;
    }
    ({ start, end, firstNegMask, lastNegMask } = byteRange(start, end, strlen, isBit));
  } else if (argv.length === 3) {
    start = 0;
    end = strlen - 1;
  } else {
    c.reply.error(SYNTAX);
    return;
  }
  if (start > end) {
    c.reply.integer(-1);
    return;
  }
  // Same steps as Redis: a masked first byte, the middle bytes, then a masked last byte.
  let bytes = end - start + 1;
  let pos: number;
  const tmp = new Uint8Array(1);
  compute: {
    if (firstNegMask) {
      tmp[0] = bit ? p[start]! & ~firstNegMask : p[start]! | firstNegMask;
      if (lastNegMask && bytes === 1) tmp[0] = bit ? tmp[0]! & ~lastNegMask : tmp[0]! | lastNegMask;
      pos = findBit(tmp, 0, 1, bit);
      if (bytes === 1 || (pos !== -1 && pos !== 8)) break compute;
      start++;
      bytes--;
    }
    const curBytes = bytes - (lastNegMask ? 1 : 0);
    if (curBytes > 0) {
      pos = findBit(p, start, curBytes, bit);
      if (bytes === curBytes || (pos !== -1 && pos !== curBytes * 8)) break compute;
      start += curBytes;
      bytes -= curBytes;
    }
    tmp[0] = bit ? p[end]! & ~lastNegMask : p[end]! | lastNegMask;
    pos = findBit(tmp, 0, 1, bit);
  }
  if (endGiven && bit === 0 && pos === bytes * 8) {
    c.reply.integer(-1);
    return;
  }
  if (pos !== -1) pos += start * 8;
  c.reply.integer(pos);
}

// ---- BITFIELD -----------------------------------------------------------------------------------

const enum Overflow {
  Wrap,
  Sat,
  Fail,
}

interface BitfieldOp {
  kind: 'get' | 'set' | 'incrby';
  offset: number;
  bits: number;
  signed: boolean;
  value: bigint;
  overflow: Overflow;
}

/** The `bits`-wide unsigned field at bit `offset` (bytes past the end read as zero). */
function readField(byteAtIndex: (i: number) => number, offset: number, bits: number): bigint {
  const first = Math.floor(offset / 8);
  const last = Math.floor((offset + bits - 1) / 8);
  let acc = 0n;
  for (let i = first; i <= last; i++) acc = (acc << 8n) | BigInt(byteAtIndex(i));
  const tail = (last - first + 1) * 8 - ((offset & 7) + bits);
  return (acc >> BigInt(tail)) & ((1n << BigInt(bits)) - 1n);
}

/** Writes the low `bits` bits of `value` at bit `offset` (the buffer is long enough). */
function writeField(buf: Buffer, offset: number, bits: number, value: bigint): void {
  const first = Math.floor(offset / 8);
  const last = Math.floor((offset + bits - 1) / 8);
  let acc = 0n;
  for (let i = first; i <= last; i++) acc = (acc << 8n) | BigInt(buf[i]!);
  const tail = BigInt((last - first + 1) * 8 - ((offset & 7) + bits));
  const mask = ((1n << BigInt(bits)) - 1n) << tail;
  acc = (acc & ~mask) | ((BigInt.asUintN(bits, value) << tail) & mask);
  for (let i = last; i >= first; i--) {
    buf[i] = Number(acc & 0xffn);
    acc >>= 8n;
  }
}

/**
 * checkSigned/UnsignedBitfieldOverflow on exact integers: the value to store after `sum`
 * (old value + increment, or the SET value), or null when it overflows under FAIL.
 */
function applyOverflow(sum: bigint, bits: number, signed: boolean, overflow: Overflow): { value: bigint; overflowed: boolean } {
  const b = BigInt(bits);
  const max = signed ? (1n << (b - 1n)) - 1n : (1n << b) - 1n;
  const min = signed ? -max - 1n : 0n;
  if (sum >= min && sum <= max) return { value: sum, overflowed: false };
  if (overflow === Overflow.Sat) return { value: sum > max ? max : min, overflowed: true };
  // WRAP (and FAIL, whose value is never used).
  return { value: signed ? BigInt.asIntN(bits, sum) : BigInt.asUintN(bits, sum), overflowed: true };
}

function bitfieldGeneric(c: Client, readOnlyCommand: boolean): void {
  const argv = c.argv;
  const ops: BitfieldOp[] = [];
  let overflow = Overflow.Wrap;
  let readonly = true;
  let highestWriteOffset = 0;
  for (let j = 2; j < argv.length; j++) {
    const remaining = argv.length - j - 1;
    const sub = argv[j]!.toLowerCase();
    let kind: BitfieldOp['kind'];
    if (sub === 'get' && remaining >= 2) kind = 'get';
    else if (sub === 'set' && remaining >= 3) kind = 'set';
    else if (sub === 'incrby' && remaining >= 3) kind = 'incrby';
    else if (sub === 'overflow' && remaining >= 1) {
      const t = argv[++j]!.toLowerCase();
      if (t === 'wrap') overflow = Overflow.Wrap;
      else if (t === 'sat') overflow = Overflow.Sat;
      else if (t === 'fail') overflow = Overflow.Fail;
      else {
        c.reply.error('ERR Invalid OVERFLOW type specified');
        return;
      }
      continue;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
    const type = argv[j + 1]!;
    const signed = type.charCodeAt(0) === 105; /* i */
    const bitsArg = parseInt64(type.slice(1));
    if ((!signed && type.charCodeAt(0) !== 117) /* u */ || bitsArg === null || bitsArg < 1n || bitsArg > (signed ? 64n : 63n)) {
      c.reply.error(BITFIELD_TYPE_ERR);
      return;
    }
    const bits = Number(bitsArg);
    const offset = bitOffsetOrReply(c, argv[j + 2]!, bits);
    if (offset === null) return;
    let value = 0n;
    if (kind !== 'get') {
      readonly = false;
      if (highestWriteOffset < offset + bits - 1) highestWriteOffset = offset + bits - 1;
      const n = parseInt64(argv[j + 3]!);
      if (n === null) {
        c.reply.error(NOT_INTEGER);
        return;
      }
      value = n;
    }
    ops.push({ kind, offset, bits, signed, value, overflow });
    j += kind === 'get' ? 2 : 3;
  }

  const key = argv[1]!;
  let current: StringValue | undefined;
  let buf: Buffer | null = null;
  let grew = false;
  if (readonly) {
    const v = c.server.lookupRead(c.db, key);
    if (v !== undefined && !isStringValue(v)) {
      c.reply.error(WRONGTYPE);
      return;
    }
    current = v;
  } else {
    if (readOnlyCommand) {
      c.reply.error('ERR BITFIELD_RO only supports the GET subcommand');
      return;
    }
    const target = writableBitmap(c, key, highestWriteOffset);
    if (target === null) return;
    buf = target.buf;
    grew = target.grew;
    current = buf;
  }

  const byteAtIndex = (i: number): number => (current === undefined ? 0 : byteAt(current, i));
  const toSigned = (u: bigint, bits: number): bigint => BigInt.asIntN(bits, u);
  let changes = 0;
  c.reply.array(ops.length);
  for (const op of ops) {
    const raw = readField(byteAtIndex, op.offset, op.bits);
    const old = op.signed ? toSigned(raw, op.bits) : raw;
    if (op.kind === 'get') {
      c.reply.integer(old);
      continue;
    }
    // SET takes the value as C would after the int64 → field type conversion (unsigned fields
    // see negative values as huge ones, which overflow).
    const input = op.kind === 'set' ? (op.signed ? op.value : BigInt.asUintN(64, op.value)) : old + op.value;
    const { value: next, overflowed } = applyOverflow(input, op.bits, op.signed, op.overflow);
    if (overflowed && op.overflow === Overflow.Fail) {
      c.reply.nullBulk();
      continue;
    }
    c.reply.integer(op.kind === 'set' ? old : next);
    writeField(buf!, op.offset, op.bits, next);
    if (grew || old !== next) changes++;
  }
  if (changes > 0) c.db.modified(key, '$', 'setbit', changes);
}

function bitfield(c: Client): void {
  bitfieldGeneric(c, false);
}

function bitfieldRo(c: Client): void {
  bitfieldGeneric(c, true);
}

export const commands: CommandHandlers = {
  setbit,
  getbit,
  bitop,
  bitcount,
  bitpos,
  bitfield,
  bitfield_ro: bitfieldRo,
};
