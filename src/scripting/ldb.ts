/**
 * LDB, the Lua debugger (eval.c): SCRIPT DEBUG SYNC makes the client's next EVAL a debugging
 * session. A line hook stops the script at each line to step (or at breakpoints), and while
 * stopped the debugger talks to that one client directly over its socket, outside the normal
 * reply path: it reads debugger commands (RESP multibulks) and answers each with a multibulk
 * of status lines (the "logs"). The rest of the server waits, as in Redis's synchronous mode.
 *
 * Redis's default mode (SCRIPT DEBUG YES) forks a child that runs the session on a copy of
 * the dataset; Node cannot fork, so nodis refuses such an EVAL with the error Redis gives when
 * fork() fails (the session would otherwise change the real dataset).
 *
 * The socket is read and written with blocking semantics on a non-blocking descriptor: reads
 * poll with a short sleep until data or EOF arrives (Redis blocks in read()).
 */
import fs from 'node:fs';
import type { Client } from '../server/client.js';
import type { ScriptingEngine, RunContext } from './engine.js';
import { LUA_GLOBALSINDEX, LUA_MASKCOUNT, LUA_MASKLINE, LUA_TBOOLEAN, LUA_TFUNCTION, LUA_TNIL, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE } from './lua-wasm.js';
import { repr } from '../protocol/format.js';
import { formatG } from './numbers.js';

const LDB_BREAKPOINTS_MAX = 64;
const LDB_MAX_LEN_DEFAULT = 256;
/** LUA_MINSTACK / 2: nested tables deeper than this are not printed. */
const LDB_MAX_VALUES_DEPTH = 10;
const LUA_HOOKCOUNT = 3;
/** Bytes of Lua 5.1's lua_Debug on wasm32, and the offsets of the fields read here. */
const AR_SIZE = 100;
const AR_EVENT = 0;
const AR_NAME = 4;
const AR_CURRENTLINE = 20;
const AR_SHORT_SRC = 36;
/** Redis gives up on a write to the debugging client after this long (connSendTimeout). */
const SEND_TIMEOUT_MS = 5000;
const MAX_CLIENT_BUFFER = 1 << 20;

const HELP = [
  'Redis Lua debugger help:',
  '[h]elp               Show this help.',
  '[s]tep               Run current line and stop again.',
  '[n]ext               Alias for step.',
  '[c]ontinue           Run till next breakpoint.',
  '[l]ist               List source code around current line.',
  '[l]ist [line]        List source code around [line].',
  '                     line = 0 means: current position.',
  '[l]ist [line] [ctx]  In this form [ctx] specifies how many lines',
  '                     to show before/after [line].',
  "[w]hole              List all source code. Alias for 'list 1 1000000'.",
  '[p]rint              Show all the local variables.',
  '[p]rint <var>        Show the value of the specified variable.',
  '                     Can also show global vars KEYS and ARGV.',
  '[b]reak              Show all breakpoints.',
  '[b]reak <line>       Add a breakpoint to the specified line.',
  '[b]reak -<line>      Remove breakpoint from the specified line.',
  '[b]reak 0            Remove all breakpoints.',
  '[t]race              Show a backtrace.',
  '[e]val <code>        Execute some Lua code (in a different callframe).',
  '[r]edis <cmd>        Execute a Redis command.',
  '[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.',
  '                     Specifying zero as <len> means unlimited.',
  '[a]bort              Stop the execution of the script. In sync',
  '                     mode dataset changes will be retained.',
  '',
  'Debugger functions you can call from Lua scripts:',
  'redis.debug()        Produce logs in the debugger console.',
  'redis.breakpoint()   Stop execution like if there was a breakpoint in the',
  '                     next line of code.',
];

/** Made on first use: a V8 start-up snapshot cannot hold a SharedArrayBuffer (docs/PERFORMANCE.md). */
let sleepCell: Int32Array | null = null;

function sleepMs(ms: number): void {
  Atomics.wait((sleepCell ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, ms);
}

/** C's atoi(): leading blanks, a sign, digits; anything else stops it. */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([-+]?\d+)/.exec(s);
  return m === null ? 0 : Number.parseInt(m[1]!, 10) | 0;
}

/** string2l(): a whole-string canonical integer, or null. */
function string2l(s: string): number | null {
  return /^(0|-?[1-9]\d{0,17})$/.test(s) ? Number(s) : null;
}

/** C's strcasecmp() on C strings: comparison stops at the first NUL byte. */
function commandIs(arg: string, ...names: string[]): boolean {
  const nul = arg.indexOf('\0');
  const a = (nul < 0 ? arg : arg.slice(0, nul)).toLowerCase();
  return names.includes(a);
}

/** Renders a RESP reply in the debugger's human form (ldbRedisProtocolToHuman). */
export function protocolToHuman(reply: string): string {
  let out = '';
  let pos = 0;
  const line = (): string => {
    const cr = reply.indexOf('\r', pos + 1);
    const text = reply.slice(pos + 1, cr < 0 ? reply.length : cr);
    pos = cr < 0 ? reply.length : cr + 2;
    return text;
  };
  const one = (): boolean => {
    const start = pos;
    switch (reply[pos]) {
      case ':':
        out += line();
        return true;
      case '$': {
        const len = Number(line());
        if (len === -1) out += 'NULL';
        else {
          out += repr(reply.slice(pos, pos + len));
          pos += len + 2;
        }
        return true;
      }
      case '+':
      case '-': {
        line();
        out += repr(reply.slice(start, pos - 2));
        return true;
      }
      case '*':
      case '~': {
        const n = Number(line());
        if (n === -1) {
          out += 'NULL';
          return true;
        }
        out += reply[start] === '*' ? '[' : '~(';
        for (let j = 0; j < n; j++) {
          if (!one()) return false;
          if (j !== n - 1) out += ',';
        }
        out += reply[start] === '*' ? ']' : ')';
        return true;
      }
      case '%': {
        const n = Number(line());
        out += '{';
        for (let j = 0; j < n; j++) {
          if (!one()) return false;
          out += ' => ';
          if (!one()) return false;
          if (j !== n - 1) out += ',';
        }
        out += '}';
        return true;
      }
      case '_':
        line();
        out += '(null)';
        return true;
      case '#':
        out += line() === 't' ? '#true' : '#false';
        return true;
      case ',':
        out += `(double) ${line()}`;
        return true;
      default:
        // Types Redis's renderer does not know (big numbers, verbatim strings) print nothing.
        return false;
    }
  };
  one();
  return out;
}

/** Redis's Lua debugger, one per scripting engine (Redis has one global `ldb`). */
export class LuaDebugger {
  /** Clients that asked for debugging with SCRIPT DEBUG YES (forked) or SYNC. */
  private readonly modes = new WeakMap<Client, 'yes' | 'sync'>();
  /**
   * Clients given a mode and not yet disabled: while 0, modeOf answers without the WeakMap's
   * look-up (every EVAL asks). A client collected while enabled leaves it above 0, which only
   * keeps the look-up.
   */
  private enabledClients = 0;
  /** The client of the session in progress, or null. */
  private client: Client | null = null;
  /** Step mode: stop at the next line (and log redis.call traffic meanwhile). */
  private step = false;
  /** redis.breakpoint() was called: stop at the next line. */
  private luabp = false;
  private readonly breakpoints: number[] = [];
  private logs: string[] = [];
  private src: string[] = [];
  currentLine = -1;
  private maxlen = LDB_MAX_LEN_DEFAULT;
  private maxlenHintSent = false;
  /** Debugger input received but not yet parsed into a command. */
  private cbuf = '';
  private arPtr = 0;

  constructor(private readonly engine: ScriptingEngine) {}

  // ---- client state (SCRIPT DEBUG) --------------------------------------------------------------

  modeOf(c: Client): 'yes' | 'sync' | undefined {
    return this.enabledClients === 0 ? undefined : this.modes.get(c);
  }

  /** ldbEnable: SCRIPT DEBUG YES|SYNC; resets the debugger for this client's session. */
  enable(c: Client, mode: 'yes' | 'sync'): void {
    if (!this.modes.has(c)) this.enabledClients++;
    this.modes.set(c, mode);
    this.logs = [];
    this.step = true;
    this.breakpoints.length = 0;
    this.luabp = false;
    this.cbuf = '';
    this.maxlen = LDB_MAX_LEN_DEFAULT;
    this.maxlenHintSent = false;
  }

  /** ldbDisable: SCRIPT DEBUG NO. */
  disable(c: Client): void {
    if (this.modes.delete(c)) this.enabledClients--;
  }

  /** True while a session runs (ldb.active). */
  get active(): boolean {
    return this.client !== null;
  }

  /** ldbIsEnabled: a session runs in step mode, so redis.call and errors are logged. */
  get logging(): boolean {
    return this.client !== null && this.step;
  }

  // ---- sessions --------------------------------------------------------------------------------

  /** ldbStartSession for a SYNC client: the script's source becomes the debugger's listing. */
  startSession(c: Client, body: string): void {
    this.engine.server.log.warning('nodis synchronous debugging eval session started');
    // Replies still queued for this client go first: the debugger writes to the socket itself.
    this.flushPendingReplies(c);
    this.client = c;
    this.src = body.replace(/[\r\n]+$/, '').split('\n');
    // In the VM's memory, which SCRIPT FLUSH replaces: one per session.
    this.arPtr = this.engine.vm.x.malloc(AR_SIZE);
  }

  /** ldbEndSession: the last logs and an <endsession> mark; the client is closed after the reply. */
  endSession(c: Client): void {
    this.log('<endsession>');
    this.sendLogs();
    this.engine.server.log.warning('nodis synchronous debugging eval session ended');
    this.engine.server.closeAfterReply(c);
    this.src = [];
    this.client = null;
    this.disable(c);
    this.engine.vm.x.free(this.arPtr);
    this.arPtr = 0;
  }

  /** The hook a debugged script runs with (luaLdbLineHook): every line, and a count watchdog. */
  hookMask(): number {
    return LUA_MASKLINE | LUA_MASKCOUNT;
  }

  // ---- logs ------------------------------------------------------------------------------------

  log(entry: string): void {
    this.logs.push(entry);
  }

  /** ldbLogWithMaxLen: long entries are trimmed (with a one-time hint about `maxlen`). */
  private logTrimmed(entry: string): void {
    let trimmed = false;
    if (this.maxlen > 0 && entry.length > this.maxlen) {
      entry = `${entry.slice(0, this.maxlen)} ...`;
      trimmed = true;
    }
    this.log(entry);
    if (trimmed && !this.maxlenHintSent) {
      this.maxlenHintSent = true;
      this.log("<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.");
    }
  }

  /** Logs a redis.call reply (ldbLogRedisReply). */
  logRedisReply(reply: string): void {
    this.logTrimmed(`<reply> ${protocolToHuman(reply)}`);
  }

  /** Logs the arguments of redis.debug() (luaRedisDebugCommand). */
  logDebugCall(L: number): void {
    const argc = this.engine.vm.x.lua_gettop(L);
    let entry = `<debug> line ${this.currentLine}: `;
    for (let i = 1; i <= argc; i++) {
      entry += this.valueRepr(L, i, 0);
      if (i !== argc) entry += ', ';
    }
    this.log(entry);
  }

  /** redis.breakpoint(): true (and a stop at the next line) only inside a session. */
  breakpoint(): boolean {
    if (this.client === null) return false;
    this.luabp = true;
    return true;
  }

  /** Sends the logs as a multibulk of status lines (ldbSendLogs). */
  private sendLogs(): void {
    let proto = `*${this.logs.length}\r\n`;
    for (const entry of this.logs) proto += `+${entry.replace(/[\r\n]/g, ' ')}\r\n`;
    this.logs = [];
    const c = this.client;
    if (c !== null) writeAll(c.plainFd, Buffer.from(proto, 'latin1'));
  }

  private flushPendingReplies(c: Client): void {
    if (c.reply.len === 0 || c.plainFd < 0) return;
    writeAll(c.plainFd, c.reply.take());
  }

  // ---- the line hook ---------------------------------------------------------------------------

  /** luaLdbLineHook. */
  lineHook(L: number, ar: number, run: RunContext): void {
    const vm = this.engine.vm;
    const x = vm.x;
    x.lua_getstack(L, 0, ar);
    x.lua_getinfo(L, vm.cstr('Sl'), ar);
    // Events outside the script (nodis's Lua helpers, ldb eval code) are not interesting, and
    // unlike Redis they must not move the current line: the helpers run inside script lines.
    if (!vm.cString(ar + AR_SHORT_SRC).includes('user_script')) return;
    const h = vm.heapView();
    this.currentLine = h.readInt32LE(ar + AR_CURRENTLINE);
    const bp = this.breakpoints.includes(this.currentLine) || this.luabp;
    let timeout = false;
    if (h.readInt32LE(ar + AR_EVENT) === LUA_HOOKCOUNT && !this.step && !bp) {
      const threshold = this.engine.server.config.getNumber('busy-reply-threshold');
      const limit = threshold > 0 ? threshold : 5000;
      if (this.engine.server.clock.monotonic() - run.startMonotonic < limit) return;
      timeout = true;
      this.step = true;
    }
    if (!this.step && !bp) return;
    let reason = 'step over';
    if (bp) reason = this.luabp ? 'redis.breakpoint() called' : 'break point';
    else if (timeout) reason = 'timeout reached, infinite loop?';
    this.step = false;
    this.luabp = false;
    this.log(`* Stopped at ${this.currentLine}, stop reason = ${reason}`);
    this.logSourceLine(this.currentLine);
    this.sendLogs();
    if (!this.repl(L) && timeout) {
      // The client is gone and the script may loop forever: end it.
      this.engine.raise(L, 'timeout during Lua debugging with client closing connection');
    }
    run.startMonotonic = this.engine.server.clock.monotonic();
  }

  // ---- the debugger's command loop ---------------------------------------------------------------

  /** ldbRepl: serves debugger commands until one resumes the script. False if the client left. */
  private repl(L: number): boolean {
    for (;;) {
      let argv: string[] | null;
      for (;;) {
        const parsed = this.parseCommand();
        if (parsed === 'error') return this.engine.raise(L, 'protocol error');
        if (parsed !== null) {
          argv = parsed;
          break;
        }
        const data = this.readClient();
        if (data === null) {
          // The client went away: the script runs on without user input.
          this.step = false;
          this.breakpoints.length = 0;
          return false;
        }
        this.cbuf += data;
        if (this.cbuf.length > MAX_CLIENT_BUFFER) {
          this.cbuf = '';
          return this.engine.raise(L, 'max client buffer reached');
        }
      }
      this.cbuf = '';
      const cmd = argv[0]!;
      const argc = argv.length;
      if (commandIs(cmd, 'h', 'help')) {
        for (const l of HELP) this.log(l);
        this.sendLogs();
      } else if (commandIs(cmd, 's', 'step', 'n', 'next')) {
        this.step = true;
        return true;
      } else if (commandIs(cmd, 'c', 'continue')) {
        return true;
      } else if (commandIs(cmd, 't', 'trace')) {
        this.trace(L);
        this.sendLogs();
      } else if (commandIs(cmd, 'm', 'maxlen')) {
        this.maxlenCommand(argv);
        this.sendLogs();
      } else if (commandIs(cmd, 'b', 'break')) {
        this.breakCommand(argv);
        this.sendLogs();
      } else if (commandIs(cmd, 'e', 'eval')) {
        this.evalCommand(L, argv);
        this.sendLogs();
      } else if (commandIs(cmd, 'a', 'abort')) {
        return this.engine.raise(L, 'script aborted for user request');
      } else if (argc > 1 && commandIs(cmd, 'r', 'redis')) {
        this.redisCommand(L, argv);
        this.sendLogs();
      } else if (commandIs(cmd, 'p', 'print')) {
        if (argc === 2) this.print(L, argv[1]!);
        else this.printAll(L);
        this.sendLogs();
      } else if (commandIs(cmd, 'l', 'list')) {
        let around = this.currentLine;
        let ctx = 5;
        if (argc > 1) {
          const num = atoi(argv[1]!);
          if (num > 0) around = num;
        }
        if (argc > 2) ctx = atoi(argv[2]!);
        this.list(around, ctx);
        this.sendLogs();
      } else if (commandIs(cmd, 'w', 'whole')) {
        this.list(1, 1000000);
        this.sendLogs();
      } else {
        this.log('<error> Unknown Redis Lua debugger command or wrong number of arguments.');
        this.sendLogs();
      }
    }
  }

  /**
   * ldbReplParseCommand, as forgiving as Redis's: the arguments of a multibulk, null when more
   * input is needed, 'error' on a protocol error (counts and lengths must be 1..1024).
   */
  private parseCommand(): string[] | null | 'error' {
    const buf = this.cbuf;
    if (buf.length === 0) return null;
    let p = buf.indexOf('*');
    if (p < 0) return 'error';
    let crlf = buf.indexOf('\r\n', p);
    if (crlf < 0) return null;
    const count = atoi(buf.slice(p + 1, crlf));
    if (count <= 0 || count > 1024) return 'error';
    p = crlf + 2;
    const argv: string[] = [];
    while (argv.length < count) {
      if (p >= buf.length) return null;
      if (buf[p] !== '$') return 'error';
      crlf = buf.indexOf('\r\n', p);
      if (crlf < 0) return null;
      const len = atoi(buf.slice(p + 1, crlf));
      if (len <= 0 || len > 1024) return 'error';
      p = crlf + 2;
      if (p + len + 2 > buf.length) return null;
      argv.push(buf.slice(p, p + len));
      p += len;
      if (buf[p] !== '\r' || buf[p + 1] !== '\n') return 'error';
      p += 2;
    }
    return argv;
  }

  /** Blocks until the debugging client sends something; null when it closed the connection. */
  private readClient(): string | null {
    const c = this.client;
    if (c === null || c.plainFd < 0) return null;
    const buf = Buffer.allocUnsafe(1024);
    for (;;) {
      try {
        const n = fs.readSync(c.plainFd, buf, 0, buf.length, null);
        if (n <= 0) return null;
        return buf.latin1Slice(0, n);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return null;
      }
      sleepMs(5);
    }
  }

  // ---- commands --------------------------------------------------------------------------------

  private logSourceLine(line: number): void {
    const text = line >= 1 && line <= this.src.length ? this.src[line - 1]! : '<out of range source code line>';
    const bp = this.breakpoints.includes(line);
    const current = this.currentLine === line;
    const prefix = current && bp ? '->#' : current ? '-> ' : bp ? '  #' : '   ';
    this.log(`${prefix}${String(line).padEnd(3)} ${text}`);
  }

  private list(around: number, context: number): void {
    for (let j = 1; j <= this.src.length; j++) {
      if (around !== 0 && Math.abs(around - j) > context) continue;
      this.logSourceLine(j);
    }
  }

  private breakCommand(argv: string[]): void {
    if (argv.length === 1) {
      if (this.breakpoints.length === 0) {
        this.log("No breakpoints set. Use 'b <line>' to add one.");
        return;
      }
      this.log(`${this.breakpoints.length} breakpoints set:`);
      for (const line of this.breakpoints) this.logSourceLine(line);
      return;
    }
    for (const arg of argv.slice(1)) {
      const line = string2l(arg);
      if (line === null) {
        this.log(`Invalid argument:'${arg}'`);
      } else if (line === 0) {
        this.breakpoints.length = 0;
        this.log('All breakpoints removed.');
      } else if (line > 0) {
        if (this.breakpoints.length === LDB_BREAKPOINTS_MAX) {
          this.log('Too many breakpoints set.');
        } else if (line <= this.src.length && !this.breakpoints.includes(line)) {
          this.breakpoints.push(line);
          this.list(line, 1);
        } else {
          this.log('Wrong line number.');
        }
      } else {
        const i = this.breakpoints.indexOf(-line);
        if (i >= 0) {
          this.breakpoints.splice(i, 1);
          this.log('Breakpoint removed.');
        } else {
          this.log('No breakpoint in the specified line.');
        }
      }
    }
  }

  private maxlenCommand(argv: string[]): void {
    if (argv.length === 2) {
      let v = atoi(argv[1]!);
      this.maxlenHintSent = true;
      if (v !== 0 && v <= 60) v = 60;
      this.maxlen = v;
    }
    this.log(this.maxlen > 0 ? `<value> replies are truncated at ${this.maxlen} bytes.` : '<value> replies are unlimited.');
  }

  /** ldbEval: runs a fragment (as an expression first) in its own call frame. */
  private evalCommand(L: number, argv: string[]): void {
    const e = this.engine;
    const vm = e.vm;
    const x = vm.x;
    const code = argv.slice(1).join(' ');
    if (!vm.load(L, `return ${code}`, '@ldb_eval')) {
      x.lua_settop(L, -2);
      if (!vm.load(L, code, '@ldb_eval')) {
        this.log(`<error> ${vm.toString(L, -1) ?? ''}`);
        x.lua_settop(L, -2);
        return;
      }
    }
    e.setProtectedEnv(-1);
    if (x.lua_pcall(L, 0, 1, 0) !== 0) {
      this.log(`<error> ${this.errorText(L)}`);
      x.lua_settop(L, -2);
      return;
    }
    this.logTrimmed(`<retval> ${this.valueRepr(L, -1, 0)}`);
    x.lua_settop(L, -2);
  }

  /** ldbRedis: redis.call with the arguments, in step mode so the call and reply are logged. */
  private redisCommand(L: number, argv: string[]): void {
    const vm = this.engine.vm;
    const x = vm.x;
    if (x.lua_checkstack(L, argv.length + 1) === 0) {
      this.logRedisReply('max lua stack reached');
      return;
    }
    vm.getField(L, LUA_GLOBALSINDEX, 'redis');
    vm.getField(L, -1, 'call');
    for (let j = 1; j < argv.length; j++) vm.pushString(L, argv[j]!);
    this.step = true;
    x.lua_pcall(L, argv.length - 1, 1, 0);
    this.step = false;
    x.lua_settop(L, -3);
  }

  /** ldbPrint: the first local with that name from the current frame outwards, or KEYS/ARGV. */
  private print(L: number, name: string): void {
    const vm = this.engine.vm;
    const x = vm.x;
    const ar = this.arPtr;
    for (let level = 0; x.lua_getstack(L, level, ar) !== 0; level++) {
      for (let i = 1; ; i++) {
        const p = x.lua_getlocal(L, ar, i);
        if (p === 0) break;
        if (vm.cString(p) === name) {
          this.logTrimmed(`<value> ${this.valueRepr(L, -1, 0)}`);
          x.lua_settop(L, -2);
          return;
        }
        x.lua_settop(L, -2);
      }
    }
    if (name === 'ARGV' || name === 'KEYS') {
      vm.getField(L, LUA_GLOBALSINDEX, name);
      this.logTrimmed(`<value> ${this.valueRepr(L, -1, 0)}`);
      x.lua_settop(L, -2);
    } else {
      this.log('No such variable.');
    }
  }

  /** ldbPrintAll: the locals of the current frame. */
  private printAll(L: number): void {
    const vm = this.engine.vm;
    const x = vm.x;
    const ar = this.arPtr;
    let vars = 0;
    if (x.lua_getstack(L, 0, ar) !== 0) {
      for (let i = 1; ; i++) {
        const p = x.lua_getlocal(L, ar, i);
        if (p === 0) break;
        const name = vm.cString(p);
        if (!name.includes('(*temporary)')) {
          this.logTrimmed(`<value> ${name} = ${this.valueRepr(L, -1, 0)}`);
          vars++;
        }
        x.lua_settop(L, -2);
      }
    }
    if (vars === 0) this.log('No local variables in the current context.');
  }

  /** ldbTrace: the call frames that belong to the script. */
  private trace(L: number): void {
    const vm = this.engine.vm;
    const x = vm.x;
    const ar = this.arPtr;
    let level = 0;
    for (; x.lua_getstack(L, level, ar) !== 0; level++) {
      x.lua_getinfo(L, vm.cstr('Snl'), ar);
      if (vm.cString(ar + AR_SHORT_SRC).includes('user_script')) {
        const namePtr = vm.heapView().readUInt32LE(ar + AR_NAME);
        this.log(`${level === 0 ? 'In' : 'From'} ${namePtr !== 0 ? vm.cString(namePtr) : 'top level'}:`);
        this.logSourceLine(vm.heapView().readInt32LE(ar + AR_CURRENTLINE));
      }
    }
    if (level === 0) this.log("<error> Can't retrieve Lua stack.");
  }

  /** An error value as text (Redis's error tables show their `err` field). */
  private errorText(L: number): string {
    const vm = this.engine.vm;
    if (vm.x.lua_type(L, -1) === LUA_TTABLE) {
      vm.getField(L, -1, 'err');
      const s = vm.toString(L, -1) ?? '';
      vm.x.lua_settop(L, -2);
      return s;
    }
    return vm.toString(L, -1) ?? '';
  }

  /** ldbCatStackValueRec: a Lua value as the debugger prints it. */
  private valueRepr(L: number, idx: number, level: number): string {
    const vm = this.engine.vm;
    const x = vm.x;
    if (level++ === LDB_MAX_VALUES_DEPTH) return '<max recursion level reached! Nested table?>';
    const t = x.lua_type(L, idx);
    switch (t) {
      case LUA_TSTRING: {
        // Copy first: lua_tolstring on a number key would convert it in place.
        x.lua_pushvalue(L, idx);
        const s = vm.toString(L, -1) ?? '';
        x.lua_settop(L, -2);
        return repr(s);
      }
      case LUA_TBOOLEAN:
        return x.lua_toboolean(L, idx) ? 'true' : 'false';
      case LUA_TNUMBER:
        return formatG(x.lua_tonumber(L, idx), 6);
      case LUA_TNIL:
        return 'nil';
      case LUA_TTABLE: {
        let expected = 1;
        let isArray = true;
        const asArray: string[] = [];
        const asMap: string[] = [];
        const table = idx < 0 ? idx - 1 : idx;
        x.lua_pushnil(L);
        while (x.lua_next(L, table) !== 0) {
          if (isArray && (x.lua_type(L, -2) !== LUA_TNUMBER || x.lua_tonumber(L, -2) !== expected)) isArray = false;
          const value = this.valueRepr(L, -1, level);
          asArray.push(value);
          asMap.push(`[${this.valueRepr(L, -2, level)}]=${value}`);
          x.lua_settop(L, -2);
          expected++;
        }
        return `{${(isArray ? asArray : asMap).join('; ')}}`;
      }
      default: {
        const name = t === LUA_TFUNCTION ? 'function' : t === 7 ? 'userdata' : t === 8 ? 'thread' : t === 2 ? 'light-userdata' : 'unknown';
        return `"${name}@0x${x.lua_topointer(L, idx).toString(16)}"`;
      }
    }
  }
}

/** Writes everything, waiting while the socket is full (up to Redis's send timeout). */
function writeAll(fd: number, data: Buffer): void {
  if (fd < 0) return;
  let off = 0;
  let waited = 0;
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off, data.length - off);
    } catch (e) {
      // The next read notices a broken connection and ends the session.
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || waited >= SEND_TIMEOUT_MS) return;
      sleepMs(5);
      waited += 5;
    }
  }
}
