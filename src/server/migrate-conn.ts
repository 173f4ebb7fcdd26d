/**
 * Outbound connections for MIGRATE: Redis's `migrate_cached_sockets` (cluster.c), event-driven.
 *
 * Redis talks to the target with blocking socket calls and a timeout per call, which freezes the
 * whole server for the duration. Here a `MigrateConnection` is a Node socket plus a RESP reply
 * parser, and an exchange is asynchronous: `exchange()` pipelines every command of one MIGRATE
 * and resolves once the expected number of replies arrived, or with a failure that says whether
 * it was a timeout and whether the bytes were still being written (Redis's "writing"/"reading").
 * The timeout is an inactivity timeout, like Redis's per-call one: any progress (a chunk handed
 * to the kernel, bytes received) re-arms it.
 *
 * `MigrateSocketCache` keeps one connection per "host:port" (the name is the two arguments as
 * given, as in Redis), at most 64 of them (a random idle one is dropped to make room), closes
 * those idle for more than 10 seconds (`sweep`, from the cron), and serialises the MIGRATEs that
 * share a target (`lock`) so that their commands never interleave on one socket. A cached
 * connection that the peer closes, or that receives unsolicited bytes, while idle is dropped.
 */
import net from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import { ReplyParser, type Reply } from '../protocol/reply-parser.js';

/** MIGRATE_SOCKET_CACHE_ITEMS / MIGRATE_SOCKET_CACHE_TTL. */
export const MIGRATE_CACHE_MAX = 64;
export const MIGRATE_CACHE_TTL_MS = 10_000;
/** Redis writes the pipeline in 64 KiB pieces, each under the timeout. */
const WRITE_CHUNK = 64 * 1024;
/** setTimeout's limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ExchangeFailure {
  /** The inactivity timeout fired (Redis does not retry after ETIMEDOUT). */
  timedOut: boolean;
  /** Not every byte had been handed to the kernel yet ("writing" rather than "reading"). */
  whileWriting: boolean;
}

/**
 * Why a connection could not be made. Redis's blocking connect fails at once only when the
 * address cannot be resolved ('resolve': `-IOERR ... connecting to the client`); a refused or
 * timed-out connect surfaces at the first write ('connect': answered as a write error).
 */
export interface ConnectFailure {
  error: 'resolve' | 'connect';
  timedOut: boolean;
}

export interface ExchangeResult {
  /** The replies received, in order (all of them on success). */
  replies: Reply[];
  failure: ExchangeFailure | null;
}

interface PendingExchange {
  expected: number;
  replies: Reply[];
  writing: boolean;
  timeoutMs: number;
  timer: TimerHandle | null;
  resolve: (r: ExchangeResult) => void;
}

export class MigrateConnection {
  /** The db the target has SELECTed for us (-1: unknown, SELECT next time). */
  lastDbId = -1;
  /** Wall-clock ms of the last use, for the idle sweep. */
  lastUseMs: number;
  closed = false;
  /** Called once when the connection closes for any reason (the cache forgets it). */
  onClose: (() => void) | null = null;
  private readonly parser = new ReplyParser();
  private pending: PendingExchange | null = null;

  private constructor(
    private readonly socket: net.Socket,
    private readonly clock: Clock,
  ) {
    this.lastUseMs = clock.now();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.fail(false));
    socket.on('close', () => this.fail(false));
  }

  /**
   * Connects within `timeoutMs`. `port` is what atoi() made of the argument: negative ports do
   * not resolve, larger ones wrap to 16 bits as the C socket API truncates them. `dialTls`
   * (tls-cluster) opens a TLS connection instead; it is ready when its handshake is done.
   */
  static connect(host: string, port: number, timeoutMs: number, clock: Clock, dialTls?: (o: { host: string; port: number }) => net.Socket | null): Promise<MigrateConnection | ConnectFailure> {
    return new Promise((resolve) => {
      if (port < 0 || !Number.isFinite(port)) {
        resolve({ error: 'resolve', timedOut: false });
        return;
      }
      let socket: net.Socket;
      const ready = dialTls !== undefined ? 'secureConnect' : 'connect';
      try {
        socket = dialTls?.({ host, port: port % 65536 }) ?? net.connect({ host, port: port % 65536 });
      } catch {
        resolve({ error: 'resolve', timedOut: false });
        return;
      }
      let settled = false;
      const settle = (failure: ConnectFailure | null): void => {
        if (settled) return;
        settled = true;
        clock.clearTimer(timer);
        socket.off(ready, onConnect);
        socket.off('error', onError);
        if (failure === null) {
          resolve(new MigrateConnection(socket, clock));
        } else {
          socket.on('error', () => {});
          socket.destroy();
          resolve(failure);
        }
      };
      const onConnect = (): void => settle(null);
      const onError = (err: NodeJS.ErrnoException): void =>
        settle({ error: err.syscall === 'getaddrinfo' ? 'resolve' : 'connect', timedOut: false });
      socket.once(ready, onConnect);
      socket.once('error', onError);
      const timer = clock.setTimer(Math.min(timeoutMs, MAX_TIMER_MS), () => settle({ error: 'connect', timedOut: true }));
    });
  }

  /** True while an exchange is in flight. */
  get busy(): boolean {
    return this.pending !== null;
  }

  /**
   * Sends `payload` and waits for `expected` replies. Never rejects: failures (timeout, reset,
   * peer closed, malformed reply) resolve with the replies received so far, and close the
   * connection since its stream position is then unknown.
   */
  exchange(payload: Buffer, expected: number, timeoutMs: number): Promise<ExchangeResult> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve({ replies: [], failure: { timedOut: false, whileWriting: true } });
        return;
      }
      const p: PendingExchange = { expected, replies: [], writing: true, timeoutMs: Math.min(timeoutMs, MAX_TIMER_MS), timer: null, resolve };
      this.pending = p;
      this.lastUseMs = this.clock.now();
      this.armTimer(p);
      if (payload.length === 0) {
        p.writing = false;
      } else {
        for (let pos = 0; pos < payload.length; pos += WRITE_CHUNK) {
          const end = Math.min(payload.length, pos + WRITE_CHUNK);
          const last = end === payload.length;
          this.socket.write(payload.subarray(pos, end), (err) => {
            if (err !== undefined && err !== null) return;
            if (this.pending !== p) return;
            if (last) p.writing = false;
            this.armTimer(p);
          });
        }
      }
      this.drainReplies();
    });
  }

  /** Closes the connection; an exchange in flight fails as a socket error. */
  close(): void {
    this.fail(false);
  }

  private armTimer(p: PendingExchange): void {
    if (p.timer !== null) this.clock.clearTimer(p.timer);
    p.timer = this.clock.setTimer(p.timeoutMs, () => {
      p.timer = null;
      if (this.pending === p) this.fail(true);
    });
  }

  private onData(chunk: Buffer): void {
    const p = this.pending;
    if (p === null) {
      // Nothing was asked: the stream is out of step with our commands. Start afresh next time.
      this.fail(false);
      return;
    }
    this.parser.feed(chunk);
    this.armTimer(p);
    this.drainReplies();
  }

  private drainReplies(): void {
    const p = this.pending;
    if (p === null) return;
    try {
      while (p.replies.length < p.expected) {
        const r = this.parser.next();
        if (r === undefined) return;
        p.replies.push(r);
      }
    } catch {
      this.fail(false);
      return;
    }
    // Every reply is in (the last reply implies the target read every byte we sent).
    this.pending = null;
    if (p.timer !== null) this.clock.clearTimer(p.timer);
    this.lastUseMs = this.clock.now();
    if (this.parser.pending > 0) this.fail(false);
    p.resolve({ replies: p.replies, failure: null });
  }

  private fail(timedOut: boolean): void {
    const p = this.pending;
    this.pending = null;
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
      const cb = this.onClose;
      this.onClose = null;
      if (cb !== null) cb();
    }
    if (p !== null) {
      if (p.timer !== null) this.clock.clearTimer(p.timer);
      p.resolve({ replies: p.replies, failure: { timedOut, whileWriting: p.writing } });
    }
  }
}

/** The cached connections of one server, by "host:port". */
export class MigrateSocketCache {
  private readonly conns = new Map<string, MigrateConnection>();
  private readonly tails = new Map<string, Promise<void>>();

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  /** INFO's migrate_cached_sockets. */
  get size(): number {
    return this.conns.size;
  }

  /** The cached connection for `name` (its use time refreshed), if any. */
  get(name: string): MigrateConnection | undefined {
    const conn = this.conns.get(name);
    if (conn !== undefined) conn.lastUseMs = this.clock.now();
    return conn;
  }

  /** Caches a fresh connection, dropping a random idle one when the cache is full. */
  add(name: string, conn: MigrateConnection): void {
    if (this.conns.size >= MIGRATE_CACHE_MAX) {
      const idle = [...this.conns.values()].filter((c) => !c.busy);
      if (idle.length > 0) idle[Math.floor(this.random() * idle.length)]!.close();
    }
    this.conns.set(name, conn);
    conn.onClose = () => {
      if (this.conns.get(name) === conn) this.conns.delete(name);
    };
  }

  /** migrateCloseTimedoutSockets: closes connections idle for more than 10 seconds. */
  sweep(): void {
    const now = this.clock.now();
    for (const conn of [...this.conns.values()]) {
      if (!conn.busy && now - conn.lastUseMs > MIGRATE_CACHE_TTL_MS) conn.close();
    }
  }

  closeAll(): void {
    for (const conn of [...this.conns.values()]) conn.close();
  }

  /**
   * Waits for the MIGRATEs already queued on `name` to finish; resolves with the function that
   * lets the next one go.
   */
  async lock(name: string): Promise<() => void> {
    const before = this.tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(name, tail);
    await before;
    return () => {
      release();
      if (this.tails.get(name) === tail) this.tails.delete(name);
    };
  }
}
