/**
 * CRC-64/Jones, the checksum Redis appends to RDB files and DUMP payloads (crc64.c):
 * polynomial 0xad93d23594c935a9 (0x95ac9329ac4bc9b5 reflected), initial value 0, no final xor.
 *
 * JS has no fast 64-bit integers, so the register is kept as two uint32 halves and the tables
 * as Uint32Arrays. The update is "slicing by 8" (as Redis's crc64.c, crcspeed.c): eight tables,
 * `T[k][n]` the CRC of byte n followed by k zero bytes, so that eight input bytes fold into the
 * register with eight look-ups instead of eight dependent byte steps — ~3.5× the byte-wise loop
 * with the words read whole (the snapshot checksums every byte it produces,
 * the loader every byte it reads). Check value: crc64("123456789") = e9c6d914c4b8d9ca.
 */

/** The words are read as little-endian int32s where the platform is little endian (x86, ARM). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Table k, entry n: lo half at LO[k * 256 + n], hi half at HI[k * 256 + n]. */
const LO = new Uint32Array(8 * 256);
const HI = new Uint32Array(8 * 256);

(function buildTables(): void {
  const POLY_LO = 0xac4bc9b5;
  const POLY_HI = 0x95ac9329;
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const lsb = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (lsb) {
        lo = (lo ^ POLY_LO) >>> 0;
        hi = (hi ^ POLY_HI) >>> 0;
      }
    }
    LO[n] = lo;
    HI[n] = hi;
  }
  // T[k][n] = T[k-1][n] advanced by one zero byte: (crc >> 8) ^ T[0][crc & 0xff].
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const plo = LO[(k - 1) * 256 + n]!;
      const phi = HI[(k - 1) * 256 + n]!;
      const idx = plo & 0xff;
      LO[k * 256 + n] = (((plo >>> 8) | (phi << 24)) ^ LO[idx]!) >>> 0;
      HI[k * 256 + n] = ((phi >>> 8) ^ HI[idx]!) >>> 0;
    }
  }
})();

/**
 * The same table method as a tiny WebAssembly function, for ranges of at least WASM_MIN bytes
 * (a snapshot's slices, a loaded file's batches): WASM has 64-bit integers, so each input byte
 * costs one look-up of an i64 instead of two of a uint32 half each, with no bounds check per
 * look-up; and it folds sixteen bytes per step (slicing by 16), so only the first eight bytes'
 * look-ups wait on the previous step's result. The bytes are copied into the module's memory
 * in runs of WASM_RUN (a memcpy, a small part of the cost). Hand-assembled here, as
 * lua-wasm.ts's trampoline: no build step, no dependency. ~0.7× the JS loop's time per byte
 * (docs/PERFORMANCE.md, jobs8; slicing by 8 in WASM was barely faster than the JS loop).
 *
 * Memory (2 pages): the result at 0 (lo, hi), the tables at WASM_TABLES (T[k][n] as an i64 at
 * WASM_TABLES + (k * 256 + n) * 8), the input at WASM_INPUT.
 */
const WASM_TABLES = 64;
const WASM_INPUT = WASM_TABLES + 16 * 256 * 8;
const WASM_RUN = 64 * 1024;
/** Below this many bytes the JS loop (the copy and the call would be a larger part; chosen, not tuned). */
const WASM_MIN = 256;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (small constants only). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** The module: `u(lo, hi, ptr, len)` folds memory[ptr, ptr + len) into the CRC (lo, hi) and stores it at 0. */
function wasmModuleBytes(): Uint8Array<ArrayBuffer> {
  const [GET, SET, I32C, I64C] = [0x20, 0x21, 0x41, 0x42];
  const [I32ADD, I32AND, I32SHL, I32XOR, I32GEU] = [0x6a, 0x71, 0x74, 0x73, 0x4f];
  const [I64OR, I64XOR, I64SHL, I64SHRU, WRAP, EXTU] = [0x84, 0x85, 0x86, 0x88, 0xa7, 0xad];
  const [I64LOAD, I64STORE, I32LOAD8U] = [0x29, 0x37, 0x2d];
  const [BLOCK, LOOP, BR, BRIF, END, VOID] = [0x02, 0x03, 0x0c, 0x0d, 0x0b, 0x40];
  // params: 0 lo, 1 hi, 2 ptr, 3 len; locals: 4 crc (i64), 5 end, 6 end of the 16-byte
  // blocks, 7 and 8 a block's two words (i64).
  const code: number[] = [];
  code.push(GET, 0, EXTU, GET, 1, EXTU, I64C, ...sleb(32), I64SHL, I64OR, SET, 4);
  code.push(GET, 2, GET, 3, I32ADD, SET, 5);
  code.push(GET, 2, GET, 3, I32C, ...sleb(-16), I32AND, I32ADD, SET, 6);
  // Sixteen bytes at a time: a = crc ^ the next 8 bytes (little endian), b = the 8 after
  // them; byte j of a is looked up in the table of the 15 - j zero bytes that follow it, byte
  // j of b in that of 7 - j. Only a depends on the previous block: the look-ups of b overlap.
  code.push(BLOCK, VOID, LOOP, VOID, GET, 2, GET, 6, I32GEU, BRIF, 1);
  code.push(GET, 4, GET, 2, I64LOAD, 0, 0, I64XOR, SET, 7, GET, 2, I64LOAD, 0, 8, SET, 8);
  for (let j = 0; j < 16; j++) {
    code.push(GET, j < 8 ? 7 : 8);
    if (j % 8 > 0) code.push(I64C, ...sleb(8 * (j % 8)), I64SHRU);
    code.push(WRAP);
    if (j % 8 < 7) code.push(I32C, ...sleb(0xff), I32AND);
    code.push(I32C, 3, I32SHL, I64LOAD, 3, ...uleb(WASM_TABLES + (15 - j) * 2048));
    if (j > 0) code.push(I64XOR);
  }
  code.push(SET, 4, GET, 2, I32C, 16, I32ADD, SET, 2, BR, 0, END, END);
  // The rest byte by byte: crc = T0[(crc ^ b) & 0xff] ^ (crc >> 8).
  code.push(BLOCK, VOID, LOOP, VOID, GET, 2, GET, 5, I32GEU, BRIF, 1);
  code.push(GET, 4, I64C, 8, I64SHRU);
  code.push(GET, 4, WRAP, GET, 2, I32LOAD8U, 0, 0, I32XOR, I32C, ...sleb(0xff), I32AND, I32C, 3, I32SHL, I64LOAD, 3, ...uleb(WASM_TABLES));
  code.push(I64XOR, SET, 4, GET, 2, I32C, 1, I32ADD, SET, 2, BR, 0, END, END);
  code.push(I32C, 0, GET, 4, I64STORE, 3, 0, END);
  const body = [3, 1, 0x7e, 2, 0x7f, 2, 0x7e, ...code];
  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 2]),
    ...section(7, [2, 1, 0x6d, 2, 0, 1, 0x75, 0, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

interface WasmCrc {
  update: (lo: number, hi: number, ptr: number, len: number) => void;
  bytes: Uint8Array;
  result: Uint32Array;
}

let wasm: WasmCrc | null | undefined;

/** The module's instance, made on first use; null where WebAssembly is unavailable or fails. */
function wasmCrc(): WasmCrc | null {
  if (wasm !== undefined) return wasm;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(wasmModuleBytes()));
    const memory = instance.exports.m as WebAssembly.Memory;
    const bytes = new Uint8Array(memory.buffer);
    if (!LITTLE_ENDIAN) throw new Error('the tables are written little endian');
    // T[0..7] as the JS loop's, then T[8..15] the same way (one more zero byte each).
    const tables = new Uint32Array(memory.buffer, WASM_TABLES, 16 * 256 * 2);
    for (let i = 0; i < 8 * 256; i++) {
      tables[2 * i] = LO[i]!;
      tables[2 * i + 1] = HI[i]!;
    }
    for (let i = 8 * 256; i < 16 * 256; i++) {
      const plo = tables[2 * (i - 256)]!;
      const phi = tables[2 * (i - 256) + 1]!;
      const idx = plo & 0xff;
      tables[2 * i] = ((plo >>> 8) | (phi << 24)) ^ LO[idx]!;
      tables[2 * i + 1] = (phi >>> 8) ^ HI[idx]!;
    }
    wasm = { update: instance.exports.u as WasmCrc['update'], bytes, result: new Uint32Array(memory.buffer, 0, 2) };
  } catch {
    wasm = null;
  }
  return wasm;
}

/** An incremental CRC64 over a stream of chunks. */
export class Crc64 {
  lo = 0;
  hi = 0;

  update(buf: Uint8Array, start = 0, end = buf.length): this {
    if (end - start >= WASM_MIN) {
      const w = wasmCrc();
      if (w !== null) {
        let lo = this.lo;
        let hi = this.hi;
        for (let i = start; i < end; i += WASM_RUN) {
          const n = Math.min(WASM_RUN, end - i);
          w.bytes.set(buf.subarray(i, i + n), WASM_INPUT);
          w.update(lo, hi, WASM_INPUT, n);
          lo = w.result[0]!;
          hi = w.result[1]!;
        }
        this.lo = lo;
        this.hi = hi;
        return this;
      }
    }
    return this.updateJs(buf, start, end);
  }

  /** The JS loop (short ranges, or no WebAssembly). */
  updateJs(buf: Uint8Array, start = 0, end = buf.length): this {
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    if (LITTLE_ENDIAN && end - start >= 64) {
      // Byte-wise up to a 4-byte boundary, then the words themselves through an Int32Array
      // view: ~3.5× the byte-wise loop (eight byte reads per step cost more than the look-ups).
      for (; ((buf.byteOffset + i) & 3) !== 0; i++) {
        const idx = (lo ^ buf[i]!) & 0xff;
        lo = ((lo >>> 8) | (hi << 24)) ^ LO[idx]!;
        hi = (hi >>> 8) ^ HI[idx]!;
      }
      const words = ((end - i) >>> 3) * 2;
      const w = new Int32Array(buf.buffer, buf.byteOffset + i, words);
      // Eight bytes at a time: the register xor the next 8 bytes (little endian), each of the
      // resulting bytes looked up in the table of the zero bytes that follow it.
      for (let j = 0; j < words; j += 2) {
        const a = lo ^ w[j]!;
        const b = hi ^ w[j + 1]!;
        const i7 = 7 * 256 + (a & 0xff);
        const i6 = 6 * 256 + ((a >>> 8) & 0xff);
        const i5 = 5 * 256 + ((a >>> 16) & 0xff);
        const i4 = 4 * 256 + (a >>> 24);
        const i3 = 3 * 256 + (b & 0xff);
        const i2 = 2 * 256 + ((b >>> 8) & 0xff);
        const i1 = 256 + ((b >>> 16) & 0xff);
        const i0 = b >>> 24;
        lo = LO[i7]! ^ LO[i6]! ^ LO[i5]! ^ LO[i4]! ^ LO[i3]! ^ LO[i2]! ^ LO[i1]! ^ LO[i0]!;
        hi = HI[i7]! ^ HI[i6]! ^ HI[i5]! ^ HI[i4]! ^ HI[i3]! ^ HI[i2]! ^ HI[i1]! ^ HI[i0]!;
      }
      i += words * 4;
    }
    for (; i < end; i++) {
      const idx = (lo ^ buf[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[idx]!;
      hi = (hi >>> 8) ^ HI[idx]!;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  /** The 8 bytes Redis writes: the 64-bit value, little endian. */
  bytes(): Buffer {
    const b = Buffer.allocUnsafe(8);
    b.writeUInt32LE(this.lo, 0);
    b.writeUInt32LE(this.hi, 4);
    return b;
  }

  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
}

/** CRC64 of one buffer (or a range of it). */
export function crc64(buf: Uint8Array, start = 0, end = buf.length): Crc64 {
  return new Crc64().update(buf, start, end);
}
