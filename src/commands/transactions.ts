/**
 * Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis 7.0.15 multi.c).
 *
 * Queueing happens in Server.processCommand: while `c.multi` is set every command except
 * EXEC/DISCARD/MULTI/WATCH/QUIT/RESET is checked (arity, OOM, no_multi …) and appended to the
 * queue with a +QUEUED reply; a command refused while queueing sets `c.multiDirty`, which makes
 * EXEC answer -EXECABORT. Checks that depend on the server's state at EXEC time (READONLY,
 * NOREPLICAS, MASTERDOWN, OOM of a queued write) are made by processCommand on EXEC itself,
 * using the flags of the queued commands, and abort the transaction (rejectCommand).
 *
 * EXEC runs each queued command through the executor (`server.call()` in mode 'exec'), so stats, slowlog, MONITOR and
 * propagation behave as for a top-level command; the Propagator wraps the transaction's effects
 * in MULTI/EXEC when there is more than one (a single write propagates bare, as in 7.0's
 * propagatePendingCommands). Runtime errors inside do not roll anything back.
 *
 * WATCH is optimistic locking: the watch module (src/server/watch.ts) flags `c.watchDirty`
 * when a watched key is touched, and EXEC then answers a null array.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { isWatchedKeyExpired, unwatchAllKeys, watchKey } from '../server/watch.js';

/** Leaves the MULTI state and forgets every WATCH (discardTransaction). */
export function discardTransaction(c: Client): void {
  c.multi = null;
  c.multiDirty = false;
  c.watchDirty = false;
  unwatchAllKeys(c);
}

/**
 * Aborts EXEC when processCommand refused it (execCommandAbort): the error is reported as
 * `-EXECABORT Transaction discarded because of: <error>` and MONITORs see the EXEC.
 */
export function execCommandAbort(c: Client, error: string): void {
  discardTransaction(c);
  c.reply.error(`EXECABORT Transaction discarded because of: ${error.startsWith('-') ? error.slice(1) : error}`);
  if (c.server.monitors.size > 0) c.server.feedMonitors(c, c.argv);
}

function multi(c: Client): void {
  if (c.multi !== null) {
    c.reply.error('ERR MULTI calls can not be nested');
    return;
  }
  c.multi = [];
  c.reply.ok();
}

function discard(c: Client): void {
  if (c.multi === null) {
    c.reply.error('ERR DISCARD without MULTI');
    return;
  }
  discardTransaction(c);
  c.reply.ok();
}

function exec(c: Client): void {
  const queue = c.multi;
  if (queue === null) {
    c.reply.error('ERR EXEC without MULTI');
    return;
  }
  // A watched key that expired since WATCH counts as modified.
  if (isWatchedKeyExpired(c)) c.watchDirty = true;
  if (c.multiDirty || c.watchDirty) {
    if (c.multiDirty) c.reply.error('EXECABORT Transaction discarded because of previous errors.');
    else c.reply.nullArray();
    discardTransaction(c);
    return;
  }
  // Unwatch first: the transaction's own writes must not dirty it.
  unwatchAllKeys(c);
  const server = c.server;
  c.reply.array(queue.length);
  for (let i = 0; i < queue.length; i++) {
    const q = queue[i]!;
    // c.multi stays set while the queue runs (CLIENT_MULTI): blocking commands answer as
    // timed out instead of blocking (canBlock).
    // ACL rules may have changed since the command was queued (execCommand).
    const denied = server.hooks.aclCheck === null ? null : server.hooks.aclCheck(c, q.spec, q.argv, 'exec');
    if (denied !== null) c.reply.error(denied);
    else server.call(c, q.spec, 'exec', q.argv);
  }
  discardTransaction(c);
  // EXEC itself never propagates: its commands did, one by one, and the Propagator wraps them.
  c.preventPropagation = true;
}

function watch(c: Client): void {
  if (c.multi !== null) {
    c.reply.error('ERR WATCH inside MULTI is not allowed');
    return;
  }
  // No point in watching if the transaction is already doomed.
  if (!c.watchDirty) {
    for (let i = 1; i < c.argv.length; i++) watchKey(c, c.argv[i]!);
  }
  c.reply.ok();
}

function unwatch(c: Client): void {
  unwatchAllKeys(c);
  c.watchDirty = false;
  c.reply.ok();
}

export const commands: CommandHandlers = { multi, exec, discard, watch, unwatch };
