/**
 * Wires scripting into the rest of the server: function libraries travel in RDB files (and
 * DEBUG RELOAD empties them with the data, as Redis's emptyData does), and INFO memory reports
 * the Lua VM and the script caches. The Lua VM itself is still created on first use.
 */
import type { Server } from '../server/server.js';
import { setRdbFunctions } from '../persistence/rdb.js';
import { setInfoField, bytesToHuman } from '../commands/info.js';
import type { Client } from '../server/client.js';
import type { CommandSpec } from '../commands/registry.js';
import { scriptingFor, scriptingIfCreated, parseShebang, ScriptFlag } from './engine.js';
import { functionsOf } from './functions.js';

/** dictEntry + robj + sds headers per cached script / library (an estimate, as Redis's is). */
const ENTRY_OVERHEAD = 96;

export function install(server: Server): void {
  server.hooks.precheck.push((c, spec) => scriptFlagsPrecheck(server, c, spec));
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
    else flags = (e.scripts.get(argv[1]!) ?? e.scripts.get(argv[1]!.toLowerCase()))?.flags;
  }
  if (flags === undefined || flags & ScriptFlag.EvalCompat) return null;
  return flags;
}

/**
 * processCommand's checks with the command flags a script declared (evalGetCommandFlags /
 * fcallGetCommandFlags → scriptFlagsToCmdFlags): a script without no-writes is a write
 * command, without allow-oom it is denyoom, and only allow-stale makes it run on a stale
 * replica. Scripts without declared flags keep EVAL's own flags (checked when they run).
 */
function scriptFlagsPrecheck(server: Server, c: Client, spec: CommandSpec): string | null {
  let write = false;
  let denyOom = false;
  let stale = true;
  const add = (name: string, argv: readonly string[]): void => {
    if (!SCRIPT_COMMANDS.has(name) || argv.length < 3) return;
    const flags = declaredFlags(server, argv, name);
    if (flags === null) return;
    write ||= (flags & ScriptFlag.NoWrites) === 0;
    denyOom ||= (flags & (ScriptFlag.AllowOom | ScriptFlag.NoWrites)) === 0;
    stale &&= (flags & ScriptFlag.AllowStale) !== 0;
  };
  // EXEC takes on the flags of what it queued, scripts' declared flags included (mstate.cmd_flags).
  if (spec.fullName === 'exec') {
    if (c.multi === null) return null;
    for (const q of c.multi) add(q.spec.fullName, q.argv);
  } else {
    add(spec.fullName, c.argv);
  }
  if (!write && !denyOom && stale) return null;
  if (denyOom && !c.isMaster && server.settings.maxmemory > 0 && server.usedMemory() > server.settings.maxmemory && !server.hooks.freeMemory()) {
    return "OOM command not allowed when used memory > 'maxmemory'.";
  }
  if (write && !c.isMaster && server.role.isReplica() && server.settings.replicaReadOnly) {
    return "READONLY You can't write against a read only replica.";
  }
  if (server.role.refuseStale() && !stale) {
    return "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
  }
  if (write && !c.isMaster && server.role.notEnoughReplicas()) return 'NOREPLICAS Not enough good replicas to write.';
  return null;
}
