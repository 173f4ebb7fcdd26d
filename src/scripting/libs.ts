/**
 * Redis's extra Lua libraries, implemented in JS on top of the C API (the WASM Lua we use is
 * stock 5.1.5): `bit` (LuaBitOp semantics: 32-bit signed results) and `cjson` (encode with
 * lua-cjson's output conventions: %.14g numbers, "\/" escaping, empty table → {}, arrays for
 * tables with keys 1..n; decode in cjson-decode.ts). `struct` and `cmsgpack` are in
 * binary-libs.ts.
 */
import { LuaVM, LUA_GLOBALSINDEX, LUA_TBOOLEAN, LUA_TNIL, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE, LUA_TLIGHTUSERDATA } from './lua-wasm.js';
import { formatG } from './numbers.js';
import { cjsonDecode, defaultCjsonConfig, type CjsonConfig } from './cjson-decode.js';
import { installBinaryLibs } from './binary-libs.js';

export function installLibraries(vm: LuaVM, L: number): void {
  installBit(vm, L);
  installCjson(vm, L);
  installBinaryLibs(vm, L);
}

function raise(vm: LuaVM, L: number, msg: string): never {
  return vm.raiseError(L, msg);
}

const LUA_TYPE_NAMES = ['nil', 'boolean', 'userdata', 'number', 'string', 'table', 'function', 'userdata', 'thread'];

function installBit(vm: LuaVM, L: number): void {
  const x = vm.x;
  // LuaBitOp's barg: luaL_checknumber, then the 2^52+2^51 addition (rounds to nearest, keeps
  // the low 32 bits).
  const arg = (L2: number, i: number): number => {
    const n = vm.checkNumber(L2, i);
    return (n + 6755399441055744 - 6755399441055744) | 0;
  };
  const fold = (op: (a: number, b: number) => number) => (L2: number): number => {
    const n = x.lua_gettop(L2);
    let r = arg(L2, 1);
    for (let i = 2; i <= n; i++) r = op(r, arg(L2, i));
    x.lua_pushnumber(L2, r | 0);
    return 1;
  };
  const fns: Record<string, (L2: number) => number> = {
    tobit: (L2) => (x.lua_pushnumber(L2, arg(L2, 1)), 1),
    bnot: (L2) => (x.lua_pushnumber(L2, ~arg(L2, 1)), 1),
    band: fold((a, b) => a & b),
    bor: fold((a, b) => a | b),
    bxor: fold((a, b) => a ^ b),
    lshift: (L2) => (x.lua_pushnumber(L2, arg(L2, 1) << (arg(L2, 2) & 31)), 1),
    rshift: (L2) => (x.lua_pushnumber(L2, (arg(L2, 1) >>> (arg(L2, 2) & 31)) | 0), 1),
    arshift: (L2) => (x.lua_pushnumber(L2, arg(L2, 1) >> (arg(L2, 2) & 31)), 1),
    rol: (L2) => {
      const a = arg(L2, 1);
      const b = arg(L2, 2) & 31;
      x.lua_pushnumber(L2, ((a << b) | (a >>> (32 - b))) | 0);
      return 1;
    },
    ror: (L2) => {
      const a = arg(L2, 1);
      const b = arg(L2, 2) & 31;
      x.lua_pushnumber(L2, ((a >>> b) | (a << (32 - b))) | 0);
      return 1;
    },
    bswap: (L2) => {
      const a = arg(L2, 1);
      x.lua_pushnumber(L2, ((a >>> 24) | ((a >> 8) & 0xff00) | ((a & 0xff00) << 8) | (a << 24)) | 0);
      return 1;
    },
    tohex: (L2) => {
      let b = x.lua_gettop(L2) < 2 ? 8 : arg(L2, 2);
      const upper = b < 0;
      if (upper) b = -b;
      if (b > 8) b = 8;
      let s = (arg(L2, 1) >>> 0).toString(16).padStart(8, '0').slice(8 - b);
      if (upper) s = s.toUpperCase();
      vm.pushString(L2, s);
      return 1;
    },
  };
  x.lua_createtable(L, 0, Object.keys(fns).length);
  for (const [name, f] of Object.entries(fns)) {
    vm.pushFunction(L, f);
    vm.setField(L, -2, name);
  }
  vm.setField(L, LUA_GLOBALSINDEX, 'bit');
}

// ---- cjson ------------------------------------------------------------------------------------

const JSON_ESCAPES: Record<number, string> = { 0x22: '\\"', 0x5c: '\\\\', 0x2f: '\\/', 0x08: '\\b', 0x0c: '\\f', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const e = JSON_ESCAPES[ch];
    if (e !== undefined) out += e;
    else if (ch < 0x20 || ch === 0x7f) out += '\\u' + ch.toString(16).padStart(4, '0');
    else out += s[i];
  }
  return out + '"';
}

function installCjson(vm: LuaVM, L: number): void {
  const x = vm.x;
  const cfg = defaultCjsonConfig();
  const encodeNumber = (L2: number, n: number): string => {
    if (!Number.isFinite(n)) {
      if (cfg.encodeInvalidNumbers === 0) return raise(vm, L2, 'Cannot serialise number: must not be NaN or Inf');
      if (cfg.encodeInvalidNumbers === 2) return 'null';
      if (Number.isNaN(n)) return 'nan';
    }
    return formatG(n, cfg.encodeNumberPrecision);
  };
  const encodeValue = (L2: number, depth: number): string => {
    const t = x.lua_type(L2, -1);
    switch (t) {
      case LUA_TSTRING:
        return jsonString(vm.toString(L2, -1)!);
      case LUA_TNUMBER: {
        return encodeNumber(L2, x.lua_tonumber(L2, -1));
      }
      case LUA_TBOOLEAN:
        return x.lua_toboolean(L2, -1) ? 'true' : 'false';
      case LUA_TNIL:
        return 'null';
      case LUA_TLIGHTUSERDATA:
        if (x.lua_touserdata(L2, -1) === 0) return 'null';
        return raise(vm, L2, 'Cannot serialise userdata: type not supported');
      case LUA_TTABLE:
        if (depth + 1 > cfg.encodeMaxDepth) return raise(vm, L2, `Cannot serialise, excessive nesting (${depth + 1})`);
        return encodeTable(L2, depth + 1);
      default:
        return raise(vm, L2, `Cannot serialise ${LUA_TYPE_NAMES[t] ?? 'userdata'}: type not supported`);
    }
  };
  const encodeTable = (L2: number, depth: number): string => {
    x.lua_checkstack(L2, 4);
    // An array when every key is a positive integer (lua-cjson's sparse-array rules simplified).
    let max = 0;
    let count = 0;
    let isArray = true;
    x.lua_pushnil(L2);
    while (x.lua_next(L2, -2) !== 0) {
      x.lua_settop(L2, -2);
      if (x.lua_type(L2, -1) === LUA_TNUMBER) {
        const k = x.lua_tonumber(L2, -1);
        if (Number.isInteger(k) && k >= 1) {
          if (k > max) max = k;
          count++;
          continue;
        }
      }
      isArray = false;
    }
    // lua_array_length: excessively sparse arrays are an error, or objects when convert is on.
    if (isArray && count > 0 && cfg.sparseRatio > 0 && max > count * cfg.sparseRatio && max > cfg.sparseSafe) {
      if (!cfg.sparseConvert) return raise(vm, L2, 'Cannot serialise table: excessively sparse array');
      isArray = false;
    }
    if (isArray && count > 0) {
      const parts: string[] = [];
      for (let i = 1; i <= max; i++) {
        x.lua_rawgeti(L2, -1, i);
        parts.push(encodeValue(L2, depth));
        x.lua_settop(L2, -2);
      }
      return `[${parts.join(',')}]`;
    }
    const parts: string[] = [];
    x.lua_pushnil(L2);
    while (x.lua_next(L2, -2) !== 0) {
      const kt = x.lua_type(L2, -2);
      if (kt !== LUA_TSTRING && kt !== LUA_TNUMBER) return raise(vm, L2, `Cannot serialise ${LUA_TYPE_NAMES[kt] ?? 'userdata'}: table key must be a number or string`);
      x.lua_pushvalue(L2, -2);
      const key = kt === LUA_TNUMBER ? encodeNumber(L2, x.lua_tonumber(L2, -1)) : vm.toString(L2, -1)!;
      x.lua_settop(L2, -2);
      parts.push(`${jsonString(key)}:${encodeValue(L2, depth)}`);
      x.lua_settop(L2, -2);
    }
    return `{${parts.join(',')}}`;
  };

  x.lua_createtable(L, 0, 4);
  vm.pushFunction(L, (L2) => {
    if (x.lua_gettop(L2) !== 1) vm.argError(L2, 1, 'expected 1 argument');
    const s = encodeValue(L2, 0);
    vm.pushString(L2, s);
    return 1;
  });
  vm.setField(L, -2, 'encode');
  vm.pushFunction(L, (L2) => cjsonDecode(vm, L2, cfg));
  vm.setField(L, -2, 'decode');
  installCjsonConfigFunctions(vm, L, cfg);
  x.lua_pushlightuserdata(L, 0);
  vm.setField(L, -2, 'null');
  vm.setField(L, LUA_GLOBALSINDEX, 'cjson');
}

/** cjson's configuration functions (json_cfg_*): each sets an option and returns its value. */
function installCjsonConfigFunctions(vm: LuaVM, L: number, cfg: CjsonConfig): void {
  const x = vm.x;
  const argInit = (L2: number, n: number): void => {
    if (x.lua_gettop(L2) > n) vm.argError(L2, n + 1, 'found too many arguments');
    while (x.lua_gettop(L2) < n) x.lua_pushnil(L2);
  };
  const integerOption = (L2: number, idx: number, get: () => number, set: (v: number) => void, min: number, max: number): void => {
    if (x.lua_type(L2, idx) !== LUA_TNIL) {
      const v = x.luaL_checkinteger(L2, idx);
      if (!(min <= v && v <= max)) vm.argError(L2, 1, `expected integer between ${min} and ${max}`);
      set(v);
    }
    x.lua_pushnumber(L2, get());
  };
  const enumOption = (L2: number, idx: number, get: () => number, set: (v: number) => void, options: string[] = ['off', 'on']): void => {
    if (x.lua_type(L2, idx) !== LUA_TNIL) {
      if (x.lua_type(L2, idx) === LUA_TBOOLEAN) set(x.lua_toboolean(L2, idx) ? 1 : 0);
      else {
        const name = vm.checkString(L2, idx);
        const i = options.indexOf(name);
        if (i < 0) vm.argError(L2, idx, `invalid option '${name}'`);
        set(i);
      }
    }
    const v = get();
    if (v === 0 || v === 1) x.lua_pushboolean(L2, v);
    else vm.pushString(L2, options[v]!);
  };
  const INT_MAX = 2147483647;
  const fns: Record<string, (L2: number) => number> = {
    encode_sparse_array: (L2) => {
      argInit(L2, 3);
      enumOption(L2, 1, () => cfg.sparseConvert, (v) => (cfg.sparseConvert = v));
      integerOption(L2, 2, () => cfg.sparseRatio, (v) => (cfg.sparseRatio = v), 0, INT_MAX);
      integerOption(L2, 3, () => cfg.sparseSafe, (v) => (cfg.sparseSafe = v), 0, INT_MAX);
      return 3;
    },
    encode_max_depth: (L2) => (argInit(L2, 1), integerOption(L2, 1, () => cfg.encodeMaxDepth, (v) => (cfg.encodeMaxDepth = v), 1, INT_MAX), 1),
    decode_max_depth: (L2) => (argInit(L2, 1), integerOption(L2, 1, () => cfg.decodeMaxDepth, (v) => (cfg.decodeMaxDepth = v), 1, INT_MAX), 1),
    encode_number_precision: (L2) => (argInit(L2, 1), integerOption(L2, 1, () => cfg.encodeNumberPrecision, (v) => (cfg.encodeNumberPrecision = v), 1, 14), 1),
    encode_keep_buffer: (L2) => (argInit(L2, 1), enumOption(L2, 1, () => cfg.encodeKeepBuffer, (v) => (cfg.encodeKeepBuffer = v)), 1),
    encode_invalid_numbers: (L2) => (argInit(L2, 1), enumOption(L2, 1, () => cfg.encodeInvalidNumbers, (v) => (cfg.encodeInvalidNumbers = v), ['off', 'on', 'null']), 1),
    decode_invalid_numbers: (L2) => (argInit(L2, 1), enumOption(L2, 1, () => cfg.decodeInvalidNumbers, (v) => (cfg.decodeInvalidNumbers = v)), 1),
  };
  for (const [name, f] of Object.entries(fns)) {
    vm.pushFunction(L, f);
    vm.setField(L, -2, name);
  }
}
