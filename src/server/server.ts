/**
 * The server: listeners, clients, the command dispatch and the event-loop duties around it.
 *
 * Flow of a request (as in Redis's networking.c/server.c):
 *   socket data → RespParser → processCommand() (CommandTable.resolve, arity, then the
 *   admission checks of server/admission.ts, CLIENT PAUSE, MULTI queueing) → the executor
 *   (server/executor.ts: runs the handler, times it, records stats and slowlog, and hands the
 *   command's effects to the one Propagator) → the reply lands in the client's ReplyWriter →
 *   flushed once per event-loop turn for every client that has output.
 *
 * The event loop is the lock: handlers run synchronously to completion, so MULTI/EXEC and
 * scripts are atomic without further locking. Periodic duties (active expiry, client timeouts,
 * obuf limits, stats) run in `cron()` at `hz`.
 */
import { LONG_ARG } from '../protocol/parser.js';
import type { ClusterView } from '../cluster/view.js';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import { Client, NO_ARGV, type BlockedState } from './client.js';
import { ProtocolError } from '../protocol/parser.js';
import { releasedMemory } from './gc.js';
import { repr } from '../protocol/format.js';
import { Database, type KeyspaceOwner, type NotifyClass } from '../keyspace/db.js';
import type { RedisValue } from '../types/value.js';
import { type AccessPolicy, lfuMinutesAt, lruClockAt } from '../keyspace/access.js';
import { CommandTable, type CommandSpec } from './command-table.js';
import { ConfigRegistry } from '../config/registry.js';
import { EncodingLimits } from './encoding-limits.js';
import { Logger, type LogLevel } from './log.js';
import { Propagator } from './propagate.js';
import { ServerTls } from './tls.js';
import { tlsWanted } from '../core/tls.js';
import { Slowlog } from './slowlog.js';
import type { Clock } from '../core/clock.js';
import { Random } from '../core/clock.js';
import { activeExpireCycle } from '../keyspace/expire.js';
import { applyReplyMode } from '../commands/client.js';
import { discardTransaction, execCommandAbort } from '../commands/transactions.js';
import { blockedRedirection, isRedirection } from '../cluster/routing.js';
import { redirectBlockedClients } from './blocking.js';
import { execute, type ExecMode, type Invocation } from './executor.js';
import { admit, clientCommandFlags, invocationFlags, type AdmissionRequest, type InvocationFlags } from './admission.js';
import { ClientEviction } from './client-memory.js';
import { stallLog } from './stall-log.js';
import { READ_BUFFER_BYTES, acceptSharedReads, setSharedReader, sharedReadsEnabled, toSharedReads, type BareConnection } from './shared-reads.js';
import { listenLiteral } from './listen-literal.js';
import { directWriterFor, directWriterForHandle, directWritesOff } from './direct-writes.js';

/** Hot configuration values, mirrored from the registry so the dispatch path reads fields. */
export interface Settings {
  protoMaxBulkLen: number;
  queryBufferLimit: number;
  maxmemory: number;
  maxclients: number;
  requirepass: string;
  replicaReadOnly: boolean;
  slowlogSlowerThan: number;
  slowlogMaxLen: number;
  hz: number;
  timeout: number;
  unixSocket: string;
  activeExpireEnabled: boolean;
  lazyfreeLazyExpire: boolean;
  lazyfreeLazyUserDel: boolean;
  lazyfreeLazyUserFlush: boolean;
  /** client-output-buffer-limit, per class: [hard, soft, softSeconds]. */
  obufLimits: Record<'normal' | 'replica' | 'pubsub', [number, number, number]>;
  /** repl-backlog-size: a replica's hard output limit is never below it (checkOutputLimits). */
  replBacklogSize: number;
}

/** Counters behind INFO stats. */
export interface Stats {
  startTimeMs: number;
  totalConnections: number;
  totalCommands: number;
  rejectedConnections: number;
  expiredKeys: number;
  expiredStalePerc: number;
  expiredTimeCapReached: number;
  evictedKeys: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  netInputBytes: number;
  netOutputBytes: number;
  totalErrorReplies: number;
  errorCodes: Map<string, number>;
  unexpectedErrorReplies: number;
  totalReadsProcessed: number;
  totalWritesProcessed: number;
  clientQbufLimitDisconnections: number;
  /** Values a lazy deletion dropped that Redis would free in the background (keyspace/lazyfree.ts). */
  lazyfreedObjects: number;
  clientOutbufLimitDisconnections: number;
  pubsubChannelsPeak: number;
  instantaneous: { commands: number[]; netIn: number[]; netOut: number[]; lastSample: number; lastCmd: number; lastIn: number; lastOut: number };
}

/** What a replica-role module tells the dispatch path. */
export interface ReplicationRole {
  /** True when we are a replica (writes from normal clients refused if replica-read-only). */
  isReplica(): boolean;
  /** The master link is down and stale data must not be served (MASTERDOWN). */
  refuseStale(): boolean;
  /** For min-replicas-to-write: true when writes must be refused with NOREPLICAS. */
  notEnoughReplicas(): boolean;
}

export type { NotifyClass } from '../keyspace/db.js';

let nextClientId = 1;

/**
 * The next client id; with `next`, sets it. The start-up snapshot's warm-up (main.ts) serves
 * one client while the snapshot is built and then sets the counter back, so that a server
 * started from the snapshot numbers its clients as any other.
 */
export function clientIdCounter(next?: number): number {
  if (next !== undefined) nextClientId = next;
  return nextClientId;
}

/** Past this fill ratio a dict expands whatever the memory (HASHTABLE_MAX_LOAD_FACTOR). */
const HASHTABLE_MAX_LOAD_FACTOR = 1.618;
/** Server.prefetchKeys: how many commands' keys it reads ahead, from a read of at least so many bytes. */
const PREFETCH_COMMANDS = 16;
const PREFETCH_MIN_BYTES = 64;
const PREFETCH_IDLE = 15;
/** prefetchKeys() warms a read's keys only when it holds at least this many commands. */
const PREFETCH_MIN_COMMANDS = 3;
/** The blocked state of a client held by CLIENT PAUSE (shown as blocked, like Redis's BLOCKED_POSTPONE). */
const PAUSED: BlockedState = { kind: 'pause', deadline: 0, onTimeout: () => {} };

export interface ServerOptions {
  clock: Clock;
  random?: Random;
  config: ConfigRegistry;
  commands: CommandTable;
  logger: Logger;
}

export class Server implements KeyspaceOwner {
  /** Per-client memory and maxmemory-clients eviction (server/client-memory.ts). */
  readonly clientEviction: ClientEviction = new ClientEviction(this);
  readonly clock: Clock;
  readonly rng: Random;
  readonly config: ConfigRegistry;
  /** This server's encoding thresholds (hash/set/zset/stream), bound to its config. */
  readonly limits: EncodingLimits;
  readonly commands: CommandTable;
  readonly log: Logger;
  readonly propagator = new Propagator();
  readonly slowlog = new Slowlog();
  readonly settings: Settings;
  readonly stats: Stats;
  readonly runId: string;
  dbs: Database[] = [];
  readonly clients = new Map<number, Client>();
  readonly monitors = new Set<Client>();
  /**
   * Changes to the dataset since the last save (server.dirty in Redis). Read-only: it moves
   * through the keyspace's write API (Database.modified/counted → keyWritten/datasetChanged)
   * and a save (dirtySaved), never by a handler's own `dirty++`.
   */
  get dirty(): number {
    return this.dirtyCount;
  }
  private dirtyCount = 0;
  /** True while the dataset is being loaded from disk (keys do not expire meanwhile). */
  loading = false;
  /**
   * With `loading`: a replica loads its master's image while still serving the old dataset
   * (repl-diskless-load swapdb, same replication id): only NO_ASYNC_LOADING commands wait.
   */
  asyncLoading = false;
  /** True while a replica runs a command from its master (keys never look expired to it). */
  applyingMasterStream = false;
  /** ms timestamp of the last successful save (LASTSAVE). */
  lastSave: number;
  /** Depth of nested executions (EXEC, scripts); propagation is flushed when it returns to 0. */
  executionNesting = 0;
  /**
   * The client whose command is being processed (server.current_client): set around each
   * command by processInput and while a blocked client is served; null in cron and timers.
   */
  currentClient: Client | null = null;
  /** Redis Cluster's state (src/cluster/view.ts); null unless `cluster-enabled yes`. */
  cluster: ClusterView | null = null;
  /** Time frozen for expiry decisions while a command/script/EXEC runs (0 = not frozen). */
  private frozenNow = 0;
  /** Replication role hooks; the replication module installs the real ones. */
  role: ReplicationRole = { isReplica: () => false, refuseStale: () => false, notEnoughReplicas: () => false };
  /** A SIGTERM/SIGINT scheduled a shutdown that serverCron has not started (shutdown_asap). */
  shutdownAsap: 'SIGTERM' | 'SIGINT' | null = null;
  /** CLIENT PAUSE state. */
  pause: { mode: 'write' | 'all' | null; until: number; timer: ReturnType<typeof setTimeout> | null } = {
    mode: null,
    until: 0,
    timer: null,
  };
  readonly pausedClients = new Set<Client>();
  /** Hooks other modules (pub/sub, WATCH, blocking ops, scripting) attach to. */
  readonly hooks = {
    /** Publishes a keyspace notification (installed by the notifications module). */
    notify: (_cls: NotifyClass, _event: string, _key: string, _dbId: number): void => {},
    /** A key was modified (WATCH, client-side caching); `expired` when it expired rather than by a client. */
    keyModified: [] as ((dbId: number, key: string, expired?: boolean) => void)[],
    /** A whole database was flushed (before it empties) or swapped (after, with its partner). */
    dbTouched: [] as ((dbId: number, swappedWith?: number) => void)[],
    /** A key that blocked clients wait on may now serve them. */
    keyReady: (_db: Database, _key: string): void => {},
    /** Called after each top-level command (blocked clients are served here). */
    afterCommand: [] as ((c: Client) => void)[],
    /**
     * Durable acknowledgment (replication/durable.ts): told before and after each top-level
     * command from a client's input, and before a client's output goes to its socket (it may
     * hold replies back until a majority of replicas has the writes). Null when the mode is off.
     */
    replyGate: null as { before(c: Client): void; after(c: Client, replyMark: number): void; gate(c: Client): void } | null,
    /**
     * A replica's REPLCONF ACK, served in its client's input loop without the generic command
     * path (replication/master.ts directReplicaAck); false: not one, run it as any command.
     */
    replicaAck: null as ((c: Client, argv: string[]) => boolean) | null,
    /** Before replies are flushed to sockets (the AOF writes and, for appendfsync always, fsyncs). */
    beforeReplies: [] as (() => void)[],
    /**
     * The AOF's group commit (persistence/aof.ts): before a client's output goes to its socket;
     * true when it took the output to hold until an fdatasync in flight has returned (the
     * client is written again then). Null unless appendfsync always has a sync in flight.
     */
    outputGate: null as ((c: Client) => boolean) | null,
    /** A client is being freed. */
    clientClosed: [] as ((c: Client) => void)[],
    /** Periodic duties of other modules, run from cron(). */
    cron: [] as (() => void)[],
    /** CONFIG RESETSTAT: modules reset their own INFO counters. */
    resetStats: [] as (() => void)[],
    /**
     * Before the shutdown hooks: waits for lagging replicas (shutdown-timeout) unless `now`;
     * resolves false when SHUTDOWN ABORT cancelled the shutdown.
     */
    shutdownWait: null as ((now: boolean) => Promise<boolean>) | null,
    /** SHUTDOWN ABORT: true when a shutdown in progress was cancelled. */
    shutdownAbort: (): boolean => false,
    /** Called before the server exits (save on shutdown, AOF flush…); return false to abort. */
    shutdown: [] as ((opts: { save: boolean | null; now: boolean; force: boolean }) => boolean | Promise<boolean>)[],
    /**
     * Per executed command, with its duration (latency monitor and histograms, server/latency.ts).
     * An object with a method, not a closure, so the executor's call to it can be inlined.
     */
    commandTimer: null as { commandTimed(spec: CommandSpec, durationUs: number): void } | null,
    /** After FLUSHALL emptied the dataset (persistence saves the RDB when save points are set). */
    flushedAll: [] as (() => void)[],
    /**
     * Before a write command runs (set only while a snapshot is in progress: it serialises the
     * keys the command names before they change, see persistence/snapshot.ts).
     */
    beforeWrite: null as ((c: Client, spec: CommandSpec) => void) | null,
    /** Extra INFO sections: name → text lines. */
    info: new Map<string, () => string[]>(),
    /** Checked in the BUSY place of admission (server/admission.ts): an error text refuses the command. */
    precheck: [] as ((c: Client, spec: CommandSpec) => string | null)[],
    /** Extra auth requirement (ACL users with passwords). */
    authRequired: (): boolean => false,
    /** ACL permission check (server/acl.ts): null to allow, else the NOPERM error text. */
    aclCheck: null as ((c: Client, spec: CommandSpec, argv: readonly string[], context: 'toplevel' | 'multi' | 'exec' | 'lua', caller?: Client) => string | null) | null,
    /** Bytes of external memory held by the scripting VM, left out of used_memory as in Redis. */
    vmMemory: (): number => 0,
    /**
     * performEvictions (server/evict.ts) under maxmemory, before every command that admission
     * checks: false when used memory is over maxmemory and nothing more can be freed. Without
     * eviction installed: whether used memory is within maxmemory.
     */
    freeMemory: (): boolean => this.usedMemory() <= this.settings.maxmemory,
    /** Password check for ACL users (installed by the ACL module). */
    checkUserPassword: (_user: string, _pass: string): boolean => false,
    /** Undoes per-connection state for RESET (MULTI, WATCH, subscriptions…), by module. */
    resetClient: [] as ((c: Client) => void)[],
    /**
     * Client-side caching (server/tracking.ts), non-null only while some client has CLIENT
     * TRACKING on, so the dispatch path pays one null check: after every call() (keys read,
     * pending invalidations) and after every command processInput handled.
     */
    tracking: null as { afterCall(c: Client, spec: CommandSpec): void; commandProcessed(c: Client): void } | null,
    /** CLIENT LIST line for a client (installed by the connection commands). */
    clientInfo: (c: Client): string => `id=${c.id} addr=${c.addr}`,
    /**
     * An invocation's flags when they depend on its arguments (a script's declared flags:
     * getCommandFlags); null keeps the command's own flags (server/admission.ts).
     */
    invocationFlags: null as {
      /** The commands (fullName) whose flags may depend on their arguments. */
      commands: ReadonlySet<string>;
      flags(spec: CommandSpec, argv: readonly string[]): InvocationFlags | null;
    } | null,
    /** stop-writes-on-bgsave-error: the MISCONF error while writes are refused, else null. */
    diskWriteError: null as (() => string | null) | null,
    /** DEBUG/MODULE refused by enable-debug-command / enable-module-command, else null. */
    protectedCommandError: null as ((c: Client, spec: CommandSpec) => string | null) | null,
    /**
     * The commands that rebuild one key (persistence/aof-rewrite.ts), for propagating the whole
     * state of a key a failed command changed (commandThrew).
     */
    keyStateCommands: null as ((key: string, value: RedisValue, expireAt: number) => string[][]) | null,
  };
  private readonly listeners: net.Server[] = [];
  /** The listeners on tls-port (their connections go through the TLS handshake first). */
  private readonly tlsListeners: net.Server[] = [];
  /** TLS contexts and handshakes (server/tls.ts). */
  readonly tls: ServerTls;
  /**
   * The clients to flush this turn: the first `pendingCount` entries (the list is never shrunk:
   * an array's `length = 0` is a call into V8's runtime, once per loop turn).
   */
  private pendingWrites: (Client | null)[] = [];
  private pendingCount = 0;
  /** The other of flushPendingWrites's two lists (empty; null while a flush holds it). */
  private spareWrites: (Client | null)[] | null = [];
  private flushScheduled = false;
  /**
   * True while a lone client's read runs (onData): a flush it requests is made when the read
   * returns instead of from an Immediate in the check phase (see onData).
   */
  private loneRead = false;
  /** requestFlush was called during a lone client's read: onData flushes when it returns. */
  private flushAtReadEnd = false;
  /** NODIS_READ_END_FLUSH=0 turns the read-end flush off (decided on the first client). */
  private readEndFlush = true;
  /**
   * Clients whose CLIENT LIST waits for the rest of this turn's reads (see deferUntilRead).
   * Null when none waits.
   */
  private waitingForReads: Client[] | null = null;
  private cronTimer: ReturnType<typeof setInterval> | null = null;
  /** The clients' buffers as last summed (clientsMemory()): normal clients and replicas. */
  clientsNormalMemory = 0;
  replicaClientsMemory = 0;
  private usedMemoryRefreshedAt = -Infinity;
  /**
   * The executor's last clock.monotonic() reading (a command's start or end): a recent time
   * for what needs no exact one (usedMemoryForEvict's 1 ms refresh of the clients' sum).
   */
  lastMonotonic = 0;
  /**
   * The shared replication buffer (replication/backlog.ts), when replication has one: its
   * size, the part of it beyond repl-backlog-size that only replicas hold (counted as replica
   * memory, as Redis does), and the stream bytes a replica is owed that still sit in it.
   */
  replBuffer: { total(): number; excess(): number; owed(c: Client): number } | null = null;
  /** How key accesses are recorded; clocks advanced by cron (Redis's cached server.lruclock). */
  readonly access: AccessPolicy = { track: false, epoch: 0, lfu: false, lruClock: 0, minutes: 0, logFactor: 10, decayTime: 1, random: () => this.rng.next() };
  cronLoops = 0;
  /** Set by SHUTDOWN / signals so no new work starts. */
  shuttingDown = false;
  /** Peak of used memory (INFO memory). */
  usedMemoryPeak = 0;
  /** Ports actually bound (port 0 in tests). */
  boundPort = 0;
  /** `port 0` binds a port the kernel picks instead of no TCP (the API's private link only). */
  pickFreePort = false;
  configFile = '';
  executable = '';

  constructor(opts: ServerOptions) {
    this.clock = opts.clock;
    this.rng = opts.random ?? new Random();
    this.config = opts.config;
    this.limits = new EncodingLimits(this.config);
    this.commands = opts.commands;
    this.log = opts.logger;
    this.tls = new ServerTls(this.config, this.log);
    this.runId = this.rng.hex(40);
    this.lastSave = this.clock.now();
    const now = this.clock.now();
    this.refreshAccessClock(now);
    this.access.epoch = this.access.lruClock;
    this.stats = {
      startTimeMs: now,
      totalConnections: 0,
      totalCommands: 0,
      rejectedConnections: 0,
      expiredKeys: 0,
      expiredStalePerc: 0,
      expiredTimeCapReached: 0,
      evictedKeys: 0,
      keyspaceHits: 0,
      keyspaceMisses: 0,
      netInputBytes: 0,
      netOutputBytes: 0,
      totalErrorReplies: 0,
      errorCodes: new Map(),
      unexpectedErrorReplies: 0,
      totalReadsProcessed: 0,
      totalWritesProcessed: 0,
      clientQbufLimitDisconnections: 0,
      lazyfreedObjects: 0,
      clientOutbufLimitDisconnections: 0,
      pubsubChannelsPeak: 0,
      instantaneous: { commands: [], netIn: [], netOut: [], lastSample: now, lastCmd: 0, lastIn: 0, lastOut: 0 },
    };
    this.settings = {
      protoMaxBulkLen: 512 * 1024 * 1024,
      queryBufferLimit: 1024 * 1024 * 1024,
      maxmemory: 0,
      maxclients: 10000,
      requirepass: '',
      replicaReadOnly: true,
      slowlogSlowerThan: 10000,
      slowlogMaxLen: 128,
      hz: 10,
      timeout: 0,
      unixSocket: '',
      activeExpireEnabled: true,
      lazyfreeLazyExpire: false,
      lazyfreeLazyUserDel: false,
      lazyfreeLazyUserFlush: false,
      obufLimits: { normal: [0, 0, 0], replica: [256 * 1024 * 1024, 64 * 1024 * 1024, 60], pubsub: [32 * 1024 * 1024, 8 * 1024 * 1024, 60] },
      replBacklogSize: 1024 * 1024,
    };
    this.bindSettings();
    const n = this.config.getNumber('databases');
    for (let i = 0; i < n; i++) this.dbs.push(new Database(i, this));
    // A cluster keeps db 0's keys by hash slot from the start (keyspace/slot-index.ts).
    if (this.config.getBool('cluster-enabled')) {
      this.dbs[0]!.indexSlots();
      // Clients blocked on a slot that moved away, or in a cluster gone down, are redirected.
      this.hooks.cron.push(() => {
        const view = this.cluster;
        if (view === null) return;
        redirectBlockedClients(this, (c, key) => blockedRedirection(view, key, c.clusterReadOnly, c.lastCmd?.isWrite ?? false, c.plaintextInTlsCluster));
      });
    }
  }

  /** Mirrors hot config values into `settings` and reacts to changes. */
  private bindSettings(): void {
    const c = this.config;
    const s = this.settings;
    c.watch('proto-max-bulk-len', (v) => (s.protoMaxBulkLen = v as number));
    c.watch('client-query-buffer-limit', (v) => (s.queryBufferLimit = v as number));
    c.watch('maxmemory', (v) => {
      s.maxmemory = v as number;
      this.clientEviction.applyLimit();
    });
    c.watch('maxmemory-clients', () => this.clientEviction.applyLimit());
    c.watch('maxmemory-policy', (v) => {
      const policy = v as string;
      const track = policy.endsWith('-lru') || policy.endsWith('-lfu');
      if (track !== this.access.track) {
        // Records kept so far stay (and keep meaning what they meant); keys without one count
        // as accessed now.
        this.refreshAccessClock();
        this.access.epoch = this.access.lruClock;
        this.access.track = track;
      }
      this.access.lfu = policy.endsWith('-lfu');
    });
    c.watch('lfu-log-factor', (v) => (this.access.logFactor = v as number));
    c.watch('lfu-decay-time', (v) => (this.access.decayTime = v as number));
    c.watch('maxclients', (v) => (s.maxclients = v as number));
    // New connections take the new value; on Linux they inherit it from the listener.
    c.watch('tcp-keepalive', () => {
      for (const l of this.listeners) if (this.optionsOnListener.has(l)) this.setListenerOptions(l);
    });
    c.watch('requirepass', (v) => (s.requirepass = v as string));
    c.watch('replica-read-only', (v) => (s.replicaReadOnly = v as boolean));
    c.watch('slowlog-log-slower-than', (v) => (s.slowlogSlowerThan = v as number));
    c.watch('slowlog-max-len', (v) => {
      s.slowlogMaxLen = v as number;
      this.slowlog.trim(s.slowlogMaxLen);
    });
    c.watch('hz', (v) => {
      s.hz = Math.min(500, Math.max(1, v as number));
      if (this.cronTimer !== null) this.startCron();
    });
    c.watch('timeout', (v) => (s.timeout = v as number));
    c.watch('repl-backlog-size', (v) => (s.replBacklogSize = v as number));
    c.watch('unixsocket', (v) => (s.unixSocket = v as string));
    c.watch('lazyfree-lazy-expire', (v) => (s.lazyfreeLazyExpire = v as boolean));
    c.watch('lazyfree-lazy-user-del', (v) => (s.lazyfreeLazyUserDel = v as boolean));
    c.watch('lazyfree-lazy-user-flush', (v) => (s.lazyfreeLazyUserFlush = v as boolean));
    c.watch('loglevel', (v) => (this.log.level = v as LogLevel));
    c.watch('client-output-buffer-limit', (v) => {
      const words = String(v).split(/\s+/);
      for (let i = 0; i + 3 < words.length + 1; i += 4) {
        const cls = words[i] === 'slave' ? 'replica' : (words[i] as 'normal' | 'replica' | 'pubsub');
        if (cls in s.obufLimits) s.obufLimits[cls] = [Number(words[i + 1]), Number(words[i + 2]), Number(words[i + 3])];
      }
    });
  }

  // ---- KeyspaceOwner -------------------------------------------------------------------------

  expiryNow(): number {
    // Inside a command the time is frozen at the outermost command's start, so a script or
    // EXEC sees one instant (Redis's call() sets server.mstime from the ustime() it times the
    // command with; a script's snapshot_time is read microseconds later). It comes from the
    // monotonic read the executor made as the command started (Clock.wallAt): no clock read,
    // and none at all for commands that never ask.
    if (this.executionNesting > 0) {
      if (this.frozenNow === 0) this.frozenNow = this.clock.wallAt(this.invocationRecords[0]!.start);
      return this.frozenNow;
    }
    return this.clock.now();
  }

  expiryIsMastersJob(): boolean {
    // During CLIENT PAUSE keys expire logically but are not deleted (nothing may propagate).
    return this.role.isReplica() || this.pause.mode !== null;
  }

  onKeyExpired(db: Database, key: string): void {
    this.stats.expiredKeys++;
    this.propagateDeletion(db, key, this.settings.lazyfreeLazyExpire);
    this.hooks.notify('x', 'expired', key, db.id);
    this.signalModifiedKey(db, key, true);
  }

  random(): number {
    return this.rng.next();
  }

  dictExpandAllowed(moreBytes: number, usedRatio: number): boolean {
    const max = this.settings.maxmemory;
    if (max === 0 || usedRatio > HASHTABLE_MAX_LOAD_FACTOR) return true;
    return this.usedMemoryForEvict() + moreBytes <= max;
  }

  onKeyAdded(db: Database, key: string): void {
    this.hooks.notify('n', 'new', key, db.id);
  }

  /**
   * Whether SET's handler may take a LONG_ARG as bytes: SET itself, run now (not queued by
   * MULTI nor held by CLIENT PAUSE) for an ordinary client, with nothing that would read the
   * argument afterwards (AOF, replicas, MONITOR).
   */
  private longArgTakenBySet(c: Client, spec: CommandSpec | undefined): boolean {
    return spec !== undefined && spec.fullName === 'set' && c.multi === null && this.pause.mode === null && !c.isMaster && c.kind === 'normal' && !this.propagator.hasReaders() && this.monitors.size === 0;
  }

  /** Propagates the deletion of an expired or evicted key as DEL (or UNLINK when lazy). */
  propagateDeletion(db: Database, key: string, lazy: boolean): void {
    const p = this.propagator;
    // Outside a command with no AOF and no replica, the flush below would drop it: build nothing.
    if (this.executionNesting === 0 && !p.hasTargets && p.isEmpty()) return;
    p.also(db.id, [lazy ? 'UNLINK' : 'DEL', key]);
    if (this.executionNesting === 0) this.propagator.flush();
  }

  // ---- The keyspace's write API signals (keyspace/db.ts calls them) ---------------------------

  /** signalModifiedKey: WATCH, client-side caching (tracking) invalidation, the memory model. */
  signalModifiedKey(db: Database, key: string, expired = false): void {
    db.resized(key); // the memory model's in-place hook (keyspace/memory.ts)
    // The first hooks from call sites of their own (see afterCommandHooks); the length is read
    // anew before each, as the loop does, so a hook added meanwhile still runs.
    const hooks = this.hooks.keyModified;
    const dbId = db.id;
    if (hooks.length > 0) hooks[0]!(dbId, key, expired);
    if (hooks.length > 1) hooks[1]!(dbId, key, expired);
    if (hooks.length > 2) hooks[2]!(dbId, key, expired);
    if (hooks.length > 3) hooks[3]!(dbId, key, expired);
    for (let i = 4; i < hooks.length; i++) hooks[i]!(dbId, key, expired);
  }

  /**
   * A whole database changed: FLUSHDB/FLUSHALL call this before emptying it, SWAPDB after the
   * swap with the partner's id (WATCH compares old and new contents).
   */
  signalDbTouched(dbId: number, swappedWith?: number): void {
    for (const h of this.hooks.dbTouched) h(dbId, swappedWith);
  }

  /** Publishes a keyspace event (no-op unless notify-keyspace-events enables the class). */
  notify(cls: NotifyClass, event: string, key: string, dbId: number): void {
    this.hooks.notify(cls, event, key, dbId);
  }

  /** Database.modified(): dirty += changes, signalModifiedKey, the keyspace event. */
  keyWritten(db: Database, key: string, cls: NotifyClass, event: string, changes: number): void {
    this.dirtyCount += changes;
    this.signalModifiedKey(db, key);
    this.hooks.notify(cls, event, key, db.id);
  }

  /**
   * dirty += changes: Database.counted(), and the changes that belong to no key — a function
   * library loaded, deleted, flushed or restored (they are part of the RDB), FLUSHALL's keys.
   */
  datasetChanged(changes: number): void {
    this.dirtyCount += changes;
  }

  /** A save wrote the dataset as of `changesAtStart` changes ago: dirty keeps only what came after. */
  dirtySaved(changesAtStart: number): void {
    this.dirtyCount = Math.max(0, this.dirtyCount - changesAtStart);
  }

  /** Looks a key up for reading, counting keyspace hits/misses as Redis does. */
  /** Read lookup counting hits and misses; `noTouch` leaves the key's access record alone. */
  lookupRead(db: Database, key: string, noTouch = false): ReturnType<Database['lookup']> {
    const v = noTouch ? db.lookupNoTouch(key) : db.lookup(key);
    if (v === undefined) {
      this.stats.keyspaceMisses++;
      this.hooks.notify('m', 'keymiss', key, db.id);
    } else {
      this.stats.keyspaceHits++;
    }
    return v;
  }

  authRequired(): boolean {
    return this.settings.requirepass !== '' || this.hooks.authRequired();
  }

  // ---- Memory ------------------------------------------------------------------------------------

  /**
   * Bytes the dataset and server use (INFO used_memory), refreshed at most every 10 ms: the V8
   * heap and external memory (buffers), without the Lua VM (Redis leaves it out too) and
   * without what eviction freed but the collector has not reclaimed yet (server/evict.ts).
   */
  usedMemory(now = this.clock.monotonic()): number {
    let used = STARTUP_MEMORY + this.clientsMemory(now) + this.replBacklogMemory();
    const dbs = this.dbs;
    // Every command sums this under maxmemory; an empty database (charged nothing) is skipped.
    for (let i = 0; i < dbs.length; i++) if (dbs[i]!.memory !== 0) used += dbs[i]!.memoryBytes();
    if (used > this.usedMemoryPeak) this.usedMemoryPeak = used;
    return used;
  }

  /**
   * What clients hold (keyspace/memory.ts's model for buffers): per client its structure and
   * reply chunk (CLIENT_BYTES, as Redis's client struct and 16 KB `buf`), its query buffer and
   * its output (reply buffer plus what the socket still holds). Summed at most every ms of
   * `now` (clock.monotonic(), or a recent reading of it: usedMemoryForEvict).
   */
  clientsMemory(now = this.clock.monotonic()): number {
    if (now - this.usedMemoryRefreshedAt >= 1) {
      let normal = 0;
      let replicas = 0;
      for (const c of this.clients.values()) {
        if (c.fake) continue;
        const bytes = CLIENT_BYTES + c.parser.pendingBytes + c.parser.partialArgBytes + this.outputBytes(c);
        if (c.kind === 'replica') replicas += bytes;
        else normal += bytes;
      }
      if (this.replBuffer !== null) replicas += this.replBuffer.excess();
      this.clientsNormalMemory = normal;
      this.replicaClientsMemory = replicas;
      this.usedMemoryRefreshedAt = now;
    }
    return this.clientsNormalMemory + this.replicaClientsMemory;
  }

  /**
   * Used memory as eviction counts it (getMaxmemoryState): usedMemory() less
   * mem_not_counted_for_evict, what replicas' output buffers hold (freeMemoryGetNotCountedMemory),
   * so that eviction's own DELs, sent to the replicas, cannot feed more eviction. usedMemory()
   * has just refreshed replicaClientsMemory: one read of the clients' part.
   *
   * It runs before every command under maxmemory, so it reads no clock: the clients' sum is
   * redone once `lastMonotonic`, the executor's last reading (the previous command's end), is
   * a ms past the last sum. After an idle spell that reading is old, and the first command
   * sees the sum as of then; cron's usedMemory() (real clock, every 1000/hz ms) re-sums it, so
   * it is never older than a cron tick or that command.
   */
  usedMemoryForEvict(): number {
    const used = this.usedMemory(this.lastMonotonic);
    return used - this.replicaClientsMemory;
  }

  /** The part of the shared replication buffer counted as the backlog's (mem_replication_backlog). */
  replBacklogMemory(): number {
    return this.replBuffer === null ? 0 : this.replBuffer.total() - this.replBuffer.excess();
  }

  /** Forces the next usedMemory() to re-sum the clients' buffers. */
  invalidateUsedMemory(): void {
    this.usedMemoryRefreshedAt = -Infinity;
  }

  // ---- Listening ---------------------------------------------------------------------------------

  /** Binds every configured address and the unix socket. Throws on failure (logged by caller). */
  async listen(): Promise<void> {
    const tlsPort = this.config.getNumber('tls-port');
    if (tlsWanted(tlsPort, { replication: this.config.getBool('tls-replication'), cluster: this.config.getBool('tls-cluster') }) && !this.tls.configure()) {
      this.log.warning('Failed to configure TLS. Check logs for more info.');
      throw new Error('TLS configuration failed');
    }
    try {
      await this.listenTcp(this.listeners);
    } catch (e) {
      this.log.warning(`Failed listening on port ${this.config.getNumber('port')} (TCP), aborting.`);
      throw e;
    }
    try {
      await this.listenTcp(this.tlsListeners, [], true);
    } catch (e) {
      this.log.warning(`Failed listening on port ${tlsPort} (TLS), aborting.`);
      throw e;
    }
    const unix = this.settings.unixSocket;
    if (unix !== '') {
      try {
        fs.unlinkSync(unix);
      } catch {
        // not there
      }
      try {
        await this.listenOn({ path: unix, backlog: this.config.getNumber('tcp-backlog') });
        const perm = this.config.getNumber('unixsocketperm');
        if (perm !== 0) fs.chmodSync(unix, perm);
      } catch (e) {
        this.log.warning(`Failed opening Unix socket: ${(e as Error).message}`);
        throw e;
      }
    }
    this.startCron();
  }

  /**
   * Binds every `bind` address on `port` (none when port is 0 or bind is empty), as
   * listenToPort() does: an optional address (`-::*`) or a missing protocol is skipped, any
   * other failure closes what this call opened and throws.
   */
  private async listenTcp(into: net.Server[], reusable: readonly net.Server[] = [], secure = false): Promise<void> {
    let port = this.config.getNumber(secure ? 'tls-port' : 'port');
    const binds = this.config.getString('bind').split(' ').filter(Boolean);
    const backlog = this.config.getNumber('tcp-backlog');
    // The API's kernel-chosen port is for the plain listener only (a TLS port is always given).
    const pick = port === 0 && this.pickFreePort && !secure;
    if (port === 0 && !pick) return;
    const opened: net.Server[] = [];
    const kept: net.Server[] = [];
    for (const given of binds) {
      const optional = given.startsWith('-');
      const shown = optional ? given.slice(1) : given;
      const host = shown === '*' ? '0.0.0.0' : shown === '::*' ? '::' : shown;
      // Rebinding: an address already listened on stays as it is (binding it again would fail
      // with EADDRINUSE while the old socket is open).
      const same = reusable.find((l) => {
        const a = l.address();
        return a !== null && typeof a === 'object' && a.port === port && a.address === host;
      });
      if (same !== undefined) {
        kept.push(same);
        continue;
      }
      try {
        const srv = await this.listenOn({ port, host, backlog, ipv6Only: host.includes(':') }, opened, secure);
        const a = srv.address();
        if (a !== null && typeof a === 'object' && !secure) this.boundPort = a.port;
        // The kernel chose the first address's port: every other address and `port` take it.
        if (pick && port === 0) port = this.boundPort;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        this.log.warning(`Warning: Could not create server TCP listening socket ${shown}:${port}: bind: ${describeListenError(err)}`);
        if (optional && err.code === 'EADDRNOTAVAIL') continue;
        if (err.code === 'EAFNOSUPPORT' || err.code === 'EPROTONOSUPPORT') continue;
        await Promise.all(opened.map((l) => new Promise<void>((r) => l.close(() => r()))));
        throw err;
      }
    }
    into.push(...kept, ...opened);
    if (pick && port !== 0) {
      this.pickFreePort = false;
      this.config.set('port', [String(port)], 'runtime');
    }
  }

  /**
   * CONFIG SET port / tls-port / bind: binds the new addresses first and only then closes the
   * old TCP (or, with `secure`, TLS) listeners, so a failure leaves the server listening where it
   * was. Resolves false on failure.
   */
  async rebindTcp(secure = false): Promise<boolean> {
    const listeners = secure ? this.tlsListeners : this.listeners;
    const old = listeners.filter((l) => typeof l.address() !== 'string');
    const fresh: net.Server[] = [];
    try {
      await this.listenTcp(fresh, old, secure);
    } catch (e) {
      const previous = old.map((l) => l.address() as net.AddressInfo);
      const port = this.config.getNumber(secure ? 'tls-port' : 'port');
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !previous.some((a) => a.port === port)) return false;
      // Our own listeners are in the way (a wildcard holds the port for 127.0.0.1): do as
      // changeBindAddr does, close them first, and bring them back if binding still fails.
      for (const l of old) listeners.splice(listeners.indexOf(l), 1);
      // close() releases the port at once; its callback would wait for every client to leave.
      for (const l of old) l.close();
      try {
        await this.listenTcp(fresh, [], secure);
      } catch {
        const backlog = this.config.getNumber('tcp-backlog');
        for (const a of previous) {
          try {
            await this.listenOn({ host: a.address, port: a.port, backlog, ipv6Only: a.family === 'IPv6' }, listeners, secure);
          } catch (err) {
            this.log.warning(`Could not restore listening socket ${a.address}:${a.port}: ${(err as Error).message}`);
          }
        }
        return false;
      }
      listeners.push(...fresh);
      return true;
    }
    for (const l of old) {
      listeners.splice(listeners.indexOf(l), 1);
      if (!fresh.includes(l)) l.close();
    }
    listeners.push(...fresh);
    return true;
  }

  private listenOn(opts: net.ListenOptions, into: net.Server[] = this.listeners, secure = false): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      // Plain connections arrive paused, to be moved onto shared reads (shared-reads.ts).
      const paused = !secure && sharedReadsEnabled();
      const onConnection = secure
        ? (raw: net.Socket) => this.acceptTls(raw)
        : (socket: net.Socket) => this.accept(paused ? (toSharedReads(socket) ?? socket.resume()) : socket, this.optionsOnListener.has(srv));
      const srv = net.createServer({ noDelay: true, pauseOnConnect: paused }, onConnection);
      srv.maxConnections = Number.MAX_SAFE_INTEGER;
      srv.once('error', reject);
      srv.once('listening', () => {
        if (!secure) this.setListenerOptions(srv);
        // Each accepted connection made straight into its shared-read socket (one net.Socket,
        // not two); the 'connection' listener above stays for anything this does not take.
        // Plain TCP connections on a listener whose options they inherit are served bare, without
        // a net.Socket (shared-reads.ts BareConnection); the rest as before.
        if (paused && process.env.NODIS_ACCEPT_SHARED !== '0') {
          acceptSharedReads(
            srv,
            (socket) => this.accept(socket, this.optionsOnListener.has(srv)),
            (conn) => this.optionsOnListener.has(srv) && this.acceptBare(conn),
          );
        }
        srv.off('error', reject);
        srv.on('error', (e) => this.log.warning(`Accepting client connection: ${e.message}`));
        into.push(srv);
        resolve(srv);
      });
      listenLiteral(srv, opts);
    });
  }

  /** Plain TCP listeners whose accepted sockets inherit TCP_NODELAY and tcp-keepalive (setListenerOptions). */
  private readonly optionsOnListener = new WeakSet<net.Server>();

  /**
   * Sets TCP_NODELAY and tcp-keepalive on a listening TCP socket, on Linux, whose accept()
   * copies a listener's TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE/KEEPINTVL/KEEPCNT to each
   * socket it returns: five setsockopt calls per connection fewer (accept() then leaves them
   * as Redis's anetEnableTcpNoDelay and anetKeepAlive would). False where that is not known
   * to hold (other systems, unix sockets, a handle without the calls, NODIS_LISTENER_OPTIONS=0,
   * a failed call): each accepted socket then gets its own.
   */
  private setListenerOptions(srv: net.Server): boolean {
    if (process.platform !== 'linux' || process.env.NODIS_LISTENER_OPTIONS === '0') return false;
    const h = (srv as unknown as { _handle?: Partial<{ setNoDelay(on: boolean): number; setKeepAlive(on: boolean, delaySeconds: number): number }> | null })._handle;
    if (h === null || h === undefined || typeof h.setNoDelay !== 'function' || typeof h.setKeepAlive !== 'function') return false;
    const keepalive = this.config.getNumber('tcp-keepalive');
    if (h.setNoDelay(true) !== 0 || h.setKeepAlive(keepalive > 0, keepalive) !== 0) {
      this.optionsOnListener.delete(srv);
      return false;
    }
    this.optionsOnListener.add(srv);
    return true;
  }

  /** The listening sockets' descriptors, each with its address (a busy script's acceptor uses them). */
  listeningSockets(): { fd: number; address: string }[] {
    const out: { fd: number; address: string }[] = [];
    for (const l of this.listeners) {
      const fd = (l as unknown as { _handle?: { fd?: number } | null })._handle?.fd ?? -1;
      if (fd >= 0) out.push({ fd, address: JSON.stringify(l.address()) });
    }
    return out;
  }

  /** TLS connections still in their handshake: not clients yet, so shutdown ends them here. */
  private readonly tlsHandshakes = new Set<net.Socket>();

  private acceptTls(raw: net.Socket): void {
    this.tlsHandshakes.add(raw);
    raw.once('close', () => this.tlsHandshakes.delete(raw));
    this.tls.accept(raw, (socket) => {
      this.tlsHandshakes.delete(raw);
      // A handshake that ends after shutdown began would keep the listener from closing.
      if (this.shuttingDown) socket.destroy();
      else this.accept(socket);
    });
  }

  /** Closes the listening sockets (SHUTDOWN, tests). */
  async closeListeners(): Promise<void> {
    const closed = Promise.all([...this.listeners, ...this.tlsListeners].map((l) => new Promise<void>((r) => l.close(() => r()))));
    for (const raw of this.tlsHandshakes) raw.destroy();
    this.tlsHandshakes.clear();
    await closed;
    this.listeners.length = 0;
    this.tlsListeners.length = 0;
    if (this.settings.unixSocket !== '') {
      try {
        fs.unlinkSync(this.settings.unixSocket);
      } catch {
        // already gone
      }
    }
  }

  // ---- Clients -----------------------------------------------------------------------------------

  /** Takes a new connection (from a listener, or adopted while a script is busy: busy.ts). */
  accept(socket: net.Socket, optionsInherited = false): void {
    if (!optionsInherited) {
      socket.setNoDelay(true);
      const keepalive = this.config.getNumber('tcp-keepalive');
      if (keepalive > 0) socket.setKeepAlive(true, keepalive * 1000);
    }
    // Admission control comes before the client exists (acceptCommonHandler): no id is spent.
    if (this.clients.size >= this.settings.maxclients) {
      this.stats.rejectedConnections++;
      socket.end('-ERR max number of clients reached\r\n');
      socket.on('error', () => {});
      return;
    }
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    const c = new Client(this, nextClientId++, socket, this.dbs[0]!, { fd });
    if (this.protectedModeRefuses(socket)) {
      this.stats.rejectedConnections++;
      socket.end(`-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n`);
      socket.on('error', () => {});
      return;
    }
    this.admitClient(c);
    const shared = setSharedReader(socket, this.sharedReaderOf(c), () => this.peerEnded(c));
    if (!shared) socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    c.directWriter = directWriterFor(socket);
    this.logClientPaths(c, shared ? 'Client reads: one shared buffer (onread)' : "Client reads: 'data' events");
    this.adoptSocket(c, socket);
  }

  /**
   * Takes a plain TCP connection without a net.Socket (shared-reads.ts BareConnection): a
   * client over its handle, reading through the shared buffer and writing to the handle. False
   * (the handle untouched) when it must go the socket path: a connection to refuse (maxclients,
   * protected mode: their error is written and the socket ended there), or direct writes off.
   */
  private acceptBare(conn: BareConnection): boolean {
    if (this.clients.size >= this.settings.maxclients) return false;
    if (this.protectedModeRefusesAddress(conn.peer.address ?? '')) return false;
    let client: Client | null = null;
    const direct = directWriterForHandle(conn.handle, () => client?.connectionFailed());
    if (direct === null) return false;
    const c = (client = new Client(this, nextClientId++, conn, this.dbs[0]!, { fd: conn.handle.fd }));
    c.directWriter = direct;
    conn.reader = this.sharedReaderOf(c);
    conn.onEnd = () => this.peerEnded(c);
    if (!conn.start()) {
      // libuv refused to read it (the peer already gone): dropped, as a failed read would.
      conn.close();
      c.reply.release();
      return true;
    }
    this.admitClient(c);
    this.logClientPaths(c, 'Client reads: one shared buffer (bare connection)');
    return true;
  }

  /** A new connection's client counted and registered, its reply writer's callbacks set. */
  private admitClient(c: Client): void {
    this.stats.totalConnections++;
    this.registerClient(c);
    c.reply.onError = (msg) => this.recordError(c, msg);
    c.reply.overLimit = (need) => this.replyOverLimit(c, need);
  }

  /** What a shared-read connection's reads go to. */
  private sharedReaderOf(c: Client): (chunk: Buffer) => void {
    // NODIS_STALL_LOG's watch of this connection's reads (stall-log.ts); null when off.
    const stallWatch = stallLog()?.connection(c.id) ?? null;
    return (chunk) => {
      if (stallWatch !== null) stallWatch.read();
      this.onData(c, chunk);
      c.parser.release(chunk);
    };
  }

  /** The first client's read and write paths, logged once (tests look for them at loglevel verbose). */
  private logClientPaths(c: Client, reads: string): void {
    if (this.readPathLogged) return;
    this.readPathLogged = true;
    this.readEndFlush = process.env.NODIS_READ_END_FLUSH !== '0';
    this.log.verbose(reads);
    this.log.verbose(c.directWriter !== null ? 'Client writes: to the socket handle' : `Client writes: socket.write${directWritesOff === '' ? '' : ` (${directWritesOff})`}`);
  }

  /** A client's socket's events: made at accept, or when a bare connection's socket is made (Client.socket). */
  adoptSocket(c: Client, socket: net.Socket): void {
    socket.on('error', () => this.freeClient(c));
    socket.on('close', () => this.freeClient(c));
    socket.on('drain', () => {
      if (c.closeAfterReply && c.reply.len === 0) socket.end();
    });
  }

  /**
   * The peer ended the connection (its read returned EOF) or a read failed, on a socket whose
   * reads are taken past the stream (shared-reads.ts ownReads): as Redis's readQueryFromClient
   * on a read of 0, the client is freed and its descriptor closed, without Node's shutdown
   * and stream events. Replies still to be written (a request and its peer's FIN read in the
   * same turn; a queued write the kernel has not taken) go out first, as they did when Node
   * ended the socket: the client then closes after its reply (closeAfterReply).
   */
  private peerEnded(c: Client): void {
    if (c.closed || c.closeAfterReply) return;
    if (c.reply.len === 0 && !c.pendingWrite && c.socketQueued === 0) this.freeClient(c);
    else this.closeAfterReply(c);
  }

  /** The first client's read path was logged (tests look for it at loglevel verbose). */
  private readPathLogged = false;

  private protectedModeRefuses(socket: net.Socket): boolean {
    return this.protectedModeRefusesAddress(socket.remoteAddress ?? '');
  }

  /** Protected mode's test on a peer's IP address ('' for a unix socket). */
  private protectedModeRefusesAddress(ra: string): boolean {
    if (!this.config.getBool('protected-mode')) return false;
    if (this.authRequired()) return false;
    // Whatever `bind` says (7.0 dropped that condition), only loopback peers are let in:
    // islocalClient() knows exactly 127.0.0.1 and ::1 (and unix sockets).
    return !(ra === '' || ra === '127.0.0.1' || ra === '::1' || ra === '::ffff:127.0.0.1');
  }

  /** Adds a client to the table (also used for fake clients that must show in CLIENT LIST). */
  registerClient(c: Client): void {
    this.clients.set(c.id, c);
  }

  /** Allocates a client id (fake clients, the master link). */
  newClientId(): number {
    return nextClientId++;
  }

  /** Frees a client: unregisters it, cancels blocking, removes subscriptions, closes its socket. */
  freeClient(c: Client): void {
    if (c.closed) return;
    c.closed = true;
    this.clients.delete(c.id);
    this.monitors.delete(c);
    this.pausedClients.delete(c);
    if (c.blocked !== null) {
      const b = c.blocked;
      c.blocked = null;
      b.onCancel?.('disconnect');
    }
    for (const h of this.hooks.clientClosed) h(c);
    this.clientEviction.forget(c);
    releasedMemory(this.outputBytes(c) + c.parser.pendingBytes + c.parser.partialArgBytes);
    c.closeConnection();
    c.reply.release();
    this.invalidateUsedMemory();
  }

  /** Closes a client after its pending replies are written (QUIT, protocol errors). */
  closeAfterReply(c: Client): void {
    c.closeAfterReply = true;
    c.markPendingWrite();
  }

  /**
   * A client's read. With more than one client connected, the replies (and the AOF's write and
   * fsync) go out at the end of the loop turn, once for every client read in it (the check
   * phase's Immediate: requestFlush). A client alone has nobody to share the turn's flush with,
   * so its flush runs when its read returns — the same hooks (the AOF record written, and under
   * `always` fdatasynced, before any reply), the same writes, without the Immediate and the
   * check phase's second entry into JS on every request at -c 1. Another event of the same
   * turn (a timer, the cluster bus) that asks for a flush gets its own, as it would after a
   * flush already made this turn. A read that filled the read buffer (64 KB, a big pipeline)
   * is followed by another in the same turn, so it keeps the turn's one flush (one AOF write
   * and, under `always`, one fdatasync for the whole turn's input).
   */
  private onData(c: Client, chunk: Buffer): void {
    if (this.flushScheduled || this.clients.size !== 1 || chunk.length >= READ_BUFFER_BYTES || !this.readEndFlush) {
      this.readInput(c, chunk);
      return;
    }
    this.loneRead = true;
    try {
      this.readInput(c, chunk);
    } finally {
      this.loneRead = false;
      if (this.flushAtReadEnd) {
        this.flushAtReadEnd = false;
        this.flushPendingWrites();
      }
    }
  }

  private readInput(c: Client, chunk: Buffer): void {
    if (c.closed) return;
    this.stats.netInputBytes += chunk.length;
    this.stats.totalReadsProcessed++;
    if (c.closeAfterReply) return;
    c.parser.feed(chunk);
    c.lastInteraction = this.cachedNow;
    const qbuf = c.parser.pendingBytes;
    if (qbuf > this.settings.queryBufferLimit && !c.isMaster) {
      this.log.warning(`Closing client that reached max query buffer length: ${this.clientInfoString(c)} (qbuf initial bytes: ${JSON.stringify(chunk.subarray(0, 64).latin1Slice(0, Math.min(64, chunk.length)))})`);
      this.stats.clientQbufLimitDisconnections++;
      this.freeClient(c);
      return;
    }
    if (this.clientEviction.check(c)) return;
    this.processInput(c);
    // After parsing (processInputBuffer's updateClientMemUsageAndBucket): a large bulk whose
    // header just arrived now counts whole, and may tip the total over the limit.
    if (!c.closed && c.parser.reservedBytes > 0) this.clientEviction.check(c);
  }

  /** Runs every complete command waiting in the client's input, unless it blocks or pauses. */
  processInput(c: Client): void {
    const paused = this.pausedClients;
    // The commands a scan before a block covered (a WAIT or BLPOP in a pipeline) are still
    // covered when the client resumes: not scanned (and their keys warmed) again per resumption.
    let ahead = c.prefetchAhead;
    c.prefetchAhead = 0;
    while (!c.closed && !c.closeAfterReply && c.blocked === null && (paused.size === 0 || !paused.has(c)) && !c.waitingForReads) {
      if (--ahead <= 0) ahead = this.prefetchKeys(c);
      let argv: string[] | null;
      try {
        argv = c.parser.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        c.reply.error(e.message);
        if (this.log.enabled('verbose')) {
          this.log.verbose(`Protocol error (${e.reason}) from client: ${this.clientInfoString(c)}.`);
        }
        c.parser.clear();
        this.closeAfterReply(c);
        break;
      }
      if (argv === null) break;
      if (argv.length === 0) continue;
      if (this.deferUntilRead(c, argv)) break;
      // A replica's ACK (~0.3 per SET + WAIT 1, one command in eight on a master): served
      // as a step of its own, counted as call() counts it, then the after-command hooks.
      if (c.kind === 'replica' && argv.length === 3 && this.hooks.replicaAck !== null && this.hooks.replicaAck(c, argv)) {
        this.afterCommandHooks(c);
        continue;
      }
      c.argv = argv;
      const replyMark = c.reply.len;
      const wasReplica = c.kind === 'replica' && !c.isMonitor;
      const prevClient = this.currentClient;
      this.currentClient = c;
      const gate = this.hooks.replyGate;
      if (gate !== null) gate.before(c);
      this.processCommand(c);
      this.currentClient = prevClient;
      // REPLCONF is the replica's own command (ACK answers nothing; serving an ACK may pump
      // the stream into the same buffer, which is not a reply).
      if (wasReplica && c.reply.len > replyMark && c.cmd?.fullName !== 'replconf') {
        this.replicaGeneratedReply(c, replyMark);
        return;
      }
      // ASKING holds for the next command only, or until EXEC (resetClient).
      if (c.clusterAsking && c.multi === null && argv[0]!.toLowerCase() !== 'asking') c.clusterAsking = false;
      // CLIENT REPLY OFF/SKIP: drop what the command wrote (not for a command held by a pause).
      if ((c.replyMode !== 'on' || c.skipNextReply) && !paused.has(c)) applyReplyMode(c, replyMark);
      if (gate !== null) gate.after(c, replyMark);
      if (this.hooks.tracking !== null) this.hooks.tracking.commandProcessed(c);
      c.argv = NO_ARGV;
    }
    if (c.blocked !== null && !c.closed) c.prefetchAhead = ahead;
    if (c.reply.len > 0) c.markPendingWrite();
  }

  private readonly prefetchStarts = new Int32Array(PREFETCH_COMMANDS);
  private readonly prefetchLens = new Int32Array(PREFETCH_COMMANDS);

  /**
   * Before the commands of a pipelined read run: reads the table entry of each one's second
   * argument (the key, for GET, SET, INCR… `-r` keys), so the cache misses of up to
   * PREFETCH_COMMANDS lookups overlap instead of each command waiting for its own (Database
   * .warmBytes, as MSET warms its keys). A pure read: no state moves, and a command whose second
   * argument is not a key of the selected database (or one that SELECTs another) only wasted the
   * read. Answers how many commands it covered (at least 1: processInput asks again after them).
   * A client whose batch named one key only (a pipeline of RPUSHes to one list) is not scanned
   * for its next PREFETCH_IDLE × PREFETCH_COMMANDS commands: the scan would only cost there;
   * nor one whose read held fewer than PREFETCH_MIN_COMMANDS commands, for its next
   * PREFETCH_IDLE reads. A batch led by a command the scan stops at is not scanned for its
   * next PREFETCH_COMMANDS.
   */
  private prefetchKeys(c: Client): number {
    const parser = c.parser;
    const pending = parser.pendingBytes;
    if (pending < PREFETCH_MIN_BYTES) return 1;
    if (c.prefetchIdle > 0) {
      c.prefetchIdle--;
      return PREFETCH_COMMANDS;
    }
    // A client that sends one command per read (-P 1) has nothing to overlap: after a scan found
    // fewer than PREFETCH_MIN_COMMANDS, its next PREFETCH_IDLE reads of less than twice that
    // read's bytes are not scanned (a 95-byte EVALSHA is past PREFETCH_MIN_BYTES; each scan of
    // it was ~0.15 µs).
    if (c.prefetchLoneReads > 0 && pending < c.prefetchLoneBytes) {
      c.prefetchLoneReads--;
      return 1;
    }
    const n = parser.scanSecondArgs(this.prefetchStarts, this.prefetchLens);
    // The first command is not one the scan reads (PING, MSET's 21 arguments, inline): the
    // commands behind it are not scanned again one by one, each scan stopping at the first.
    if (n === 0) return PREFETCH_COMMANDS;
    if (n < PREFETCH_MIN_COMMANDS) {
      // One or two commands were all the read held (an EVALSHA, or SET + WAIT at -P 1, whose
      // WAIT's `1` is no key): at most one miss to overlap, not worth hashing; the client's next
      // reads are most likely as short, so they skip the scan too while they stay under twice
      // this read's bytes (a pipeline that follows is scanned at once).
      if (parser.scanReachedEnd) {
        c.prefetchLoneReads = PREFETCH_IDLE;
        c.prefetchLoneBytes = 2 * pending;
      }
      return n;
    }
    c.prefetchLoneReads = 0;
    if (!c.db.warmBytes(parser.buffered, this.prefetchStarts, this.prefetchLens, n)) c.prefetchIdle = PREFETCH_IDLE;
    return n;
  }

  /**
   * CLIENT LIST reports what every client's query buffer holds, and a test (or an operator)
   * that writes to one connection and then asks on another expects the first write to show.
   * Redis reads ready sockets in the order their data came; libuv's level-triggered epoll
   * returns a connection it has just served ahead of newer ones, so the question can be read
   * before the data that preceded it. The command waits for the end of this turn's reads (the
   * check phase, where replies are written anyway), and the client's later input behind it.
   */
  private deferUntilRead(c: Client, argv: string[]): boolean {
    if (!c.networked || c.isMaster || argv.length < 2 || this.readsSettled) return false;
    // Every command passes here: rule out all but a six-letter name starting with c/C before
    // lowercasing (which builds a new string for an upper-case name such as "SET").
    const name = argv[0]!;
    if (name.length !== 6 || (name.charCodeAt(0) | 0x20) !== 0x63) return false;
    if (name.toLowerCase() !== 'client' || argv[1]!.toLowerCase() !== 'list') return false;
    c.parser.unshift(argv);
    c.waitingForReads = true;
    if (this.waitingForReads === null) {
      this.waitingForReads = [];
      setImmediate(this.resumeAfterReads);
    }
    this.waitingForReads.push(c);
    return true;
  }

  /** True while the clients deferred by deferUntilRead run their commands. */
  private readsSettled = false;

  private readonly resumeAfterReads = (): void => {
    const list = this.waitingForReads ?? [];
    this.waitingForReads = null;
    this.readsSettled = true;
    try {
      for (const c of list) {
        c.waitingForReads = false;
        if (!c.closed) this.processInput(c);
      }
    } finally {
      this.readsSettled = false;
    }
  };

  /**
   * A replica's link carries the replication stream only, so a command of the replica that
   * answered anything (Redis's check in _addReplyToBufferOrList / addReplyDeferredLen) drops
   * the answer and the replica; an error answer is also logged as Redis's afterErrorReply does.
   */
  private replicaGeneratedReply(c: Client, replyMark: number): void {
    const cmdName = c.cmd?.fullName ?? '<unknown>';
    const reply = c.reply.buf.latin1Slice(replyMark, Math.min(c.reply.len, replyMark + 4100));
    c.reply.truncate(replyMark);
    this.log.warning(`Replica generated a reply to command '${cmdName}', disconnecting it: ${this.clientInfoString(c)}`);
    if (reply.startsWith('-')) {
      const end = reply.indexOf('\r\n');
      const message = reply.slice(1, end >= 0 ? end : reply.length).slice(0, 4096);
      this.log.warning(`== CRITICAL == This master is sending an error to its replica: '${message}' after processing the command '${cmdName}'`);
    }
    this.freeClient(c);
  }

  /**
   * Checks a command against the server's state and runs it, or answers with the error Redis
   * would give. Mirrors processCommand() in server.c.
   */
  processCommand(c: Client): void {
    const argv = c.argv;
    const spec = this.commands.resolve(argv);
    // A plain SET's long value left as bytes in the read buffer (parser LONG_ARG): only SET's
    // handler, run now for a client, takes it so; anything else gets the string here, while
    // the buffer still holds it.
    if (argv.length === 3 && argv[2] === LONG_ARG && c.parser.holdsLongArgument(argv) && !this.longArgTakenBySet(c, spec)) {
      argv[2] = c.parser.longArgument();
      c.parser.longArgv = null;
    }
    if (spec === undefined) {
      const container = this.commands.lookup(argv[0]!);
      if (container !== undefined) {
        this.rejectCommand(c, null, `ERR unknown subcommand '${truncate(argv[1]!, 128)}'. Try ${container.name.toUpperCase()} HELP.`);
        return;
      }
      let args = '';
      for (let i = 1; i < argv.length && args.length < 128; i++) args += `'${truncate(argv[i]!, 128 - args.length)}' `;
      this.rejectCommand(c, null, `ERR unknown command '${truncate(argv[0]!, 128)}', with args beginning with: ${args}`);
      return;
    }
    if (spec.handler === null) {
      // A container command called without a subcommand, e.g. bare "CONFIG".
      this.rejectCommand(c, spec, `ERR wrong number of arguments for '${spec.fullName}' command`);
      return;
    }
    if ((spec.arity > 0 && argv.length !== spec.arity) || argv.length < -spec.arity) {
      this.rejectCommand(c, spec, `ERR wrong number of arguments for '${spec.fullName}' command`);
      return;
    }
    c.cmd = spec;
    // Client eviction before the command runs: its arguments may be what tips the total over.
    if (this.clientEviction.check(c)) return;
    const flags = clientCommandFlags(this, c, spec, argv);
    // One request object reused for every client command (admit() keeps no reference to it);
    // its argv stays null: the command's are the client's (c.argv), so no young array is stored
    // in the old request (a write barrier per command).
    let request = this.admissionRequest;
    if (request === null) this.admissionRequest = request = { client: c, spec, argv: null, flags, script: null };
    else {
      request.client = c;
      request.spec = spec;
      request.flags = flags;
    }
    const refused = admit(this, request);
    if (refused !== null) {
      this.rejectCommand(c, spec, refused);
      return;
    }
    // Paused clients keep their command for later (CLIENT PAUSE); they count as blocked, and
    // only replicas are never paused, as in Redis.
    if (this.pause.mode !== null && (c.kind !== 'replica' || c.isMonitor) && (this.pause.mode === 'all' || flags.write || flags.mayReplicate)) {
      this.pausedClients.add(c);
      c.blocked = PAUSED;
      c.parser.unshift(argv);
      return;
    }
    // fullName: SLOWLOG RESET / LATENCY RESET are queued like any other subcommand.
    if (c.multi !== null && spec.fullName !== 'exec' && spec.fullName !== 'discard' && spec.fullName !== 'multi' &&
        spec.fullName !== 'watch' && spec.fullName !== 'quit' && spec.fullName !== 'reset') {
      // A doomed transaction keeps answering QUEUED but stores nothing (queueMultiCommand).
      if (!c.multiDirty && !c.watchDirty) c.multi.push({ spec, argv });
      c.reply.queued();
      return;
    }
    this.call(c, spec, 'client');
    this.afterCommandHooks(c);
  }

  /**
   * A command of our master's stream (the replica's master client): processCommand for a client
   * whose commands are obeyed. Admission's checks are skipped where none can refuse that client
   * (admission.ts: ACL, cluster routing, OOM, MISCONF, NOREPLICAS and READONLY pass the master;
   * the replica-keyspace check does not apply to it) — all but its last, the precheck hooks (a
   * busy script, tracking's key limit), which run as there — and the command runs through
   * call() as before: stats, slowlog, keyspace events, blocked clients served, expiry
   * semantics. Anything that could take another branch — an unknown command or wrong arity
   * (logged and counted there), MULTI state, a protected command, a pub/sub context, a client
   * not authenticated (the master's is, from the link's start), loading,
   * cluster mode, a pause, a stale-link refusal — takes processCommand itself.
   */
  applyMasterCommand(c: Client): void {
    const argv = c.argv;
    const spec = this.commands.resolve(argv);
    if (
      spec === undefined || spec.handler === null || spec.isProtected || c.multi !== null || c.inPubSubContext || !c.authenticated ||
      (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) ||
      this.loading || this.asyncLoading || this.cluster !== null || this.pause.mode !== null ||
      (!invocationFlags(this, spec, argv).staleOk && this.role.refuseStale())
    ) {
      this.processCommand(c);
      return;
    }
    // The master link never keeps a long SET value as bytes (longArgTakenBySet).
    if (argv.length === 3 && argv[2] === LONG_ARG && c.parser.holdsLongArgument(argv)) {
      argv[2] = c.parser.longArgument();
      c.parser.longArgv = null;
    }
    c.cmd = spec;
    if (this.clientEviction.check(c)) return;
    // The precheck hooks (a busy script, tracking's key limit) run once per command, as in
    // admission, whose last check they are; a refusal is answered as processCommand would.
    const pre = this.hooks.precheck;
    for (let i = 0; i < pre.length; i++) {
      const refused = pre[i]!(c, spec);
      if (refused !== null) {
        this.rejectCommand(c, spec, refused);
        return;
      }
    }
    this.call(c, spec, 'client');
    this.afterCommandHooks(c);
  }

  /**
   * hooks.afterCommand, in order, after each client command. The first few are called from call
   * sites of their own: one site calling every hook in turn sees three or four different
   * closures (blocking, tracking, replication) and V8 makes it a generic call each time, where a
   * site that only ever sees one closure calls it directly or inlines it (a pipelined PING
   * spent ~8% of its in-process time in the loop's calls). The length is read anew before each,
   * as the loop did, so a hook added meanwhile still runs.
   */
  afterCommandHooks(c: Client): void {
    const hooks = this.hooks.afterCommand;
    if (hooks.length > 0) hooks[0]!(c);
    if (hooks.length > 1) hooks[1]!(c);
    if (hooks.length > 2) hooks[2]!(c);
    if (hooks.length > 3) hooks[3]!(c);
    for (let i = 4; i < hooks.length; i++) hooks[i]!(c);
  }

  private admissionRequest: AdmissionRequest | null = null;

  /** Answers a command that was refused before running; inside MULTI it also dooms EXEC. */
  rejectCommand(c: Client, spec: CommandSpec | null, message: string): void {
    if (c.multi !== null) c.multiDirty = true;
    if (spec !== null) spec.stats.rejectedCalls++;
    this.flagRejected = true;
    // A refused EXEC ends the transaction: -EXECABORT with the reason (execCommandAbort).
    // A cluster redirection instead discards it and answers the redirection as is (processCommand).
    if (spec !== null && spec.fullName === 'exec') {
      if (this.cluster !== null && isRedirection(message)) {
        discardTransaction(c);
        c.reply.error(message);
      } else {
        execCommandAbort(c, message);
      }
    } else {
      c.reply.error(message);
    }
  }

  /** Set when the last error reply came from a rejection (errorstats count both). */
  private flagRejected = false;

  /** Counts an error reply in errorstats and in the running command's failed_calls. */
  recordError(c: Client, message: string): void {
    this.stats.totalErrorReplies++;
    const sp = message.indexOf(' ');
    const code = sp < 0 ? message : message.slice(0, sp);
    // Like Redis, cap the number of distinct error codes tracked.
    if (this.stats.errorCodes.has(code) || this.stats.errorCodes.size < 128) {
      this.stats.errorCodes.set(code, (this.stats.errorCodes.get(code) ?? 0) + 1);
    }
    const inv = this.currentInvocation;
    if (!this.flagRejected && inv !== null && inv.client === c) inv.failed = true;
    this.flagRejected = false;
  }

  /**
   * Runs a command through the one executor (server/executor.ts) in `mode`: 'client' for a
   * client's (or the master link's) command, 'exec' for each command of EXEC, 'script' for a
   * redis.call. Nested calls propagate once, when the outermost one returns.
   */
  call(c: Client, spec: CommandSpec, mode: ExecMode, argv: string[] = c.argv): void {
    execute(this, c, spec, argv, mode);
  }

  /** The command being executed (innermost), or null between commands. */
  currentInvocation: Invocation | null = null;
  /** The executor's invocation records, one per nesting depth, reused (executor.ts). */
  readonly invocationRecords: Invocation[] = [];

  /** Ends the frozen instant of the previous outermost command (expiryNow reads the clock anew). */
  unfreezeTime(): void {
    this.frozenNow = 0;
  }

  /**
   * A handler threw: a nodis bug, where Redis would fail an assertion and exit. The command's
   * partial reply is replaced by an error and the stack is logged; the server, its data and
   * every other client carry on.
   *
   * What it changed before throwing must still reach the AOF and replicas exactly, or they
   * diverge from the master: re-running the command there would throw (or not) on its own.
   * So the command's own argv is not propagated; instead, when it changed data (dirty moved),
   * every key it names is propagated as its whole current state (the commands that
   * rebuild it: RESTORE … REPLACE ABSTTL, or DEL when it is gone), after what it queued before
   * throwing.
   */
  commandThrew(inv: Invocation, e: unknown, replyMark: number, dirtyBefore: number): void {
    const c = inv.client;
    const spec = inv.spec!;
    const err = e instanceof Error ? e : new Error(String(e));
    this.log.warning(`Internal error executing '${spec.fullName}' (the command was aborted): ${err.stack ?? err.message}`);
    if (c.reply.len >= replyMark) c.reply.truncate(replyMark);
    c.reply.error(`ERR internal error executing '${spec.fullName}': ${err.message.replace(/[\r\n]+/g, ' ')}`);
    inv.preventPropagation = true;
    if (this.dirty === dirtyBefore) return;
    const db = inv.db ?? c.db;
    let keys: number[] = [];
    try {
      keys = spec.getKeys(inv.argv);
    } catch {
      // no key positions to go by
    }
    for (const i of keys) {
      const key = inv.argv[i];
      if (key === undefined) continue;
      const value = db.peek(key);
      if (value === undefined || this.hooks.keyStateCommands === null) this.propagator.also(db.id, ['DEL', key]);
      else for (const cmd of this.hooks.keyStateCommands(key, value, db.getExpire(key))) this.propagator.also(db.id, cmd);
    }
  }

  /** MONITOR output: `+<time> [<db> <addr>] "arg" …`. */
  feedMonitors(c: Client, argv: readonly string[]): void {
    const now = this.clock.now();
    const secs = Math.floor(now / 1000);
    const micros = String(Math.floor((now % 1000) * 1000)).padStart(6, '0');
    const who = c.fake ? (c.kind === 'master' ? 'master' : 'lua') : c.remoteAddress === undefined && this.settings.unixSocket !== '' && c.addr.startsWith(this.settings.unixSocket) ? `unix:${this.settings.unixSocket}` : c.addr;
    let line = `+${secs}.${micros} [${c.db.id} ${who}]`;
    for (const a of argv) line += ` ${repr(a)}`;
    line += '\r\n';
    for (const m of this.monitors) {
      m.reply.rawString(line);
      m.markPendingWrite();
    }
  }

  // ---- Output ------------------------------------------------------------------------------------

  /** Queues a client for the end-of-turn flush. */
  schedulePendingWrite(c: Client): void {
    this.pendingWrites[this.pendingCount++] = c;
    this.requestFlush();
  }

  /**
   * True while this turn's flush is queued and has not run: a background job's slice (queued
   * earlier in the same turn) yields once so the replies go out first.
   */
  get flushPending(): boolean {
    return this.flushScheduled;
  }

  /**
   * True while this turn's flush is queued and its beforeReplies hooks have not started: work a
   * hook does (resuming unblocked clients) is done by that flush, with no Immediate of its own.
   */
  get beforeRepliesPending(): boolean {
    return this.flushScheduled && !this.inBeforeReplies;
  }

  /** The flush is running its beforeReplies hooks. */
  private inBeforeReplies = false;

  /** Makes this loop turn end with a flush (and its beforeReplies hooks), replies pending or not. */
  requestFlush(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      if (this.loneRead) this.flushAtReadEnd = true;
      else setImmediate(this.flushPendingWrites);
    }
  }

  /** Writes every pending client's replies: one socket write per client per loop turn. */
  private readonly flushPendingWrites = (): void => {
    // Output the hooks add (the AOF, a replication GETACK) joins this flush, not the next turn's.
    this.inBeforeReplies = true;
    try {
      for (const h of this.hooks.beforeReplies) h();
    } finally {
      this.inBeforeReplies = false;
    }
    this.flushScheduled = false;
    // The list is swapped for the spare one, not copied (splice): a client queued meanwhile
    // waits for the next flush, as before. A flush run from inside this one gets a new spare.
    const list = this.pendingWrites;
    const count = this.pendingCount;
    this.pendingWrites = this.spareWrites ?? [];
    this.pendingCount = 0;
    this.spareWrites = null;
    for (let i = 0; i < count; i++) {
      const c = list[i]!;
      list[i] = null; // a freed client is not kept alive by the list
      c.pendingWrite = false;
      this.writeToClient(c);
    }
    this.spareWrites = list;
    if (this.afterFlushWaiters.size > 0) {
      const waiters = [...this.afterFlushWaiters];
      this.afterFlushWaiters.clear();
      for (const w of waiters) w();
    }
  };

  private readonly afterFlushWaiters = new Set<() => void>();

  /**
   * Calls `fn` once, after the next end-of-turn flush has written its replies: a background
   * job waiting for its share of the thread (persistence/job-pacer.ts) runs its next slice
   * right behind the replies of a turn that served commands, instead of polling for one.
   * Returns a function that withdraws `fn` (the job woke up otherwise: a turn may serve
   * commands without a flush, a replica's stream from its master, so waiters must not pile up).
   */
  afterNextFlush(fn: () => void): () => void {
    this.afterFlushWaiters.add(fn);
    return () => this.afterFlushWaiters.delete(fn);
  }

  writeToClient(c: Client): void {
    if (c.closed || !c.networked) return;
    if (c.closeAsap) {
      this.freeClient(c);
      return;
    }
    if (this.hooks.outputGate !== null && this.hooks.outputGate(c)) return;
    if (this.hooks.replyGate !== null) this.hooks.replyGate.gate(c);
    const n = c.reply.len;
    if (n > 0) {
      this.stats.netOutputBytes += n;
      this.stats.totalWritesProcessed++;
      if (this.checkOutputLimits(c, n)) return;
      const direct = c.directWriter;
      // A bare connection (no socket: shared-reads.ts BareConnection) is only ever written
      // direct; libuv queues what the kernel does not take, in order. A replica's gets its
      // socket made here, for the stream's backpressure below.
      const socket = c.kind === 'replica' ? c.socket! : c.existingSocket;
      if (socket === null) {
        if (c.bareClosed) return;
        const r = direct!.write(c.reply.pending());
        c.reply.sent(r === 'queued');
        if (r === 'failed') return;
      } else if (direct !== null && socket.writableLength === 0 && (c.kind !== 'replica' || direct.queued === 0) && !socket.destroyed) {
        // A replica's stream goes direct only while no direct write of it is pending: then at most
        // one is, and whatever the kernel does not take queues in the Writable, whose 'drain' the
        // replication pump waits on (state.ts pump) — the backpressure stays the stream's.
        // Past the stream (direct-writes.ts); a failed write destroys the socket ('close' frees c).
        const r = direct.write(c.reply.pending());
        c.reply.sent(r === 'queued');
        if (r === 'failed') return;
      } else {
        socket.write(c.reply.pending());
        // writableLength is 0 only if the kernel took every byte synchronously (Node then holds no
        // reference to them), so the reply buffer can be reused as is.
        c.reply.sent(socket.writableLength > 0);
      }
      // What the peer has not read yet counts toward maxmemory-clients.
      if (this.clientEviction.check(c)) return;
    }
    if (c.closeAfterReply) {
      const socket = c.socket!;
      socket.end();
      this.freeClientLater(c, socket);
    }
  }

  private freeClientLater(c: Client, socket: net.Socket): void {
    socket.once('finish', () => this.freeClient(c));
    // If the peer never reads, do not keep the client forever.
    setTimeout(() => this.freeClient(c), 5000).unref();
  }

  /** The class whose client-output-buffer-limit applies to a client. */
  obufClass(c: Client): 'normal' | 'replica' | 'pubsub' {
    if (c.kind === 'replica') return 'replica';
    if (c.inPubSubContext) return 'pubsub';
    return 'normal';
  }

  /** Bytes waiting to be sent to a client (its output buffer). */
  outputBytes(c: Client): number {
    return c.reply.len + c.socketQueued;
  }

  /**
   * A client's output buffer as its limits and CLIENT LIST see it: for a replica, also what it
   * is owed from the shared replication buffer (getClientOutputBufferMemoryUsage).
   */
  obufBytes(c: Client): number {
    const n = this.outputBytes(c);
    return c.kind === 'replica' && this.replBuffer !== null ? n + this.replBuffer.owed(c) : n;
  }

  /** client-output-buffer-limit checked now (a replica fed the stream); true if closed. */
  enforceOutputLimits(c: Client): boolean {
    return this.checkOutputLimits(c, 0);
  }

  /**
   * A reply being built would take the client's output past its hard limit
   * (closeClientOnOutputBufferLimitReached while the command runs): the client is marked
   * close-ASAP — commands that produce long replies stop early on it — and closed when the
   * command returns (writeToClient).
   */
  private replyOverLimit(c: Client, need: number): boolean {
    if (c.closeAsap) return true;
    const hard = this.obufLimitsOf(this.obufClass(c))[0];
    if (hard === 0 || c.kind === 'replica' || need + c.socketQueued < hard) return false;
    c.closeAsap = true;
    this.log.warning(`Client ${this.clientInfoString(c)} scheduled to be closed ASAP for overcoming of output buffer limits.`);
    this.stats.clientOutbufLimitDisconnections++;
    return true;
  }

  /**
   * client-output-buffer-limit of a class. Read by name, not `obufLimits[cls]`: a keyed load
   * by a variable name is megamorphic, and this runs on every socket write.
   */
  private obufLimitsOf(cls: 'normal' | 'replica' | 'pubsub'): [number, number, number] {
    const limits = this.settings.obufLimits;
    return cls === 'normal' ? limits.normal : cls === 'replica' ? limits.replica : limits.pubsub;
  }

  /** Applies client-output-buffer-limit; returns true if the client was closed. */
  private checkOutputLimits(c: Client, adding: number): boolean {
    const cls = this.obufClass(c);
    const [configuredHard, soft, softSecs] = this.obufLimitsOf(cls);
    let hard = configuredHard;
    if (hard === 0 && soft === 0) return false;
    // A replica's hard limit below repl-backlog-size would drop it right after a partial
    // resync sent it the backlog: Redis uses repl-backlog-size then (checkClientOutputBufferLimits).
    if (cls === 'replica' && hard > 0) hard = Math.max(hard, this.settings.replBacklogSize);
    const used = c.kind === 'replica' ? this.obufBytes(c) : c.socketQueued + adding;
    let over = hard > 0 && used >= hard;
    if (!over && soft > 0 && used >= soft) {
      const now = this.clock.monotonic();
      if (c.obufSoftLimitSince === 0) c.obufSoftLimitSince = now;
      // Whole seconds, strictly more than the limit, as Redis counts with server.unixtime.
      else if (Math.floor(now / 1000) - Math.floor(c.obufSoftLimitSince / 1000) > softSecs) over = true;
    } else if (!over) {
      c.obufSoftLimitSince = 0;
    }
    if (!over) return false;
    this.log.warning(`Client ${this.clientInfoString(c)} scheduled to be closed ASAP for overcoming of output buffer limits.`);
    this.stats.clientOutbufLimitDisconnections++;
    this.freeClient(c);
    return true;
  }

  // ---- Cron -------------------------------------------------------------------------------------

  /** Starts (or restarts) the cron timer at `hz` (listen(), CONFIG SET hz, DEBUG PAUSE-CRON 0). */
  startCron(): void {
    if (this.cronTimer !== null) clearInterval(this.cronTimer);
    this.cronTimer = setInterval(() => this.cron(), Math.max(1, Math.floor(1000 / this.settings.hz)));
  }

  stopCron(): void {
    if (this.cronTimer !== null) clearInterval(this.cronTimer);
    this.cronTimer = null;
  }

  /** serverCron: active expiry, client timeouts, stats sampling, other modules' duties. */
  /**
   * The wall time (ms) as cron last read it: what a client's last interaction is stamped with,
   * as Redis stamps c->lastinteraction with its cached server.unixtime (whole seconds there),
   * instead of a clock read per socket read. Its readers count whole seconds (CLIENT LIST
   * idle, the `timeout` check, itself run by cron).
   */
  cachedNow = 0;

  /** Advances the cached LRU/LFU clocks (and cachedNow). */
  refreshAccessClock(now = this.clock.now()): void {
    this.cachedNow = now;
    this.access.lruClock = lruClockAt(now);
    this.access.minutes = lfuMinutesAt(now);
  }

  cron(): void {
    const stalls = stallLog();
    const t0 = stalls !== null ? performance.now() : 0;
    this.cronBody();
    if (stalls !== null) stalls.cron(t0);
  }

  private cronBody(): void {
    this.clock.resync();
    this.refreshAccessClock();
    // While loading Redis runs no serverCron (only whileBlockedCron): no expiry, no saves.
    if (this.loading) return;
    this.cronLoops++;
    if (this.settings.activeExpireEnabled && !this.role.isReplica() && this.pause.mode === null) {
      activeExpireCycle(this, 1000 / this.settings.hz / 4);
    }
    // databasesCron's tryResizeHashTables, for the modelled table sizes (KeyDict.tableSize).
    for (const db of this.dbs) {
      db.dict.cronResize();
      db.expires.cronResize();
    }
    this.sampleInstantaneous();
    if (this.settings.timeout > 0) this.closeIdleClients();
    for (const c of this.clients.values()) {
      if (c.obufSoftLimitSince !== 0 && c.reply.len === 0 && c.socketQueued > 0) {
        this.checkOutputLimits(c, 0);
      }
    }
    this.clientEviction.cron();
    this.usedMemory();
    for (const h of this.hooks.cron) h();
  }

  private closeIdleClients(): void {
    const now = this.clock.now();
    const limit = this.settings.timeout * 1000;
    for (const c of this.clients.values()) {
      if (c.fake || c.kind === 'replica' || c.isMaster || c.inPubSubContext || c.blocked !== null) continue;
      if (now - c.lastInteraction > limit) {
        this.log.verbose('Closing idle client');
        this.freeClient(c);
      }
    }
  }

  private sampleInstantaneous(): void {
    const inst = this.stats.instantaneous;
    const now = this.clock.monotonic();
    const dt = now - inst.lastSample;
    if (dt < 100) return;
    const push = (arr: number[], v: number): void => {
      arr.push(v);
      if (arr.length > 16) arr.shift();
    };
    push(inst.commands, ((this.stats.totalCommands - inst.lastCmd) * 1000) / dt);
    push(inst.netIn, ((this.stats.netInputBytes - inst.lastIn) * 1000) / dt);
    push(inst.netOut, ((this.stats.netOutputBytes - inst.lastOut) * 1000) / dt);
    inst.lastCmd = this.stats.totalCommands;
    inst.lastIn = this.stats.netInputBytes;
    inst.lastOut = this.stats.netOutputBytes;
    inst.lastSample = now;
  }

  // ---- Pause -------------------------------------------------------------------------------------

  /** CLIENT PAUSE: holds back writes (or everything) until `untilMs` (monotonic). */
  pauseClients(mode: 'write' | 'all', durationMs: number): void {
    const until = this.clock.monotonic() + durationMs;
    // A new pause can extend, never shorten, nor weaken ALL to WRITE while ALL is in force.
    if (this.pause.mode === 'all' && mode === 'write') mode = 'all';
    this.pause.mode = mode;
    if (until > this.pause.until) this.pause.until = until;
    if (this.pause.timer !== null) clearTimeout(this.pause.timer);
    this.pause.timer = setTimeout(() => this.unpauseClients(), Math.max(0, this.pause.until - this.clock.monotonic()));
  }

  /**
   * Ends the pause. Held clients resume on the next loop turn (Redis's unblocked clients), never
   * inside the CLIENT UNPAUSE that released them; in arrival order.
   */
  unpauseClients(): void {
    if (this.pause.timer !== null) clearTimeout(this.pause.timer);
    this.pause = { mode: null, until: 0, timer: null };
    const waiting = [...this.pausedClients];
    this.pausedClients.clear();
    for (const c of waiting) if (c.blocked === PAUSED) c.blocked = null;
    if (waiting.length > 0) {
      setImmediate(() => {
        for (const c of waiting) if (!c.closed && c.blocked === null) this.processInput(c);
      });
    }
  }

  /** RESET: back to a fresh connection's state, keeping the connection and its id. */
  resetClient(c: Client): void {
    for (const h of this.hooks.resetClient) h(c);
    c.multi = null;
    c.multiDirty = false;
    c.watchDirty = false;
    this.monitors.delete(c);
    c.isMonitor = false;
    c.db = this.dbs[0]!;
    c.reply.proto = 2;
    c.name = '';
    c.replyMode = 'on';
    c.skipNextReply = false;
    c.authenticated = !this.authRequired();
    c.user = 'default';
    c.parser.limits.authRequired = !c.authenticated;
  }

  // ---- Life cycle -------------------------------------------------------------------------------

  /** Work done after listening and before "Ready to accept connections" (loading data…). */
  readonly startupTasks: (() => Promise<void> | void)[] = [];

  async startup(): Promise<void> {
    for (const t of this.startupTasks) await t();
  }

  /**
   * SHUTDOWN and SIGTERM: runs the shutdown hooks (save, AOF flush, replicas catch-up), closes
   * listeners and clients. Returns false when a hook refused (e.g. the save failed without FORCE).
   */
  private removePidfile(): void {
    const pidfile = this.config.getString('pidfile');
    if (pidfile === '') return;
    this.log.notice('Removing the pid file.');
    try {
      fs.unlinkSync(pidfile);
    } catch {
      // already gone
    }
  }

  /**
   * SHUTDOWN NOSAVE while a script is busy: the shutdown hooks (AOF flush and fsync…) run at
   * once, without waiting for replicas or for the listeners to close. True when the process may
   * exit now.
   */
  shutdownWhileBusy(force: boolean): boolean {
    this.log.warning('User requested shutdown...');
    for (const h of this.hooks.shutdown) {
      // Nothing asynchronous can finish inside a busy script: a hook that must wait failed.
      if (h({ save: false, now: true, force }) !== true && !force) {
        this.log.warning('Errors trying to shut down the server. Check the logs for more information.');
        return false;
      }
    }
    this.shuttingDown = true;
    this.removePidfile();
    this.log.warning('nodis is now ready to exit, bye bye...');
    return true;
  }

  /** The shutdown in progress (waiting for replicas, or running its hooks), if any. */
  private shutdownInFlight: Promise<boolean> | null = null;

  /**
   * Shuts down (prepareForShutdown + finishShutdown). A SHUTDOWN or signal arriving while one is
   * in progress joins it, whatever its own flags: every caller gets that shutdown's outcome
   * (Redis answers all BLOCKED_SHUTDOWN clients at once when it fails or is aborted).
   */
  shutdown(opts: { save: boolean | null; now: boolean; force: boolean; signal?: boolean }): Promise<boolean> {
    if (this.shutdownInFlight !== null) return this.shutdownInFlight;
    const run = this.runShutdown(opts).finally(() => {
      if (this.shutdownInFlight === run) this.shutdownInFlight = null;
    });
    this.shutdownInFlight = run;
    return run;
  }

  private async runShutdown(opts: { save: boolean | null; now: boolean; force: boolean; signal?: boolean }): Promise<boolean> {
    if (!opts.signal) this.log.warning('User requested shutdown...');
    if (this.hooks.shutdownWait !== null && !(await this.hooks.shutdownWait(opts.now))) return false;
    for (const h of this.hooks.shutdown) {
      if (!(await h(opts)) && !opts.force) {
        this.log.warning('Errors trying to shut down the server. Check the logs for more information.');
        return false;
      }
    }
    this.shuttingDown = true;
    this.stopCron();
    this.removePidfile();
    // net.Server.close() completes only once every connection is gone: stop accepting, free
    // the clients, then wait (awaiting first would hang while a client, e.g. MONITOR, stays).
    const listenersClosed = this.closeListeners();
    for (const c of [...this.clients.values()]) {
      this.writeToClient(c);
      this.freeClient(c);
    }
    await listenersClosed;
    this.log.warning(`${this.log.role === 'X' ? 'Sentinel' : 'nodis'} is now ready to exit, bye bye...`);
    return true;
  }

  // ---- Helpers ----------------------------------------------------------------------------------

  /** The database with that index, or undefined. */
  db(index: number): Database | undefined {
    return this.dbs[index];
  }

  /** A fake client for internal execution (scripts, AOF loading); not in CLIENT LIST. */
  createFakeClient(): Client {
    const c = new Client(this, this.newClientId(), null, this.dbs[0]!, { fake: true });
    c.setAuthenticated('default');
    return c;
  }

  /** One line of CLIENT LIST for a client (filled in by the connection commands module). */
  clientInfoString(c: Client): string {
    return this.hooks.clientInfo(c);
  }

  /** Total keys with expiry across databases, etc.: helpers for INFO. */
  hostname(): string {
    return os.hostname();
  }
}

/**
 * used_memory of a freshly started server with no data (Redis 7.0's is ~0.9 MB): the base the
 * memory model (keyspace/memory.ts) adds datasets and clients to.
 */
export const STARTUP_MEMORY = 900 * 1024;
/** A client's fixed cost in the memory model: Redis's client struct and its 16 KB reply buffer. */
const CLIENT_BYTES = 20 * 1024;

/** An argument as printf's `%.*s` prints it: at most `n` bytes, and only up to a NUL. */
function truncate(s: string, n: number): string {
  const nul = s.indexOf('\0');
  if (nul >= 0 && nul < n) n = nul;
  return s.length > n ? s.slice(0, n) : s;
}

function describeListenError(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'Address already in use';
  if (err.code === 'EADDRNOTAVAIL') return 'Cannot assign requested address';
  if (err.code === 'EACCES') return 'Permission denied';
  return err.message;
}

