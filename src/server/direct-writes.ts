/**
 * Client replies written straight to the socket's stream handle, past Node's Writable stream.
 *
 * Why: at `redis-benchmark -P 1` every request ends in one socket write, and `socket.write`
 * goes through the Writable machinery (`writeOrBuffer`, `_write`, `writeGeneric`, a new
 * WriteWrap, `afterWriteDispatched`) before the handle's `writeBuffer` makes the system call.
 * A minimal RESP responder spent ~0.3 µs of user CPU less per request calling `writeBuffer`
 * itself (docs/PERFORMANCE.md, "The write path"). The kernel's work is the same: one `write`.
 *
 * How: the handle's `writeBuffer(req, buffer)` tries the write at once; when the kernel takes
 * every byte (the common case) the request object is not used, so one is kept and reused. When
 * it does not, libuv queues the rest and calls `req.oncomplete` later; the bytes are then
 * counted in `queued` (what `socket.writableLength` counts for stream writes) until it does.
 * `WriteWrap` and the `streamBaseState` array that says whether the last write went
 * asynchronous are Node internals (stream-binding.ts): feature-detected, and without them,
 * with `NODIS_DIRECT_WRITES=0` and for TLS sockets replies keep `socket.write`
 * (test/direct-writes.test.ts runs both).
 *
 * Ordering: libuv writes a handle's requests in the order they were made, so a direct write is
 * made only while the stream holds nothing (`writableLength === 0`: a stream write still
 * buffered in the Writable would otherwise be overtaken); stream writes made after a direct
 * one queue behind it in libuv. A replica's stream is written direct only while none of its
 * direct writes is pending (server.ts writeToClient): what the kernel does not take then goes
 * through the stream, whose 'drain' events the replication pump waits on.
 */
import type net from 'node:net';
import v8 from 'node:v8';
import { streamBinding, streamBindingOff, type StreamWrapBinding } from './stream-binding.js';

interface WriteHandle {
  writeBuffer(req: object, buf: Uint8Array): number;
}

/** One write request object: Node's WriteWrap with the fields its completion reads. */
interface WriteReq {
  /** The writer that made it; null while it is the writer's spare. */
  owner: DirectWriter | null;
  /** Keeps the bytes alive while libuv still reads them. */
  buffer: Buffer | null;
  bytes: number;
  oncomplete: (this: WriteReq, status: number) => void;
}

/** Why direct writes are off in this process ('' when they are on), once the first client asked. */
export let directWritesOff = '';

/**
 * Decided on the first client, not when this module loads: the start-up snapshot loads it in the
 * process that builds the snapshot (whose environment is not the server's), and its warm-up
 * serves a PING there — nothing is decided or cached while a snapshot is being built.
 */
let binding: StreamWrapBinding | null | undefined;

function decide(): StreamWrapBinding | null {
  if (binding !== undefined) return binding;
  if (v8.startupSnapshot.isBuildingSnapshot()) return null;
  if (process.env.NODIS_DIRECT_WRITES === '0') {
    directWritesOff = 'NODIS_DIRECT_WRITES=0';
    binding = null;
  } else {
    binding = streamBinding();
    directWritesOff = binding === null ? streamBindingOff : '';
  }
  return binding;
}

/** The completion of a write that went asynchronous (called by Node with the request as `this`). */
function onWriteComplete(this: WriteReq, status: number): void {
  const w = this.owner;
  this.buffer = null;
  this.owner = null;
  if (w === null) return;
  w.queued -= this.bytes;
  if (status < 0) w.failed();
}

function newReq(): WriteReq {
  const req = new binding!.WriteWrap() as WriteReq;
  req.owner = null;
  req.buffer = null;
  req.bytes = 0;
  req.oncomplete = onWriteComplete;
  return req;
}

/**
 * Outcome of DirectWriter.write: 'done', the kernel took every byte (the buffer may be reused);
 * 'queued', libuv holds the buffer until the write completes (do not reuse it); 'failed', the
 * socket is being destroyed.
 */
export type Written = 'done' | 'queued' | 'failed';

/**
 * The request object of the next write, whichever connection makes it: a write the kernel takes
 * whole leaves no trace on its request (libuv never saw it), so one object serves every
 * connection in turn, and a new connection makes none (a `new WriteWrap()` is an API object
 * made through Node's C++ template: docs/PERFORMANCE.md, "p1b"). A write that goes
 * asynchronous keeps its request until it completes; the next write makes a new spare.
 */
let spare: WriteReq | null = null;

export class DirectWriter {
  /** Bytes of asynchronous direct writes not completed yet. */
  queued = 0;

  constructor(
    /** What a failed write does to the connection (a socket is destroyed, as Node does). */
    private readonly onFail: () => void,
    private readonly handle: WriteHandle,
  ) {}

  /** Writes `buf` (the caller checked the stream holds nothing). */
  write(buf: Buffer): Written {
    const req = spare ?? newReq();
    spare = null;
    req.buffer = buf;
    const err = this.handle.writeBuffer(req, buf);
    if (err !== 0) {
      req.buffer = null;
      this.failed();
      return 'failed';
    }
    if (binding!.streamBaseState[binding!.kLastWriteWasAsync] === 0) {
      req.buffer = null;
      spare = req;
      return 'done';
    }
    req.owner = this;
    req.bytes = buf.length;
    this.queued += buf.length;
    return 'queued';
  }

  /** A write failed (EPIPE, ECONNRESET …): the connection goes, as Node destroys a socket on a failed write. */
  failed(): void {
    this.onFail();
  }
}

/**
 * A direct writer for `socket`, or null when replies to it must go through `socket.write`
 * (direct writes off, or not a plain stream handle).
 */
export function directWriterFor(socket: net.Socket): DirectWriter | null {
  if (decide() === null) return null;
  if ((socket as { encrypted?: boolean }).encrypted === true) return null;
  const handle = (socket as unknown as { _handle?: unknown })._handle as Partial<WriteHandle> | null | undefined;
  if (handle === null || typeof handle !== 'object' || typeof handle.writeBuffer !== 'function') return null;
  return new DirectWriter(() => {
    if (!socket.destroyed) socket.destroy();
  }, handle as WriteHandle);
}

/**
 * A direct writer for a bare connection's handle (shared-reads.ts BareConnection), which has no
 * stream to fall back to: null only when direct writes are off, and then no bare connection is
 * made (Server.acceptBare).
 */
export function directWriterForHandle(handle: WriteHandle, onFail: () => void): DirectWriter | null {
  if (decide() === null) return null;
  return new DirectWriter(onFail, handle);
}
