/**
 * Wires scripting into the rest of the server: function libraries travel in RDB files (and
 * DEBUG RELOAD empties them with the data, as Redis's emptyData does), and INFO memory reports
 * the Lua VM and the script caches. The Lua VM itself is still created on first use.
 */
import type { Server } from '../server/server.js';
import { setRdbFunctions } from '../persistence/rdb.js';
import { setInfoField, bytesToHuman } from '../server/info-fields.js';
import type { InvocationFlags } from '../server/admission.js';
import type { CommandSpec } from '../server/command-table.js';
import { scriptingFor, scriptingIfCreated, parseShebang, ScriptFlag } from './engine.js';
import { functionsOf } from './functions.js';

/** dictEntry + robj + sds headers per cached script / library (an estimate, as Redis's is). */
const ENTRY_OVERHEAD = 96;

export function install(server: Server): void {
  server.hooks.invocationFlags = { commands: SCRIPT_COMMANDS, flags: (spec, argv) => scriptInvocationFlags(server, spec, argv) };
  setRdbFunctions(server, {
    libraries: () => {
      const e = scriptingIfCreated(server);
      return e === undefined ? [] : [...functionsOf(e).libraries.values()].map((l) => l.code);
    },
    load: (code, replace) => {
      const r = functionsOf(scriptingFor(server)).load(code, replace);
      return 'error' in r ? r.error : null;
    },
    flush: () => {
      const e = scriptingIfCreated(server);
      if (e !== undefined) functionsOf(e).flush();
    },
  });
  const lua = (): number => scriptingFor(server).memoryUsed();
  // As in Redis, the Lua VM's memory is not part of used_memory (nor counted against maxmemory).
  server.hooks.vmMemory = (): number => scriptingIfCreated(server)?.vmReservedBytes() ?? 0;
  const evalScripts = (): number => {
    let n = 0;
    for (const s of scriptingFor(server).scripts.values()) n += s.body.length + ENTRY_OVERHEAD;
    return n;
  };
  const functionsMem = (): number => {
    let n = 0;
    for (const l of functionsOf(scriptingFor(server)).libraries.values()) n += l.code.length + ENTRY_OVERHEAD * (1 + l.functions.size);
    return n;
  };
  // One Lua VM serves EVAL and functions here (Redis has two): it is reported as the eval VM.
  setInfoField(server, 'used_memory_lua', lua);
  setInfoField(server, 'used_memory_vm_eval', lua);
  setInfoField(server, 'used_memory_lua_human', () => bytesToHuman(lua()));
  setInfoField(server, 'used_memory_vm_total', lua);
  setInfoField(server, 'used_memory_vm_total_human', () => bytesToHuman(lua()));
  setInfoField(server, 'used_memory_scripts_eval', evalScripts);
  setInfoField(server, 'number_of_cached_scripts', () => scriptingFor(server).scripts.size);
  setInfoField(server, 'number_of_functions', () => functionsOf(scriptingFor(server)).functions.size);
  setInfoField(server, 'number_of_libraries', () => functionsOf(scriptingFor(server)).libraries.size);
  setInfoField(server, 'used_memory_functions', functionsMem);
  setInfoField(server, 'used_memory_scripts', () => evalScripts() + functionsMem());
  setInfoField(server, 'used_memory_scripts_human', () => bytesToHuman(evalScripts() + functionsMem()));
}

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']);

/** The flags a script declared (shebang or register_function), or null for none (EVAL compat). */
function declaredFlags(server: Server, argv: readonly string[], name: string): number | null {
  let flags: number | undefined;
  if (name === 'eval' || name === 'eval_ro') {
    const sh = parseShebang(argv[1]!);
    flags = 'error' in sh ? undefined : sh.flags;
  } else {
    const e = scriptingIfCreated(server);
    if (e === undefined) return null;
    if (name === 'fcall' || name === 'fcall_ro') flags = functionsOf(e).functions.get(argv[1]!.toLowerCase())?.flags;
    else flags = e.findScript(argv[1]!)?.flags;
  }
  if (flags === undefined || flags & ScriptFlag.EvalCompat) return null;
  return flags;
}

/**
 * The flags a script invocation is admitted by (getCommandFlags → scriptFlagsToCmdFlags): a
 * script that declared flags writes unless no-writes, is deny-oom unless allow-oom or
 * no-writes, runs on a stale replica only with allow-stale, and is no longer "may replicate"
 * (its flags say whether it writes). Scripts without declared flags keep EVAL's own flags
 * (null), and are checked call by call as they run.
 */
function scriptInvocationFlags(server: Server, spec: CommandSpec, argv: readonly string[]): InvocationFlags | null {
  const name = spec.fullName;
  if (!SCRIPT_COMMANDS.has(name) || argv.length < 3) return null;
  const flags = declaredFlags(server, argv, name);
  if (flags === null) return null;
  return {
    write: (flags & ScriptFlag.NoWrites) === 0,
    denyOom: (flags & (ScriptFlag.AllowOom | ScriptFlag.NoWrites)) === 0,
    staleOk: (flags & ScriptFlag.AllowStale) !== 0,
    mayReplicate: false,
  };
}
