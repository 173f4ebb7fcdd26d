/**
 * A thin, synchronous binding to stock Lua 5.1.5 compiled to WebAssembly (the `liblua5.1.wasm`
 * binary shipped by the npm package `wasmoon-lua5.1`). We use only the binary: it exports the raw
 * C API (lua_*, luaL_*), and we instantiate it ourselves with a minimal set of Emscripten imports
 * instead of its JS glue, so every call is a direct WASM call with no wrapper in between.
 *
 * Two JS entry points are installed into the WASM function table:
 *  - one lua_CFunction trampoline; each JS function registered with `pushFunction` is a C closure
 *    of that trampoline whose first upvalue is the function's id, so any number of JS functions
 *    share one table slot;
 *  - one lua_Hook, used for the instruction-count hook that watches for busy scripts.
 *
 * Lua errors are C longjmps; Emscripten turns them into a thrown JS value caught by
 * `invoke_vii` (the setjmp side), exactly as its own glue does.
 *
 * The hot path of a script (redis.call's arguments, KEYS/ARGV reuse, the script's scalar result)
 * also reads a few of Lua 5.1's structures straight from the WASM memory instead of calling the
 * C API for each value (each call is a JS→WASM transition, ~15 ns): a stack slot (TValue), a
 * string's bytes (TString), a table's metatable, hash part and array size (Table). Their layout
 * is fixed by lobject.h/lstate.h and the wasm32 target; `probeLayout` checks every offset used
 * against the C API when the VM is made, and `direct` stays false (the C API path) if any differs.
 *
 * Strings cross the boundary as latin1 (one char per byte), so user data stays binary-safe.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const LUA_REGISTRYINDEX = -10000;
export const LUA_ENVIRONINDEX = -10001;
export const LUA_GLOBALSINDEX = -10002;
export const LUA_MULTRET = -1;
export const LUA_TNIL = 0;
export const LUA_TBOOLEAN = 1;
export const LUA_TLIGHTUSERDATA = 2;
export const LUA_TNUMBER = 3;
export const LUA_TSTRING = 4;
export const LUA_TTABLE = 5;
export const LUA_TFUNCTION = 6;
export const LUA_MASKLINE = 4;
export const LUA_MASKCOUNT = 8;
export const LUA_YIELD = 1;

/** A JS function callable from Lua: reads its arguments from the stack, returns the result count. */
export type JsLuaFunction = (L: number) => number;

/** The raw exports we use (all pointers and ints are i32; lua_Number is f64). */
interface LuaExports {
  memory: WebAssembly.Memory;
  __indirect_function_table: WebAssembly.Table;
  __wasm_call_ctors(): void;
  emscripten_stack_init(): void;
  stackSave(): number;
  stackRestore(sp: number): void;
  setThrew(a: number, b: number): void;
  malloc(n: number): number;
  free(p: number): void;
  luaL_newstate(): number;
  lua_close(L: number): void;
  luaopen_base(L: number): number;
  luaopen_table(L: number): number;
  luaopen_string(L: number): number;
  luaopen_math(L: number): number;
  luaopen_debug(L: number): number;
  lua_gettop(L: number): number;
  lua_settop(L: number, idx: number): void;
  lua_pushvalue(L: number, idx: number): void;
  lua_remove(L: number, idx: number): void;
  lua_insert(L: number, idx: number): void;
  lua_replace(L: number, idx: number): void;
  lua_type(L: number, idx: number): number;
  lua_tonumber(L: number, idx: number): number;
  lua_toboolean(L: number, idx: number): number;
  lua_tolstring(L: number, idx: number, lenPtr: number): number;
  lua_objlen(L: number, idx: number): number;
  lua_pushnil(L: number): void;
  lua_pushnumber(L: number, n: number): void;
  lua_pushlstring(L: number, p: number, len: number): void;
  lua_pushcclosure(L: number, fn: number, n: number): void;
  lua_pushboolean(L: number, b: number): void;
  lua_pushlightuserdata(L: number, p: number): void;
  lua_gettable(L: number, idx: number): void;
  lua_getfield(L: number, idx: number, k: number): void;
  lua_rawget(L: number, idx: number): void;
  lua_rawgeti(L: number, idx: number, n: number): void;
  lua_createtable(L: number, narr: number, nrec: number): void;
  lua_settable(L: number, idx: number): void;
  lua_setfield(L: number, idx: number, k: number): void;
  lua_rawset(L: number, idx: number): void;
  lua_rawseti(L: number, idx: number, n: number): void;
  lua_pcall(L: number, nargs: number, nresults: number, errfunc: number): number;
  lua_error(L: number): number;
  lua_next(L: number, idx: number): number;
  lua_getmetatable(L: number, idx: number): number;
  lua_setmetatable(L: number, idx: number): number;
  lua_gc(L: number, what: number, data: number): number;
  lua_sethook(L: number, fn: number, mask: number, count: number): number;
  lua_checkstack(L: number, n: number): number;
  lua_setfenv(L: number, idx: number): number;
  luaL_loadbuffer(L: number, buf: number, len: number, name: number): number;
  luaL_checknumber(L: number, narg: number): number;
  luaL_checkinteger(L: number, narg: number): number;
  luaL_optinteger(L: number, narg: number, def: number): number;
  luaL_checklstring(L: number, narg: number, lenPtr: number): number;
  luaL_argerror(L: number, narg: number, msg: number): number;
  luaL_where(L: number, level: number): void;
  lua_isnumber(L: number, idx: number): number;
  lua_touserdata(L: number, idx: number): number;
  lua_concat(L: number, n: number): void;
  lua_getstack(L: number, level: number, ar: number): number;
  lua_getinfo(L: number, what: number, ar: number): number;
  lua_getlocal(L: number, ar: number, n: number): number;
  lua_topointer(L: number, idx: number): number;
  luaL_ref(L: number, t: number): number;
}

// Lua 5.1's structures on wasm32 (lobject.h, lstate.h), checked by LuaVM.probeLayout.
/** sizeof(TValue): an 8-byte Value then the int type tag, padded to 8. */
const TVALUE_SIZE = 16;
/** TValue.tt. */
const TVALUE_TT = 8;
/** lua_State.top and lua_State.base (after CommonHeader and status). */
const STATE_TOP = 8;
const STATE_BASE = 12;
/** TString.tsv.len; the bytes follow the (8-aligned, 16-byte) header. */
const TSTRING_LEN = 12;
const TSTRING_DATA = 16;
/** Table.metatable, Table.array, Table.node (the hash part; the shared dummynode when empty), Table.sizearray. */
const TABLE_METATABLE = 8;
const TABLE_ARRAY = 12;
const TABLE_NODE = 16;
const TABLE_SIZEARRAY = 28;

/** Thrown through WASM frames by longjmp (Lua errors); caught by invoke_vii. */
class LongJmp {}
const LONGJMP = new LongJmp();

/** Emscripten's `exit()` (only reachable through a Lua panic). */
export class LuaPanic extends Error {}

/** A tiny module that re-exports two JS functions as typed WASM functions for the table. */
const TRAMPOLINE_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: (i32)->i32, (i32,i32)->()
  0x01, 0x0b, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x00,
  // imports: e.f : type 0, e.h : type 1
  0x02, 0x0d, 0x02, 0x01, 0x65, 0x01, 0x66, 0x00, 0x00, 0x01, 0x65, 0x01, 0x68, 0x00, 0x01,
  // exports: f, h
  0x07, 0x09, 0x02, 0x01, 0x66, 0x00, 0x00, 0x01, 0x68, 0x00, 0x01,
]);

let compiled: WebAssembly.Module | null = null;
let trampolineCompiled: WebAssembly.Module | null = null;

function trampolineModule(): WebAssembly.Module {
  if (trampolineCompiled === null) trampolineCompiled = new WebAssembly.Module(TRAMPOLINE_MODULE);
  return trampolineCompiled;
}

function wasmModule(): WebAssembly.Module {
  if (compiled === null) {
    const require = createRequire(import.meta.url);
    const pkgMain = require.resolve('wasmoon-lua5.1');
    compiled = new WebAssembly.Module(fs.readFileSync(path.join(path.dirname(pkgMain), 'liblua5.1.wasm')));
  }
  return compiled;
}

/** One Lua VM instance (its own WASM memory) with helpers for the stack and strings. */
export class LuaVM {
  readonly x: LuaExports;
  readonly L: number;
  private heap: Buffer;
  /** The same memory as int32s (pointers and type tags) and as doubles, re-made with `heap`. */
  private heap32: Int32Array;
  private heapF64: Float64Array;
  /**
   * True when Lua's structures have the layout this file reads directly (probeLayout): the
   * stack, strings and tables may then be read from memory instead of through the C API.
   */
  readonly direct: boolean;
  /** The address of Lua's shared empty hash part (dummynode), which a table without one points to. */
  private dummyNode = 0;
  private readonly functions: JsLuaFunction[] = [];
  private readonly trampolinePtr: number;
  readonly hookPtr: number;
  /** Called by the hook (see `setCountHook` / `setHook`) with the lua_Debug pointer. */
  private hookFn: ((L: number, ar: number) => void) | null = null;
  /** The main thread's hook mask and count as last set (setHook). */
  private hookMask = 0;
  private hookCount = 0;
  /** Scratch memory for strings pushed into Lua. */
  private scratch = 0;
  private scratchSize = 0;
  private readonly lenPtr: number;
  private readonly cstrings = new Map<string, number>();

  constructor() {
    let exportsRef: LuaExports | null = null;
    const x = (): LuaExports => exportsRef!;
    const enosys = (): number => -52;
    const tableFunctions: ((a: number, b: number) => void)[] = [];
    const imports = {
      env: {
        exit: (code: number): never => {
          throw new LuaPanic(`lua exit(${code})`);
        },
        invoke_vii: (index: number, a: number, b: number): void => {
          const sp = x().stackSave();
          try {
            // Table.get is a native call; the functions Lua protects (luaD_rawrunprotected's
            // callees) never change slot, so each is looked up once.
            let f = tableFunctions[index];
            if (f === undefined) f = tableFunctions[index] = x().__indirect_function_table.get(index) as (a: number, b: number) => void;
            f(a, b);
          } catch (e) {
            x().stackRestore(sp);
            if (e !== LONGJMP) throw e;
            x().setThrew(1, 0);
          }
        },
        _emscripten_throw_longjmp: (): never => {
          throw LONGJMP;
        },
        strftime: (): number => 0,
        emscripten_memcpy_js: (dest: number, src: number, n: number): void => {
          this.heapView().copyWithin(dest, src, src + n);
        },
        emscripten_date_now: (): number => Date.now(),
        _emscripten_get_now_is_monotonic: (): number => 1,
        __syscall_openat: enosys,
        __syscall_fcntl64: enosys,
        __syscall_ioctl: enosys,
        __syscall_dup3: enosys,
        __syscall_unlinkat: enosys,
        __syscall_rmdir: enosys,
        __syscall_renameat: enosys,
        __syscall_readlinkat: enosys,
        _emscripten_system: (): number => -1,
        _tzset_js: (): void => {},
        _mktime_js: (): number => -1,
        _localtime_js: (): void => {},
        _gmtime_js: (): void => {},
        emscripten_resize_heap: (requested: number): number => {
          const mem = x().memory;
          const old = mem.buffer.byteLength;
          const target = Math.max(requested, Math.min(old * 2, old + 256 * 1024 * 1024));
          try {
            mem.grow(Math.ceil((target - old) / 65536));
            return 1;
          } catch {
            try {
              mem.grow(Math.ceil((requested - old) / 65536));
              return 1;
            } catch {
              return 0;
            }
          }
        },
      },
      wasi_snapshot_preview1: {
        fd_write: (_fd: number, iov: number, iovcnt: number, pnum: number): number => {
          // Lua's print/io are not exposed to scripts; swallow output, report it written.
          const h = this.heapView();
          let total = 0;
          for (let i = 0; i < iovcnt; i++) total += h.readUInt32LE(iov + i * 8 + 4);
          h.writeUInt32LE(total, pnum);
          return 0;
        },
        fd_read: (): number => 8,
        fd_close: (): number => 8,
        fd_seek: (): number => 70,
        environ_sizes_get: (pCount: number, pSize: number): number => {
          const h = this.heapView();
          h.writeUInt32LE(0, pCount);
          h.writeUInt32LE(0, pSize);
          return 0;
        },
        environ_get: (): number => 0,
      },
    };
    const instance = new WebAssembly.Instance(wasmModule(), imports as unknown as WebAssembly.Imports);
    exportsRef = instance.exports as unknown as LuaExports;
    this.x = exportsRef;
    this.heap = Buffer.from(this.x.memory.buffer);
    this.heap32 = new Int32Array(this.x.memory.buffer);
    this.heapF64 = new Float64Array(this.x.memory.buffer);
    this.x.emscripten_stack_init();
    this.x.__wasm_call_ctors();

    const tramp = new WebAssembly.Instance(trampolineModule(), {
      e: {
        f: (L: number): number => this.dispatch(L),
        h: (L: number, ar: number): void => {
          if (this.hookFn !== null) this.hookFn(L, ar);
        },
      },
    });
    const table = this.x.__indirect_function_table;
    const base = table.grow(2);
    table.set(base, tramp.exports.f as () => void);
    table.set(base + 1, tramp.exports.h as () => void);
    this.trampolinePtr = base;
    this.hookPtr = base + 1;
    this.lenPtr = this.x.malloc(8);
    this.L = this.x.luaL_newstate();
    this.direct = process.env.NODIS_LUA_DIRECT_READS !== '0' && this.probeLayout();
  }

  /**
   * Checks every structure offset the direct reads use against the C API's answers for values
   * it pushes (numbers, strings short and long, booleans, nil, tables with and without a hash
   * part or a metatable); true when all agree. Leaves the stack as it found it.
   */
  private probeLayout(): boolean {
    const x = this.x;
    const L = this.L;
    const top = x.lua_gettop(L);
    try {
      const long = 'probe\u00ff\u0000'.repeat(5);
      x.lua_pushnumber(L, -1.25);
      this.pushString(L, 'k\u00e9y');
      this.pushString(L, long);
      x.lua_pushboolean(L, 1);
      x.lua_pushnil(L);
      if (this.stackCount(L) !== x.lua_gettop(L)) return false;
      const base = this.stackCount(L) - 5;
      const n = this.slotAddress(L, base + 1);
      if (this.slotType(n) !== LUA_TNUMBER || this.slotNumber(n) !== -1.25) return false;
      const s1 = this.slotAddress(L, base + 2);
      if (this.slotType(s1) !== LUA_TSTRING || this.slotString(s1) !== 'k\u00e9y') return false;
      if (x.lua_tolstring(L, base + 2, this.lenPtr) !== this.heap32[(s1 >> 2)]! + TSTRING_DATA) return false;
      const s2 = this.slotAddress(L, base + 3);
      if (this.slotType(s2) !== LUA_TSTRING || this.slotString(s2) !== long) return false;
      const b = this.slotAddress(L, base + 4);
      if (this.slotType(b) !== LUA_TBOOLEAN || this.slotBoolean(b) !== true) return false;
      if (this.slotType(this.slotAddress(L, base + 5)) !== LUA_TNIL) return false;
      // The direct pushes: what the C API then reads back.
      this.pushBooleanDirect(L, false);
      this.pushNumberDirect(L, -2.5);
      this.pushBooleanDirect(L, true);
      if (x.lua_gettop(L) !== base + 8 || x.lua_type(L, base + 6) !== LUA_TBOOLEAN || x.lua_toboolean(L, base + 6) !== 0) return false;
      if (x.lua_type(L, base + 7) !== LUA_TNUMBER || x.lua_tonumber(L, base + 7) !== -2.5) return false;
      if (x.lua_type(L, base + 8) !== LUA_TBOOLEAN || x.lua_toboolean(L, base + 8) !== 1) return false;
      x.lua_settop(L, base + 5);
      // Tables: two without a hash part share the dummy node; a field or a metatable shows.
      x.lua_createtable(L, 3, 0);
      const t1 = x.lua_topointer(L, -1);
      x.lua_createtable(L, 0, 0);
      const t2 = x.lua_topointer(L, -1);
      const h = this.heap32;
      this.dummyNode = h[(t1 + TABLE_NODE) >> 2]!;
      if (h[(t2 + TABLE_NODE) >> 2] !== this.dummyNode || !this.isPlainArray(t1, 3) || !this.isPlainArray(t2, 0)) return false;
      if (this.isPlainArray(t1, 2)) return false;
      this.pushString(L, 'k\u00e9y');
      x.lua_rawseti(L, -3, 2);
      if (!this.arrayHoldsString(t1, 2, 'k\u00e9y') || this.arrayHoldsString(t1, 2, 'k\u00e9Y') || this.arrayHoldsString(t1, 1, 'k\u00e9y')) return false;
      x.lua_pushboolean(L, 1);
      this.setField(L, -2, 'field');
      if (this.isPlainArray(t2, 0)) return false;
      x.lua_createtable(L, 0, 0);
      x.lua_setmetatable(L, -3);
      return !this.isPlainArray(t1, 3) && this.heap32[(t1 + TABLE_METATABLE) >> 2] !== 0;
    } finally {
      x.lua_settop(L, top);
    }
  }

  /**
   * The WASM memory as a Buffer (re-created after the memory grows). Growing detaches the old
   * ArrayBuffer, which leaves views on it with length 0: checking that is a field read, where
   * comparing against `memory.buffer` costs a native getter call (~90 ns) on every use.
   */
  heapView(): Buffer {
    if (this.heap.length === 0) {
      this.heap = Buffer.from(this.x.memory.buffer);
      this.heap32 = new Int32Array(this.x.memory.buffer);
      this.heapF64 = new Float64Array(this.x.memory.buffer);
    }
    return this.heap;
  }

  // ---- direct reads (only when `direct`) --------------------------------------------------------

  /** How many values are on the stack of `L`'s current function (lua_gettop), from memory. */
  stackCount(L: number): number {
    this.heapView();
    const h = this.heap32;
    return (h[(L + STATE_TOP) >> 2]! - h[(L + STATE_BASE) >> 2]!) / TVALUE_SIZE;
  }

  /** The address of stack slot `idx` (1-based, within stackCount) of `L`'s current function. */
  slotAddress(L: number, idx: number): number {
    return this.heap32[(L + STATE_BASE) >> 2]! + (idx - 1) * TVALUE_SIZE;
  }

  /** The Lua type (LUA_T*) of the value at `slot`. */
  slotType(slot: number): number {
    return this.heap32[(slot + TVALUE_TT) >> 2]!;
  }

  /** The number at `slot` (a LUA_TNUMBER). */
  slotNumber(slot: number): number {
    // Stack slots are 8-aligned (malloc'd TValues of 16 bytes); readDoubleLE for any other.
    return (slot & 7) === 0 ? this.heapF64[slot >> 3]! : this.heap.readDoubleLE(slot);
  }

  /** True when the number at `slot` has its sign bit set (a JS number does not show a NaN's). */
  slotSignBit(slot: number): boolean {
    return (this.heap[slot + 7]! & 0x80) !== 0;
  }

  /** The boolean at `slot` (a LUA_TBOOLEAN). */
  slotBoolean(slot: number): boolean {
    return this.heap32[slot >> 2] !== 0;
  }

  /**
   * lua_pushboolean / lua_pushnumber without the call into WASM (only when `direct`): the TValue
   * is written at L->top and top moves one slot, as setbvalue/setnvalue and api_incr_top do.
   * Like those, no stack check: the caller has room (a C function's LUA_MINSTACK slots, or
   * lua_checkstack). Neither value is collectable, so Lua's collector has nothing to learn.
   */
  pushBooleanDirect(L: number, b: boolean): void {
    this.heapView(); // a call into WASM since the last look may have grown its memory
    const h = this.heap32;
    const top = h[(L + STATE_TOP) >> 2]!;
    h[top >> 2] = b ? 1 : 0;
    h[(top + TVALUE_TT) >> 2] = LUA_TBOOLEAN;
    h[(L + STATE_TOP) >> 2] = top + TVALUE_SIZE;
  }

  pushNumberDirect(L: number, n: number): void {
    this.heapView();
    const h = this.heap32;
    const top = h[(L + STATE_TOP) >> 2]!;
    if ((top & 7) === 0) this.heapF64[top >> 3] = n;
    else this.heap.writeDoubleLE(n, top);
    h[(top + TVALUE_TT) >> 2] = LUA_TNUMBER;
    h[(L + STATE_TOP) >> 2] = top + TVALUE_SIZE;
  }

  /** The string at `slot` (a LUA_TSTRING) as latin1. */
  slotString(slot: number): string {
    const ts = this.heap32[slot >> 2]!;
    const len = this.heap32[(ts + TSTRING_LEN) >> 2]!;
    const p = ts + TSTRING_DATA;
    return len <= 8 ? shortLatin1(this.heap, p, len) : this.heap.latin1Slice(p, p + len);
  }

  /**
   * True when slot `i` (1-based, within the array part) of the table at address `t` holds a
   * string of exactly the bytes of `s` (compared for strings of up to 32 bytes; false beyond).
   */
  arrayHoldsString(t: number, i: number, s: string): boolean {
    this.heapView();
    const h = this.heap32;
    const slot = h[(t + TABLE_ARRAY) >> 2]! + (i - 1) * TVALUE_SIZE;
    if (h[(slot + TVALUE_TT) >> 2] !== LUA_TSTRING) return false;
    const ts = h[slot >> 2]!;
    const n = s.length;
    if (n > 32 || h[(ts + TSTRING_LEN) >> 2] !== n) return false;
    const bytes = this.heap;
    const p = ts + TSTRING_DATA;
    for (let k = 0; k < n; k++) if (bytes[p + k] !== s.charCodeAt(k)) return false;
    return true;
  }

  /**
   * True when the table at address `t` (lua_topointer) has no metatable, no hash part and an
   * array part of exactly `n` slots: it can hold no key outside 1..n.
   */
  isPlainArray(t: number, n: number): boolean {
    this.heapView();
    const h = this.heap32;
    return h[(t + TABLE_METATABLE) >> 2] === 0 && h[(t + TABLE_NODE) >> 2] === this.dummyNode && h[(t + TABLE_SIZEARRAY) >> 2] === n;
  }

  private dispatch(L: number): number {
    const id = this.x.lua_tonumber(L, LUA_GLOBALSINDEX - 1);
    return this.functions[id]!(L);
  }

  /** A NUL-terminated C string kept for the VM's life (field names, chunk names). */
  cstr(s: string): number {
    let p = this.cstrings.get(s);
    if (p === undefined) {
      p = this.x.malloc(s.length + 1);
      const h = this.heapView();
      h.latin1Write(s, p);
      h[p + s.length] = 0;
      this.cstrings.set(s, p);
    }
    return p;
  }

  private ensureScratch(n: number): number {
    if (n > this.scratchSize) {
      if (this.scratch !== 0) this.x.free(this.scratch);
      this.scratchSize = Math.max(n, 4096);
      this.scratch = this.x.malloc(this.scratchSize);
    }
    return this.scratch;
  }

  // ---- stack helpers ----------------------------------------------------------------------------

  pushString(L: number, s: string): void {
    const n = s.length;
    const p = this.ensureScratch(n + 1);
    writeLatin1(this.heapView(), s, p);
    this.x.lua_pushlstring(L, p, n);
  }

  /** Pushes `items[from, to)` as a Lua array (KEYS, ARGV, a function's arguments). */
  pushArray(L: number, items: readonly string[], from: number, to: number): void {
    const x = this.x;
    x.lua_createtable(L, to - from, 0);
    for (let i = from; i < to; i++) {
      this.pushString(L, items[i]!);
      x.lua_rawseti(L, -2, i - from + 1);
    }
  }

  pushBuffer(L: number, b: Buffer): void {
    const p = this.ensureScratch(b.length + 1);
    b.copy(this.heapView(), p);
    this.x.lua_pushlstring(L, p, b.length);
  }

  /** Pushes the bytes `b[start, end)` as a Lua string (no intermediate Buffer). */
  pushBufferRange(L: number, b: Buffer, start: number, end: number): void {
    const p = this.ensureScratch(end - start + 1);
    b.copy(this.heapView(), p, start, end);
    this.x.lua_pushlstring(L, p, end - start);
  }

  /** The string at `idx` (numbers are converted in place, as lua_tolstring does), or null. */
  toString(L: number, idx: number): string | null {
    const p = this.x.lua_tolstring(L, idx, this.lenPtr);
    if (p === 0) return null;
    const h = this.heapView();
    const len = h.readUInt32LE(this.lenPtr);
    return len <= 8 ? shortLatin1(h, p, len) : h.latin1Slice(p, p + len);
  }

  /** The bytes of the string at `idx` (copied), or null. */
  toBuffer(L: number, idx: number): Buffer | null {
    const p = this.x.lua_tolstring(L, idx, this.lenPtr);
    if (p === 0) return null;
    const h = this.heapView();
    const len = h.readUInt32LE(this.lenPtr);
    return Buffer.from(h.subarray(p, p + len));
  }

  // ---- lauxlib argument checks (their errors are Lua's own "bad argument #n to 'f' (…)") -----

  /** luaL_checknumber. */
  checkNumber(L: number, narg: number): number {
    return this.x.luaL_checknumber(L, narg);
  }

  /** luaL_checklstring, as latin1 text. */
  checkString(L: number, narg: number): string {
    const p = this.x.luaL_checklstring(L, narg, this.lenPtr);
    const h = this.heapView();
    return h.latin1Slice(p, p + h.readUInt32LE(this.lenPtr));
  }

  /** luaL_error: raises `msg` prefixed with the calling Lua code's position ("user_script:1: "). */
  raiseError(L: number, msg: string): never {
    this.x.luaL_where(L, 1);
    this.pushString(L, msg);
    this.x.lua_concat(L, 2);
    return this.error(L);
  }

  /** luaL_argerror: raises "bad argument #narg to '<function>' (msg)". */
  argError(L: number, narg: number, msg: string): never {
    const p = this.ensureScratch(msg.length + 1);
    const h = this.heapView();
    h.latin1Write(msg, p);
    h[p + msg.length] = 0;
    this.x.luaL_argerror(L, narg, p);
    throw new Error('unreachable: luaL_argerror returned');
  }

  getField(L: number, idx: number, k: string): void {
    this.x.lua_getfield(L, idx, this.cstr(k));
  }

  setField(L: number, idx: number, k: string): void {
    this.x.lua_setfield(L, idx, this.cstr(k));
  }

  /** Pushes a JS function as a Lua C closure. */
  pushFunction(L: number, fn: JsLuaFunction): void {
    const id = this.functions.length;
    this.functions.push(fn);
    this.x.lua_pushnumber(L, id);
    this.x.lua_pushcclosure(L, this.trampolinePtr, 1);
  }

  /**
   * Pushes a JS function as a Lua C function with a table slot of its own, so a call skips the
   * shared trampoline's read of its id (a C API call). For the few functions made once per VM
   * that scripts call all the time (redis.call, redis.pcall): each takes a slot for the VM's life.
   */
  pushOwnSlotFunction(L: number, fn: JsLuaFunction): void {
    const own = new WebAssembly.Instance(trampolineModule(), {
      e: { f: fn, h: (): void => {} },
    });
    const table = this.x.__indirect_function_table;
    const slot = table.grow(1);
    table.set(slot, own.exports.f as () => void);
    this.x.lua_pushcclosure(L, slot, 0);
  }

  /** Raises a Lua error with the value on top of the stack (does not return). */
  error(L: number): never {
    this.x.lua_error(L);
    throw new Error('unreachable: lua_error returned');
  }

  /** Compiles `code` as a chunk; on success the function is on the stack, else the message. */
  load(L: number, code: string, chunkName: string): boolean {
    const n = code.length;
    const p = this.ensureScratch(n + 1);
    this.heapView().latin1Write(code, p);
    return this.x.luaL_loadbuffer(L, p, n, this.cstr(chunkName)) === 0;
  }

  /** Installs (fn) or removes (null) an instruction-count hook. */
  setCountHook(fn: ((L: number) => void) | null, count: number): void {
    this.setHook(fn, LUA_MASKCOUNT, count);
  }

  /**
   * Installs (fn) or removes (null) a hook for the events in `mask` (LUA_MASK*) on the main
   * thread. Setting the hook that is already set does nothing (scripts set theirs every call).
   */
  setHook(fn: ((L: number, ar: number) => void) | null, mask: number, count: number): void {
    if (fn === null) mask = count = 0;
    if (fn === this.hookFn && mask === this.hookMask && count === this.hookCount) return;
    this.hookFn = fn;
    this.hookMask = mask;
    this.hookCount = count;
    this.x.lua_sethook(this.L, fn === null ? 0 : this.hookPtr, mask, count);
  }

  /**
   * Makes the current hook function run on every line of thread `L` (the one running: a
   * coroutine's hook is its own), so a pcall cannot swallow the error it raises.
   */
  hookEveryLine(L: number): void {
    this.x.lua_sethook(L, this.hookPtr, LUA_MASKLINE, 0);
    if (L === this.L) this.hookMask = LUA_MASKLINE;
    else this.hookMask = -1; // unknown: the next setHook applies whatever it is given
  }

  /** A NUL-terminated string in WASM memory, as latin1. */
  cString(p: number): string {
    const h = this.heapView();
    const end = h.indexOf(0, p);
    return h.latin1Slice(p, end < 0 ? p : end);
  }

  /** Size of the VM's WebAssembly linear memory (counted by Node as external memory). */
  linearMemoryBytes(): number {
    return this.x.memory.buffer.byteLength;
  }

  /** Bytes in use by the Lua heap (lua_gc COUNT/COUNTB). */
  memoryUsed(): number {
    return this.x.lua_gc(this.L, 3, 0) * 1024 + this.x.lua_gc(this.L, 4, 0);
  }
}

/**
 * Writes `s` as latin1 bytes at `p`. Short strings (keys, tokens, counts: most script
 * arguments) are copied by a loop, several times cheaper than latin1Write's native call for
 * them (measured on Node 20: ~40 ns against ~170 ns for 7 bytes); the loop's cost per byte
 * overtakes the call's fixed cost at about 20 bytes.
 */
function writeLatin1(h: Buffer, s: string, p: number): void {
  const n = s.length;
  if (n > 16) {
    h.latin1Write(s, p);
    return;
  }
  for (let i = 0; i < n; i++) h[p + i] = s.charCodeAt(i);
}

/**
 * A string of at most 8 bytes as latin1. Command names and short keys dominate redis.call's
 * arguments; one String.fromCharCode call is about three times cheaper than latin1Slice's
 * native call for them (measured on Node 20).
 */
function shortLatin1(h: Buffer, p: number, len: number): string {
  switch (len) {
    case 0:
      return '';
    case 1:
      return String.fromCharCode(h[p]!);
    case 2:
      return String.fromCharCode(h[p]!, h[p + 1]!);
    case 3:
      return String.fromCharCode(h[p]!, h[p + 1]!, h[p + 2]!);
    case 4:
      return String.fromCharCode(h[p]!, h[p + 1]!, h[p + 2]!, h[p + 3]!);
    case 5:
      return String.fromCharCode(h[p]!, h[p + 1]!, h[p + 2]!, h[p + 3]!, h[p + 4]!);
    case 6:
      return String.fromCharCode(h[p]!, h[p + 1]!, h[p + 2]!, h[p + 3]!, h[p + 4]!, h[p + 5]!);
    case 7:
      return String.fromCharCode(h[p]!, h[p + 1]!, h[p + 2]!, h[p + 3]!, h[p + 4]!, h[p + 5]!, h[p + 6]!);
    default:
      return String.fromCharCode(h[p]!, h[p + 1]!, h[p + 2]!, h[p + 3]!, h[p + 4]!, h[p + 5]!, h[p + 6]!, h[p + 7]!);
  }
}

