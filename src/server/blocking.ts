/**
 * Blocking operations: clients that wait for keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK …) or
 * for something else (WAIT), with timeouts. Redis's blocked.c + timeout.c, reshaped for nodis.
 *
 * API for command families
 * ------------------------
 *   parseBlockingTimeout(c, arg)            seconds (float) → ms, 0 = forever; replies
 *                                           `ERR timeout is not a float or out of range` /
 *                                           `ERR timeout is negative` and returns null.
 *   canBlock(c)                             false inside MULTI/EXEC, scripts and fake clients:
 *                                           there the command must answer as if it timed out.
 *   blockForKeys(c, keys, timeoutMs, wait)  parks the client on `keys` of `c.db`. `wait.type`
 *                                           is the value type it waits for; whenever one of the
 *                                           keys is ready and holds that type, `wait.serve(c,
 *                                           key)` is called (FIFO among clients on that key). It
 *                                           writes the reply, performs the write through
 *                                           the keyspace's write API (`db.modified()` …), queues its deterministic form
 *                                           with `server.propagator.also()`, and returns true;
 *                                           return false to keep waiting. On timeout the client
 *                                           gets `wait.onTimeout?.(c)` or a null array.
 *   signalKeyAsReady(db, key)               also installed as `server.hooks.keyReady`. Rarely
 *                                           needed: every signalModifiedKey of a key that
 *                                           someone waits on marks it ready, and SWAPDB/FLUSH
 *                                           (`signalDbTouched`) mark all waited keys of the db.
 *   blockClient(c, state) / unblockClient(c) generic blocking for non-key waits (WAIT): the
 *                                           timeout calls `state.onTimeout` then unblocks.
 *   cancelBlock(c, reason)                  CLIENT UNBLOCK and disconnects; `c.blocked.onCancel`
 *                                           routes here for key waits.
 *   blockedClientCount(server), disconnectAllBlockedClients(server)   for INFO / role change.
 *
 * How waiting clients are served: ready keys are collected in insertion order (deduplicated);
 * after each top-level command, EXEC or script (`hooks.afterCommand`, and as a fallback on the
 * next loop turn) they are processed: for each ready key, the clients blocked on it are tried
 * in the order they blocked. Serving may push into other keys (BLMOVE), which makes those ready
 * in turn; the loop runs until nothing is ready. Each served client's effects are propagated
 * on their own, as Redis does. Unblocked clients resume their pipelined input on the next loop
 * turn (Redis's unblocked_clients list), never re-entrantly.
 *
 * Timeouts: a binary heap of deadlines on the monotonic clock and a single timer armed for the
 * earliest one, so sub-second timeouts fire on time rather than at cron granularity.
 */
import type { Server } from './server.js';
import type { BlockedState, Client } from './client.js';
import type { Database } from '../keyspace/db.js';
import { typeOf, type TypeName } from '../types/value.js';
import { parseDouble } from '../protocol/args.js';
import { TIMEOUT_NEGATIVE, TIMEOUT_NOT_FLOAT } from '../protocol/errors.js';
import type { TimerHandle } from '../core/clock.js';
import type { CommandSpec } from './command-table.js';
import { execute } from './executor.js';

/** What a client blocked on keys waits for, and how to serve it. */
export interface KeyWait {
  /** The value type that can serve this client; keys holding another type are skipped. */
  type: Exclude<TypeName, 'string'>;
  /**
   * Tries to serve the client from `key` (which exists in the client's db with `type`).
   * Writes the reply and returns true when served; false keeps the client blocked.
   */
  serve(c: Client, key: string): boolean;
  /** The timeout reply; defaults to a null array (null in RESP3). */
  onTimeout?(c: Client): void;
  /**
   * Optional: called instead of `serve` when the ready key is missing or holds another type
   * (XREADGROUP answers an error then); returns true when it answered the client.
   */
  onKeyGone?(c: Client, key: string): boolean;
}

/** One client blocked on keys. */
interface KeyWaiter {
  client: Client;
  db: Database;
  keys: string[];
  wait: KeyWait;
  state: BlockedState;
  /** The blocked command as SLOWLOG shows it (its entry is written when it is unblocked). */
  argv: string[];
  /** The blocked command as received, and its spec: serving it executes as this command. */
  realArgv: string[];
  spec: CommandSpec;
}

interface HeapEntry {
  deadline: number;
  client: Client;
  state: BlockedState;
}

const UNBLOCKED_BY_CLIENT = 'UNBLOCKED client unblocked via CLIENT UNBLOCK';
/** setTimeout's limit; longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

class BlockingState {
  /** db id → key → clients blocked on it, in blocking order (Sets iterate in insertion order). */
  readonly blockingKeys = new Map<number, Map<string, Set<KeyWaiter>>>();
  /** Waiters by client, for unblocking. */
  readonly waiters = new Map<Client, KeyWaiter>();
  /** Ready keys: "dbId\0key" → [db, key], in signalling order. */
  readyKeys = new Map<string, [Database, string]>();
  /** Clients blocked for any reason (keys, WAIT …). */
  blockedCount = 0;
  /** Clients to resume after being unblocked. */
  readonly unblocked = new Set<Client>();
  private resumeScheduled = false;
  private readyScheduled = false;
  private serving = false;
  private readonly heap: HeapEntry[] = [];
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;

  constructor(readonly server: Server) {}

  // ---- ready keys ------------------------------------------------------------------------------

  signal(db: Database, key: string): void {
    if (this.waiters.size === 0) return;
    const perDb = this.blockingKeys.get(db.id);
    if (perDb === undefined || !perDb.has(key)) return;
    const id = `${db.id}\0${key}`;
    if (this.readyKeys.has(id)) return;
    this.readyKeys.set(id, [db, key]);
    // Normally served by afterCommand; this covers writes made outside a client command.
    if (!this.readyScheduled) {
      this.readyScheduled = true;
      setImmediate(() => {
        this.readyScheduled = false;
        this.handleReadyKeys();
      });
    }
  }

  signalDb(dbId: number): void {
    const perDb = this.blockingKeys.get(dbId);
    if (perDb === undefined) return;
    const db = this.server.dbs[dbId];
    if (db === undefined) return;
    for (const key of perDb.keys()) this.signal(db, key);
  }

  /** handleClientsBlockedOnKeys: serves clients for every ready key until none is left. */
  handleReadyKeys(): void {
    // A test small enough for V8 to inline into the afterCommand hook that runs after every
    // client command; the serving loop (with its try/finally) is a call only when there is work.
    if (this.serving || this.readyKeys.size === 0 || this.server.executionNesting !== 0) return;
    this.serveReadyKeys();
  }

  private serveReadyKeys(): void {
    this.serving = true;
    try {
      while (this.readyKeys.size !== 0) {
        const batch = this.readyKeys;
        this.readyKeys = new Map();
        for (const [db, key] of batch.values()) this.serveKey(db, key);
      }
    } finally {
      this.serving = false;
    }
  }

  private serveKey(db: Database, key: string): void {
    const waiting = this.blockingKeys.get(db.id)?.get(key);
    if (waiting === undefined) return;
    for (const w of waiting) {
      const value = db.lookup(key);
      const gone = value === undefined || typeOf(value) !== w.wait.type;
      if (gone && w.wait.onKeyGone === undefined) continue;
      const c = w.client;
      const errorsBefore = this.server.stats.totalErrorReplies;
      const start = process.hrtime.bigint();
      let served = true;
      // Through the one executor, as the blocked command (its argv and spec): a write's keys
      // are copied by a running snapshot first, its effects (queued by `serve`) propagate as
      // their own unit, and the served client is the current client meanwhile, as in Redis
      // (client-side caching holds its invalidations until its reply is written).
      const prevClient = this.server.currentClient;
      this.server.currentClient = c;
      try {
        execute(this.server, c, w.spec, w.realArgv, 'unblocked', (rc) => {
          served = gone ? w.wait.onKeyGone!(rc, key) : w.wait.serve(rc, key);
        });
      } finally {
        this.server.currentClient = prevClient;
      }
      if (!served) continue;
      const us = Number(process.hrtime.bigint() - start) / 1000;
      this.finish(w.client, us, this.server.stats.totalErrorReplies !== errorsBefore);
    }
  }

  // ---- blocking and unblocking ------------------------------------------------------------------

  blockOnKeys(c: Client, keys: readonly string[], timeoutMs: number, wait: KeyWait): void {
    const state: BlockedState = {
      kind: 'keys',
      deadline: timeoutMs > 0 ? this.server.clock.monotonic() + timeoutMs : 0,
      onTimeout: () => (wait.onTimeout !== undefined ? wait.onTimeout(c) : c.reply.nullArray()),
      onCancel: (reason) => this.cancel(c, state, reason),
    };
    const unique = [...new Set(keys)];
    const w: KeyWaiter = { client: c, db: c.db, keys: unique, wait, state, argv: c.shownArgv ?? c.argv, realArgv: c.argv, spec: c.cmd! };
    let perDb = this.blockingKeys.get(c.db.id);
    if (perDb === undefined) this.blockingKeys.set(c.db.id, (perDb = new Map()));
    for (const key of unique) {
      let set = perDb.get(key);
      if (set === undefined) perDb.set(key, (set = new Set()));
      set.add(w);
    }
    this.waiters.set(c, w);
    dbStates.set(c.db, this);
    this.block(c, state);
  }

  block(c: Client, state: BlockedState): void {
    c.blocked = state;
    this.blockedCount++;
    if (state.deadline > 0) this.addTimeout({ deadline: state.deadline, client: c, state });
  }

  /** Removes a client blocked on keys from the key tables. */
  private releaseKeys(c: Client, w: KeyWaiter): void {
    this.waiters.delete(c);
    const perDb = this.blockingKeys.get(w.db.id);
    if (perDb !== undefined) {
      for (const key of w.keys) {
        const set = perDb.get(key);
        if (set === undefined) continue;
        set.delete(w);
        if (set.size === 0) perDb.delete(key);
      }
      if (perDb.size === 0) this.blockingKeys.delete(w.db.id);
    }
  }

  /**
   * Ends a block whose reply was written: stats as Redis's updateStatsOnUnblock (call() did not
   * count a command that blocked on keys), then resumes the client's input on the next turn.
   */
  finish(c: Client, replyUs: number, failed: boolean): void {
    const state = c.blocked;
    if (state === null) return;
    c.blocked = null;
    this.blockedCount--;
    // Only a client blocked on keys is in the key tables (blockOnKeys): a WAIT's unblock (one
    // per SET + WAIT 1) looks nothing up there.
    if (state.kind !== 'keys') {
      c.markPendingWrite();
      this.resumeLater(c);
      return;
    }
    const w = this.waiters.get(c);
    const blockedArgv = w?.argv ?? c.argv;
    if (w !== undefined) this.releaseKeys(c, w);
    const spec = c.lastCmd;
    if (spec !== null) {
      spec.stats.calls++;
      spec.stats.usec += replyUs;
      if (failed) spec.stats.failedCalls++;
      this.server.hooks.commandTimer?.commandTimed(spec, replyUs);
      // call() left the SLOWLOG entry of a command that blocked to its unblocking (served or
      // timed out, not disconnected), under the command's own argv (updateStatsOnUnblock).
      const s = this.server;
      if (!c.closed && !spec.skipSlowlog && s.settings.slowlogSlowerThan >= 0 && replyUs >= s.settings.slowlogSlowerThan) {
        s.slowlog.record(blockedArgv, Math.floor(replyUs), s.clock.now(), c.addr, c.name, s.settings.slowlogMaxLen);
      }
    }
    c.markPendingWrite();
    this.resumeLater(c);
  }

  unblock(c: Client): void {
    this.finish(c, 0, false);
  }

  cancel(c: Client, state: BlockedState, reason: 'unblock-error' | 'unblock-timeout' | 'disconnect'): void {
    // The caller may or may not have cleared c.blocked already (freeClient does).
    if (c.blocked !== null && c.blocked !== state) return;
    if (reason === 'disconnect') {
      c.blocked = state;
      this.finish(c, 0, false);
      return;
    }
    c.blocked = state;
    const errorsBefore = this.server.stats.totalErrorReplies;
    if (reason === 'unblock-error') c.reply.error(UNBLOCKED_BY_CLIENT);
    else state.onTimeout();
    this.finish(c, 0, this.server.stats.totalErrorReplies !== errorsBefore);
  }

  private resumeLater(c: Client): void {
    this.unblocked.add(c);
    if (this.resumeScheduled) return;
    // The turn's flush is queued (finish() asked for it) and resumes the unblocked clients first
    // thing (the beforeReplies hook below): no Immediate of its own, which would find none left.
    if (this.server.beforeRepliesPending) return;
    this.resumeScheduled = true;
    setImmediate(() => {
      this.resumeScheduled = false;
      this.resumeUnblocked();
    });
  }

  /**
   * Runs the pending input of the clients unblocked so far (processUnblockedClients). Also
   * called first thing before replies are flushed, as Redis's beforeSleep does: a client whose
   * WAIT an ACK just served runs its next commands in this turn, and their replies and stream
   * (and the GETACK its next WAIT asks for) leave in this turn's writes, not a turn later.
   */
  resumeUnblocked(): void {
    if (this.unblocked.size === 0) return;
    const list = [...this.unblocked];
    this.unblocked.clear();
    for (const u of list) {
      if (!u.closed && u.blocked === null) this.server.processInput(u);
    }
  }

  // ---- timeouts ---------------------------------------------------------------------------------

  private addTimeout(e: HeapEntry): void {
    const h = this.heap;
    // Entries of clients served early (a WAIT answered by an ACK) leave from the top as soon as
    // they get there: with one timeout for all (WAIT 1 1000 …) the heap stays as small as the
    // number of clients blocked, and compactHeap below does not run.
    while (h.length > 0 && (h[0]!.client.blocked !== h[0]!.state || h[0]!.client.closed)) this.popTimeout();
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.deadline <= e.deadline) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
    // Entries of clients served early linger until popped; compact when they dominate.
    if (h.length > 64 && h.length > 4 * this.blockedCount) this.compactHeap();
    this.arm();
  }

  private popTimeout(): HeapEntry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const m = r < h.length && h[r]!.deadline < h[l]!.deadline ? r : l;
      if (h[m]!.deadline >= last.deadline) break;
      h[i] = h[m]!;
      i = m;
    }
    h[i] = last;
    return top;
  }

  private compactHeap(): void {
    const live = this.heap.filter((e) => e.client.blocked === e.state);
    this.heap.length = 0;
    live.sort((a, b) => a.deadline - b.deadline);
    for (const e of live) this.heap.push(e);
  }

  private arm(): void {
    const next = this.heap[0];
    if (next === undefined) return;
    if (this.timer !== null && this.timerAt <= next.deadline) return;
    const clock = this.server.clock;
    if (this.timer !== null) clock.clearTimer(this.timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next.deadline - clock.monotonic()));
    this.timerAt = next.deadline;
    this.timer = clock.setTimer(Math.ceil(delay), () => {
      this.timer = null;
      this.timerAt = Infinity;
      this.expireTimeouts();
    });
  }

  /** Answers every client whose deadline passed, then re-arms for the next one. */
  expireTimeouts(): void {
    const now = this.server.clock.monotonic();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.deadline > now) break;
      this.popTimeout();
      const c = top.client;
      if (c.blocked !== top.state || c.closed) continue;
      const errorsBefore = this.server.stats.totalErrorReplies;
      top.state.onTimeout();
      this.finish(c, 0, this.server.stats.totalErrorReplies !== errorsBefore);
    }
    this.arm();
  }
}

const states = new WeakMap<Server, BlockingState>();
/** Which server's state a database belongs to (filled as clients block on it). */
const dbStates = new WeakMap<Database, BlockingState>();

function stateOf(server: Server): BlockingState {
  let s = states.get(server);
  if (s === undefined) {
    s = new BlockingState(server);
    states.set(server, s);
  }
  return s;
}

/** Wires blocking into the server's hooks. */
export function install(server: Server): void {
  const s = stateOf(server);
  server.hooks.keyReady = (db, key) => s.signal(db, key);
  // Any write to a key someone waits on may make it servable (push, RENAME/MOVE/COPY onto it,
  // RESTORE, SORT STORE …); serving re-checks type and emptiness, so over-signalling is safe.
  server.hooks.keyModified.push((dbId, key) => {
    if (s.waiters.size === 0) return;
    const db = server.dbs[dbId];
    if (db !== undefined) s.signal(db, key);
  });
  server.hooks.dbTouched.push((dbId) => {
    if (s.waiters.size !== 0) s.signalDb(dbId);
  });
  server.hooks.afterCommand.push(() => s.handleReadyKeys());
  // First of the hooks: the input it runs may feed the others (AOF, tracking, GETACK).
  server.hooks.beforeReplies.unshift(() => s.resumeUnblocked());
}

// ---- public API -----------------------------------------------------------------------------------

/**
 * Parses a blocking timeout given in seconds (BLPOP, BZPOPMIN, BLMOVE …) as Redis's
 * getTimeoutFromObjectOrReply: float seconds rounded up to ms; 0 = wait forever. Replies the
 * error and returns null when invalid.
 */
export function parseBlockingTimeout(c: Client, arg: string): number | null {
  const secs = parseDouble(arg);
  if (secs === null) {
    c.reply.error(TIMEOUT_NOT_FLOAT);
    return null;
  }
  const ms = Math.ceil(secs * 1000);
  // Redis converts to a long long: anything outside it (inf too) ends up negative.
  if (!(ms >= 0) || ms >= 2 ** 63) {
    c.reply.error(TIMEOUT_NEGATIVE);
    return null;
  }
  return ms;
}

/** False where a command must not block (MULTI/EXEC, scripts, AOF loading): answer as timed out. */
export function canBlock(c: Client): boolean {
  return !c.fake && c.server.executionNesting <= 1 && c.multi === null;
}

/** Blocks `c` on `keys` of its current db; see the file header. `timeoutMs` 0 = forever. */
export function blockForKeys(c: Client, keys: readonly string[], timeoutMs: number, wait: KeyWait): void {
  stateOf(c.server).blockOnKeys(c, keys, timeoutMs, wait);
}

/** Marks a key as possibly able to serve clients blocked on it. */
export function signalKeyAsReady(db: Database, key: string): void {
  dbStates.get(db)?.signal(db, key);
}

/** Serves clients for the keys made ready so far (normally automatic after each command). */
export function handleClientsBlockedOnKeys(server: Server): void {
  stateOf(server).handleReadyKeys();
}

/**
 * Generic blocking for waits that are not on keys (WAIT …). `state.deadline` is an absolute
 * monotonic time in ms (0 = none); at the deadline `state.onTimeout()` writes the reply and the
 * client is unblocked. The owner calls `unblockClient(c)` after replying when the wait ends.
 */
export function blockClient(c: Client, state: BlockedState): void {
  stateOf(c.server).block(c, state);
}

/** Ends any block after its reply was written and resumes the client's pipelined input. */
export function unblockClient(c: Client): void {
  stateOf(c.server).unblock(c);
}

/** CLIENT UNBLOCK / disconnect for a client blocked by this module (or any owner's onCancel). */
export function cancelBlock(c: Client, reason: 'unblock-error' | 'unblock-timeout' | 'disconnect'): boolean {
  const state = c.blocked;
  if (state === null || state.onCancel === undefined) return false;
  state.onCancel(reason);
  return true;
}

/** INFO clients: blocked_clients. */
export function blockedClientCount(server: Server): number {
  return stateOf(server).blockedCount;
}

/** Number of keys clients are blocked on, over all dbs. */
export function blockingKeyCount(server: Server): number {
  let n = 0;
  for (const perDb of stateOf(server).blockingKeys.values()) n += perDb.size;
  return n;
}

/**
 * Unblocks with an error each client blocked on keys that `redirection(client, firstKey)`
 * refuses (a cluster slot moved away or the cluster went down:
 * clusterRedirectBlockedClientIfNeeded). Returns how many were unblocked.
 */
export function redirectBlockedClients(server: Server, redirection: (c: Client, key: string) => string | null): number {
  const s = stateOf(server);
  let n = 0;
  for (const w of [...s.waiters.values()]) {
    const c = w.client;
    if (c.blocked !== w.state || w.keys.length === 0) continue;
    const err = redirection(c, w.keys[0]!);
    if (err === null) continue;
    c.reply.error(err);
    s.unblock(c);
    n++;
  }
  return n;
}

/**
 * A master turning replica: every client blocked on keys gets
 * `-UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)`
 * and is closed after the reply, as Redis's disconnectAllBlockedClients.
 */
export function disconnectAllBlockedClients(server: Server): void {
  const s = stateOf(server);
  for (const c of [...server.clients.values()]) {
    if (c.blocked === null || c.blocked.kind === 'pause') continue;
    c.reply.error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)');
    s.unblock(c);
    server.closeAfterReply(c);
  }
}
