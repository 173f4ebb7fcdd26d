/**
 * The functions registry (functions.c / function_lua.c): libraries loaded with FUNCTION LOAD,
 * each a Lua chunk whose `#!lua name=<lib>` header names it and whose body registers functions
 * with redis.register_function. Registered callbacks live in the Lua registry under
 * `fn:<library>:<function>`; FCALL looks the function up and runs it with (KEYS, ARGV).
 */
import type { ScriptingEngine } from './engine.js';
import { SCRIPT_FLAG_NAMES } from './engine.js';
import { extractErrorInfo } from './convert.js';
import { RdbEncoder, DEFAULT_ENCODE_OPTIONS } from '../persistence/rdb-encode.js';
import { RdbDecoder, verifyDumpPayload } from '../persistence/rdb-decode.js';
import { RdbOpcode, RDB_VERSION } from '../persistence/rdb-format.js';
import { Crc64 } from '../persistence/crc64.js';
import { splitArgs } from '../protocol/parser.js';
import { LUA_REGISTRYINDEX, LUA_TFUNCTION, LUA_TSTRING, LUA_TTABLE, LUA_TNIL } from './lua-wasm.js';

export interface FunctionInfo {
  name: string;
  library: string;
  description: string | null;
  flags: number;
}

export interface LibraryInfo {
  name: string;
  engine: 'LUA';
  code: string;
  functions: Map<string, FunctionInfo>;
}

const NAME_RE = /^[A-Za-z0-9_]+$/;
/** FUNCTION LOAD's time limit for running a library's top-level code (LOAD_TIMEOUT_MS). */
export const LOAD_TIMEOUT_MS = 500;

export class FunctionsRegistry {
  /** Library and function names are case-insensitive (Redis's dicts compare them so): keys are lowercased. */
  readonly libraries = new Map<string, LibraryInfo>();
  readonly functions = new Map<string, FunctionInfo>();

  constructor(private readonly engine: ScriptingEngine) {
    engine.onReset = () => this.reloadAll();
  }

  /**
   * Loads a library (FUNCTION LOAD passes LOAD_TIMEOUT_MS; RDB/RESTORE loads have no timeout).
   * Returns the library name or an error text (without the ERR prefix).
   */
  load(code: string, replace: boolean, timeoutMs = 0): { name: string } | { error: string } {
    const md = parseMetadata(code);
    if ('error' in md) return md;
    if (!NAME_RE.test(md.name)) return { error: 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long' };
    if (md.engine.toLowerCase() !== 'lua') return { error: `Engine '${md.engine}' not found` };
    const old = this.libraries.get(md.name.toLowerCase());
    if (old !== undefined && !replace) return { error: `Library '${md.name}' already exists` };
    const compiled = this.compile(md.name, code, md.bodyOffset, timeoutMs);
    if ('error' in compiled) return compiled;
    for (const f of compiled.functions.values()) {
      const existing = this.functions.get(f.name.toLowerCase());
      if (existing !== undefined && existing.library !== md.name) return { error: `Function ${f.name} already exists` };
    }
    if (old !== undefined) this.remove(old);
    this.install(compiled);
    return { name: md.name };
  }

  /** Runs library code with redis.register_function enabled; collects what it registers. */
  private compile(name: string, code: string, bodyOffset: number, timeoutMs: number): LibraryInfo | { error: string } {
    const e = this.engine;
    const vm = e.vm;
    const L = e.L;
    const x = vm.x;
    const lib: LibraryInfo = { name, engine: 'LUA', code, functions: new Map() };
    const pending: string[] = [];
    // The shebang line is kept as a blank first line so line numbers stay the user's.
    const body = code.slice(bodyOffset);
    if (!vm.load(L, body, '@user_function')) {
      const msg = vm.toString(L, -1) ?? '';
      x.lua_settop(L, 0);
      return { error: `Error compiling function: ${msg}` };
    }
    e.setFunctionEnv(-1);
    e.loadRegistrar = (L2) => {
      const r = readRegisterArgs(e, L2);
      if ('error' in r) return e.raise(L2, r.error);
      if (lib.functions.has(r.name.toLowerCase())) return e.raise(L2, 'Function already exists in the library');
      lib.functions.set(r.name.toLowerCase(), { name: r.name, library: name, description: r.description, flags: r.flags });
      // The callback is on top of the stack.
      vm.setField(L2, LUA_REGISTRYINDEX, `fnpending:${name}:${r.name}`);
      pending.push(r.name);
      return 0;
    };
    e.setLoadMode(true);
    const started = e.server.clock.monotonic();
    if (timeoutMs > 0) {
      vm.setCountHook((L2) => {
        if (e.server.clock.monotonic() - started <= timeoutMs) return;
        // Hook every line so a pcall in the library cannot swallow the timeout.
        vm.hookEveryLine(L2);
        e.raise(L2, 'FUNCTION LOAD timeout');
      }, 100000);
    }
    const err = x.lua_pcall(L, 0, 0, 0);
    if (timeoutMs > 0) vm.setCountHook(null, 0);
    e.setLoadMode(false);
    e.loadRegistrar = null;
    if (err !== 0) {
      const msg = x.lua_type(L, -1) === LUA_TTABLE ? extractErrorInfo(vm, L, -1).msg : vm.toString(L, -1) ?? '';
      x.lua_settop(L, 0);
      this.dropPending(name, pending);
      return { error: `Error registering functions: ${msg}` };
    }
    x.lua_settop(L, 0);
    if (lib.functions.size === 0) return { error: 'No functions registered' };
    return lib;
  }

  private dropPending(lib: string, names: string[]): void {
    const vm = this.engine.vm;
    const L = this.engine.L;
    for (const n of names) {
      vm.x.lua_pushnil(L);
      vm.setField(L, LUA_REGISTRYINDEX, `fnpending:${lib}:${n}`);
    }
  }

  private install(lib: LibraryInfo): void {
    const vm = this.engine.vm;
    const L = this.engine.L;
    for (const f of lib.functions.values()) {
      vm.getField(L, LUA_REGISTRYINDEX, `fnpending:${lib.name}:${f.name}`);
      vm.setField(L, LUA_REGISTRYINDEX, `fn:${lib.name}:${f.name}`);
      vm.x.lua_pushnil(L);
      vm.setField(L, LUA_REGISTRYINDEX, `fnpending:${lib.name}:${f.name}`);
      this.functions.set(f.name.toLowerCase(), f);
    }
    this.libraries.set(lib.name.toLowerCase(), lib);
  }

  remove(lib: LibraryInfo): void {
    const vm = this.engine.vm;
    const L = this.engine.L;
    for (const f of lib.functions.values()) {
      vm.x.lua_pushnil(L);
      vm.setField(L, LUA_REGISTRYINDEX, `fn:${lib.name}:${f.name}`);
      this.functions.delete(f.name.toLowerCase());
    }
    this.libraries.delete(lib.name.toLowerCase());
  }

  flush(): void {
    for (const lib of [...this.libraries.values()]) this.remove(lib);
  }

  /**
   * Loads several libraries as one change (FUNCTION RESTORE, libraryJoin): on any error the
   * registry is put back as it was. Returns an error text (without ERR) or null.
   */
  loadAll(codes: string[], policy: 'append' | 'replace' | 'flush'): string | null {
    const before = [...this.libraries.values()];
    const names = new Set<string>();
    for (const code of codes) {
      const md = parseMetadata(code);
      if ('error' in md) return md.error;
      const key = md.name.toLowerCase();
      if (names.has(key)) return `Library '${md.name}' already exists`;
      names.add(key);
      if (policy === 'append' && this.libraries.has(key)) return `Library ${md.name} already exists`;
    }
    if (policy === 'flush') this.flush();
    // Libraries being replaced go first, so their functions never collide with their successors'.
    else if (policy === 'replace') for (const key of names) { const old = this.libraries.get(key); if (old !== undefined) this.remove(old); }
    for (const code of codes) {
      const r = this.load(code, false);
      if ('error' in r) {
        this.flush();
        for (const lib of before) this.load(lib.code, true);
        return r.error;
      }
    }
    return null;
  }

  /** Pushes the error handler and the function's callback (for ScriptingEngine.callFunction). */
  pushFunction(f: FunctionInfo): void {
    const vm = this.engine.vm;
    const L = this.engine.L;
    vm.x.lua_rawgeti(L, LUA_REGISTRYINDEX, this.engine.errorHandlerRef);
    vm.getField(L, LUA_REGISTRYINDEX, `fn:${f.library}:${f.name}`);
  }

  /** After SCRIPT FLUSH recreated the VM, the libraries are loaded into it again. */
  private reloadAll(): void {
    const libs = [...this.libraries.values()];
    this.libraries.clear();
    this.functions.clear();
    for (const l of libs) this.load(l.code, true);
  }
}

/** `#!<engine> name=<lib>` (functionExtractLibMetaData). */
function parseMetadata(code: string): { engine: string; name: string; bodyOffset: number } | { error: string } {
  if (!code.startsWith('#!')) return { error: 'Missing library metadata' };
  const end = code.indexOf('\n');
  if (end < 0) return { error: 'Invalid library metadata' };
  const parts = splitArgs(code.slice(0, end));
  if (parts === null || parts.length === 0) return { error: 'Invalid library metadata' };
  const engine = parts[0]!.slice(2);
  let name: string | null = null;
  for (let i = 1; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.slice(0, 5).toLowerCase() === 'name=') {
      if (name !== null) return { error: 'Invalid metadata value, name argument was given multiple times' };
      name = p.slice(5);
      continue;
    }
    return { error: `Invalid metadata value given: ${p}` };
  }
  if (name === null) return { error: 'Library name was not given' };
  return { engine, name, bodyOffset: end };
}

/** redis.register_function's arguments: (name, callback) or {function_name=…, callback=…, flags=…, description=…}. */
function readRegisterArgs(e: ScriptingEngine, L: number): { name: string; description: string | null; flags: number } | { error: string } {
  const vm = e.vm;
  const x = vm.x;
  const argc = x.lua_gettop(L);
  let name: string | null = null;
  let description: string | null = null;
  let flags = 0;
  if (argc === 2) {
    if (x.lua_type(L, 1) !== LUA_TSTRING) return { error: 'first argument to redis.register_function must be a string' };
    if (x.lua_type(L, 2) !== LUA_TFUNCTION) return { error: 'second argument to redis.register_function must be a function' };
    name = vm.toString(L, 1)!;
    x.lua_pushvalue(L, 2);
  } else if (argc === 1) {
    if (x.lua_type(L, 1) !== LUA_TTABLE) return { error: 'calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).' };
    x.lua_pushnil(L);
    vm.setField(L, LUA_REGISTRYINDEX, 'nodis_register_cb');
    x.lua_pushnil(L);
    while (x.lua_next(L, 1) !== 0) {
      if (x.lua_type(L, -2) !== LUA_TSTRING) return { error: 'named argument key given to redis.register_function is not a string' };
      const key = vm.toString(L, -2)!;
      if (key === 'function_name') {
        if (x.lua_type(L, -1) !== LUA_TSTRING) return { error: 'function_name argument given to redis.register_function must be a string' };
        name = vm.toString(L, -1)!;
      } else if (key === 'description') {
        if (x.lua_type(L, -1) !== LUA_TSTRING) return { error: 'description argument given to redis.register_function must be a string' };
        description = vm.toString(L, -1)!;
      } else if (key === 'callback') {
        if (x.lua_type(L, -1) !== LUA_TFUNCTION) return { error: 'callback argument given to redis.register_function must be a function' };
        x.lua_pushvalue(L, -1);
        vm.setField(L, LUA_REGISTRYINDEX, 'nodis_register_cb');
      } else if (key === 'flags') {
        if (x.lua_type(L, -1) !== LUA_TTABLE) return { error: 'flags argument to redis.register_function must be a table representing function flags' };
        for (let j = 1; ; j++) {
          x.lua_rawgeti(L, -1, j);
          if (x.lua_type(L, -1) === LUA_TNIL) {
            x.lua_settop(L, -2);
            break;
          }
          const f = x.lua_type(L, -1) === LUA_TSTRING ? vm.toString(L, -1)! : '';
          x.lua_settop(L, -2);
          const def = SCRIPT_FLAG_NAMES.find(([n]) => n === f);
          if (def === undefined) return { error: 'unknown flag given' };
          flags |= def[1];
        }
      } else {
        return { error: 'unknown argument given to redis.register_function' };
      }
      x.lua_settop(L, -2);
    }
    if (name === null) return { error: 'redis.register_function must get a function name argument' };
    vm.getField(L, LUA_REGISTRYINDEX, 'nodis_register_cb');
    if (x.lua_type(L, -1) !== LUA_TFUNCTION) return { error: 'redis.register_function must get a callback argument' };
    x.lua_pushnil(L);
    vm.setField(L, LUA_REGISTRYINDEX, 'nodis_register_cb');
  } else {
    return { error: 'wrong number of arguments to redis.register_function' };
  }
  if (!NAME_RE.test(name)) {
    x.lua_settop(L, -2);
    // Redis's functionLibCreateFunction reports a bad function name with the library text.
    return { error: 'Library names can only contain letters, numbers, or underscores(_) and must be at least one character long' };
  }
  return { name, description, flags };
}

const registries = new WeakMap<ScriptingEngine, FunctionsRegistry>();

/** The engine's functions registry (created with it). */
export function functionsOf(e: ScriptingEngine): FunctionsRegistry {
  let r = registries.get(e);
  if (r === undefined) {
    r = new FunctionsRegistry(e);
    registries.set(e, r);
  }
  return r;
}

/**
 * FUNCTION DUMP's payload, as Redis builds it: a FUNCTION2 record (opcode 245 + the library
 * code as an RDB string) per library, then the RDB version (2 bytes LE) and CRC64 (8 bytes LE).
 */
export function dumpFunctions(reg: FunctionsRegistry, compress = DEFAULT_ENCODE_OPTIONS.compress): string {
  const enc = new RdbEncoder({ ...DEFAULT_ENCODE_OPTIONS, compress }, 1024);
  for (const lib of reg.libraries.values()) {
    enc.byte(RdbOpcode.Function2);
    enc.string(lib.code);
  }
  enc.byte(RDB_VERSION & 0xff);
  enc.byte((RDB_VERSION >> 8) & 0xff);
  const body = enc.view();
  const crc = new Crc64().update(body, 0, body.length).bytes();
  return Buffer.concat([body, crc]).toString('latin1');
}

/** FUNCTION RESTORE: decodes a DUMP payload and loads its libraries; returns an error reply or null. */
export function restoreFunctions(reg: FunctionsRegistry, payload: Buffer, policy: 'append' | 'replace' | 'flush'): string | null {
  if (!verifyDumpPayload(payload, false)) return 'ERR DUMP payload version or checksum are wrong';
  const d = new RdbDecoder(payload, undefined, 0, payload.length - 10);
  const codes: string[] = [];
  try {
    while (d.r.pos < payload.length - 10) {
      const type = d.r.u8();
      if (type === RdbOpcode.Function2) {
        codes.push(d.string());
      } else if (type === RdbOpcode.FunctionPreGa) {
        // 7.0 rc1/rc2 records: name, engine, optional description, then the body.
        const name = d.string();
        const engine = d.string();
        if (d.length() !== 0) d.string();
        codes.push(`#!${engine} name=${name}\n${d.string()}`);
      } else {
        return 'ERR given type is not a function';
      }
    }
  } catch {
    return 'ERR failed loading the given functions payload';
  }
  const err = reg.loadAll(codes, policy);
  return err === null ? null : `ERR ${err}`;
}
