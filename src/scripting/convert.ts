/**
 * Redis's Lua ↔ RESP conversion rules (script_lua.c):
 *  - a command's reply → Lua: integer → number, bulk → string, null bulk/array → false, status →
 *    {ok=…}, error → {err=…}, array → table; under redis.setresp(3) also map → {map={…}},
 *    set → {set={…}}, null → nil, boolean, double → {double=…}, big number → {big_number=…},
 *    verbatim → {verbatim_string={format=…, string=…}};
 *  - a script's return value → RESP: number → integer (truncated), string → bulk, boolean →
 *    1/nil (RESP2 script) or boolean, table → {err}/{ok}/{double}/… or an array that stops at
 *    the first nil; anything else → null.
 */
import type { Reply } from '../protocol/reply-parser.js';
import type { ReplyWriter } from '../protocol/writer.js';
import {
  LuaVM,
  LUA_TBOOLEAN,
  LUA_TNIL,
  LUA_TNUMBER,
  LUA_TSTRING,
  LUA_TTABLE,
} from './lua-wasm.js';

/** Pushes a `{field = value}` table. */
export function pushSingleFieldTable(vm: LuaVM, L: number, field: string, value: string): void {
  vm.x.lua_createtable(L, 0, 1);
  vm.pushString(L, value);
  vm.setField(L, -2, field);
}

/**
 * Replaces the array table on top of the stack, which has nils (RESP3 nulls) among its `count`
 * elements, by one built as Redis builds it (redisProtocolToLuaType_Aggregate: an empty table,
 * then `t[i] = v` for i = 1…count, nils included): with holes, the table's layout decides what
 * `#t` answers (MGET of a present, a missing and a present key gives 1 on redis-server, not 3),
 * so the layout must be Redis's. Only arrays with a nil take this path.
 */
function rebuildWithHoles(vm: LuaVM, L: number, count: number): void {
  const x = vm.x;
  x.lua_checkstack(L, 4);
  x.lua_createtable(L, 0, 0);
  for (let i = 1; i <= count; i++) {
    x.lua_pushnumber(L, i);
    x.lua_rawgeti(L, -3, i);
    x.lua_settable(L, -3);
  }
  x.lua_replace(L, -2);
}

/** Pushes a command's reply as the Lua value Redis gives scripts. */
export function pushReply(vm: LuaVM, L: number, r: Reply): void {
  const x = vm.x;
  switch (r.type) {
    case 'integer':
      x.lua_pushnumber(L, Number(r.value));
      return;
    case 'string':
      vm.pushBuffer(L, r.value);
      return;
    case 'nil':
      // RESP2's null bulk/array become false, RESP3's null nil (redisProtocolToLuaType_Null*):
      // inside an aggregate too, where a nil leaves a hole (MGET of a missing key under
      // redis.setresp(3) gives {'a', nil, 'a'}, whose length is 1).
      if (r.resp3 === true) x.lua_pushnil(L);
      else x.lua_pushboolean(L, 0);
      return;
    case 'status':
      pushSingleFieldTable(vm, L, 'ok', r.value);
      return;
    case 'error':
      pushSingleFieldTable(vm, L, 'err', r.value);
      // The command's error was counted when it was replied: not again if the script raises
      // or returns it (redisProtocolToLuaType_Error).
      vm.pushString(L, 'ignore_error_stats_update');
      x.lua_pushboolean(L, 1);
      x.lua_settable(L, -3);
      return;
    case 'array':
    case 'push': {
      x.lua_checkstack(L, 4);
      x.lua_createtable(L, r.elements.length, 0);
      let holes = false;
      for (let i = 0; i < r.elements.length; i++) {
        const e = r.elements[i]!;
        if (e.type === 'nil' && e.resp3 === true) holes = true;
        pushReply(vm, L, e);
        x.lua_rawseti(L, -2, i + 1);
      }
      if (holes) rebuildWithHoles(vm, L, r.elements.length);
      return;
    }
    case 'map': {
      x.lua_checkstack(L, 6);
      x.lua_createtable(L, 0, 1);
      x.lua_createtable(L, 0, r.elements.length / 2);
      for (let i = 0; i + 1 < r.elements.length; i += 2) {
        pushReply(vm, L, r.elements[i]!);
        pushReply(vm, L, r.elements[i + 1]!);
        x.lua_settable(L, -3);
      }
      vm.setField(L, -2, 'map');
      return;
    }
    case 'set': {
      x.lua_checkstack(L, 6);
      x.lua_createtable(L, 0, 1);
      x.lua_createtable(L, 0, r.elements.length);
      for (const e of r.elements) {
        pushReply(vm, L, e);
        x.lua_pushboolean(L, 1);
        x.lua_settable(L, -3);
      }
      vm.setField(L, -2, 'set');
      return;
    }
    case 'bool':
      x.lua_pushboolean(L, r.value ? 1 : 0);
      return;
    case 'double':
      x.lua_createtable(L, 0, 1);
      x.lua_pushnumber(L, parseRespDouble(r.value));
      vm.setField(L, -2, 'double');
      return;
    case 'bignum':
      pushSingleFieldTable(vm, L, 'big_number', r.value);
      return;
    case 'verbatim':
      x.lua_createtable(L, 0, 1);
      x.lua_createtable(L, 0, 2);
      vm.pushString(L, r.format);
      vm.setField(L, -2, 'format');
      vm.pushBuffer(L, r.value);
      vm.setField(L, -2, 'string');
      vm.setField(L, -2, 'verbatim_string');
      return;
  }
}

function parseRespDouble(s: string): number {
  if (s === 'inf') return Infinity;
  if (s === '-inf') return -Infinity;
  return Number(s);
}

/** Details of an error table ({err=…, source=…, line=…}). */
export interface LuaErrorInfo {
  msg: string;
  source: string | null;
  line: string | null;
  ignoreStats: boolean;
}

/** Reads an error table at `idx` (luaExtractErrorInformation). */
export function extractErrorInfo(vm: LuaVM, L: number, idx: number): LuaErrorInfo {
  const x = vm.x;
  const abs = idx < 0 ? x.lua_gettop(L) + idx + 1 : idx;
  vm.getField(L, abs, 'err');
  const msg = x.lua_type(L, -1) === LUA_TSTRING ? vm.toString(L, -1)! : '';
  vm.getField(L, abs, 'source');
  const source = x.lua_type(L, -1) === LUA_TSTRING ? vm.toString(L, -1) : null;
  vm.getField(L, abs, 'line');
  const lt = x.lua_type(L, -1);
  const line = lt === LUA_TNUMBER || lt === LUA_TSTRING ? vm.toString(L, -1) : null;
  vm.getField(L, abs, 'ignore_error_stats_update');
  const ignoreStats = x.lua_toboolean(L, -1) !== 0;
  x.lua_settop(L, -5);
  return { msg, source, line, ignoreStats };
}

/** Writes an error reply, optionally without counting it again in errorstats. */
export function writeError(out: ReplyWriter, message: string, countStats: boolean): void {
  let m = message.startsWith('-') ? message.slice(1) : message;
  m = m.replace(/[\r\n]/g, ' ');
  if (countStats) out.error(m);
  else {
    out.rawString(`-${m}\r\n`);
    uncountedErrors++;
  }
}

/**
 * Error replies written without error stats (already counted when the script's command
 * failed). Redis still counts each as a failed call of the script's command (afterErrorReply).
 */
let uncountedErrors = 0;

/** How many uncounted error replies were written since the last call (and resets the count). */
export function takeUncountedErrors(): number {
  const n = uncountedErrors;
  uncountedErrors = 0;
  return n;
}

/** Nesting of the table being converted, and the deepest nesting converted. */
let tableDepth = 0;
const MAX_REPLY_DEPTH = 1500;

/**
 * Converts the Lua value on top of the stack into a reply and pops it (luaReplyToRedisReply).
 * `scriptResp` is the protocol the script chose with redis.setresp (booleans depend on it).
 */
export function writeLuaValue(vm: LuaVM, L: number, out: ReplyWriter, scriptResp: 2 | 3): void {
  const x = vm.x;
  const t = x.lua_type(L, -1);
  if (x.lua_checkstack(L, 4) === 0) {
    out.error('ERR reached lua stack limit');
    x.lua_settop(L, -2);
    return;
  }
  switch (t) {
    case LUA_TSTRING:
      out.bulk(vm.toString(L, -1)!);
      break;
    case LUA_TBOOLEAN:
      if (scriptResp === 2) {
        if (x.lua_toboolean(L, -1)) out.one();
        else out.nullBulk();
      } else {
        out.bool(x.lua_toboolean(L, -1) !== 0);
      }
      break;
    case LUA_TNUMBER:
      out.integer(truncateToInteger(x.lua_tonumber(L, -1)));
      break;
    case LUA_TTABLE:
      // Redis stops when the Lua stack is full (~8000 nested tables); nodis stops earlier so
      // the JS call stack of this recursion cannot overflow (a self-referencing table).
      if (++tableDepth > MAX_REPLY_DEPTH) {
        out.error('ERR reached lua stack limit');
        x.lua_settop(L, -2);
      } else {
        writeLuaTable(vm, L, out, scriptResp);
      }
      tableDepth--;
      return;
    default:
      out.nullBulk();
  }
  x.lua_settop(L, -2);
}

/**
 * Writes a script's result, on top of the stack, as its reply (luaReplyToRedisReply), leaving
 * the stack for the caller to clear. A number, string, boolean or nil is read from the VM's
 * memory when it allows direct reads (most scripts return one: four C API calls fewer); a
 * table, or any value without direct reads, goes through writeLuaValue.
 */
export function writeLuaResult(vm: LuaVM, L: number, out: ReplyWriter, scriptResp: 2 | 3): void {
  if (vm.direct) {
    const slot = vm.slotAddress(L, vm.stackCount(L));
    switch (vm.slotType(slot)) {
      case LUA_TNUMBER:
        out.integer(truncateToInteger(vm.slotNumber(slot)));
        return;
      case LUA_TSTRING:
        out.bulk(vm.slotString(slot));
        return;
      case LUA_TBOOLEAN:
        if (scriptResp === 3) out.bool(vm.slotBoolean(slot));
        else if (vm.slotBoolean(slot)) out.one();
        else out.nullBulk();
        return;
      case LUA_TNIL:
        out.nullBulk();
        return;
    }
  }
  writeLuaValue(vm, L, out, scriptResp);
}

/** (long long) cast of a Lua number, as C does (saturating where C would be undefined). */
function truncateToInteger(n: number): number | bigint {
  if (Number.isNaN(n)) return -9223372036854775808n;
  const t = Math.trunc(n);
  if (Number.isSafeInteger(t)) return t;
  if (t >= 9223372036854775807) return -9223372036854775808n;
  if (t <= -9223372036854775808) return -9223372036854775808n;
  return BigInt(t);
}

function rawField(vm: LuaVM, L: number, name: string): number {
  vm.pushString(L, name);
  vm.x.lua_rawget(L, -2);
  return vm.x.lua_type(L, -1);
}

function writeLuaTable(vm: LuaVM, L: number, out: ReplyWriter, scriptResp: 2 | 3): void {
  const x = vm.x;
  if (rawField(vm, L, 'err') === LUA_TSTRING) {
    x.lua_settop(L, -2);
    const info = extractErrorInfo(vm, L, -1);
    writeError(out, info.msg, !info.ignoreStats);
    x.lua_settop(L, -2);
    return;
  }
  x.lua_settop(L, -2);
  if (rawField(vm, L, 'ok') === LUA_TSTRING) {
    out.status(vm.toString(L, -1)!.replace(/[\r\n]/g, ' '));
    x.lua_settop(L, -3);
    return;
  }
  x.lua_settop(L, -2);
  if (rawField(vm, L, 'double') === LUA_TNUMBER) {
    out.double(x.lua_tonumber(L, -1));
    x.lua_settop(L, -3);
    return;
  }
  x.lua_settop(L, -2);
  if (rawField(vm, L, 'big_number') === LUA_TSTRING) {
    out.bigNumber(vm.toString(L, -1)!.replace(/[\r\n]/g, ' '));
    x.lua_settop(L, -3);
    return;
  }
  x.lua_settop(L, -2);
  if (rawField(vm, L, 'verbatim_string') === LUA_TTABLE) {
    if (rawField(vm, L, 'format') === LUA_TSTRING) {
      const format = vm.toString(L, -1)!;
      x.lua_settop(L, -2);
      if (rawField(vm, L, 'string') === LUA_TSTRING) {
        out.verbatim(vm.toString(L, -1)!, format);
        x.lua_settop(L, -4);
        return;
      }
    }
    x.lua_settop(L, -2);
  }
  x.lua_settop(L, -2);
  if (rawField(vm, L, 'map') === LUA_TTABLE) {
    const mark = out.beginDeferred();
    let n = 0;
    x.lua_pushnil(L);
    while (x.lua_next(L, -2) !== 0) {
      x.lua_pushvalue(L, -2);
      writeLuaValue(vm, L, out, scriptResp);
      writeLuaValue(vm, L, out, scriptResp);
      n++;
    }
    out.endDeferred(mark, 'map', n);
    x.lua_settop(L, -3);
    return;
  }
  x.lua_settop(L, -2);
  if (rawField(vm, L, 'set') === LUA_TTABLE) {
    const mark = out.beginDeferred();
    let n = 0;
    x.lua_pushnil(L);
    while (x.lua_next(L, -2) !== 0) {
      x.lua_settop(L, -2);
      x.lua_pushvalue(L, -1);
      writeLuaValue(vm, L, out, scriptResp);
      n++;
    }
    out.endDeferred(mark, 'set', n);
    x.lua_settop(L, -3);
    return;
  }
  x.lua_settop(L, -2);
  // An array: elements 1..n up to the first nil.
  const mark = out.beginDeferred();
  let n = 0;
  for (let j = 1; ; j++) {
    x.lua_rawgeti(L, -1, j);
    if (x.lua_type(L, -1) === LUA_TNIL) {
      x.lua_settop(L, -2);
      break;
    }
    writeLuaValue(vm, L, out, scriptResp);
    n++;
  }
  out.endDeferred(mark, 'array', n);
  x.lua_settop(L, -2);
}

// ---- a command's reply, straight from its RESP bytes -------------------------------------------
//
// redis.call's reply is what the command wrote into the fake client's buffer: one complete,
// well-formed reply the server itself produced. Walking those bytes and pushing Lua values
// directly gives the same values as parsing into Reply objects and then pushReply (which stays
// for the debugger's logging path), without allocating a Reply tree, a Buffer per bulk string
// and a bigint per integer on every call.

/** Read position in the reply being converted. */
let at = 0;

/**
 * The index of the CR ending the line that starts at `at`. A loop, not `buf.indexOf(13, at)`:
 * these lines are a few bytes (`$-1`, `:1`, `$5`, `+OK`), and indexOf is a native call
 * (~40 ns, measured) where the loop takes a few; every redis.call's reply starts with one.
 */
function lineEndAt(buf: Buffer): number {
  const n = buf.length;
  for (let i = at; i < n; i++) if (buf[i] === 13) return i;
  return -1;
}

/** A signed decimal integer from `at` to the CR; moves past the CRLF. */
function readNumberLine(buf: Buffer): number {
  const end = lineEndAt(buf);
  let i = at;
  let neg = false;
  if (buf[i] === 0x2d) {
    neg = true;
    i++;
  }
  let n: number;
  if (end - i <= 15) {
    n = 0;
    for (; i < end; i++) n = n * 10 + (buf[i]! - 48);
    if (neg) n = -n;
  } else {
    // Beyond 15 digits: the correctly rounded double, as Number(BigInt(text)) gives.
    n = Number(buf.latin1Slice(at, end));
  }
  at = end + 2;
  return n;
}

function readTextLine(buf: Buffer): string {
  const end = lineEndAt(buf);
  const s = buf.latin1Slice(at, end);
  at = end + 2;
  return s;
}

/**
 * Pushes the one reply in `buf[0, len)` as pushReply would; a top-level null becomes nil when
 * the script speaks RESP3 (`resp3Nil`), false otherwise. Returns true when it was an error.
 */
export function pushCommandReply(vm: LuaVM, L: number, buf: Buffer, resp3Nil: boolean): boolean {
  at = 0;
  // Attributes before the reply are read and dropped (the parser's skipAttributes).
  while (buf[at] === 0x7c) {
    at++;
    const entries = readNumberLine(buf) * 2;
    for (let i = 0; i < entries; i++) {
      pushRespValue(vm, L, buf);
      vm.x.lua_settop(L, -2);
    }
  }
  const first = buf[at];
  if (first === 0x2d) {
    at++;
    pushSingleFieldTable(vm, L, 'err', readTextLine(buf));
    vm.pushString(L, 'ignore_error_stats_update');
    vm.x.lua_pushboolean(L, 1);
    vm.x.lua_settable(L, -3);
    return true;
  }
  if (resp3Nil && (first === 0x5f || ((first === 0x24 || first === 0x2a) && buf[at + 1] === 0x2d))) {
    vm.x.lua_pushnil(L);
    return false;
  }
  pushRespValue(vm, L, buf);
  return false;
}

function pushRespValue(vm: LuaVM, L: number, buf: Buffer): void {
  const x = vm.x;
  const type = buf[at++];
  switch (type) {
    case 0x2b: // + status
      pushSingleFieldTable(vm, L, 'ok', readTextLine(buf));
      return;
    case 0x2d: // - error (nested)
      pushSingleFieldTable(vm, L, 'err', readTextLine(buf));
      vm.pushString(L, 'ignore_error_stats_update');
      x.lua_pushboolean(L, 1);
      x.lua_settable(L, -3);
      return;
    case 0x3a: // : integer
      if (vm.direct) vm.pushNumberDirect(L, readNumberLine(buf));
      else x.lua_pushnumber(L, readNumberLine(buf));
      return;
    case 0x24: // $ bulk
    case 0x3d: {
      // = verbatim
      const n = readNumberLine(buf);
      if (n < 0) {
        if (vm.direct) vm.pushBooleanDirect(L, false);
        else x.lua_pushboolean(L, 0);
        return;
      }
      const start = at;
      at += n + 2;
      if (type === 0x24) {
        vm.pushBufferRange(L, buf, start, start + n);
        return;
      }
      x.lua_createtable(L, 0, 1);
      x.lua_createtable(L, 0, 2);
      vm.pushBufferRange(L, buf, start, start + 3);
      vm.setField(L, -2, 'format');
      vm.pushBufferRange(L, buf, start + 4, start + n);
      vm.setField(L, -2, 'string');
      vm.setField(L, -2, 'verbatim_string');
      return;
    }
    case 0x5f: // _ null: RESP3's null is nil to a script, in an aggregate too (pushReply)
      at += 2;
      x.lua_pushnil(L);
      return;
    case 0x23: // # boolean
      x.lua_pushboolean(L, buf[at] === 0x74 ? 1 : 0);
      at += 3;
      return;
    case 0x2c: // , double
      x.lua_createtable(L, 0, 1);
      x.lua_pushnumber(L, parseRespDouble(readTextLine(buf)));
      vm.setField(L, -2, 'double');
      return;
    case 0x28: // ( big number
      pushSingleFieldTable(vm, L, 'big_number', readTextLine(buf));
      return;
    case 0x2a: // * array
    case 0x3e: {
      // > push
      const count = readNumberLine(buf);
      if (count < 0) {
        x.lua_pushboolean(L, 0);
        return;
      }
      x.lua_checkstack(L, 4);
      x.lua_createtable(L, count, 0);
      let holes = false;
      for (let i = 1; i <= count; i++) {
        if (buf[at] === 0x5f) holes = true;
        pushRespValue(vm, L, buf);
        x.lua_rawseti(L, -2, i);
      }
      if (holes) rebuildWithHoles(vm, L, count);
      return;
    }
    case 0x25: {
      // % map
      const count = readNumberLine(buf);
      x.lua_checkstack(L, 6);
      x.lua_createtable(L, 0, 1);
      x.lua_createtable(L, 0, count);
      for (let i = 0; i < count; i++) {
        pushRespValue(vm, L, buf);
        pushRespValue(vm, L, buf);
        x.lua_settable(L, -3);
      }
      vm.setField(L, -2, 'map');
      return;
    }
    case 0x7e: {
      // ~ set
      const count = readNumberLine(buf);
      x.lua_checkstack(L, 6);
      x.lua_createtable(L, 0, 1);
      x.lua_createtable(L, 0, count);
      for (let i = 0; i < count; i++) {
        pushRespValue(vm, L, buf);
        x.lua_pushboolean(L, 1);
        x.lua_settable(L, -3);
      }
      vm.setField(L, -2, 'set');
      return;
    }
    case 0x7c: {
      // | attribute: its entries are read and dropped, then the value it annotates is pushed
      const count = readNumberLine(buf);
      x.lua_checkstack(L, 4);
      for (let i = 0; i < count * 2; i++) {
        pushRespValue(vm, L, buf);
        x.lua_settop(L, -2);
      }
      pushRespValue(vm, L, buf);
      return;
    }
    default:
      throw new Error(`internal error: reply type byte ${type}`);
  }
}
