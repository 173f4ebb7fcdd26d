/**
 * Scripting commands: EVAL/EVALSHA(_RO), SCRIPT LOAD/EXISTS/FLUSH/KILL, FUNCTION
 * LOAD/LIST/DELETE/FLUSH/STATS/KILL and FCALL(_RO). The engine (Lua VM, script cache, run
 * context, busy handling) lives in src/scripting/; this file parses arguments and applies
 * Redis's pre-run checks (scriptPrepareForRun) before handing over.
 */
import type { Client } from '../server/client.js';
import type { CommandHandlers } from '../server/command-table.js';
import { parseInteger } from '../protocol/args.js';
import { replyHelp } from './help.js';
import { stringMatch } from '../keyspace/glob.js';
import { ScriptFlag, scriptingFor, sha1hex, SCRIPT_FLAG_NAMES, type CachedScript, type RunContext, type ScriptingEngine } from '../scripting/engine.js';
import { PropagateTo } from '../server/propagate.js';
import { functionsOf, dumpFunctions, restoreFunctions, LOAD_TIMEOUT_MS } from '../scripting/functions.js';

/** numkeys validation shared by EVAL and FCALL; returns the count or null (reply written). */
function parseNumKeys(c: Client, arg: string, badCount: string, badInteger: string): number | null {
  // A number, not a bigint: exact up to 2^53, and any count that large is refused anyway.
  const n = parseInteger(arg);
  if (n === null) {
    c.reply.error(badInteger);
    return null;
  }
  if (n > c.argv.length - 3) {
    c.reply.error(badCount);
    return null;
  }
  if (n < 0) {
    c.reply.error("ERR Number of keys can't be negative");
    return null;
  }
  return n;
}

/** scriptPrepareForRun's checks; returns false after replying with the error. */
function prepareForRun(c: Client, flags: number, ro: boolean): boolean {
  const server = c.server;
  if (flags & ScriptFlag.EvalCompat) {
    if (server.role.refuseStale()) {
      c.reply.error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
      return false;
    }
    return true;
  }
  if (flags & ScriptFlag.NoCluster && server.cluster !== null) {
    c.reply.error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
    return false;
  }
  if (server.role.refuseStale() && !(flags & ScriptFlag.AllowStale)) {
    c.reply.error("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.");
    return false;
  }
  if (!(flags & ScriptFlag.NoWrites)) {
    if (server.role.isReplica() && server.settings.replicaReadOnly && !c.isMaster) {
      c.reply.error('READONLY Can not run script with write flag on readonly replica');
      return false;
    }
    if (ro) {
      c.reply.error('ERR Can not execute a script with write flag using *_ro command.');
      return false;
    }
    if (!server.role.isReplica() && server.role.notEnoughReplicas()) {
      c.reply.error('NOREPLICAS Not enough good replicas to write.');
      return false;
    }
  }
  if (
    !(flags & (ScriptFlag.AllowOom | ScriptFlag.NoWrites)) && server.settings.maxmemory > 0 &&
    !server.hooks.freeMemory()
  ) {
    c.reply.error("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'");
    return false;
  }
  return true;
}

/**
 * When the script starts, for busy-script detection (scriptPrepareForRun's start_time): the
 * time its command's execution started, read by the executor just before the handler, so
 * the clock is not read twice in a row.
 */
function scriptStart(c: Client): number {
  const inv = c.invocation;
  return inv.spec === c.cmd && inv.argv === c.argv && inv.start > 0 ? inv.start : c.server.clock.monotonic();
}

function newRun(c: Client, e: ScriptingEngine, name: string, evalMode: boolean, flags: number, ro: boolean): RunContext {
  const readOnly = ro || (flags & ScriptFlag.NoWrites) !== 0;
  const run = e.idleRun;
  if (run === null) {
    return { caller: c, name, evalMode, readOnly, flags, writeDirty: false, killed: false, timedOut: false, startMonotonic: scriptStart(c), resp: 2, repl: PropagateTo.All, argv: c.argv };
  }
  // The previous script's record, refilled field by field (ScriptingEngine.idleRun).
  e.idleRun = null;
  run.caller = c;
  run.name = name;
  run.evalMode = evalMode;
  run.readOnly = readOnly;
  run.flags = flags;
  run.writeDirty = false;
  run.killed = false;
  run.timedOut = false;
  run.startMonotonic = scriptStart(c);
  run.resp = 2;
  run.repl = PropagateTo.All;
  run.argv = c.argv;
  return run;
}

/** EVAL / EVALSHA, through a debugging session for a client that asked for one. */
function evalCommand(c: Client, isSha: boolean, ro: boolean): void {
  const e = scriptingFor(c.server);
  const mode = e.ldb.modeOf(c);
  if (mode === undefined) {
    evalGeneric(c, e, isSha, ro);
    return;
  }
  if (isSha) {
    c.reply.error('ERR Please use EVAL instead of EVALSHA for debugging');
    return;
  }
  if (mode === 'yes') {
    // A forked session runs on a copy of the dataset; without fork() it cannot (ldb.ts).
    e.ldb.disable(c);
    c.reply.error("ERR Fork() failed: can't run EVAL in debugging mode: forked debugging sessions are not supported, use SCRIPT DEBUG SYNC");
    return;
  }
  e.ldb.startSession(c, c.argv[1]!);
  try {
    evalGeneric(c, e, false, ro);
  } finally {
    e.ldb.endSession(c);
  }
}

function evalGeneric(c: Client, e: ScriptingEngine, isSha: boolean, ro: boolean): void {
  // EVAL/EVALSHA/FCALL are SKIP_MONITOR for call(): they show themselves before the commands
  // their script runs (evalCommand, fcallCommandGeneric).
  if (c.server.monitors.size > 0) c.server.feedMonitors(c, c.argv);
  const numkeys = parseNumKeys(c, c.argv[2]!, "ERR Number of keys can't be greater than number of args", 'ERR value is not an integer or out of range');
  if (numkeys === null) return;
  let sha: string;
  let script: CachedScript | undefined;
  if (isSha) {
    script = e.findScript(c.argv[1]!);
    if (script === undefined) {
      c.reply.error('NOSCRIPT No matching script. Please use EVAL.');
      return;
    }
    sha = script.sha;
  } else {
    const created = e.createFunction(c.argv[1]!);
    if ('error' in created) {
      c.reply.error(created.error);
      return;
    }
    sha = created.sha;
    script = e.scripts.get(sha)!;
  }
  if (!prepareForRun(c, script.flags, ro)) return;
  e.callFunction(newRun(c, e, sha, true, script.flags, ro), c.argv, numkeys, script);
}

function scriptLoad(c: Client): void {
  const e = scriptingFor(c.server);
  const r = e.createFunction(c.argv[2]!);
  if ('error' in r) c.reply.error(r.error);
  else c.reply.bulk(r.sha);
}

function scriptExists(c: Client): void {
  const e = scriptingFor(c.server);
  c.reply.array(c.argv.length - 2);
  for (let i = 2; i < c.argv.length; i++) {
    if (e.scripts.has(c.argv[i]!.toLowerCase())) c.reply.one();
    else c.reply.zero();
  }
}

function scriptFlush(c: Client): void {
  if (c.argv.length > 3 || (c.argv.length === 3 && !/^(sync|async)$/i.test(c.argv[2]!))) {
    c.reply.error('ERR SCRIPT FLUSH only support SYNC|ASYNC option');
    return;
  }
  const e = scriptingFor(c.server);
  e.flushScripts();
  c.reply.ok();
}

/** SCRIPT DEBUG YES|SYNC|NO. */
function scriptDebug(c: Client): void {
  // Replies of the same pipeline are still in c.reply. A plain socket's unflushed bytes count
  // too (SYNC writes to its descriptor); a TLS socket's are its own layer's, not pending replies.
  if (c.reply.len > 0 || (c.plainFd >= 0 && c.socketQueued > 0)) {
    c.reply.error('ERR SCRIPT DEBUG must be called outside a pipeline');
    return;
  }
  const ldb = scriptingFor(c.server).ldb;
  const mode = c.argv[2]!.toLowerCase();
  if (mode === 'no') ldb.disable(c);
  else if (mode === 'sync' && c.plainFd < 0) {
    // The debugger talks to the client's descriptor directly while the script holds the event
    // loop (ldb.ts); a TLS connection has no plain descriptor to talk through.
    c.reply.error('ERR SCRIPT DEBUG SYNC needs a plain TCP or unix socket connection (not available over TLS in nodis)');
    return;
  } else if (mode === 'yes' || mode === 'sync') ldb.enable(c, mode);
  else {
    c.reply.error('ERR Use SCRIPT DEBUG YES/SYNC/NO');
    return;
  }
  c.reply.ok();
}

function scriptKill(c: Client): void {
  scriptingFor(c.server).kill(c, true);
}

function scriptHelp(c: Client): void {
  replyHelp(c, [
    'DEBUG (YES|SYNC|NO)',
    '    Set the debug mode for subsequent scripts executed.',
    'EXISTS <sha1> [<sha1> ...]',
    '    Return information about the existence of the scripts in the script cache.',
    'FLUSH [ASYNC|SYNC]',
    '    Flush the Lua scripts cache. Very dangerous on replicas.',
    '    When called without the optional mode argument, the behavior is determined by the',
    '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
    '    * ASYNC: Asynchronously flush the scripts cache.',
    '    * SYNC: Synchronously flush the scripts cache.',
    'KILL',
    '    Kill the currently executing Lua script.',
    'LOAD <script>',
    '    Load a script into the scripts cache without executing it.',
  ]);
}

function functionHelp(c: Client): void {
  replyHelp(c, [
    'LOAD [REPLACE] <FUNCTION CODE>',
    '    Create a new library with the given library name and code.',
    'DELETE <LIBRARY NAME>',
    '    Delete the given library.',
    'LIST [LIBRARYNAME PATTERN] [WITHCODE]',
    '    Return general information on all the libraries:',
    '    * Library name',
    '    * The engine used to run the Library',
    '    * Library description',
    '    * Functions list',
    '    * Library code (if WITHCODE is given)',
    '    It also possible to get only function that matches a pattern using LIBRARYNAME argument.',
    'STATS',
    '    Return information about the current function running:',
    '    * Function name',
    '    * Command used to run the function',
    '    * Duration in MS that the function is running',
    '    If no function is running, return nil',
    '    In addition, returns a list of available engines.',
    'KILL',
    '    Kill the current running function.',
    'FLUSH [ASYNC|SYNC]',
    '    Delete all the libraries.',
    '    When called without the optional mode argument, the behavior is determined by the',
    '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
    '    * ASYNC: Asynchronously flush the libraries.',
    '    * SYNC: Synchronously flush the libraries.',
    'DUMP',
    '    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command',
    'RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]',
    '    Restore the libraries represented by the given payload, it is possible to give a restore policy to',
    '    control how to handle existing libraries (default APPEND):',
    '    * FLUSH: delete all existing libraries.',
    '    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.',
    '    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old',
    '      libraries with the new libraries (notice that even on this option there is a chance of failure',
    '      in case of functions name collision with another library).',
  ]);
}

// ---- functions ----------------------------------------------------------------------------------

function functionLoad(c: Client): void {
  let replace = false;
  let i = 2;
  for (; i < c.argv.length - 1; i++) {
    if (c.argv[i]!.toLowerCase() === 'replace') replace = true;
    else {
      c.reply.error(`ERR Unknown option given: ${c.argv[i]}`);
      return;
    }
  }
  if (i >= c.argv.length) {
    c.reply.error('ERR Function code is missing');
    return;
  }
  const e = scriptingFor(c.server);
  const r = functionsOf(e).load(c.argv[i]!, replace, LOAD_TIMEOUT_MS);
  if ('error' in r) {
    c.reply.error(`ERR ${r.error}`);
    return;
  }
  c.server.datasetChanged(1);
  c.reply.bulk(r.name);
}

function functionList(c: Client): void {
  let withCode = false;
  let pattern: string | null = null;
  for (let i = 2; i < c.argv.length; i++) {
    const a = c.argv[i]!.toLowerCase();
    if (a === 'withcode' && !withCode) withCode = true;
    else if (a === 'libraryname' && pattern === null) {
      if (i + 1 >= c.argv.length) {
        c.reply.error('ERR library name argument was not given');
        return;
      }
      pattern = c.argv[++i]!;
    } else {
      c.reply.error(`ERR Unknown argument ${c.argv[i]}`);
      return;
    }
  }
  const reg = functionsOf(scriptingFor(c.server));
  const libs = [...reg.libraries.values()].filter((l) => pattern === null || stringMatch(pattern, l.name));
  c.reply.array(libs.length);
  for (const lib of libs) {
    c.reply.map(withCode ? 4 : 3);
    c.reply.bulk('library_name');
    c.reply.bulk(lib.name);
    c.reply.bulk('engine');
    c.reply.bulk(lib.engine);
    c.reply.bulk('functions');
    c.reply.array(lib.functions.size);
    for (const f of lib.functions.values()) {
      c.reply.map(3);
      c.reply.bulk('name');
      c.reply.bulk(f.name);
      c.reply.bulk('description');
      if (f.description === null) c.reply.nullBulk();
      else c.reply.bulk(f.description);
      c.reply.bulk('flags');
      const names = SCRIPT_FLAG_NAMES.filter(([, v]) => f.flags & v).map(([n]) => n);
      c.reply.set(names.length);
      for (const n of names) c.reply.bulk(n);
    }
    if (withCode) {
      c.reply.bulk('library_code');
      c.reply.bulk(lib.code);
    }
  }
}

function functionDelete(c: Client): void {
  const reg = functionsOf(scriptingFor(c.server));
  const lib = reg.libraries.get(c.argv[2]!.toLowerCase());
  if (lib === undefined) {
    c.reply.error('ERR Library not found');
    return;
  }
  reg.remove(lib);
  c.server.datasetChanged(1);
  c.reply.ok();
}

function functionFlush(c: Client): void {
  if (c.argv.length > 3) {
    c.reply.error(`ERR unknown subcommand or wrong number of arguments for '${c.argv[1]}'. Try FUNCTION HELP.`);
    return;
  }
  if (c.argv.length === 3 && !/^(sync|async)$/i.test(c.argv[2]!)) {
    c.reply.error('ERR FUNCTION FLUSH only supports SYNC|ASYNC option');
    return;
  }
  functionsOf(scriptingFor(c.server)).flush();
  c.server.datasetChanged(1);
  c.reply.ok();
}

function functionDump(c: Client): void {
  c.reply.bulk(dumpFunctions(functionsOf(scriptingFor(c.server))));
}

/** FUNCTION RESTORE <payload> [FLUSH|APPEND|REPLACE]. */
function functionRestore(c: Client): void {
  if (c.argv.length > 4) {
    c.reply.error(`ERR unknown subcommand or wrong number of arguments for '${c.argv[1]}'. Try FUNCTION HELP.`);
    return;
  }
  let policy: 'append' | 'replace' | 'flush' = 'append';
  if (c.argv.length === 4) {
    const p = c.argv[3]!.toLowerCase();
    if (p !== 'append' && p !== 'replace' && p !== 'flush') {
      c.reply.error('ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.');
      return;
    }
    policy = p;
  }
  const err = restoreFunctions(functionsOf(scriptingFor(c.server)), Buffer.from(c.argv[2]!, 'latin1'), policy);
  if (err !== null) {
    c.reply.error(err);
    return;
  }
  c.server.datasetChanged(1);
  c.reply.ok();
}

function functionKill(c: Client): void {
  scriptingFor(c.server).kill(c, false);
}

function functionStats(c: Client): void {
  const e = scriptingFor(c.server);
  const reg = functionsOf(e);
  c.reply.map(2);
  c.reply.bulk('running_script');
  const run = e.run;
  if (run === null || run.evalMode) {
    c.reply.nullBulk();
  } else {
    c.reply.map(3);
    c.reply.bulk('name');
    c.reply.bulk(run.name);
    c.reply.bulk('command');
    c.reply.array(run.argv.length);
    for (const a of run.argv) c.reply.bulk(a);
    c.reply.bulk('duration_ms');
    c.reply.integer(Math.floor(c.server.clock.monotonic() - run.startMonotonic));
  }
  c.reply.bulk('engines');
  c.reply.map(1);
  c.reply.bulk('LUA');
  c.reply.map(2);
  c.reply.bulk('libraries_count');
  c.reply.integer(reg.libraries.size);
  c.reply.bulk('functions_count');
  c.reply.integer(reg.functions.size);
}

function fcallGeneric(c: Client, ro: boolean): void {
  if (c.server.monitors.size > 0) c.server.feedMonitors(c, c.argv);
  const e = scriptingFor(c.server);
  const reg = functionsOf(e);
  const f = reg.functions.get(c.argv[1]!.toLowerCase());
  if (f === undefined) {
    c.reply.error('ERR Function not found');
    return;
  }
  const numkeys = parseNumKeys(c, c.argv[2]!, "ERR Number of keys can't be greater than number of args", 'ERR Bad number of keys provided');
  if (numkeys === null) return;
  if (!prepareForRun(c, f.flags, ro)) return;
  reg.pushFunction(f);
  e.callFunction(newRun(c, e, f.name, false, f.flags, ro), c.argv, numkeys, null);
}

export const commands: CommandHandlers = {
  eval: (c) => evalCommand(c, false, false),
  evalsha: (c) => evalCommand(c, true, false),
  eval_ro: (c) => evalCommand(c, false, true),
  evalsha_ro: (c) => evalCommand(c, true, true),
  'script|load': scriptLoad,
  'script|exists': scriptExists,
  'script|flush': scriptFlush,
  'script|kill': scriptKill,
  'script|debug': scriptDebug,
  'script|help': scriptHelp,
  'function|help': functionHelp,
  'function|load': functionLoad,
  'function|list': functionList,
  'function|delete': functionDelete,
  'function|flush': functionFlush,
  'function|kill': functionKill,
  'function|dump': functionDump,
  'function|restore': functionRestore,
  'function|stats': functionStats,
  fcall: (c) => fcallGeneric(c, false),
  fcall_ro: (c) => fcallGeneric(c, true),
};

export { sha1hex };
