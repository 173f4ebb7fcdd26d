/**
 * The one executor: every command that runs goes through `execute()` (Redis's call()), whoever
 * asked for it. One invocation record per execution holds the state of that one command
 * (client, db, argv, spec, what to propagate, how its arguments are shown, whether it failed);
 * nested executions (EXEC's commands, a script's redis.call) get their own record, linked to
 * the one around them, so nothing is saved and restored by hand.
 *
 * What differs between the callers is a mode, and each mode is one row of `POLICIES`:
 *
 *   mode        who                                  stats  slowlog monitor propagates  tracking
 *   client      a client's command (processCommand;  yes    yes     yes     its argv    yes
 *               the master link's stream too)
 *   exec        each command EXEC runs               yes    yes     yes     its argv    yes
 *   script      each redis.call/pcall                yes    no      yes     its argv    yes
 *   unblocked   a blocked client being served        no¹    no¹     no      what the    no
 *                                                                           serve queued
 *   aof         a command loaded from the AOF        no     no      no      nothing²    no
 *
 *   ¹ counted when the block ends (blocking.ts finish: updateStatsOnUnblock).
 *   ² the loader discards what was queued: the commands are already in the file.
 *
 * Admission (auth, ACL, READONLY, OOM, MASTERDOWN, NOREPLICAS, LOADING, pause, MULTI queueing)
 * happens before execute(), in the caller's mode (server.ts processCommand, engine.ts for a
 * script's calls, EXEC's ACL re-check); serving a blocked client and loading the AOF admit
 * nothing, as in Redis.
 *
 * Every mode runs the same prelude: a write command's keys are handed to the running
 * snapshots first (copy-on-write, persistence/snapshot.ts). Serving a blocked BLMOVE used to
 * skip it and a replica syncing at that moment got the moved element twice.
 *
 * Invariants checked on every execution (cheap, always on; a violation is logged as an
 * assertion failure, since continuing is what keeps the other clients' data safe):
 * - the nesting depth is back to 0 when the outermost execution returns;
 * - the propagation queue is empty after the outermost execution flushed it;
 * - the client's current invocation is the one this execution pushed, when it pops it.
 */
import { LONG_ARG } from '../protocol/parser.js';
import type { Client } from './client.js';
import type { Server } from './server.js';
import type { Database } from '../keyspace/db.js';
import type { CommandSpec } from './command-table.js';

export type ExecMode = 'client' | 'exec' | 'script' | 'unblocked' | 'aof';

/**
 * One command being executed. Records are reused per nesting depth (executions nest strictly,
 * so the record of depth d is free again when its execution returns): nothing may keep one
 * after its execution ends.
 */
export interface Invocation {
  client: Client;
  spec: CommandSpec | null;
  argv: string[];
  mode: ExecMode;
  /** The database selected when the command started (it may SELECT/MOVE away). */
  db: Database | null;
  /** The invocation this one runs inside (EXEC, EVAL), or null. */
  parent: Invocation | null;
  /** What the AOF and replicas get instead of argv (the deterministic form), or null. */
  propagateArgv: string[] | null;
  /** The command propagated its effects itself (or has none to propagate). */
  preventPropagation: boolean;
  /** Propagate even though no data changed (PUBLISH, forceCommandPropagation). */
  forcePropagation: boolean;
  /** argv as SLOWLOG and MONITOR show it once an argument was redacted, else null. */
  shownArgv: string[] | null;
  /** An error reply was written for this command (failed_calls). */
  failed: boolean;
  /** clock.monotonic() as the command started (its duration's start; a script's start time). */
  start: number;
}

interface Policy {
  stats: boolean;
  slowlog: boolean;
  monitor: boolean;
  /** Propagate the command's own argv (or propagateArgv) when it changed data. */
  propagateArgv: boolean;
  tracking: boolean;
}

const CLIENT_POLICY: Policy = { stats: true, slowlog: true, monitor: true, propagateArgv: true, tracking: true };

const POLICIES: Record<ExecMode, Policy> = {
  client: CLIENT_POLICY,
  exec: { stats: true, slowlog: true, monitor: true, propagateArgv: true, tracking: true },
  script: { stats: true, slowlog: false, monitor: true, propagateArgv: true, tracking: true },
  unblocked: { stats: false, slowlog: false, monitor: false, propagateArgv: false, tracking: false },
  aof: { stats: false, slowlog: false, monitor: false, propagateArgv: false, tracking: false },
};

/** The record a client holds while none of its commands runs (writes to it are dropped). */
export function idleInvocation(client: Client): Invocation {
  return {
    client,
    spec: null,
    argv: [],
    mode: 'client',
    db: null,
    parent: null,
    propagateArgv: null,
    preventPropagation: false,
    forcePropagation: false,
    shownArgv: null,
    failed: false,
    start: 0,
  };
}

/** Logs a broken invariant; the command has already run, so the server carries on. */
export function invariantFailed(server: Server, what: string): void {
  server.log.warning(`Assertion failed (invariant): ${what}`);
}

/**
 * Runs `spec`'s handler (or `body`, for a blocked client being served) for `c` with `argv`, in
 * `mode`: the copy-on-write prelude, timing, stats, slowlog, MONITOR, tracking and the
 * propagation of its effects, flushed when the outermost execution returns.
 */
export function execute(server: Server, c: Client, spec: CommandSpec, argv: string[], mode: ExecMode, body?: (c: Client) => void): void {
  const policy = mode === 'client' ? CLIENT_POLICY : POLICIES[mode];
  const parentInvocation = c.invocation;
  const depth = server.executionNesting;
  const records = server.invocationRecords;
  let inv = records[depth];
  if (inv === undefined) records[depth] = inv = idleInvocation(c);
  inv.client = c;
  inv.spec = spec;
  inv.argv = argv;
  inv.mode = mode;
  inv.db = c.db;
  inv.parent = server.currentInvocation;
  inv.propagateArgv = null;
  inv.preventPropagation = false;
  inv.forcePropagation = false;
  inv.shownArgv = null;
  inv.failed = false;
  const prevArgv = c.argv;
  const prevCmd = c.cmd;
  const prevCurrent = server.currentInvocation;
  // A client's own command already sits in c.argv / c.cmd (processCommand): no store, and no
  // write barrier for the young argv, when nothing changes.
  if (prevArgv !== argv) c.argv = argv;
  if (prevCmd !== spec) c.cmd = spec;
  c.invocation = inv;
  server.currentInvocation = inv;
  const dirtyBefore = server.dirty;
  const outermost = server.executionNesting === 0;
  if (outermost) server.unfreezeTime();
  server.executionNesting++;
  const start = (inv.start = server.lastMonotonic = server.clock.monotonic());
  const replyMark = c.reply.len;
  try {
    if (spec.isWrite && server.hooks.beforeWrite !== null) server.hooks.beforeWrite(c, spec);
    if (body !== undefined) body(c);
    else spec.handler!(c);
    if (policy.tracking && server.hooks.tracking !== null) server.hooks.tracking.afterCall(c, spec);
  } catch (e) {
    server.commandThrew(inv, e, replyMark, dirtyBefore);
  } finally {
    server.executionNesting--;
    const end = (server.lastMonotonic = server.clock.monotonic());
    const durationUs = (end - start) * 1000;
    if (policy.stats) {
      if (c.blocked === null || c.blocked.kind !== 'keys') {
        spec.stats.calls++;
        spec.stats.usec += durationUs;
        if (inv.failed) spec.stats.failedCalls++;
        const timer = server.hooks.commandTimer;
        if (timer !== null) timer.commandTimed(spec, durationUs);
      }
      server.stats.totalCommands++;
      c.totalCommands++;
      c.lastCmd = spec;
    }
    const shown = inv.shownArgv ?? argv;
    if (
      policy.slowlog &&
      !spec.skipSlowlog &&
      server.settings.slowlogSlowerThan >= 0 &&
      durationUs >= server.settings.slowlogSlowerThan &&
      c.blocked === null
    ) {
      server.slowlog.record(withLongArgument(c, shown), Math.floor(durationUs), server.clock.now(), c.addr, c.name, server.settings.slowlogMaxLen);
    }
    if (policy.propagateArgv && (server.dirty !== dirtyBefore || inv.forcePropagation) && !inv.preventPropagation) {
      // The db the command ran in (SELECT inside MULTI moves the client on for the next one).
      server.propagator.alsoCommand(c.db.id, inv.propagateArgv ?? argv, inv.forcePropagation && server.dirty === dirtyBefore);
    }
    // MONITOR sees a command after it ran (RESET/QUIT of a monitor are not echoed to it),
    // never admin commands (7.0.15 call()).
    if (policy.monitor && server.monitors.size > 0 && !spec.skipMonitor && !spec.isAdmin) server.feedMonitors(c, withLongArgument(c, shown));
    if (c.invocation !== inv) invariantFailed(server, `the invocation of '${spec.fullName}' was replaced while it ran`);
    c.invocation = parentInvocation;
    if (c.argv !== prevArgv) c.argv = prevArgv;
    if (c.cmd !== prevCmd) c.cmd = prevCmd;
    server.currentInvocation = prevCurrent;
    if (outermost) {
      if (server.executionNesting !== 0) {
        invariantFailed(server, `execution nesting is ${server.executionNesting} after '${spec.fullName}' returned`);
        server.executionNesting = 0;
      }
      server.unfreezeTime();
      // Most commands queue nothing (reads, PING): no call to flush an empty queue.
      const propagator = server.propagator;
      if (!propagator.isEmpty()) {
        propagator.flush(spec.touchesArbitraryKeys);
        if (!propagator.isEmpty()) invariantFailed(server, `propagation queue not empty after flushing '${spec.fullName}'`);
      }
    }
  }
}

/**
 * Counts a command served in place, without execute(), as call() counts it: the replication
 * exchange's REPLCONF ACK (a master reading its replica) and REPLCONF GETACK (a replica reading
 * its master's stream), which the stream's loop handles as a step of its own. Such a command
 * has no reply, touches no key, propagates nothing and is an admin command (never shown to
 * MONITOR); what call() still does for it is done here: cmdstat's calls and usec, the latency
 * histogram, total_commands_processed, the client's command count and last command, and the
 * slowlog. `start` is clock.monotonic() before it ran.
 */
export function countDirectCall(server: Server, c: Client, spec: CommandSpec, argv: string[], start: number): void {
  const durationUs = (server.clock.monotonic() - start) * 1000;
  spec.stats.calls++;
  spec.stats.usec += durationUs;
  const timer = server.hooks.commandTimer;
  if (timer !== null) timer.commandTimed(spec, durationUs);
  server.stats.totalCommands++;
  c.totalCommands++;
  c.cmd = spec;
  c.lastCmd = spec;
  const settings = server.settings;
  if (!spec.skipSlowlog && settings.slowlogSlowerThan >= 0 && durationUs >= settings.slowlogSlowerThan) {
    server.slowlog.record(argv, Math.floor(durationUs), server.clock.now(), c.addr, c.name, settings.slowlogMaxLen);
  }
}

/**
 * `argv` with a plain SET's value as a string when SET took it as bytes (parser LONG_ARG, the
 * value arena): for the rare readers after the command (SLOWLOG, MONITOR), while the parser's
 * buffer still holds it.
 */
function withLongArgument(c: Client, argv: readonly string[]): readonly string[] {
  return argv.length === 3 && argv[2] === LONG_ARG && c.parser.holdsLongArgument(argv) ? [argv[0]!, argv[1]!, c.parser.longArgument()] : argv;
}
