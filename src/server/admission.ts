/**
 * Admission: whether a command may run now, written once for every caller that checks.
 *
 * Each check is written once below, with what differs between a client's command and a
 * script's redis.call (the condition and sometimes the error text). Each mode applies them
 * in Redis's own order, which is not the same for both: processCommand (server.c) and
 * scriptCall (script.c) check in different orders, and a command refused for two reasons
 * must get the same one of the two as from Redis.
 *
 *   client: protected, auth, no-multi, acl, cluster, oom, misconf, noreplicas, readonly,
 *           pubsub, masterdown, loading, busy, replica keyspace    (then CLIENT PAUSE and MULTI queueing,
 *                                                 which hold the command instead of refusing)
 *   script: noscript, masterdown, acl, read-only script, readonly, misconf, noreplicas, oom,
 *           cluster
 *
 * `cluster` (cluster-enabled only) routes by the keys' hash slot: MOVED, ASK, CROSSSLOT,
 * TRYAGAIN, CLUSTERDOWN (cluster/routing.ts); a script's calls must also stay in one slot.
 *
 * EXEC, serving a blocked client and loading the AOF admit nothing more (EXEC re-checks only
 * ACL, in transactions.ts; its own admission as a client command used the flags of what it
 * queued). The master link is a client whose commands must be obeyed (`isMaster`): the
 * checks that protect the dataset from clients skip it, as Redis's mustObeyClient.
 *
 * The flags that decide (write, deny-oom, stale-ok, may-replicate) are the invocation's, not
 * the command's: a script that declared flags (shebang, register_function) is judged by them
 * (getCommandFlags), and EXEC by the commands it queued (mstate.cmd_flags).
 */
import type { Client } from './client.js';
import type { Server } from './server.js';
import type { CommandSpec } from './command-table.js';
import { type RoutedCommand, Redirect, redirectionError, routeQuery, scriptRoutingError } from '../cluster/routing.js';

/** The flags of one invocation that admission decides on. */
export interface InvocationFlags {
  write: boolean;
  denyOom: boolean;
  staleOk: boolean;
  mayReplicate: boolean;
}

/** A script's redis.call: what admission needs to know of the running script. */
export interface ScriptCallContext {
  /** The client that called the script (its ACL user; the master's stream is obeyed). */
  caller: Client;
  /** A read-only script (EVAL_RO, FCALL_RO, no-writes): writes are refused. */
  readOnly: boolean;
  /** The script already wrote: later writes cannot be refused on server state. */
  writeDirty: boolean;
  /** The script declared allow-oom. */
  allowOom: boolean;
  /** DEBUG SET-DISABLE-DENY-SCRIPTS: noscript commands are allowed. */
  noscriptAllowed: boolean;
  /** The script declared allow-cross-slot-keys (cluster: its calls may use several slots). */
  allowCrossSlot: boolean;
}

/** One admission question: may `spec` with `argv` run for `client` now? */
export interface AdmissionRequest {
  client: Client;
  spec: CommandSpec;
  /**
   * The command's arguments; null for a client's own command, which are the client's `argv`
   * (processCommand reuses one request for every command and stores no young array in it).
   */
  argv: readonly string[] | null;
  flags: Readonly<InvocationFlags>;
  /** Set for a script's redis.call; null for a client's command. */
  script: ScriptCallContext | null;
}

type Check = (server: Server, r: AdmissionRequest) => string | null;

function argvOf(r: AdmissionRequest): readonly string[] {
  return r.argv ?? r.client.argv;
}

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
const READONLY = "READONLY You can't write against a read only replica.";
const NOREPLICAS = 'NOREPLICAS Not enough good replicas to write.';
const MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
const LOADING = 'LOADING Redis is loading the dataset in memory';

/**
 * Out of memory after trying to evict: performEvictions runs before any command and reads used
 * memory itself (one sum of it per command, as Redis's one zmalloc_used_memory()).
 */
function outOfMemory(server: Server): boolean {
  return !server.hooks.freeMemory();
}

/** The state checks guard the dataset from clients: a master's stream and a script's later writes pass. */
function obeyed(r: AdmissionRequest): boolean {
  return r.script !== null ? r.script.caller.isMaster : r.client.isMaster;
}

/**
 * Cluster routing (processCommand's getNodeByQuery; script.c scriptVerifyClusterState for a
 * redis.call). Sets the client's `slot`, which a script's calls must then stay in.
 */
function clusterCheck(server: Server, r: AdmissionRequest): string | null {
  const view = server.cluster;
  if (view === null || obeyed(r)) return null;
  const spec = r.spec;
  const script = r.script;
  const client = script !== null ? script.caller : r.client;
  let commands: RoutedCommand[];
  if (script === null) {
    client.slot = -1;
    // Commands with no keys are never redirected (EXEC is judged by what it queued).
    if (!spec.movableKeys && spec.keySpecs.length === 0 && spec.fullName !== 'exec') return null;
    if (spec.fullName === 'exec') {
      if (client.multi === null) return null;
      commands = client.multi.map((q) => ({ argv: q.argv, keys: q.spec.getKeys(q.argv) }));
    } else {
      const argv = argvOf(r);
      commands = [{ argv, keys: spec.getKeys(argv) }];
    }
  } else {
    const argv = argvOf(r);
    commands = [{ argv, keys: spec.getKeys(argv) }];
  }
  const n = spec.fullName;
  const db = server.dbs[0]!;
  const route = routeQuery(view, {
    commands,
    shardPubsub: n === 'ssubscribe' || n === 'sunsubscribe' || n === 'spublish',
    migrate: n === 'migrate',
    write: r.flags.write,
    asking: client.clusterAsking || spec.flags.has('asking'),
    readOnlyClient: client.clusterReadOnly,
    allowReadsWhenDown: server.config.getBool('cluster-allow-reads-when-down'),
    allowPubsubshardWhenDown: server.config.getBool('cluster-allow-pubsubshard-when-down'),
    keyExists: (key) => {
      if (db.peek(key) === undefined) return false;
      const when = db.getExpire(key);
      return when === -1 || when > server.expiryNow();
    },
  });
  if (script === null) {
    client.slot = route.slot;
    return route.redirect === Redirect.None ? null : redirectionError(view, route, client.plaintextInTlsCluster);
  }
  if (route.redirect !== Redirect.None) return scriptRoutingError(route);
  if (route.slot !== -1 && !script.allowCrossSlot) {
    if (client.slot === -1) client.slot = route.slot;
    else if (client.slot !== route.slot) return 'Script attempted to access keys that do not hash to the same slot';
  }
  return null;
}

const CHECKS = {
  /** DEBUG / MODULE behind enable-debug-command / enable-module-command (installed by debug.ts). */
  protected: (server, r) => (!r.spec.isProtected || server.hooks.protectedCommandError === null ? null : server.hooks.protectedCommandError(r.client, r.spec)),
  auth: (server, r) => (!r.client.authenticated && !r.spec.noAuth && server.authRequired() ? 'NOAUTH Authentication required.' : null),
  noMulti: (_server, r) => (r.client.multi !== null && r.spec.noMulti ? 'ERR Command not allowed inside a transaction' : null),
  noscript: (_server, r) => (r.spec.noScript && r.script !== null && !r.script.noscriptAllowed ? 'This Redis command is not allowed from script' : null),
  acl: (server, r) => {
    if (server.hooks.aclCheck === null) return null;
    if (r.script !== null) return server.hooks.aclCheck(r.client, r.spec, argvOf(r), 'lua', r.script.caller);
    return server.hooks.aclCheck(r.client, r.spec, argvOf(r), r.client.multi !== null ? 'multi' : 'toplevel');
  },
  oom: (server, r) => {
    if (server.settings.maxmemory <= 0 || obeyed(r)) return null;
    if (r.script !== null) {
      if (!r.spec.denyOom || r.script.writeDirty || r.script.allowOom) return null;
      return outOfMemory(server) ? OOM : null;
    }
    const n = r.spec.fullName;
    // Inside MULTI everything but EXEC/DISCARD/QUIT/RESET is refused when out of memory:
    // queueing would otherwise grow without bound. Eviction runs whether or not it refuses.
    const rejectOnOom = r.flags.denyOom || (r.client.multi !== null && n !== 'exec' && n !== 'discard' && n !== 'quit' && n !== 'reset');
    return outOfMemory(server) && rejectOnOom ? OOM : null;
  },
  misconf: (server, r) => {
    const diskError = server.hooks.diskWriteError;
    if (diskError === null) return null;
    if (r.script !== null) return r.spec.isWrite && !r.script.writeDirty ? diskError() : null;
    return (r.flags.write || r.spec.fullName === 'ping') && !r.client.isMaster ? diskError() : null;
  },
  noreplicas: (server, r) => {
    const write = r.script !== null ? r.spec.isWrite && !r.script.writeDirty : r.flags.write && !r.client.isMaster;
    return write && server.role.notEnoughReplicas() ? NOREPLICAS : null;
  },
  readonly: (server, r) => {
    const write = r.script !== null ? r.spec.isWrite && !r.script.writeDirty : r.flags.write;
    return write && !obeyed(r) && server.role.isReplica() && server.settings.replicaReadOnly ? READONLY : null;
  },
  readOnlyScript: (_server, r) =>
    r.script !== null && r.script.readOnly && (r.spec.isWrite || r.spec.mayReplicate) ? 'Write commands are not allowed from read-only scripts.' : null,
  pubsub: (_server, r) => {
    const c = r.client;
    if (!c.inPubSubContext || c.resp !== 2) return null;
    const n = r.spec.fullName;
    if (
      n === 'ping' || n === 'subscribe' || n === 'ssubscribe' || n === 'unsubscribe' || n === 'sunsubscribe' ||
      n === 'psubscribe' || n === 'punsubscribe' || n === 'quit' || n === 'reset'
    ) {
      return null;
    }
    return `ERR Can't execute '${n}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`;
  },
  masterdown: (server, r) => {
    if (r.flags.staleOk || !server.role.refuseStale()) return null;
    return r.script !== null ? 'Can not execute the command on a stale replica' : MASTERDOWN;
  },
  /** A client that became a replica (SYNC/PSYNC) only speaks REPLCONF: no keyspace access. */
  replicaKeyspace: (_server, r) => {
    const c = r.client;
    if (c.kind !== 'replica' || c.isMonitor) return null;
    const spec = r.spec;
    return spec.mayReplicate || spec.isWrite || spec.isReadonly ? "ERR Replica can't interact with the keyspace" : null;
  },
  loading: (server, r) => {
    const spec = r.spec;
    const queued = spec.fullName === 'exec' ? r.client.multi : null;
    // Only `loading`-flagged commands run (EXEC: if all it queued are).
    if (server.loading && !server.asyncLoading && !(spec.loadingOk && (queued === null || queued.every((q) => q.spec.loadingOk)))) return LOADING;
    if (server.asyncLoading && (spec.noAsyncLoading || (queued !== null && queued.some((q) => q.spec.noAsyncLoading)))) return LOADING;
    return null;
  },
  cluster: clusterCheck,
  /** A busy script, and other modules' checks (server.hooks.precheck), in Redis's BUSY place. */
  busy: (server, r) => {
    const pre = server.hooks.precheck;
    for (let i = 0; i < pre.length; i++) {
      const err = pre[i]!(r.client, r.spec);
      if (err !== null) return err;
    }
    return null;
  },
} satisfies Record<string, Check>;

/**
 * The first reason to refuse the request, or null to run it: processCommand's order (server.c)
 * for a client, scriptCall's (script.c) for a script. Written out as direct calls (not a loop
 * over a list) so V8 inlines them: this runs for every command.
 */
export function admit(server: Server, r: AdmissionRequest): string | null {
  const k = CHECKS;
  if (r.script !== null) {
    return (
      k.noscript(server, r) ?? k.masterdown(server, r) ?? k.acl(server, r) ?? k.readOnlyScript(server, r) ??
      k.readonly(server, r) ?? k.misconf(server, r) ?? k.noreplicas(server, r) ?? k.oom(server, r) ?? k.cluster(server, r)
    );
  }
  // Each check behind the condition under which it can refuse at all (its own first test, so
  // the order and the answers are the same): most commands pass most checks on a flag or a
  // field, and a call per check was ~3–4% of a pipelined PING's server samples.
  const spec = r.spec;
  const c = r.client;
  const flags = r.flags;
  return (
    (spec.isProtected ? k.protected(server, r) : null) ??
    (c.authenticated || spec.noAuth ? null : k.auth(server, r)) ??
    (c.multi === null ? null : k.noMulti(server, r)) ??
    k.acl(server, r) ??
    (server.cluster === null ? null : k.cluster(server, r)) ??
    (server.settings.maxmemory <= 0 ? null : k.oom(server, r)) ??
    k.misconf(server, r) ??
    (flags.write ? k.noreplicas(server, r) ?? k.readonly(server, r) : null) ??
    k.pubsub(server, r) ??
    (flags.staleOk ? null : k.masterdown(server, r)) ??
    (server.loading || server.asyncLoading ? k.loading(server, r) : null) ??
    (server.hooks.precheck.length === 0 ? null : k.busy(server, r)) ??
    (c.kind !== 'replica' ? null : k.replicaKeyspace(server, r))
  );
}

/** The invocation's own flags: a script's declared ones (getCommandFlags), else the command's. */
export function invocationFlags(server: Server, spec: CommandSpec, argv: readonly string[]): Readonly<InvocationFlags> {
  const hook = server.hooks.invocationFlags;
  if (hook !== null) {
    if (spec.flagsHook !== hook) {
      spec.flagsHook = hook;
      spec.flagsHooked = hook.commands.has(spec.fullName);
    }
    if (spec.flagsHooked) {
      const declared = hook.flags(spec, argv);
      if (declared !== null) return declared;
    }
  }
  return spec.ownFlags;
}

/** A client command's flags; EXEC takes on those of the commands it queued (mstate.cmd_flags). */
export function clientCommandFlags(server: Server, c: Client, spec: CommandSpec, argv: readonly string[]): Readonly<InvocationFlags> {
  const own = invocationFlags(server, spec, argv);
  if (c.multi === null || spec.fullName !== 'exec') return own;
  const flags = { ...own };
  for (const q of c.multi) {
    const f = invocationFlags(server, q.spec, q.argv);
    flags.write ||= f.write;
    flags.denyOom ||= f.denyOom;
    flags.staleOk &&= f.staleOk;
    flags.mayReplicate ||= f.mayReplicate;
  }
  return flags;
}
