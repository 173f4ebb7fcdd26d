/**
 * Client sockets that read into one buffer shared by all of them, instead of a fresh buffer and
 * a 'data' event per read.
 *
 * Why: for every read of a plain `net.Socket`, Node allocates a 64 KB ArrayBuffer, shrinks it to
 * the bytes read, wraps it in a Buffer and pushes it through the Readable stream machinery to a
 * 'data' listener; the buffer is freed by a later GC. At `redis-benchmark -P 1` that is one read
 * per request, and a minimal RESP responder measured ~2 µs of CPU less per request (≈11 → ≈9 µs,
 * kernel included) reading through Node's `onread` socket option — its buffer, its callback,
 * no stream — instead (docs/PERFORMANCE.md).
 *
 * How: `onread` is public, but only for sockets one constructs; a server's accepted sockets are
 * built by `net.Server`. So a listener is created paused (`pauseOnConnect`), and each accepted
 * socket's handle is moved into a new `net.Socket({ handle, onread })` — the `handle` option and
 * the `_handle` field are Node internals. This is feature-detected per socket (the handle must
 * be a stream handle with `readStart`/`useUserBuffer`); anything unexpected leaves the socket as
 * it was, resumed, on the public path ('data' events), and `NODIS_SHARED_READS=0` forces that
 * path (test/shared-reads.test.ts runs both). TLS sockets always take the public path.
 *
 * The contract for the reader: the chunk it is given is only valid during the call (the next
 * read of any client overwrites it, and the same Buffer object comes back for every read of
 * its length), so whatever it keeps must be copied before it returns (RespParser.release()).
 * The cluster bus's plain links read the same way (cluster/bus.ts).
 */
import net from 'node:net';
import v8 from 'node:v8';
import { streamBinding } from './stream-binding.js';

export type ChunkReader = (chunk: Buffer) => void;

/**
 * How much one read takes at most, here and on the public path (libuv's suggested size, which
 * Node allocates for each read): a read this long may be followed by another in the same turn.
 */
export const READ_BUFFER_BYTES = 64 * 1024;

/** One buffer for every client: reads are dispatched one at a time, each fully handled before the next. */
const SHARED = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);

/**
 * True unless turned off with NODIS_SHARED_READS=0. Read when a listener is made, not when this
 * module loads: the server's start-up snapshot loads it once, in the process that builds it.
 */
export function sharedReadsEnabled(): boolean {
  return process.env.NODIS_SHARED_READS !== '0';
}

interface StreamHandle {
  readStart(): number;
  useUserBuffer(buf: Uint8Array): void;
}

/** Where a shared-read socket's chunks go, set once its client exists. */
class ReadTarget {
  reader: ChunkReader | null = null;
  /** The peer's end (or a failed read), when the reader's owner takes it (setSharedReader). */
  onEnd: (() => void) | null = null;
}

const targets = new WeakMap<net.Socket, ReadTarget>();

/** Reads up to this long get a view of SHARED made once and kept (sharedChunk). */
const KEPT_VIEW_MAX = 16 * 1024;
/** `SHARED.subarray(0, n)` at index n for each read length seen so far, up to KEPT_VIEW_MAX. */
let views: (Buffer | null)[] | null = null;

/**
 * The first `n` bytes of SHARED as a Buffer. A view of fixed memory never changes, so one per
 * length is made and kept instead of a new typed array per read (at `-P 1` a read is a request,
 * and most requests of a workload have a few lengths); at most KEPT_VIEW_MAX of them, ~1.6 MB.
 */
function sharedChunk(n: number): Buffer {
  if (n > KEPT_VIEW_MAX) return SHARED.subarray(0, n);
  // Made on the first read, not when the module loads (the start-up snapshot loads it).
  views ??= new Array<Buffer | null>(KEPT_VIEW_MAX + 1).fill(null);
  let v = views[n];
  if (v === null || v === undefined) views[n] = v = SHARED.subarray(0, n);
  return v;
}

/** Node's `onread` option: reads into SHARED, each chunk handed to the target's reader. */
function onreadFor(target: ReadTarget): net.OnReadOpts {
  return {
    buffer: SHARED,
    callback: (n: number): boolean => {
      const reader = target.reader;
      if (reader !== null) reader(sharedChunk(n));
      return true;
    },
  };
}

/**
 * An outgoing plain TCP connection that reads into the shared buffer (`onread` is a public
 * option of net.connect); set its reader with setSharedReader. The cluster bus dials with it.
 */
export function connectSharedReads(o: { host: string; port: number }): net.Socket {
  const target = new ReadTarget();
  const socket = net.connect({ host: o.host, port: o.port, onread: onreadFor(target) });
  targets.set(socket, target);
  return socket;
}

/**
 * The accepted, paused `socket` moved onto a shared-read socket, or null when that is not
 * possible here (the caller then resumes `socket` and reads it through 'data' events).
 * Only for listeners made while sharedReadsEnabled() (Server.listenOn decides).
 */
export function toSharedReads(socket: net.Socket): net.Socket | null {
  const inner = socket as unknown as { _handle?: unknown };
  const moved = sharedReadSocket(inner._handle);
  if (moved === null) return null;
  // The old wrapper lets go of the handle; destroying it only settles net.Server's count.
  inner._handle = null;
  socket.destroy();
  return moved;
}

/**
 * A shared-read socket over a connection's stream handle, or null when the handle is not one
 * (it must have `readStart`/`useUserBuffer`) or Node refuses it; the handle is then untouched.
 */
function sharedReadSocket(handle: unknown): net.Socket | null {
  const h = handle as Partial<StreamHandle> | null | undefined;
  if (h === null || typeof h !== 'object' || typeof h.readStart !== 'function' || typeof h.useUserBuffer !== 'function') return null;
  const target = new ReadTarget();
  let socket: net.Socket;
  try {
    socket = new net.Socket({ handle: h, readable: true, writable: true, onread: onreadFor(target) } as net.SocketConstructorOpts);
  } catch {
    return null;
  }
  targets.set(socket, target);
  return socket;
}

interface ListenHandle {
  onconnection: (this: ListenHandle, err: number, clientHandle: unknown) => void;
}

/**
 * Makes a listening, paused-on-connect server hand each accepted connection to `accept` as the
 * one shared-read socket it becomes, without the plain socket net.Server would build first and
 * toSharedReads then throws away (two net.Socket objects, their streams' states, a destroy and
 * its close events per connection: about half of a connection's ~0.29 ms of server CPU, which a
 * burst of 50 connections — redis-benchmark's start — queues in front of the first requests).
 * The listening handle's `onconnection` (a Node internal, like `handle` in toSharedReads) is
 * wrapped: an error, or a handle that cannot read into the shared buffer, goes to Node's own
 * onconnection as before (so `accept` gets what toSharedReads would have left it). The
 * connection is not counted in the server's `_connections` (nodis never asks getConnections,
 * and close() stops listening either way). False when the handle is not what this expects:
 * the server then stays on the paused path.
 */
export function acceptSharedReads(server: net.Server, accept: (socket: net.Socket) => void, acceptBare?: (conn: BareConnection) => boolean): boolean {
  const handle = (server as unknown as { _handle?: Partial<ListenHandle> | null })._handle;
  if (handle === null || handle === undefined || typeof handle.onconnection !== 'function') return false;
  const nodeOnConnection = handle.onconnection;
  const bare = acceptBare !== undefined && bareConnectionsEnabled();
  handle.onconnection = function (this: ListenHandle, err: number, clientHandle: unknown): void {
    if (err !== 0 && err !== undefined) return nodeOnConnection.call(this, err, clientHandle);
    if (bare) {
      const conn = bareConnection(clientHandle);
      if (conn !== null && acceptBare(conn)) return;
      // Not taken: the handle is still as accepted (bareConnection changes nothing until start()).
    }
    const socket = sharedReadSocket(clientHandle);
    if (socket === null) return nodeOnConnection.call(this, err, clientHandle);
    accept(socket);
  };
  return true;
}

/**
 * True unless turned off with NODIS_BARE_CONNECTIONS=0 (or reads are not ours: NODIS_OWN_READS=0,
 * no `kReadBytesOrError`). Read when a listener is made.
 */
function bareConnectionsEnabled(): boolean {
  return process.env.NODIS_BARE_CONNECTIONS !== '0' && readLengthState() !== null;
}

/** The calls a bare connection makes on its TCP handle (TCPWrap, a Node internal). */
export interface BareHandle {
  fd: number;
  reading?: boolean;
  onread: (this: BareHandle, arrayBuffer: unknown) => unknown;
  readStart(): number;
  useUserBuffer(buf: Uint8Array): void;
  getpeername(out: { address?: string; port?: number; family?: string }): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  writeBuffer(req: object, buf: Uint8Array): number;
  close(cb?: () => void): void;
  /** Ours: the connection this handle belongs to (bareRead finds its reader there). */
  nodisConn?: BareConnection;
}

/**
 * An accepted plain TCP connection served from its libuv handle, without a `net.Socket`: reads
 * come to `reader` through the shared buffer (the handle's read callback is ours, as in
 * ownReads), the peer's EOF or a failed read to `onEnd`, and replies go out through the
 * handle's `writeBuffer` (direct-writes.ts). A `net.Socket`'s construction (Duplex,
 * ReadableState, WritableState, an async id, its listeners) and its destroy() are most of what
 * a short-lived connection costs the server beyond the kernel's work (docs/PERFORMANCE.md,
 * conn2). Whatever needs a stream — a replica's RDB transfer and stream, a busy script's
 * writes, QUIT's end() — asks for one with toSocket(), made over the same handle, once.
 */
export class BareConnection {
  reader: ChunkReader | null = null;
  onEnd: (() => void) | null = null;
  /** The peer's address from getpeername (accept()'s answer in Redis), filled by bareConnection. */
  // Made with the three fields Node's getpeername sets (address, family, port, in its order),
  // so its C++ writes them in place instead of adding each (a map transition and a migration).
  readonly peer: { address?: string; port?: number; family?: string } = { address: '', family: '', port: 0 };
  closed = false;
  constructor(readonly handle: BareHandle) {}

  /** Starts reading (after the reader and onEnd are set). False when libuv refuses. */
  start(): boolean {
    const h = this.handle;
    h.nodisConn = this;
    h.useUserBuffer(SHARED);
    h.onread = bareRead;
    // net.Socket's _read starts reading only while this is false (a socket made later by toSocket).
    h.reading = true;
    return h.readStart() === 0;
  }

  /** `ip:port` of the local end, or '' once closed (CLIENT LIST's laddr). */
  localAddress(): { address: string; port: number } {
    const out: { address?: string; port?: number } = {};
    if (this.closed || this.handle.getsockname(out) !== 0) return { address: '', port: 0 };
    return { address: out.address ?? '', port: out.port ?? 0 };
  }

  /** Closes the handle (as a socket's destroy()); `onClosed` runs when libuv has closed it. */
  close(onClosed?: () => void): void {
    if (this.closed) return;
    this.closed = true;
    const h = this.handle;
    h.onread = noRead;
    h.nodisConn = undefined;
    h.close(onClosed);
  }

  /**
   * A `net.Socket` over this connection's handle, which from then on owns it (its reads stay
   * ours: the read callback is put back after Node's constructor replaced it). Made once, by the
   * owner (Client.socket); after close(), a destroyed socket with no handle.
   */
  toSocket(): net.Socket {
    if (this.closed) {
      const s = new net.Socket();
      s.destroy();
      return s;
    }
    const h = this.handle;
    const ours = h.onread;
    const s = new net.Socket({ handle: h, readable: true, writable: true, onread: { buffer: SHARED, callback: () => true } } as net.SocketConstructorOpts);
    h.onread = ours;
    return s;
  }
}

function noRead(): void {}

/** A bare connection's read callback (one function for all of them: the handle names its connection). */
function bareRead(this: BareHandle): undefined {
  const conn = this.nodisConn;
  if (conn === undefined) return undefined;
  const n = readState!.state[readState!.index]!;
  if (n > 0) {
    const reader = conn.reader;
    if (reader !== null) reader(sharedChunk(n));
  } else if (n < 0) {
    const onEnd = conn.onEnd;
    if (onEnd !== null) onEnd();
  }
  return undefined;
}

/**
 * A bare connection over an accepted handle with its peer's address, or null (nothing changed)
 * when the handle is not a TCP stream handle with the calls BareHandle names (a unix socket's
 * Pipe has no getpeername) or getpeername fails (the peer already gone).
 */
function bareConnection(handle: unknown): BareConnection | null {
  const h = handle as Partial<BareHandle> | null | undefined;
  if (
    h === null ||
    typeof h !== 'object' ||
    typeof h.readStart !== 'function' ||
    typeof h.useUserBuffer !== 'function' ||
    typeof h.getpeername !== 'function' ||
    typeof h.getsockname !== 'function' ||
    typeof h.writeBuffer !== 'function' ||
    typeof h.close !== 'function' ||
    typeof h.fd !== 'number'
  ) {
    return null;
  }
  const conn = new BareConnection(h as BareHandle);
  if (h.getpeername(conn.peer) !== 0 || typeof conn.peer.address !== 'string') return null;
  return conn;
}

/**
 * Sends a shared-read socket's chunks to `reader`; false for any other socket (read it with a
 * 'data' listener). With `onEnd`, the peer's end of the connection (EOF) or a failed read is
 * handed to it instead of to the stream (see ownReads); it is then the caller's to end or
 * destroy the socket.
 */
export function setSharedReader(socket: net.Socket, reader: ChunkReader, onEnd?: () => void): boolean {
  const target = targets.get(socket);
  if (target === undefined) return false;
  target.reader = reader;
  if (onEnd !== undefined && ownReads(socket, target)) target.onEnd = onEnd;
  return true;
}

/** streamBaseState and the index of a read's length in it, or null when not available. */
let readState: { state: Int32Array; index: number } | null | undefined;

function readLengthState(): { state: Int32Array; index: number } | null {
  if (readState !== undefined) return readState;
  // Not decided inside a start-up snapshot being built (the binding is a live object).
  if (v8.startupSnapshot.isBuildingSnapshot()) return null;
  const b = process.env.NODIS_OWN_READS === '0' ? null : streamBinding();
  readState = b !== null && typeof b.kReadBytesOrError === 'number' ? { state: b.streamBaseState, index: b.kReadBytesOrError } : null;
  return readState;
}

/**
 * Takes the socket handle's read callback over from net.js (`onStreamRead`, a Node internal
 * like the handle itself): a read's length comes from `streamBaseState` (the array Node's own
 * callback reads it from) and the chunk goes straight to the reader, and the peer's EOF or a
 * read error goes to the target's `onEnd`. Node's path for an EOF — push(null), 'end' on the
 * next tick, end(), a shutdown() system call and its completion, 'finish', then destroy() —
 * is a third of what a short-lived connection costs the server (docs/PERFORMANCE.md, conn1);
 * Redis frees the client when its read returns 0 and closes the descriptor. A read of 0 (no
 * data) and anything while no onEnd is set go to Node's callback. False (nothing changed)
 * when the handle or the binding is not as expected, or NODIS_OWN_READS=0.
 */
function ownReads(socket: net.Socket, target: ReadTarget): boolean {
  const rs = readLengthState();
  const handle = (socket as unknown as { _handle?: { onread?: unknown } | null })._handle;
  if (rs === null || handle === null || handle === undefined || typeof handle.onread !== 'function') return false;
  const nodeOnRead = handle.onread as (this: unknown, arrayBuffer: unknown) => unknown;
  const { state, index } = rs;
  handle.onread = function (this: unknown, arrayBuffer: unknown): unknown {
    const n = state[index]!;
    if (n > 0) {
      const reader = target.reader;
      if (reader !== null) reader(sharedChunk(n));
      return undefined;
    }
    const onEnd = target.onEnd;
    if (n < 0 && onEnd !== null) {
      onEnd();
      return undefined;
    }
    return nodeOnRead.call(this, arrayBuffer);
  };
  return true;
}

