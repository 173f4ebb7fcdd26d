/**
 * Redis's extra Lua libraries, implemented in JS on top of the C API (the WASM Lua we use is
 * stock 5.1.5): `bit` (LuaBitOp semantics: 32-bit signed results) and `cjson` (encode/decode
 * with lua-cjson's output conventions: %.14g numbers, "\/" escaping, empty table → {}, arrays
 * for tables with keys 1..n). `struct` and `cmsgpack` are not provided yet (see
 * docs/COMPATIBILITY.md); scripts that use them get "nonexistent global variable".
 */
import { LuaVM, LUA_GLOBALSINDEX, LUA_TBOOLEAN, LUA_TNIL, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE, LUA_TLIGHTUSERDATA } from './lua-wasm.js';
import { formatG } from './numbers.js';

export function installLibraries(vm: LuaVM, L: number): void {
  installBit(vm, L);
  installCjson(vm, L);
}

function raise(vm: LuaVM, L: number, msg: string): never {
  vm.pushString(L, msg);
  return vm.error(L);
}

function installBit(vm: LuaVM, L: number): void {
  const x = vm.x;
  const arg = (L2: number, i: number): number => {
    if (x.lua_type(L2, i) !== LUA_TNUMBER) return raise(vm, L2, `bad argument #${i} (number expected, got ${x.lua_type(L2, i) === LUA_TNIL ? 'no value' : 'other'})`);
    // LuaBitOp normalises through 2^52+2^51 addition: equivalent to modular int32 conversion.
    const n = x.lua_tonumber(L2, i);
    return Number(BigInt.asIntN(32, BigInt(Math.trunc(n) % 4294967296)));
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
      let b = x.lua_type(L2, 2) === LUA_TNIL ? 8 : arg(L2, 2);
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
  const encodeValue = (L2: number, depth: number): string => {
    if (depth > 1000) return raise(vm, L2, 'Cannot serialise, excessive nesting (1001)');
    const t = x.lua_type(L2, -1);
    switch (t) {
      case LUA_TSTRING:
        return jsonString(vm.toString(L2, -1)!);
      case LUA_TNUMBER: {
        const n = x.lua_tonumber(L2, -1);
        if (!Number.isFinite(n)) return raise(vm, L2, 'Cannot serialise number: must not be NaN or Inf');
        return formatG(n, 14);
      }
      case LUA_TBOOLEAN:
        return x.lua_toboolean(L2, -1) ? 'true' : 'false';
      case LUA_TNIL:
        return 'null';
      case LUA_TLIGHTUSERDATA:
        return 'null';
      case LUA_TTABLE:
        return encodeTable(L2, depth + 1);
      default:
        return raise(vm, L2, `Cannot serialise ${t === 6 ? 'function' : 'userdata'}: type not supported`);
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
    if (isArray && count > 0) {
      if (max > count * 2 && max > 10) return raise(vm, L2, 'Cannot serialise table: excessively sparse array');
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
      if (kt !== LUA_TSTRING && kt !== LUA_TNUMBER) return raise(vm, L2, 'Cannot serialise table: table key must be a number or string');
      x.lua_pushvalue(L2, -2);
      const key = kt === LUA_TNUMBER ? formatG(x.lua_tonumber(L2, -1), 14) : vm.toString(L2, -1)!;
      x.lua_settop(L2, -2);
      parts.push(`${jsonString(key)}:${encodeValue(L2, depth)}`);
      x.lua_settop(L2, -2);
    }
    return `{${parts.join(',')}}`;
  };

  const pushJson = (L2: number, v: unknown, depth: number): void => {
    if (depth > 1000) raise(vm, L2, 'Found too many nested data structures (1001)');
    if (v === null) {
      // cjson.null is a lightuserdata NULL; pushing nil keeps tables usable (see COMPATIBILITY).
      x.lua_pushnil(L2);
    } else if (typeof v === 'string') {
      vm.pushString(L2, Buffer.from(v, 'utf8').toString('latin1'));
    } else if (typeof v === 'number') {
      x.lua_pushnumber(L2, v);
    } else if (typeof v === 'boolean') {
      x.lua_pushboolean(L2, v ? 1 : 0);
    } else if (Array.isArray(v)) {
      x.lua_checkstack(L2, 4);
      x.lua_createtable(L2, v.length, 0);
      for (let i = 0; i < v.length; i++) {
        pushJson(L2, v[i], depth + 1);
        x.lua_rawseti(L2, -2, i + 1);
      }
    } else {
      x.lua_checkstack(L2, 4);
      const entries = Object.entries(v as Record<string, unknown>);
      x.lua_createtable(L2, 0, entries.length);
      for (const [k, val] of entries) {
        vm.pushString(L2, Buffer.from(k, 'utf8').toString('latin1'));
        pushJson(L2, val, depth + 1);
        x.lua_rawset(L2, -3);
      }
    }
  };

  x.lua_createtable(L, 0, 4);
  vm.pushFunction(L, (L2) => {
    if (x.lua_gettop(L2) !== 1) return raise(vm, L2, "bad argument #1 to 'encode' (expected 1 argument)");
    const s = encodeValue(L2, 0);
    vm.pushString(L2, s);
    return 1;
  });
  vm.setField(L, -2, 'encode');
  vm.pushFunction(L, (L2) => {
    if (x.lua_gettop(L2) !== 1) return raise(vm, L2, "bad argument #1 to 'decode' (expected 1 argument)");
    const text = vm.toString(L2, 1);
    if (text === null) return raise(vm, L2, "bad argument #1 to 'decode' (string expected)");
    let v: unknown;
    let failed = false;
    try {
      v = JSON.parse(Buffer.from(text, 'latin1').toString('utf8'));
    } catch {
      failed = true;
    }
    if (failed) return raise(vm, L2, 'Expected value but found invalid token at character 1');
    pushJson(L2, v, 0);
    return 1;
  });
  vm.setField(L, -2, 'decode');
  x.lua_pushlightuserdata(L, 0);
  vm.setField(L, -2, 'null');
  vm.setField(L, LUA_GLOBALSINDEX, 'cjson');
}
