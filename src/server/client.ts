/**
 * A connected client: its socket, parser, reply buffer and per-connection state (selected db,
 * protocol, name, auth, MULTI queue, blocking, subscriptions, CLIENT REPLY mode …).
 * Command handlers receive the Client and read `argv`, `db`, `server`; they answer on `reply`.
 */
import type net from 'node:net';
import { RespParser } from '../protocol/parser.js';
import { ReplyWriter } from '../protocol/writer.js';
import type { Database } from '../keyspace/db.js';
import type { Server } from './server.js';
import type { CommandSpec } from './command-table.js';
import type { DirectWriter } from './direct-writes.js';
import { BareConnection } from './shared-reads.js';
import { idleInvocation, type Invocation } from './executor.js';

/** A command queued by MULTI. */
export interface QueuedCommand {
  spec: CommandSpec;
  argv: string[];
}

/** State of a client blocked on keys (BLPOP …), on WAIT, or on a module-like operation. */
export interface BlockedState {
  kind: 'keys' | 'wait' | 'pause' | 'other';
  /** Absolute monotonic deadline in ms, or 0 for none. */
  deadline: number;
  /** Called on timeout to write the timeout reply. */
  onTimeout: () => void;
  /** Called when the block is cancelled (client killed, CLIENT UNBLOCK …). */
  onCancel?: (reason: 'unblock-error' | 'unblock-timeout' | 'disconnect') => void;
}

export type ClientKind = 'normal' | 'replica' | 'master' | 'pubsub';

/** A client's argv between commands: one shared empty array, not a new one per command (never written to). */
export const NO_ARGV: string[] = [];

/** The pub/sub sets of a client that never subscribed (Client.channels …): empty, never written to. */
const NO_SUBSCRIPTIONS: ReadonlySet<string> = new Set<string>();

export class Client {
  readonly id: number;
  readonly server: Server;
  /** The connection's socket, or null for a fake client or a bare connection not yet made into one. */
  private sock: net.Socket | null;
  /**
   * A plain TCP connection accepted without a `net.Socket` (shared-reads.ts BareConnection):
   * reads and writes go to its handle. Kept after its socket is made (then it only says so).
   */
  private bare: BareConnection | null = null;
  /**
   * The connection's `net.Socket` (null for fake clients). A bare connection's is made here, on
   * first use, over its handle: replication's RDB transfer and stream, a busy script's writes and
   * QUIT's end() need a stream; the request path, CLIENT LIST/KILL and freeClient do not.
   */
  get socket(): net.Socket | null {
    const s = this.sock;
    if (s !== null) return s;
    const b = this.bare;
    if (b === null) return null;
    return this.makeSocket(b);
  }
  /** The socket if there is one already: null for a bare connection (never makes one). */
  get existingSocket(): net.Socket | null {
    return this.sock;
  }
  /** A client over a connection (a socket or a bare handle), not a fake one (Lua, AOF, api). */
  get networked(): boolean {
    return this.sock !== null || this.bare !== null;
  }
  /** A bare connection whose handle was closed (a failed write; freeClient follows). */
  get bareClosed(): boolean {
    return this.sock === null && this.bare !== null && this.bare.closed;
  }
  /**
   * The peer's IP address (`socket.remoteAddress`): undefined for unix-socket and fake clients.
   */
  readonly remoteAddress: string | undefined;
  readonly parser: RespParser;
  readonly reply = new ReplyWriter();

  /** The command being executed and its spec. */
  argv: string[] = [];
  cmd: CommandSpec | null = null;
  lastCmd: CommandSpec | null = null;

  db: Database;
  name = '';
  libName = '';
  libVer = '';
  user = 'default';
  authenticated: boolean;
  readonly createdAt: number;
  lastInteraction: number;
  /**
   * Server.prefetchKeys: read batches still to pass over (its last one named one key only).
   */
  prefetchIdle = 0;
  /**
   * Server.processInput: the commands after the one that blocked this client that its last
   * key scan covered, plus one (the count its loop resumes with).
   */
  prefetchAhead = 0;
  /**
   * The replication offset right after this client's last command (Redis's `c->woff`): what
   * its WAIT waits for. Set by replication after every command while there is a backlog.
   */
  woff = 0;
  /** Server.prefetchKeys: reads still to pass over after one that held fewer than three commands… */
  prefetchLoneReads = 0;
  /** …while they hold fewer bytes than this (twice that read's). */
  prefetchLoneBytes = 0;
  readonly addr: string;
  /**
   * The local end's `ip:port` (CLIENT LIST's laddr): asked of the socket the first time it is
   * read (a getsockname per connection otherwise, which only CLIENT LIST/INFO/KILL use; Redis
   * too asks for it then, connFormatFdAddr), and kept. Null until then.
   */
  private localAddr: string | null;
  get laddr(): string {
    let v = this.localAddr;
    if (v === null) {
      const b = this.sock === null ? this.bare : null;
      if (b !== null) {
        const l = b.localAddress();
        v = this.localAddr = formatAddr(l.address, l.port);
      } else {
        const s = this.sock!;
        v = this.localAddr = formatAddr(s.localAddress ?? '', s.localPort ?? 0);
      }
    }
    return v;
  }
  readonly fd: number;
  /**
   * The descriptor that busy scripts and the debugger may read and write synchronously: `fd`,
   * or -1 for a TLS connection (its descriptor carries ciphertext only the event loop decrypts).
   */
  readonly plainFd: number;
  /** Hidden clients (Lua, AOF loading) never appear in CLIENT LIST. */
  readonly fake: boolean;

  // Flags.
  closeAfterReply = false;
  closeAsap = false;
  closed = false;
  isMonitor = false;
  noEvict = false;
  /** CLIENT REPLY ON|OFF|SKIP. */
  replyMode: 'on' | 'off' | 'skip' = 'on';
  skipNextReply = false;
  kind: ClientKind = 'normal';
  /** Set while this client is the replication link from our master. */
  isMaster = false;
  /** Queued in MULTI; null when not in a transaction. */
  multi: QueuedCommand[] | null = null;
  /** A queued command failed to queue (unknown, arity…): EXEC answers EXECABORT. */
  multiDirty = false;
  /** Cluster: ASKING was sent (kept for the next command, or until EXEC inside MULTI). */
  clusterAsking = false;
  /** Cluster: READONLY was sent (a replica serves its master's slots to reads). */
  clusterReadOnly = false;
  /** Cluster: the hash slot of the current command's keys, -1 when none (a script's calls stay in it). */
  slot = -1;
  /** A watched key was touched: EXEC answers null. */
  watchDirty = false;
  blocked: BlockedState | null = null;
  /** Its CLIENT LIST waits for the end of this turn's socket reads (Server.deferUntilRead). */
  waitingForReads = false;
  /**
   * Pub/Sub state (RESP2 subscribed mode is entered while any of these is non-empty), changed
   * only by server/pubsub.ts (through `subscriptionSet`), which keeps `subscriptions` = the sum
   * of their sizes. Each set is made on its first subscription: until then the getters answer
   * one shared empty set — most connections never subscribe, and three Sets were ~0.5 KB of
   * every connection's allocation (docs/PERFORMANCE.md, "conn1", "p1b").
   */
  private channelSet: Set<string> | null = null;
  private patternSet: Set<string> | null = null;
  private shardChannelSet: Set<string> | null = null;
  get channels(): ReadonlySet<string> {
    return this.channelSet ?? NO_SUBSCRIPTIONS;
  }
  get patterns(): ReadonlySet<string> {
    return this.patternSet ?? NO_SUBSCRIPTIONS;
  }
  get shardChannels(): ReadonlySet<string> {
    return this.shardChannelSet ?? NO_SUBSCRIPTIONS;
  }
  /** The client's own set of channels, patterns or shard channels, made on first use (pubsub.ts). */
  subscriptionSet(kind: 'channel' | 'pattern' | 'shard'): Set<string> {
    if (kind === 'channel') return (this.channelSet ??= new Set());
    if (kind === 'pattern') return (this.patternSet ??= new Set());
    return (this.shardChannelSet ??= new Set());
  }
  subscriptions = 0;
  /** Bytes of output this client is over its soft limit since (ms), for obuf limits. */
  obufSoftLimitSince = 0;
  /**
   * The command of this client being executed (server/executor.ts); an idle record between
   * commands. The per-command fields below live in it, so a nested execution (EXEC's commands)
   * has its own and nothing is saved and restored by hand.
   */
  invocation: Invocation;
  /** What the current command propagates instead of its argv (its deterministic form). */
  get propagateArgv(): string[] | null {
    return this.invocation.propagateArgv;
  }
  set propagateArgv(argv: string[] | null) {
    this.invocation.propagateArgv = argv;
  }
  /** Suppresses propagation of the current command (e.g. it propagated its effects itself). */
  get preventPropagation(): boolean {
    return this.invocation.preventPropagation;
  }
  set preventPropagation(v: boolean) {
    this.invocation.preventPropagation = v;
  }
  /**
   * Propagates the current command to replicas even though it changed no data (PUBLISH:
   * forceCommandPropagation with PROPAGATE_REPL).
   */
  get forcePropagation(): boolean {
    return this.invocation.forcePropagation;
  }
  set forcePropagation(v: boolean) {
    this.invocation.forcePropagation = v;
  }
  /**
   * The current command's argv as SLOWLOG and MONITOR show it, once an argument was redacted
   * (Redis's original_argv); null when it is shown as received.
   */
  get shownArgv(): string[] | null {
    return this.invocation.shownArgv;
  }
  set shownArgv(argv: string[] | null) {
    this.invocation.shownArgv = argv;
  }
  /** Stats for CLIENT LIST / INFO. */
  totalCommands = 0;
  /** Set when the client is in the write-pending set. */
  pendingWrite = false;
  /** Writes replies past the socket's stream (direct-writes.ts), or null: `socket.write`. */
  directWriter: DirectWriter | null = null;

  /** Connected over TLS (tls-port), as Redis's connGetType(c->conn) == CONN_TYPE_TLS. */
  get tlsConnection(): boolean {
    return (this.sock as { encrypted?: boolean } | null)?.encrypted === true;
  }

  /**
   * A real connection without TLS to a node whose cluster runs on TLS (tls-cluster): cluster
   * replies name its peers' plaintext ports (pport) instead of their TLS ports.
   */
  get plaintextInTlsCluster(): boolean {
    return this.networked && !this.tlsConnection && this.server.config.getBool('tls-cluster');
  }

  constructor(server: Server, id: number, socket: net.Socket | BareConnection | null, db: Database, opts: { fake?: boolean; fd?: number } = {}) {
    this.server = server;
    this.id = id;
    let bare: BareConnection | null = null;
    if (socket instanceof BareConnection) {
      bare = socket;
      socket = null;
    }
    this.sock = socket;
    this.bare = bare;
    this.db = db;
    this.fake = opts.fake ?? false;
    this.fd = opts.fd ?? -1;
    this.plainFd = this.tlsConnection ? -1 : this.fd;
    this.invocation = idleInvocation(this);
    this.authenticated = !server.authRequired();
    this.createdAt = server.clock.now();
    this.lastInteraction = this.createdAt;
    this.parser = new RespParser({
      maxBulkLen: server.settings.protoMaxBulkLen,
      authRequired: !this.authenticated,
      fromMaster: false,
    });
    if (bare !== null) {
      this.remoteAddress = bare.peer.address;
      this.addr = formatAddr(bare.peer.address ?? '', bare.peer.port ?? 0);
      this.localAddr = null;
    } else if (socket !== null) {
      const ra = socket.remoteAddress ?? '';
      this.remoteAddress = socket.remoteAddress;
      this.addr = formatAddr(ra, socket.remotePort ?? 0);
      this.localAddr = null;
      if (ra === '' || ra === undefined) {
        // Unix socket: Redis prints the socket path as laddr and "" addr.
        this.addr = `${server.settings.unixSocket}:0`;
        this.localAddr = `${server.settings.unixSocket}:0`;
      }
    } else {
      this.remoteAddress = undefined;
      this.addr = '';
      this.localAddr = '';
    }
  }

  /** The bare connection's socket, made once (see `socket`); the server attaches its listeners. */
  private makeSocket(b: BareConnection): net.Socket {
    const s = b.toSocket();
    this.sock = s;
    this.server.adoptSocket(this, s);
    return s;
  }

  /**
   * Closes the connection (freeClient): a socket is destroyed (its 'close' calls freeClient
   * again, which returns), a bare handle closed.
   */
  closeConnection(): void {
    const s = this.sock;
    if (s !== null) {
      if (!s.destroyed) s.destroy();
    } else if (this.bare !== null) {
      this.bare.close();
    }
  }

  /**
   * A write to the connection failed (EPIPE, ECONNRESET …): the socket is destroyed, as Node does
   * on a failed write, and its 'close' frees the client; a bare handle is closed and the client
   * freed once it is (as a destroyed socket's 'close' comes after its handle's).
   */
  connectionFailed(): void {
    const s = this.sock;
    if (s !== null) {
      if (!s.destroyed) s.destroy();
    } else if (this.bare !== null) {
      this.bare.close(() => this.server.freeClient(this));
    }
  }

  /** The protocol this client speaks (HELLO 3 switches to RESP3). */
  get resp(): 2 | 3 {
    return this.reply.proto;
  }

  /** True in RESP2 subscribed mode. */
  get inPubSubContext(): boolean {
    // One field: admission and PING read this for every command, and the three sets' sum was a
    // call V8 did not inline there.
    return this.subscriptions > 0;
  }

  /** Marks authentication done and lifts the unauthenticated protocol limits. */
  setAuthenticated(user: string): void {
    this.authenticated = true;
    this.user = user;
    this.parser.limits.authRequired = false;
  }

  /**
   * Hides argument `index` of the current command from SLOWLOG and MONITOR (passwords in AUTH,
   * HELLO, ACL SETUSER, CONFIG SET of a sensitive directive), as redactClientCommandArgument.
   * The handler keeps reading the real value from `argv`.
   */
  redactArgument(index: number): void {
    if (index >= this.argv.length) return;
    if (this.shownArgv === null) this.shownArgv = this.argv.slice();
    this.shownArgv[index] = '(redacted)';
  }

  /**
   * Reply bytes handed to the socket and not yet taken by the kernel: the stream's
   * (`writableLength`) and those of direct writes still queued in libuv.
   */
  get socketQueued(): number {
    const s = this.sock;
    const w = this.directWriter;
    if (s === null) return w === null ? 0 : w.queued;
    return w === null ? s.writableLength : s.writableLength + w.queued;
  }

  /** Flags the client so its socket is flushed this event-loop turn. */
  markPendingWrite(): void {
    if (!this.pendingWrite && this.networked) {
      this.pendingWrite = true;
      this.server.schedulePendingWrite(this);
    }
  }
}

/** `ip:port`, with IPv6 addresses in brackets, as Redis's anetFormatAddr. */
export function formatAddr(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
