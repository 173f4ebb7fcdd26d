/**
 * Redis's binary-packing Lua libraries, in JS over the C API, with the semantics (and error
 * texts) of Redis's C sources as built for x86-64:
 *  - `struct` (deps/lua/src/lua_struct.c): pack/unpack/size with native little-endian order,
 *    sizeof(long) = sizeof(size_t) = 8, int 4, max alignment 8, 64-bit integer arithmetic;
 *  - `cmsgpack` (lua_cmsgpack.c 0.4.0): pack/unpack/unpack_one/unpack_limit, tables nested
 *    deeper than 16 encode as nil, numbers as the smallest int/float form that is exact.
 * Argument errors go through lauxlib (luaL_checknumber, luaL_argerror) so their text names
 * the function as Lua does.
 */
import { LuaVM, LUA_GLOBALSINDEX, LUA_TBOOLEAN, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE } from './lua-wasm.js';

const U64 = (1n << 64n) - 1n;

function raise(vm: LuaVM, L: number, msg: string): never {
  return vm.raiseError(L, msg);
}

function register(vm: LuaVM, L: number, name: string, fns: Record<string, (L: number) => number>, extra?: () => void): void {
  vm.x.lua_createtable(L, 0, Object.keys(fns).length + 4);
  for (const [k, f] of Object.entries(fns)) {
    vm.pushFunction(L, f);
    vm.setField(L, -2, k);
  }
  extra?.();
  vm.setField(L, LUA_GLOBALSINDEX, name);
}

/** (uint64) of a Lua number as C converts it on x86-64 (out-of-range → INT64_MIN's bits). */
function toUint64(n: number): bigint {
  if (!Number.isFinite(n) || n >= 18446744073709551616 || n <= -9223372036854775809) return 1n << 63n;
  const t = BigInt(Math.trunc(n));
  if (n >= 9223372036854775808) return t; // (Uinttype)n
  return BigInt.asUintN(64, t); // (Uinttype)(Inttype)n
}

// ---- struct -------------------------------------------------------------------------------------

const LITTLE = 1;
const BIG = 0;
const MAXINTSIZE = 32;
const MAXALIGN = 8;

interface FmtState {
  fmt: string;
  pos: number;
  endian: number;
  align: number;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function getnum(vm: LuaVM, L: number, st: FmtState, df: number): number {
  if (!isDigit(st.fmt[st.pos])) return df;
  let a = 0;
  do {
    const d = st.fmt.charCodeAt(st.pos) - 48;
    if (a > Math.floor(2147483647 / 10) || a * 10 > 2147483647 - d) raise(vm, L, 'integral size overflow');
    a = a * 10 + d;
    st.pos++;
  } while (isDigit(st.fmt[st.pos]));
  return a;
}

function optsize(vm: LuaVM, L: number, opt: string, st: FmtState): number {
  switch (opt) {
    case 'B': case 'b': return 1;
    case 'H': case 'h': return 2;
    case 'L': case 'l': case 'T': return 8;
    case 'f': return 4;
    case 'd': return 8;
    case 'x': return 1;
    case 'c': return getnum(vm, L, st, 1);
    case 'i': case 'I': {
      const sz = getnum(vm, L, st, 4);
      if (sz > MAXINTSIZE) raise(vm, L, `integral size ${sz} is larger than limit of ${MAXINTSIZE}`);
      return sz;
    }
    default: return 0;
  }
}

function gettoalign(len: number, st: FmtState, opt: string, size: number): number {
  if (size === 0 || opt === 'c') return 0;
  if (size > st.align) size = st.align;
  return (size - (len & (size - 1))) & (size - 1);
}

function controloptions(vm: LuaVM, L: number, opt: string, st: FmtState): void {
  switch (opt) {
    case ' ': return;
    case '>': st.endian = BIG; return;
    case '<': st.endian = LITTLE; return;
    case '!': {
      const a = getnum(vm, L, st, MAXALIGN);
      if (!(a > 0 && (a & (a - 1)) === 0)) raise(vm, L, `alignment ${a} is not a power of 2`);
      st.align = a;
      return;
    }
    default:
      vm.argError(L, 1, `invalid format option '${opt}'`);
  }
}

const INT_OPTS = 'bBhHlLTiI';

function structPack(vm: LuaVM, L: number): number {
  const st: FmtState = { fmt: vm.checkString(L, 1), pos: 0, endian: LITTLE, align: 1 };
  // b_pack pushes a nil mark above the arguments: a missing argument reads as "got nil".
  vm.x.lua_pushnil(L);
  let arg = 2;
  let total = 0;
  const out: number[] = [];
  const f = st.fmt;
  while (st.pos < f.length) {
    const opt = f[st.pos++]!;
    let size = optsize(vm, L, opt, st);
    let toalign = gettoalign(total, st, opt, size);
    total += toalign;
    while (toalign-- > 0) out.push(0);
    if (INT_OPTS.includes(opt)) {
      let v = toUint64(vm.checkNumber(L, arg++));
      const bytes: number[] = new Array(size);
      for (let i = 0; i < size; i++) {
        bytes[st.endian === LITTLE ? i : size - 1 - i] = Number(v & 0xffn);
        v >>= 8n;
      }
      out.push(...bytes);
    } else if (opt === 'x') {
      out.push(0);
    } else if (opt === 'f' || opt === 'd') {
      const n = vm.checkNumber(L, arg++);
      const b = Buffer.alloc(size);
      if (opt === 'f') {
        if (st.endian === LITTLE) b.writeFloatLE(n);
        else b.writeFloatBE(n);
      } else if (st.endian === LITTLE) b.writeDoubleLE(n);
      else b.writeDoubleBE(n);
      for (const x of b) out.push(x);
    } else if (opt === 'c' || opt === 's') {
      const s = vm.checkString(L, arg++);
      if (size === 0) size = s.length;
      if (s.length < size) vm.argError(L, arg, 'string too short');
      for (let i = 0; i < size; i++) out.push(s.charCodeAt(i));
      if (opt === 's') {
        out.push(0);
        size++;
      }
    } else {
      controloptions(vm, L, opt, st);
    }
    total += size;
  }
  vm.pushBuffer(L, Buffer.from(out));
  return 1;
}

function getinteger(data: string, pos: number, endian: number, signed: boolean, size: number): number {
  let l = 0n;
  for (let i = 0; i < size; i++) {
    const b = BigInt(data.charCodeAt(endian === BIG ? pos + i : pos + size - 1 - i));
    l = ((l << 8n) | b) & U64;
  }
  if (!signed) return Number(l);
  // x86 masks the shift count to 6 bits, as the C code's shift does for sizes above 8.
  const mask = (U64 << BigInt((size * 8 - 1) & 63)) & U64;
  if (l & mask) l |= mask;
  return Number(BigInt.asIntN(64, l));
}

function structUnpack(vm: LuaVM, L: number): number {
  const x = vm.x;
  const st: FmtState = { fmt: vm.checkString(L, 1), pos: 0, endian: LITTLE, align: 1 };
  const data = vm.checkString(L, 2);
  const ld = data.length;
  let pos = x.luaL_optinteger(L, 3, 1);
  if (!(pos > 0)) vm.argError(L, 3, 'offset must be 1 or greater');
  pos--;
  let n = 0;
  const f = st.fmt;
  while (st.pos < f.length) {
    const opt = f[st.pos++]!;
    let size = optsize(vm, L, opt, st);
    pos += gettoalign(pos, st, opt, size);
    if (!(size <= ld && pos <= ld - size)) vm.argError(L, 2, 'data string too short');
    if (x.lua_checkstack(L, 2) === 0) raise(vm, L, 'stack overflow (too many results)');
    if (INT_OPTS.includes(opt)) {
      x.lua_pushnumber(L, getinteger(data, pos, st.endian, opt >= 'a', size));
      n++;
    } else if (opt === 'x') {
      // padding
    } else if (opt === 'f' || opt === 'd') {
      const b = Buffer.from(data.slice(pos, pos + size), 'latin1');
      const v = opt === 'f' ? (st.endian === LITTLE ? b.readFloatLE() : b.readFloatBE()) : st.endian === LITTLE ? b.readDoubleLE() : b.readDoubleBE();
      x.lua_pushnumber(L, v);
      n++;
    } else if (opt === 'c') {
      if (size === 0) {
        if (n === 0 || x.lua_isnumber(L, -1) === 0) raise(vm, L, "format 'c0' needs a previous size");
        size = Math.trunc(x.lua_tonumber(L, -1));
        x.lua_settop(L, -2);
        n--;
        if (!(size <= ld && pos <= ld - size)) vm.argError(L, 2, 'data string too short');
      }
      vm.pushString(L, data.slice(pos, pos + size));
      n++;
    } else if (opt === 's') {
      const e = data.indexOf('\0', pos);
      if (e < 0) raise(vm, L, 'unfinished string in data');
      size = e - pos + 1;
      vm.pushString(L, data.slice(pos, e));
      n++;
    } else {
      controloptions(vm, L, opt, st);
    }
    pos += size;
  }
  x.lua_pushnumber(L, pos + 1);
  return n + 1;
}

function structSize(vm: LuaVM, L: number): number {
  const st: FmtState = { fmt: vm.checkString(L, 1), pos: 0, endian: LITTLE, align: 1 };
  let pos = 0;
  const f = st.fmt;
  while (st.pos < f.length) {
    const opt = f[st.pos++]!;
    const size = optsize(vm, L, opt, st);
    pos += gettoalign(pos, st, opt, size);
    if (opt === 's') vm.argError(L, 1, "option 's' has no fixed size");
    else if (opt === 'c' && size === 0) vm.argError(L, 1, "option 'c0' has no fixed size");
    if (!/^[A-Za-z0-9]$/.test(opt)) controloptions(vm, L, opt, st);
    pos += size;
  }
  vm.x.lua_pushnumber(L, pos);
  return 1;
}

// ---- cmsgpack -----------------------------------------------------------------------------------

const MAX_NESTING = 16;

class ByteOut {
  parts: number[] = [];
  byte(b: number): void {
    this.parts.push(b & 0xff);
  }
  be(v: number | bigint, n: number): void {
    let b = BigInt.asUintN(n * 8, BigInt(v));
    const tmp: number[] = new Array(n);
    for (let i = n - 1; i >= 0; i--) {
      tmp[i] = Number(b & 0xffn);
      b >>= 8n;
    }
    this.parts.push(...tmp);
  }
  str(s: string): void {
    for (let i = 0; i < s.length; i++) this.parts.push(s.charCodeAt(i));
  }
}

function mpEncodeInt(out: ByteOut, n: bigint): void {
  if (n >= 0n) {
    if (n <= 127n) out.byte(Number(n));
    else if (n <= 0xffn) (out.byte(0xcc), out.be(n, 1));
    else if (n <= 0xffffn) (out.byte(0xcd), out.be(n, 2));
    else if (n <= 0xffffffffn) (out.byte(0xce), out.be(n, 4));
    else (out.byte(0xcf), out.be(n, 8));
  } else if (n >= -32n) out.byte(Number(n));
  else if (n >= -128n) (out.byte(0xd0), out.be(n, 1));
  else if (n >= -32768n) (out.byte(0xd1), out.be(n, 2));
  else if (n >= -2147483648n) (out.byte(0xd2), out.be(n, 4));
  else (out.byte(0xd3), out.be(n, 8));
}

function mpEncodeLen(out: ByteOut, n: number, fix: number, b16: number, b32: number): void {
  if (n <= 15) out.byte(fix | n);
  else if (n <= 65535) (out.byte(b16), out.be(n, 2));
  else (out.byte(b32), out.be(n, 4));
}

/** Encodes the value on top of the stack and pops it (mp_encode_lua_type). */
function mpEncode(vm: LuaVM, L: number, out: ByteOut, level: number): void {
  const x = vm.x;
  let t = x.lua_type(L, -1);
  if (t === LUA_TTABLE && level === MAX_NESTING) t = -1;
  if (t === LUA_TSTRING) {
    const s = vm.toString(L, -1)!;
    const len = s.length;
    if (len < 32) out.byte(0xa0 | len);
    else if (len <= 0xff) (out.byte(0xd9), out.be(len, 1));
    else if (len <= 0xffff) (out.byte(0xda), out.be(len, 2));
    else (out.byte(0xdb), out.be(len, 4));
    out.str(s);
  } else if (t === LUA_TBOOLEAN) {
    out.byte(x.lua_toboolean(L, -1) ? 0xc3 : 0xc2);
  } else if (t === LUA_TNUMBER) {
    const n = x.lua_tonumber(L, -1);
    if (Number.isInteger(n) && n >= -9223372036854775808 && n < 9223372036854775808) {
      mpEncodeInt(out, BigInt(n));
    } else {
      const b = Buffer.alloc(8);
      if (Math.fround(n) === n) {
        out.byte(0xca);
        b.writeFloatBE(n);
        for (let i = 0; i < 4; i++) out.byte(b[i]!);
      } else {
        out.byte(0xcb);
        b.writeDoubleBE(n);
        for (let i = 0; i < 8; i++) out.byte(b[i]!);
      }
    }
  } else if (t === LUA_TTABLE) {
    x.lua_checkstack(L, 3);
    if (tableIsArray(vm, L)) {
      const len = x.lua_objlen(L, -1);
      mpEncodeLen(out, len, 0x90, 0xdc, 0xdd);
      for (let j = 1; j <= len; j++) {
        x.lua_pushnumber(L, j);
        x.lua_gettable(L, -2);
        mpEncode(vm, L, out, level + 1);
      }
    } else {
      let len = 0;
      x.lua_pushnil(L);
      while (x.lua_next(L, -2) !== 0) {
        x.lua_settop(L, -2);
        len++;
      }
      mpEncodeLen(out, len, 0x80, 0xde, 0xdf);
      x.lua_pushnil(L);
      while (x.lua_next(L, -2) !== 0) {
        x.lua_pushvalue(L, -2);
        mpEncode(vm, L, out, level + 1);
        mpEncode(vm, L, out, level + 1);
      }
    }
  } else {
    out.byte(0xc0);
  }
  x.lua_settop(L, -2);
}

/** Keys exactly 1..n, each a positive number that fits an int (table_is_an_array). */
function tableIsArray(vm: LuaVM, L: number): boolean {
  const x = vm.x;
  const top = x.lua_gettop(L);
  let count = 0;
  let max = 0;
  x.lua_pushnil(L);
  while (x.lua_next(L, -2) !== 0) {
    x.lua_settop(L, -2);
    const n = x.lua_type(L, -1) === LUA_TNUMBER ? x.lua_tonumber(L, -1) : NaN;
    if (!(n > 0) || !Number.isInteger(n) || n > 2147483647) {
      x.lua_settop(L, top);
      return false;
    }
    if (n > max) max = n;
    count++;
  }
  x.lua_settop(L, top);
  return max === count;
}

function mpPack(vm: LuaVM, L: number): number {
  const x = vm.x;
  const nargs = x.lua_gettop(L);
  if (nargs === 0) vm.argError(L, 0, 'MessagePack pack needs input.');
  if (x.lua_checkstack(L, nargs) === 0) vm.argError(L, 0, 'Too many arguments for MessagePack pack.');
  for (let i = 1; i <= nargs; i++) {
    const out = new ByteOut();
    x.lua_checkstack(L, 1);
    x.lua_pushvalue(L, i);
    mpEncode(vm, L, out, 0);
    vm.pushBuffer(L, Buffer.from(out.parts));
  }
  x.lua_concat(L, nargs);
  return 1;
}

const EOF_ERR = 1;
const BADFMT_ERR = 2;

class Cursor {
  pos: number;
  err = 0;
  constructor(readonly s: string, start: number) {
    this.pos = start;
  }
  get left(): number {
    return this.s.length - this.pos;
  }
  need(n: number): boolean {
    if (this.left < n) {
      this.err = EOF_ERR;
      return false;
    }
    return true;
  }
  u(off: number, n: number): bigint {
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.s.charCodeAt(this.pos + off + i));
    return v;
  }
}

/** mp_decode_to_lua_type: pushes one value (or sets c.err). */
function mpDecode(vm: LuaVM, L: number, c: Cursor): void {
  const x = vm.x;
  if (!c.need(1)) return;
  if (x.lua_checkstack(L, 1) === 0) raise(vm, L, 'stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)');
  const b = c.s.charCodeAt(c.pos);
  const asInt = (v: bigint): number => Number(BigInt.asIntN(64, v));
  const fixed = (n: number, signed: boolean): void => {
    if (!c.need(n + 1)) return;
    const v = c.u(1, n);
    x.lua_pushnumber(L, signed ? Number(BigInt.asIntN(n * 8, v)) : asInt(v));
    c.pos += n + 1;
  };
  const raw = (hdr: number): void => {
    if (!c.need(1 + hdr)) return;
    const l = Number(c.u(1, hdr));
    c.pos += 1 + hdr;
    if (!c.need(l)) return;
    vm.pushString(L, c.s.slice(c.pos, c.pos + l));
    c.pos += l;
  };
  const container = (hdr: number, isMap: boolean): void => {
    if (!c.need(1 + hdr)) return;
    let l = hdr === 0 ? b & 0xf : Number(c.u(1, hdr));
    c.pos += 1 + hdr;
    x.lua_createtable(L, 0, 0);
    x.lua_checkstack(L, 2);
    let index = 1;
    while (l-- > 0) {
      if (!isMap) x.lua_pushnumber(L, index++);
      mpDecode(vm, L, c);
      if (c.err) return;
      if (isMap) {
        mpDecode(vm, L, c);
        if (c.err) return;
      }
      x.lua_settable(L, -3);
    }
  };
  switch (b) {
    case 0xcc: return fixed(1, false);
    case 0xd0: return fixed(1, true);
    case 0xcd: return fixed(2, false);
    case 0xd1: return fixed(2, true);
    case 0xce: return fixed(4, false);
    case 0xd2: return fixed(4, true);
    case 0xcf: return fixed(8, false);
    case 0xd3: return fixed(8, true);
    case 0xc0: x.lua_pushnil(L); c.pos++; return;
    case 0xc3: x.lua_pushboolean(L, 1); c.pos++; return;
    case 0xc2: x.lua_pushboolean(L, 0); c.pos++; return;
    case 0xca:
    case 0xcb: {
      const n = b === 0xca ? 4 : 8;
      if (!c.need(n + 1)) return;
      const buf = Buffer.from(c.s.slice(c.pos + 1, c.pos + 1 + n), 'latin1');
      x.lua_pushnumber(L, n === 4 ? buf.readFloatBE() : buf.readDoubleBE());
      c.pos += n + 1;
      return;
    }
    case 0xd9: return raw(1);
    case 0xda: return raw(2);
    case 0xdb: return raw(4);
    case 0xdc: return container(2, false);
    case 0xdd: return container(4, false);
    case 0xde: return container(2, true);
    case 0xdf: return container(4, true);
  }
  if ((b & 0x80) === 0) {
    x.lua_pushnumber(L, b);
    c.pos++;
  } else if ((b & 0xe0) === 0xe0) {
    x.lua_pushnumber(L, b - 256);
    c.pos++;
  } else if ((b & 0xe0) === 0xa0) {
    const l = b & 0x1f;
    if (!c.need(1 + l)) return;
    vm.pushString(L, c.s.slice(c.pos + 1, c.pos + 1 + l));
    c.pos += 1 + l;
  } else if ((b & 0xf0) === 0x90) {
    container(0, false);
  } else if ((b & 0xf0) === 0x80) {
    container(0, true);
  } else {
    c.err = BADFMT_ERR;
  }
}

function mpUnpackFull(vm: LuaVM, L: number, limit: number, offset: number): number {
  const x = vm.x;
  const s = vm.checkString(L, 1);
  const len = s.length;
  const decodeAll = limit === 0 && offset === 0;
  if (offset < 0 || limit < 0) raise(vm, L, `Invalid request to unpack with offset of ${offset} and limit of ${len}.`);
  else if (offset > len) raise(vm, L, `Start offset ${offset} greater than input length ${len}.`);
  if (decodeAll) limit = 2147483647;
  const c = new Cursor(s, offset);
  let cnt = 0;
  for (; c.left > 0 && cnt < limit; cnt++) {
    mpDecode(vm, L, c);
    if (c.err === EOF_ERR) raise(vm, L, 'Missing bytes in input.');
    else if (c.err === BADFMT_ERR) raise(vm, L, 'Bad data format in input.');
  }
  if (!decodeAll) {
    x.lua_checkstack(L, 1);
    x.lua_pushnumber(L, c.left === 0 ? -1 : len - c.left);
    x.lua_insert(L, 2);
    cnt++;
  }
  return cnt;
}

export function installBinaryLibs(vm: LuaVM, L: number): void {
  register(vm, L, 'struct', {
    pack: (L2) => structPack(vm, L2),
    unpack: (L2) => structUnpack(vm, L2),
    size: (L2) => structSize(vm, L2),
  });
  register(
    vm,
    L,
    'cmsgpack',
    {
      pack: (L2) => mpPack(vm, L2),
      unpack: (L2) => mpUnpackFull(vm, L2, 0, 0),
      unpack_one: (L2) => {
        const offset = vm.x.luaL_optinteger(L2, 2, 0);
        vm.x.lua_settop(L2, 1);
        return mpUnpackFull(vm, L2, 1, offset);
      },
      unpack_limit: (L2) => {
        const limit = vm.x.luaL_checkinteger(L2, 2);
        const offset = vm.x.luaL_optinteger(L2, 3, 0);
        vm.x.lua_settop(L2, 1);
        return mpUnpackFull(vm, L2, limit, offset);
      },
    },
    () => {
      for (const [k, v] of [
        ['_NAME', 'cmsgpack'],
        ['_VERSION', 'lua-cmsgpack 0.4.0'],
        ['_COPYRIGHT', 'Copyright (C) 2012, Salvatore Sanfilippo'],
        ['_DESCRIPTION', 'MessagePack C implementation for Lua'],
      ] as const) {
        vm.pushString(L, v);
        vm.setField(L, -2, k);
      }
    },
  );
}
