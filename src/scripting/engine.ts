/**
 * The scripting engine: one Lua 5.1 VM per server (as Redis has one lua_State), the EVAL
 * script cache, the redis.* API, and the run context of the script in execution.
 *
 * Commands called by a script run through the server's own `call()` on one fake client, so
 * their effects reach the one Propagator (which wraps a script's several writes in
 * MULTI/EXEC); the EVAL/FCALL command itself is never propagated. Replies the commands write
 * into the fake client's ReplyWriter are parsed back (reply-parser) and converted to Lua values.
 *
 * Busy scripts: a count hook (every 100k instructions, like Redis) and redis.call (before any
 * call that follows a non-`fast` command or 16 fast ones) check the elapsed time (`interrupt`). Past busy-reply-threshold the script is "timed out" and
 * other clients' input is processed from there (busy.ts), as Redis's processEventsWhileBlocked
 * does from its hook: they get -BUSY, while SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE
 * (allow-busy commands) run and can make the script raise the kill error. A client that ran
 * SCRIPT DEBUG SYNC gets its EVAL run under the Lua debugger instead (ldb.ts). See
 * docs/ARCHITECTURE.md for why this design.
 */
import crypto from 'node:crypto';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';
import type { CommandSpec } from '../server/command-table.js';
import { ReplyParser } from '../protocol/reply-parser.js';
import { LuaVM, LUA_GLOBALSINDEX, LUA_REGISTRYINDEX, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE, LUA_TFUNCTION } from './lua-wasm.js';
import { extractErrorInfo, pushCommandReply, pushReply, pushSingleFieldTable, takeUncountedErrors, writeError, writeLuaResult } from './convert.js';
import { PRELUDE } from './prelude.js';
import { installLibraries } from './libs.js';
import { beginBusy, endBusy, processEventsWhileBlocked } from './busy.js';
import { formatG17 } from './numbers.js';
import { LuaDebugger } from './ldb.js';
import { aclOf } from '../server/acl.js';
import { admit, invocationFlags, type AdmissionRequest, type InvocationFlags, type ScriptCallContext } from '../server/admission.js';
import { PropagateTo } from '../server/propagate.js';
import { debugTunables } from '../server/debug-hooks.js';

export const enum ScriptFlag {
  NoWrites = 1,
  AllowOom = 2,
  AllowStale = 4,
  NoCluster = 8,
  EvalCompat = 16,
  AllowCrossSlot = 32,
}

export const SCRIPT_FLAG_NAMES: [string, ScriptFlag][] = [
  ['no-writes', ScriptFlag.NoWrites],
  ['allow-oom', ScriptFlag.AllowOom],
  ['allow-stale', ScriptFlag.AllowStale],
  ['no-cluster', ScriptFlag.NoCluster],
  ['allow-cross-slot-keys', ScriptFlag.AllowCrossSlot],
];

export const BUSY_EVAL = 'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.';
export const BUSY_FUNCTION = 'BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.';

/** A cached EVAL script. */
export interface CachedScript {
  /** Its key in `scripts` (lower-case hex). */
  sha: string;
  body: string;
  flags: number;
  /** The function's reference in the registry (luaL_ref): one array read per call. */
  ref: number;
}

/** A table EVAL refills for a global array (KEYS, ARGV) from one script to the next. */
interface GlobalArray {
  readonly name: string;
  /** Its registry reference (luaL_ref), 0 before the first EVAL. */
  ref: number;
  /** How many values it was made for (lua_createtable's array size). */
  size: number;
  /** Its address in the VM's memory (lua_topointer), for LuaVM.isPlainArray. */
  table: number;
}

/** The script in execution (scriptRunCtx). */
export interface RunContext {
  caller: Client;
  /** sha for EVAL, function name for FCALL (error messages, FUNCTION STATS). */
  name: string;
  evalMode: boolean;
  /** EVAL_RO/FCALL_RO or a no-writes script: writes are refused. */
  readOnly: boolean;
  flags: number;
  writeDirty: boolean;
  killed: boolean;
  timedOut: boolean;
  startMonotonic: number;
  resp: 2 | 3;
  /** Where the commands it calls propagate (redis.set_repl; PROPAGATE_AOF|PROPAGATE_REPL bits). */
  repl: PropagateTo;
  /** The command that started the script (FUNCTION STATS). */
  argv: string[];
}

/** sha1 hex of a latin1 string (script bodies, redis.sha1hex). */
export function sha1hex(s: string): string {
  return crypto.createHash('sha1').update(Buffer.from(s, 'latin1')).digest('hex');
}

const GC_PERIOD = 50;
/** Growth of the Lua heap (KB) since the last forced step that makes the next one worth it. */
const GC_GROWTH_KB = 16;
const LUA_GCCOUNT = 3;
const LUA_GCSTEP = 5;
const HOOK_INSTRUCTIONS = 100000;
/** Calls of `fast` commands a script may make between two reads of the clock by redis.call. */
const FAST_CALLS_BETWEEN_CHECKS = 16;
/** How often a timed-out script serves other clients from redis.call (the hook always does). */
const EVENTS_INTERVAL_MS = 1;

export class ScriptingEngine {
  readonly server: Server;
  vm!: LuaVM;
  L!: number;
  readonly fake: Client;
  readonly scripts = new Map<string, CachedScript>();
  /** The sha argument EVALSHA last found (as the client spelled it) and its script (findScript). */
  private lastShaArg: string | null = null;
  private lastShaScript: CachedScript | null = null;
  /** The Lua debugger (SCRIPT DEBUG). */
  readonly ldb: LuaDebugger = new LuaDebugger(this);
  /** Running script, or null. */
  run: RunContext | null = null;
  /**
   * The record of the last script that ran, once it returned (nothing keeps a run past its call:
   * `run` is cleared, busy handling ends in callFunction), for the next script to refill: one
   * 12-field object less per script (commands/scripting.ts newRun).
   */
  idleRun: RunContext | null = null;
  /** Set while FUNCTION LOAD runs library code (redis.register_function is legal then). */
  loadRegistrar: ((L: number) => number) | null = null;
  private readonly parser = new ReplyParser({ skipAttributes: true });
  /** The command the last redis.call named, resolved, with its admission flags (execute). */
  private lastCall: { name: string; spec: CommandSpec; flags: Readonly<InvocationFlags> } | null = null;
  /** The tables EVAL's KEYS and ARGV globals hold (refillGlobalArray). */
  private keysGlobal: GlobalArray = { name: 'KEYS', ref: 0, size: 0, table: 0 };
  private argvGlobal: GlobalArray = { name: 'ARGV', ref: 0, size: 0, table: 0 };
  /** What admission needs of the running script, refilled by each redis.call. */
  private readonly scriptCall: ScriptCallContext;
  /** The admission request of a redis.call, made by the first and refilled by each. */
  private admission: AdmissionRequest | null = null;
  /** The registry reference of __redis__err__handler (luaL_ref), pushed before every script. */
  errorHandlerRef = 0;
  private gcCount = 0;
  /** The Lua heap (KB) after the last forced collector step. */
  private gcStepBaseKb = 0;
  /** busy-reply-threshold as the running script started (0: never busy). */
  private busyThreshold = 0;
  /** busy-reply-threshold as configured (kept current by a config watch). */
  private configuredThreshold = 0;
  /** The count hook, made once (not a closure per script call). */
  private readonly countHookFn = (L: number): void => this.countHook(L);
  /** redis.calls of `fast` commands since the clock was last read (FAST_CALLS_BETWEEN_CHECKS). */
  private fastCallsUnchecked = 0;
  /** When a timed-out script last served other clients (monotonic ms). */
  private lastEventsProcessed = 0;
  /**
   * rand.c's lrand48 state. Never reseeded by the server: like Redis 7, every script continues
   * the sequence (scripts replicate by effects, so they need not be deterministic) unless it
   * calls math.randomseed. It starts at lrand48's default seed and survives SCRIPT FLUSH.
   */
  private randomState = 0x1234abcd330en;

  constructor(server: Server) {
    this.server = server;
    this.fake = server.createFakeClient();
    this.scriptCall = { caller: this.fake, readOnly: false, writeDirty: false, allowOom: false, noscriptAllowed: false, allowCrossSlot: false };
    this.fake.reply.onError = (msg) => server.recordError(this.fake, msg);
    this.createVM();
    server.config.watch('busy-reply-threshold', (v) => (this.configuredThreshold = v as number));
    server.hooks.precheck.push((c, spec) => this.busyPrecheck(c, spec));
  }

  /** (Re)creates the Lua VM: libraries, the redis API, the prelude (scriptingInit). */
  createVM(): void {
    const vm = new LuaVM();
    this.vm = vm;
    this.gcStepBaseKb = 0;
    this.keysGlobal = { name: 'KEYS', ref: 0, size: 0, table: 0 };
    this.argvGlobal = { name: 'ARGV', ref: 0, size: 0, table: 0 };
    const L = vm.L;
    this.L = L;
    const x = vm.x;
    x.luaopen_base(L);
    x.luaopen_table(L);
    x.luaopen_string(L);
    x.luaopen_math(L);
    x.luaopen_debug(L);
    x.lua_settop(L, 0);
    installLibraries(vm, L);
    this.installRedisApi();
    this.installMathRandom();
    // JS primitives for the prelude.
    x.lua_createtable(L, 0, 4);
    vm.pushFunction(L, (L2) => {
      x.lua_pushvalue(L2, 1);
      vm.setField(L2, LUA_REGISTRYINDEX, 'nodis_env');
      x.lua_pushvalue(L2, 2);
      vm.setField(L2, LUA_REGISTRYINDEX, 'nodis_fenv');
      x.lua_pushvalue(L2, 3);
      vm.setField(L2, LUA_REGISTRYINDEX, 'nodis_loadmode');
      return 0;
    });
    vm.setField(L, -2, 'setenv');
    this.pushLoadApi(L);
    vm.setField(L, -2, 'load_redis');
    vm.setField(L, LUA_GLOBALSINDEX, '__nodis');
    if (!vm.load(L, PRELUDE, '@nodis_prelude') || x.lua_pcall(L, 0, 0, 0) !== 0) {
      throw new Error(`scripting prelude failed: ${vm.toString(L, -1)}`);
    }
    x.lua_settop(L, 0);
    vm.getField(L, LUA_GLOBALSINDEX, '__redis__err__handler');
    this.errorHandlerRef = x.luaL_ref(L, LUA_REGISTRYINDEX);
  }

  // ---- the redis.* API ---------------------------------------------------------------------------

  private installRedisApi(): void {
    const vm = this.vm;
    const L = this.L;
    const x = vm.x;
    x.lua_createtable(L, 0, 32);
    const fn = (name: string, f: (L: number) => number): void => {
      vm.pushFunction(L, (L2) => this.guard(L2, f));
      vm.setField(L, -2, name);
    };
    const num = (name: string, v: number): void => {
      x.lua_pushnumber(L, v);
      vm.setField(L, -2, name);
    };
    // redis.call and redis.pcall, called by nearly every script, get table slots of their own.
    const own = (name: string, raiseError: boolean): void => {
      // The body is made once: a closure made inside the trampoline was one allocation per call.
      const body = (L3: number): number => this.redisCommand(L3, raiseError);
      vm.pushOwnSlotFunction(L, (L2) => this.guard(L2, body));
      vm.setField(L, -2, name);
    };
    own('call', true);
    own('pcall', false);
    fn('sha1hex', (L2) => {
      if (x.lua_gettop(L2) !== 1) return this.raise(L2, 'wrong number of arguments');
      vm.pushString(L2, sha1hex(vm.toString(L2, 1) ?? ''));
      return 1;
    });
    fn('error_reply', (L2) => {
      if (x.lua_gettop(L2) !== 1 || x.lua_type(L2, -1) !== LUA_TSTRING) {
        this.pushError(L2, 'wrong number or type of arguments');
        return 1;
      }
      const e = vm.toString(L2, -1)!;
      this.pushError(L2, e.startsWith('-') ? e : `-${e}`);
      return 1;
    });
    fn('status_reply', (L2) => {
      if (x.lua_gettop(L2) !== 1 || x.lua_type(L2, -1) !== LUA_TSTRING) {
        this.pushError(L2, 'wrong number or type of arguments');
        return 1;
      }
      pushSingleFieldTable(vm, L2, 'ok', vm.toString(L2, -1)!);
      return 1;
    });
    fn('log', (L2) => this.redisLog(L2));
    fn('setresp', (L2) => {
      const run = this.run;
      if (run === null) return this.raise(L2, 'redis.setresp can only be called inside a script invocation');
      if (x.lua_gettop(L2) !== 1) return this.raise(L2, 'redis.setresp() requires one argument.');
      const v = x.lua_tonumber(L2, -1);
      if (v !== 2 && v !== 3) return this.raise(L2, 'RESP version must be 2 or 3.');
      run.resp = v;
      return 0;
    });
    fn('set_repl', (L2) => {
      if (this.run === null) return this.raise(L2, 'redis.set_repl can only be called inside a script invocation');
      if (x.lua_gettop(L2) !== 1) return this.raise(L2, 'redis.set_repl() requires two arguments.');
      const flags = Math.trunc(x.lua_tonumber(L2, -1));
      if ((flags & ~PropagateTo.All) !== 0) return this.raise(L2, 'Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.');
      this.run.repl = flags;
      return 0;
    });
    fn('replicate_commands', (L2) => {
      x.lua_pushboolean(L2, 1);
      return 1;
    });
    fn('breakpoint', (L2) => {
      x.lua_pushboolean(L2, this.ldb.breakpoint() ? 1 : 0);
      return 1;
    });
    fn('debug', (L2) => {
      if (this.ldb.active) this.ldb.logDebugCall(L2);
      return 0;
    });
    fn('acl_check_cmd', (L2) => {
      const run = this.run;
      if (run === null) return this.raise(L2, 'redis.acl_check_cmd can only be called inside a script invocation');
      const argc = x.lua_gettop(L2);
      if (argc === 0) return this.raise(L2, 'Please specify at least one argument for this redis lib call');
      const argv: string[] = new Array(argc);
      for (let j = 0; j < argc; j++) {
        const t = x.lua_type(L2, j + 1);
        if (t === LUA_TNUMBER) argv[j] = formatG17(x.lua_tonumber(L2, j + 1));
        else if (t === LUA_TSTRING) argv[j] = vm.toString(L2, j + 1)!;
        else return this.raise(L2, 'Lua redis lib command arguments must be strings or integers');
      }
      // lookupCommand: with a second argument a container needs a known subcommand.
      const spec = this.server.commands.resolve(argv);
      if (spec === undefined) return this.raise(L2, 'Invalid command passed to redis.acl_check_cmd()');
      // The script caller's permissions for this command and its keys and channels, without
      // an ACL LOG entry (ACLCheckAllUserCommandPerm).
      x.lua_pushboolean(L2, aclOf(this.server).permits(run.caller, spec, argv) ? 1 : 0);
      return 1;
    });
    num('LOG_DEBUG', 0);
    num('LOG_VERBOSE', 1);
    num('LOG_NOTICE', 2);
    num('LOG_WARNING', 3);
    num('REPL_NONE', 0);
    num('REPL_AOF', 1);
    num('REPL_SLAVE', 2);
    num('REPL_REPLICA', 2);
    num('REPL_ALL', 3);
    vm.pushString(L, '7.0.15');
    vm.setField(L, -2, 'REDIS_VERSION');
    num('REDIS_VERSION_NUM', 0x07000f);
    vm.setField(L, LUA_GLOBALSINDEX, 'redis');
  }

  /**
   * Pushes the `redis` table a library sees while FUNCTION LOAD runs it (function_lua.c's
   * library API): register_function, log and the version, nothing else.
   */
  private pushLoadApi(L: number): void {
    const vm = this.vm;
    const x = vm.x;
    x.lua_createtable(L, 0, 8);
    vm.pushFunction(L, (L2) =>
      this.guard(L2, (L3) => {
        if (this.loadRegistrar === null) return this.raise(L3, 'redis.register_function can only be called on FUNCTION LOAD command');
        return this.loadRegistrar(L3);
      }),
    );
    vm.setField(L, -2, 'register_function');
    vm.pushFunction(L, (L2) => this.guard(L2, (L3) => this.redisLog(L3)));
    vm.setField(L, -2, 'log');
    const levels: [string, number][] = [['LOG_DEBUG', 0], ['LOG_VERBOSE', 1], ['LOG_NOTICE', 2], ['LOG_WARNING', 3]];
    for (const [name, v] of levels) {
      x.lua_pushnumber(L, v);
      vm.setField(L, -2, name);
    }
    vm.pushString(L, '7.0.15');
    vm.setField(L, -2, 'REDIS_VERSION');
    x.lua_pushnumber(L, 0x07000f);
    vm.setField(L, -2, 'REDIS_VERSION_NUM');
  }

  /** Switches library code between the load-time API (FUNCTION LOAD) and the normal globals. */
  setLoadMode(on: boolean): void {
    const vm = this.vm;
    const L = this.L;
    vm.getField(L, LUA_REGISTRYINDEX, 'nodis_loadmode');
    vm.x.lua_pushboolean(L, on ? 1 : 0);
    vm.x.lua_pcall(L, 1, 0, 0);
  }

  /** Gives the function at `idx` the functions' environment (see the prelude). */
  setFunctionEnv(idx: number): void {
    const vm = this.vm;
    vm.getField(this.L, LUA_REGISTRYINDEX, 'nodis_fenv');
    vm.x.lua_setfenv(this.L, idx < 0 ? idx - 1 : idx);
  }

  /** Redis's own PRNG for math.random (rand.c's lrand48), reseeded to 0 before each script. */
  private installMathRandom(): void {
    const vm = this.vm;
    const L = this.L;
    const x = vm.x;
    vm.getField(L, LUA_GLOBALSINDEX, 'math');
    vm.pushFunction(L, (L2) =>
      this.guard(L2, () => {
        const r = Number(this.lrand48() % 2147483647n) / 2147483647;
        const argc = x.lua_gettop(L2);
        if (argc === 0) {
          x.lua_pushnumber(L2, r);
        } else if (argc === 1) {
          const u = x.lua_tonumber(L2, 1);
          if (u < 1) return vm.argError(L2, 1, 'interval is empty');
          x.lua_pushnumber(L2, Math.floor(r * u) + 1);
        } else if (argc === 2) {
          const l = x.lua_tonumber(L2, 1);
          const u = x.lua_tonumber(L2, 2);
          if (l > u) return vm.argError(L2, 2, 'interval is empty');
          x.lua_pushnumber(L2, Math.floor(r * (u - l + 1)) + l);
        } else {
          return vm.raiseError(L2, 'wrong number of arguments');
        }
        return 1;
      }),
    );
    vm.setField(L, -2, 'random');
    vm.pushFunction(L, (L2) => {
      this.srand48(BigInt(x.luaL_checkinteger(L2, 1)));
      return 0;
    });
    vm.setField(L, -2, 'randomseed');
    x.lua_settop(L, -2);
  }

  /** redisSrand48: the seed is an int32 (its two 16-bit halves become the state's high words). */
  private srand48(seed: bigint): void {
    this.randomState = ((seed & 0xffffffffn) << 16n) | 0x330en;
  }

  private lrand48(): bigint {
    this.randomState = (this.randomState * 0x5deece66dn + 0xbn) & 0xffffffffffffn;
    return this.randomState >> 17n;
  }

  /** Runs a JS API function, turning a JS exception into a Lua error instead of unwinding WASM. */
  private guard(L: number, f: (L: number) => number): number {
    let message: string;
    try {
      return f(L);
    } catch (e) {
      if (!(e instanceof Error)) throw e; // a longjmp (Lua error) passing through
      message = `ERR ${e.message}`;
    }
    return this.raise(L, message);
  }

  /** Pushes Redis's error table ({err='CODE msg'}), as luaPushError does. */
  pushError(L: number, error: string): void {
    let code = 'ERR';
    let msg = error;
    if (error.startsWith('-')) {
      const sp = error.indexOf(' ');
      if (sp < 0) msg = error.slice(1);
      else {
        code = error.slice(1, sp);
        msg = error.slice(sp + 1);
      }
    }
    msg = msg.replace(/^[\r\n]+|[\r\n]+$/g, '');
    // A debugging session in step mode shows the errors scripts get.
    if (this.ldb.logging) this.ldb.log(`<error> ${error}`);
    pushSingleFieldTable(this.vm, L, 'err', `${code} ${msg}`);
  }

  /** Raises Redis's error table; never returns. */
  raise(L: number, error: string): never {
    this.pushError(L, error);
    return this.vm.error(L);
  }

  private redisLog(L: number): number {
    const x = this.vm.x;
    const argc = x.lua_gettop(L);
    if (argc < 2) return this.raise(L, 'redis.log() requires two arguments or more.');
    if (x.lua_type(L, 1) !== LUA_TNUMBER) return this.raise(L, 'First argument must be a number (log level).');
    const level = x.lua_tonumber(L, 1);
    if (level < 0 || level > 3) return this.raise(L, 'Invalid debug level.');
    let msg = '';
    for (let i = 2; i <= argc; i++) {
      if (i > 2) msg += ' ';
      msg += this.vm.toString(L, i) ?? '';
    }
    const log = this.server.log;
    if (level === 0) log.debug(msg);
    else if (level === 1) log.verbose(msg);
    else if (level === 2) log.notice(msg);
    else log.warning(msg);
    return 0;
  }

  // ---- redis.call / redis.pcall ------------------------------------------------------------------

  private redisCommand(L: number, raiseError: boolean): number {
    const vm = this.vm;
    const x = vm.x;
    const run = this.run;
    if (run === null) return this.raise(L, 'redis.call/pcall can only be called inside a script invocation');
    const argc = vm.direct ? vm.stackCount(L) : x.lua_gettop(L);
    if (argc === 0) return this.failCall(L, raiseError, 'Please specify at least one argument for this redis lib call');
    const argv: string[] = new Array(argc);
    if (vm.direct) {
      // Read from the stack's memory (lua-wasm.ts): no C API call per argument. The arguments
      // stay on the stack; the reply is pushed above them (a C function has LUA_MINSTACK free
      // slots) and returned.
      for (let j = 0; j < argc; j++) {
        const slot = vm.slotAddress(L, j + 1);
        const t = vm.slotType(slot);
        if (t === LUA_TSTRING) argv[j] = vm.slotString(slot);
        else if (t === LUA_TNUMBER) {
          const v = vm.slotNumber(slot);
          argv[j] = v === v ? formatG17(v) : vm.slotSignBit(slot) ? '-nan' : 'nan';
        }
        else return this.failCall(L, raiseError, 'Lua redis lib command arguments must be strings or integers');
      }
    } else {
      for (let j = 0; j < argc; j++) {
        const t = x.lua_type(L, j + 1);
        if (t === LUA_TNUMBER) {
          const v = x.lua_tonumber(L, j + 1);
          argv[j] = v === v ? formatG17(v) : nanText(vm, L, j + 1);
        } else if (t === LUA_TSTRING) argv[j] = vm.toString(L, j + 1)!;
        else return this.failCall(L, raiseError, 'Lua redis lib command arguments must be strings or integers');
      }
      x.lua_settop(L, 0);
    }
    // The clock is read before a call unless only a few `fast` commands (O(1), microseconds)
    // ran since it was last read: they cannot have taken a noticeable part of the threshold.
    if (run.timedOut || this.fastCallsUnchecked >= FAST_CALLS_BETWEEN_CHECKS) {
      this.fastCallsUnchecked = 0;
      if (this.interrupt()) return this.raiseKilled(L);
    }
    if (this.ldb.logging) {
      let entry = '<redis>';
      for (let j = 0; j < argv.length; j++) {
        if (j === 10) {
          entry += ` ... (${argv.length - j - 1} more)`;
          break;
        }
        entry += ` ${argv[j]}`;
      }
      this.ldb.log(entry);
    }
    const err = this.execute(run, argv);
    if (err !== null) {
      this.pushError(L, err);
      vm.pushString(L, 'ignore_error_stats_update');
      x.lua_pushboolean(L, 1);
      x.lua_settable(L, -3);
      if (raiseError) return vm.error(L);
      return 1;
    }
    const out = this.fake.reply;
    if (!this.ldb.logging && out.len > 0) {
      // The common path: the reply's bytes become Lua values directly (convert.ts).
      const isError = pushCommandReply(vm, L, out.buf, run.resp === 3);
      out.len = 0;
      if (raiseError && isError) return vm.error(L);
      return 1;
    }
    this.parser.feed(out.buf.subarray(0, out.len));
    const reply = this.parser.next();
    const raw = this.ldb.logging ? out.buf.latin1Slice(0, out.len) : '';
    out.len = 0;
    if (reply === undefined) return this.raise(L, 'ERR internal error: incomplete reply');
    if (reply.type === 'nil' && run.resp === 3) x.lua_pushnil(L);
    else pushReply(vm, L, reply);
    if (this.ldb.logging) {
      if (reply.type === 'error') this.ldb.log(`<error> -${reply.value}`);
      this.ldb.logRedisReply(raw);
    }
    if (raiseError && reply.type === 'error') return vm.error(L);
    return 1;
  }

  private failCall(L: number, raiseError: boolean, msg: string): number {
    this.pushError(L, msg);
    if (raiseError) return this.vm.error(L);
    return 1;
  }

  /** scriptCall(): checks a command for script context and runs it; returns an error or null. */
  private execute(run: RunContext, argv: string[]): string | null {
    const server = this.server;
    const fc = this.fake;
    // Scripts call the same few commands over and over: the last one's spec and admission
    // flags are kept (the table never changes once the server runs). Only a command without
    // subcommands resolves from its name alone, and only a script command's flags depend on
    // its arguments (noscript, refused here anyway).
    let spec: CommandSpec | undefined;
    let flags: Readonly<InvocationFlags> | null = null;
    const last = this.lastCall;
    if (last !== null && argv[0] === last.name) {
      spec = last.spec;
      flags = last.flags;
    } else {
      spec = server.commands.resolve(argv);
      if (spec !== undefined && spec.subcommands === null && spec.handler !== null && !spec.noScript) {
        flags = invocationFlags(server, spec, argv);
        // Only a command named by argv[0] alone: a subcommand (ACL LIST) depends on argv[1], and
        // flags a hook derives from the arguments are worked out again for each call.
        if (!spec.fullName.includes('|') && !spec.flagsHooked) this.lastCall = { name: argv[0]!, spec, flags };
      }
    }
    let err: string | null = null;
    if (spec === undefined || spec.handler === null) {
      err = spec === undefined ? 'Unknown Redis command called from script' : 'Wrong number of args calling Redis command from script';
    } else if ((spec.arity > 0 && argv.length !== spec.arity) || argv.length < -spec.arity) {
      err = 'Wrong number of args calling Redis command from script';
    } else {
      // The same admission checks as a client's command, in scriptCall's order (server/admission.ts).
      // One request record, refilled per call (admission keeps nothing of it).
      const script = this.scriptCall;
      script.caller = run.caller;
      script.readOnly = run.readOnly;
      script.writeDirty = run.writeDirty;
      script.allowOom = (run.flags & ScriptFlag.AllowOom) !== 0;
      script.noscriptAllowed = debugTunables.disableDenyScripts;
      script.allowCrossSlot = (run.flags & (ScriptFlag.AllowCrossSlot | ScriptFlag.EvalCompat)) !== 0;
      if (flags === null) flags = invocationFlags(server, spec, argv);
      let request = this.admission;
      if (request === null) this.admission = request = { client: fc, spec, argv, flags, script };
      else {
        request.spec = spec;
        request.argv = argv;
        request.flags = flags;
      }
      err = admit(server, request);
    }
    if (err !== null) {
      if (spec !== undefined) spec.stats.rejectedCalls++;
      server.recordError(fc, err.includes(' ') && /^[A-Z]+ /.test(err) ? err : `ERR ${err}`);
      return err.startsWith('READONLY') || err.startsWith('OOM') || err.startsWith('NOREPLICAS') || err.startsWith('MISCONF') ? `-${err}` : err;
    }
    this.fastCallsUnchecked = spec!.isFast ? this.fastCallsUnchecked + 1 : FAST_CALLS_BETWEEN_CHECKS;
    if (spec!.isWrite) run.writeDirty = true;
    fc.reply.proto = run.resp;
    server.propagator.commandTargets = run.repl;
    try {
      server.call(fc, spec!, 'script', argv);
    } finally {
      server.propagator.commandTargets = PropagateTo.All;
    }
    return null;
  }

  // ---- running scripts ---------------------------------------------------------------------------

  /**
   * Runs a script and writes its result to the caller (luaCallFunction): EVAL's cached `script`,
   * or (FCALL, `script` null) the function on top of the stack above the error handler. `argv`
   * is EVAL's or FCALL's: its `numkeys` arguments from the fourth on become KEYS, the rest ARGV
   * (EVAL), or the function's two arguments (FCALL).
   */
  callFunction(run: RunContext, argv: readonly string[], numkeys: number, script: CachedScript | null): void {
    const vm = this.vm;
    const x = vm.x;
    const L = this.L;
    const server = this.server;
    const c = run.caller;
    this.run = run;
    this.fake.db = c.db;
    this.fake.reply.len = 0;
    // Keys expire against the time the script started, not in the middle of it (Redis's
    // scriptTimeSnapshot): asking now freezes it for the rest of this command, at the wall
    // time of the command's start (server.expiryNow; no clock read of its own).
    server.expiryNow();
    // A debugged script stops at lines instead of ever being busy (luaCallFunction).
    const debugging = this.ldb.active;
    const threshold = debugging ? 0 : this.configuredThreshold;
    this.busyThreshold = threshold;
    this.lastEventsProcessed = 0;
    // Only Lua code ran yet, which the count hook watches.
    this.fastCallsUnchecked = 0;
    // The count hook stays installed from one script to the next (setHook does nothing when
    // it is already set): between scripts no Lua runs under it (FUNCTION LOAD sets its own).
    if (debugging) vm.setHook((L2, ar) => this.ldb.lineHook(L2, ar, run), this.ldb.hookMask(), HOOK_INSTRUCTIONS);
    else vm.setCountHook(threshold > 0 ? this.countHookFn : null, HOOK_INSTRUCTIONS);
    if (script !== null) {
      // KEYS and ARGV may stay on the stack below the error handler until the stack is cleared.
      this.refillGlobalArray(this.keysGlobal, argv, 3, 3 + numkeys);
      this.refillGlobalArray(this.argvGlobal, argv, 3 + numkeys, argv.length);
      this.pushEvalFunction(script);
    } else {
      vm.pushArray(L, argv, 3, 3 + numkeys);
      vm.pushArray(L, argv, 3 + numkeys, argv.length);
    }
    const err = script !== null ? x.lua_pcall(L, 0, 1, -2) : x.lua_pcall(L, 2, 1, -4);
    if (++this.gcCount === GC_PERIOD) {
      this.gcCount = 0;
      // Redis steps the collector every 50 scripts (LUA_GC_CYCLE_PERIOD). A step of 50 KB is a
      // whole cycle of a heap this small, and in WebAssembly it cost more than the rest of a short
      // script together; so it is taken only once the heap grew since the last one (Lua's own
      // allocation-driven collector runs regardless).
      const kb = x.lua_gc(L, LUA_GCCOUNT, 0);
      if (kb >= this.gcStepBaseKb + GC_GROWTH_KB) {
        x.lua_gc(L, LUA_GCSTEP, GC_PERIOD);
        this.gcStepBaseKb = x.lua_gc(L, LUA_GCCOUNT, 0);
      }
    }
    if (debugging || run.killed) vm.setCountHook(null, 0);
    if (err !== 0) {
      if (x.lua_type(L, -1) !== LUA_TTABLE) {
        const msg = vm.toString(L, -1) ?? 'execution failure';
        c.reply.error(`ERR Error running script ${run.name}, ${msg.slice(0, 100)}`);
      } else {
        const info = extractErrorInfo(vm, L, -1);
        let final = info.msg;
        if (info.line !== null && info.source !== null) final += ` script: ${run.name}, on ${info.source}:${info.line}.`;
        writeError(c.reply, final, !info.ignoreStats);
      }
      x.lua_settop(L, -2);
    } else {
      writeLuaResult(vm, L, c.reply, run.resp);
    }
    const uncounted = takeUncountedErrors();
    if (uncounted > 0 && c.cmd !== null) c.cmd.stats.failedCalls += uncounted;
    // Remove the error handler.
    x.lua_settop(L, 0);
    this.run = null;
    if (run.timedOut) this.endScriptBusy(run);
    this.idleRun = run;
    // The script's effects were propagated by the commands it called; never the script itself.
    c.preventPropagation = true;
  }

  /**
   * Makes the global KEYS or ARGV hold `items[from, to)` (the table may be left on the stack,
   * which callFunction clears after the script):
   * the table the previous EVAL had, refilled, when it was made for as many values and that
   * script left it as it got it (the values at 1..n, no other key, no metatable) — else a new
   * table, as Redis makes on every call. An EVAL script is a chunk with no upvalues and read-only
   * globals, so nothing it does keeps the table past its call; refilling spares two table
   * allocations per EVAL and the garbage they become. (FCALL's functions can keep their
   * arguments in upvalues: they always get new tables.) With direct reads the check is three
   * reads of the table's memory (no metatable, no hash part, an array part of n slots) before
   * it is refilled, and a value already there is not set again; through the C API, its
   * metatable and a lua_next past n after.
   */
  private refillGlobalArray(g: GlobalArray, items: readonly string[], from: number, to: number): void {
    const vm = this.vm;
    const x = vm.x;
    const L = this.L;
    const n = to - from;
    if (g.ref !== 0 && g.size === n) {
      if (vm.direct) {
        if (vm.isPlainArray(g.table, n)) {
          // A slot already holding the same bytes is left as it is: Lua strings are interned
          // values, so the table is then exactly what setting it would make.
          let onStack = false;
          for (let i = 0; i < n; i++) {
            const item = items[from + i]!;
            if (vm.arrayHoldsString(g.table, i + 1, item)) continue;
            if (!onStack) {
              x.lua_rawgeti(L, LUA_REGISTRYINDEX, g.ref);
              onStack = true;
            }
            vm.pushString(L, item);
            x.lua_rawseti(L, -2, i + 1);
          }
          return;
        }
      } else {
        x.lua_rawgeti(L, LUA_REGISTRYINDEX, g.ref);
        for (let i = 0; i < n; i++) {
          vm.pushString(L, items[from + i]!);
          x.lua_rawseti(L, -2, i + 1);
        }
        if (x.lua_getmetatable(L, -1) !== 0) {
          x.lua_settop(L, -3);
        } else {
          // Nothing follows n: the table holds 1..n and nothing else.
          if (n === 0) x.lua_pushnil(L);
          else x.lua_pushnumber(L, n);
          if (x.lua_next(L, -2) === 0) return;
          x.lua_settop(L, -4);
        }
      }
    }
    vm.pushArray(L, items, from, to);
    x.lua_pushvalue(L, -1);
    vm.setField(L, LUA_GLOBALSINDEX, g.name);
    x.lua_pushvalue(L, -1);
    if (g.ref === 0) g.ref = x.luaL_ref(L, LUA_REGISTRYINDEX);
    else x.lua_rawseti(L, LUA_REGISTRYINDEX, g.ref);
    // Its address, for isPlainArray: Lua's collector never moves an object, and the registry
    // keeps this one alive until it is replaced here.
    g.table = x.lua_topointer(L, -1);
    g.size = n;
  }

  /** Pushes the error handler then the cached EVAL script's function. */
  pushEvalFunction(script: CachedScript): void {
    const x = this.vm.x;
    x.lua_rawgeti(this.L, LUA_REGISTRYINDEX, this.errorHandlerRef);
    x.lua_rawgeti(this.L, LUA_REGISTRYINDEX, script.ref);
  }

  /**
   * Compiles a script body into the cache (luaCreateFunction). Returns the sha, or an error
   * text for the client.
   */
  createFunction(body: string): { sha: string } | { error: string } {
    const sha = sha1hex(body);
    if (this.scripts.has(sha)) return { sha };
    const shebang = parseShebang(body);
    if ('error' in shebang) return { error: `ERR ${shebang.error}` };
    const vm = this.vm;
    const L = this.L;
    // Keep the shebang's newline so line numbers stay the user's.
    if (!vm.load(L, body.slice(shebang.length), '@user_script')) {
      const msg = vm.toString(L, -1) ?? '';
      vm.x.lua_settop(L, 0);
      return { error: `ERR Error compiling script (new function): ${msg}` };
    }
    this.setProtectedEnv(-1);
    // Kept under Redis's registry name f_<sha> too (debug.getregistry() shows it there).
    vm.x.lua_pushvalue(L, -1);
    vm.setField(L, LUA_REGISTRYINDEX, `f_${sha}`);
    this.scripts.set(sha, { sha, body, flags: shebang.flags, ref: vm.x.luaL_ref(L, LUA_REGISTRYINDEX) });
    return { sha };
  }

  /** Gives the function at `idx` the protected globals as its environment. */
  setProtectedEnv(idx: number): void {
    const vm = this.vm;
    const L = this.L;
    vm.getField(L, LUA_REGISTRYINDEX, 'nodis_env');
    vm.x.lua_setfenv(L, idx < 0 ? idx - 1 : idx);
  }

  /**
   * The cached script of an EVALSHA's sha argument, as given or lower-cased. Each EVALSHA asks
   * twice (its admission flags, then the run) with a fresh argument string, which a Map.get
   * must hash first (~60 ns for 40 chars): the last argument found is kept and compared
   * instead (content, ~13 ns). Scripts leave the cache only all at once (flushScripts).
   */
  findScript(sha: string): CachedScript | undefined {
    if (sha === this.lastShaArg) return this.lastShaScript!;
    const script = this.scripts.get(sha) ?? this.scripts.get(sha.toLowerCase());
    if (script !== undefined) {
      this.lastShaArg = sha;
      this.lastShaScript = script;
    }
    return script;
  }

  /** SCRIPT FLUSH: drops every cached script (and, like Redis, starts a fresh VM). */
  flushScripts(): void {
    this.scripts.clear();
    this.lastShaArg = null;
    this.lastShaScript = null;
    this.createVM();
    this.onReset?.();
  }

  /** Called after the VM is recreated (the functions registry reloads its libraries). */
  onReset: (() => void) | null = null;

  // ---- busy scripts ------------------------------------------------------------------------------

  /** The count hook: every HOOK_INSTRUCTIONS Lua instructions. */
  private countHook(L: number): void {
    if (this.interrupt()) this.raiseKilled(L);
  }

  /**
   * scriptInterrupt(): called from the count hook and from redis.call/pcall (here a command
   * costs far more than in Redis, so a loop of calls can run for seconds between two count
   * hooks; redis.call skips the clock only after a few `fast` commands). Past busy-reply-threshold the script is "timed out": other clients' input is
   * served (they get -BUSY; SCRIPT KILL, FUNCTION KILL and SHUTDOWN NOSAVE run). Returns true
   * when the script must be killed.
   */
  private interrupt(): boolean {
    const run = this.run;
    if (run === null || this.busyThreshold <= 0) return false;
    const now = this.server.clock.monotonic();
    if (!run.timedOut) {
      const elapsed = now - run.startMonotonic;
      if (elapsed < this.busyThreshold) return false;
      run.timedOut = true;
      beginBusy(this.server);
      this.server.log.warning(
        `Slow script detected: still in execution after ${Math.floor(elapsed)} milliseconds. You can try killing the script using the ${run.evalMode ? 'SCRIPT KILL' : 'FUNCTION KILL'} command. Script name is: ${run.name}.`,
      );
    } else if (now - this.lastEventsProcessed < EVENTS_INTERVAL_MS) {
      // Reading every client's socket costs a syscall each: not on every redis.call.
      return run.killed;
    }
    this.lastEventsProcessed = now;
    processEventsWhileBlocked(this.server, run.caller);
    if (this.server.shuttingDown) run.killed = true;
    return run.killed;
  }

  /** Raises the kill error; from now on every line raises it again, so pcall cannot swallow it. */
  private raiseKilled(L: number): never {
    this.server.log.warning('Lua script killed by user with SCRIPT KILL.');
    this.vm.hookEveryLine(L);
    return this.raise(L, 'Script killed by user with SCRIPT KILL...');
  }

  private endScriptBusy(run: RunContext): void {
    endBusy(this.server);
    this.server.log.warning(`Slow script detected: ${run.evalMode ? 'script' : 'function'} finished.`);
  }

  /** The -BUSY error while a timed-out script runs (isInsideYieldingLongCommand), else null. */
  busyError(): string | null {
    const run = this.run;
    if (run === null || !run.timedOut) return null;
    return run.evalMode ? BUSY_EVAL : BUSY_FUNCTION;
  }

  /** -BUSY for other clients while a timed-out script runs (allow-busy commands pass). */
  private busyPrecheck(c: Client, spec: CommandSpec): string | null {
    const run = this.run;
    if (run === null || c === run.caller || c === this.fake || spec.allowBusy) return null;
    return this.busyError();
  }

  /** SCRIPT KILL / FUNCTION KILL (scriptKill). */
  kill(c: Client, isEval: boolean): void {
    const run = this.run;
    if (run === null) {
      c.reply.error('NOTBUSY No scripts in execution right now.');
    } else if (run.caller.isMaster) {
      c.reply.error('UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.');
    } else if (run.writeDirty) {
      c.reply.error(
        'UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.',
      );
    } else if (isEval && !run.evalMode) {
      c.reply.error(BUSY_FUNCTION);
    } else if (!isEval && run.evalMode) {
      c.reply.error(BUSY_EVAL);
    } else {
      run.killed = true;
      c.reply.ok();
    }
  }

  /** Memory used by the Lua VM (INFO used_memory_lua). */
  memoryUsed(): number {
    return this.vm.memoryUsed();
  }

  /** Memory the Lua VM holds from the process (its WebAssembly linear memory). */
  vmReservedBytes(): number {
    return this.vm.linearMemoryBytes();
  }
}

/**
 * A NaN argument as %.17g prints it, "-nan" or "nan" by its sign bit (0/0 is -nan on x86, as in
 * Redis), which a JS number does not keep: Lua's own conversion of a copy (%.14g) shows it.
 */
function nanText(vm: LuaVM, L: number, idx: number): string {
  vm.x.lua_pushvalue(L, idx);
  const s = vm.toString(L, -1)!;
  vm.x.lua_settop(L, -2);
  return s.startsWith('-') ? '-nan' : 'nan';
}

/** Shebang flags of a script body (evalExtractShebangFlags). `length` is the shebang's length. */
export function parseShebang(body: string): { flags: number; length: number } | { error: string } {
  if (!body.startsWith('#!')) return { flags: ScriptFlag.EvalCompat, length: 0 };
  const end = body.indexOf('\n');
  if (end < 0) return { error: 'Invalid script shebang' };
  const parts = body.slice(0, end).split(/[ \t\r]+/).filter((p) => p.length > 0);
  if (parts.length === 0) return { error: 'Invalid engine in script shebang' };
  if (parts[0] !== '#!lua') return { error: `Unexpected engine in script shebang: ${parts[0]}` };
  let flags = 0;
  for (let j = 1; j < parts.length; j++) {
    const p = parts[j]!;
    if (!p.startsWith('flags=')) return { error: `Unknown lua shebang option: ${p}` };
    const list = p.slice(6);
    if (list.length === 0) continue;
    for (const f of list.split(',')) {
      const def = SCRIPT_FLAG_NAMES.find(([n]) => n === f);
      if (def === undefined) return { error: `Unexpected flag in script shebang: ${f}` };
      flags |= def[1];
    }
  }
  return { flags, length: end };
}

const engines = new WeakMap<Server, ScriptingEngine>();
/**
 * The engine last looked up: a process runs one server, and every EVALSHA asks twice (its
 * admission flags, then the command), so one comparison spares the WeakMap's look-up (~30 ns).
 */
let lastEngine: ScriptingEngine | null = null;

/** The server's scripting engine, created (with its Lua VM) on first use. */
export function scriptingFor(server: Server): ScriptingEngine {
  if (lastEngine !== null && lastEngine.server === server) return lastEngine;
  let e = engines.get(server);
  if (e === undefined) {
    e = new ScriptingEngine(server);
    engines.set(server, e);
  }
  lastEngine = e;
  return e;
}

/** The server's scripting engine if something already created it (no VM is made for asking). */
export function scriptingIfCreated(server: Server): ScriptingEngine | undefined {
  if (lastEngine !== null && lastEngine.server === server) return lastEngine;
  const e = engines.get(server);
  if (e !== undefined) lastEngine = e;
  return e;
}

/** True when a function is on the stack at `idx` (used by the functions registry). */
export function isFunction(vm: LuaVM, L: number, idx: number): boolean {
  return vm.x.lua_type(L, idx) === LUA_TFUNCTION;
}
