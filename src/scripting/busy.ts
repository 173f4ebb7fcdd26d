/**
 * Serving other clients while a script is busy (processEventsWhileBlocked in Redis).
 *
 * A script runs synchronously inside the event loop, so while it runs Node cannot deliver
 * socket events. Past busy-reply-threshold the engine calls this (from its count hook and from
 * redis.call, at most every millisecond): it reads whatever
 * each client has sent straight from its socket's file descriptor (non-blocking, so an idle
 * client yields EAGAIN at once), runs those commands through the normal dispatch — where the
 * BUSY precheck refuses all but allow-busy commands (SCRIPT KILL, FUNCTION KILL, SHUTDOWN …) —
 * and writes the replies straight back. libuv later finds nothing to read and carries on.
 * The script's own caller is skipped (its further input waits, as Redis protects it), and so is
 * a replica's link to its master (its stream waits; refused with -BUSY it would be lost).
 * A client whose connection closed is freed here, as Redis does.
 *
 * New connections: Node cannot accept() synchronously, so while a script is busy an acceptor
 * thread (busy-acceptor.ts) accepts on the same listening sockets and hands the descriptors
 * over; here each becomes a socket and a client like any other, served in the same pass.
 */
import fs from 'node:fs';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';
import { BUSY, READ, RING_SLOTS, RING_START, WRITTEN, type AcceptorMessage } from './busy-ring.js';

const chunk = Buffer.allocUnsafe(64 * 1024);

/** A server's acceptor thread (started on its first busy script) and the shared ring. */
class BusyAcceptor {
  private worker: Worker | null = null;
  private readonly shared = new Int32Array(new SharedArrayBuffer((RING_START + RING_SLOTS) * 4));

  constructor(private readonly server: Server) {}

  /** A script just became busy: accept new connections from now on. */
  begin(): void {
    const listeners = this.server.listeningSockets();
    Atomics.store(this.shared, BUSY, 1);
    if (this.worker === null) {
      this.worker = new Worker(new URL('./busy-acceptor.js', import.meta.url), {
        workerData: { shared: this.shared.buffer, listeners },
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
      this.worker.unref();
      // Connections accepted as a busy period ends arrive when the main loop runs again.
      this.worker.on('message', () => this.adoptAccepted());
      this.worker.on('error', (e) => this.server.log.warning(`Busy-script acceptor thread failed: ${e.message}`));
    } else {
      const msg: AcceptorMessage = { listeners };
      this.worker.postMessage(msg);
    }
    Atomics.notify(this.shared, BUSY);
  }

  /** The script ended: the acceptor thread goes back to sleep; the listeners accept again. */
  end(): void {
    Atomics.store(this.shared, BUSY, 0);
    const idle: AcceptorMessage = { idle: true };
    this.worker?.postMessage(idle);
  }

  /** Turns every descriptor the acceptor thread handed over into a client. */
  adoptAccepted(): void {
    const shared = this.shared;
    let read = Atomics.load(shared, READ);
    while (read < Atomics.load(shared, WRITTEN)) {
      const fd = shared[RING_START + (read % RING_SLOTS)]!;
      Atomics.store(shared, READ, ++read);
      let socket: net.Socket;
      try {
        socket = new net.Socket({ fd, readable: true, writable: true });
      } catch (e) {
        this.server.log.warning(`Accepting client connection: ${(e as Error).message}`);
        continue;
      }
      this.server.accept(socket);
    }
  }
}

const acceptors = new WeakMap<Server, BusyAcceptor>();

function acceptorOf(server: Server): BusyAcceptor {
  let a = acceptors.get(server);
  if (a === undefined) {
    a = new BusyAcceptor(server);
    acceptors.set(server, a);
  }
  return a;
}

/** A script passed busy-reply-threshold: new connections are accepted until `endBusy`. */
export function beginBusy(server: Server): void {
  acceptorOf(server).begin();
}

/** The busy script ended. */
export function endBusy(server: Server): void {
  acceptors.get(server)?.end();
}

export function processEventsWhileBlocked(server: Server, caller: Client): void {
  acceptors.get(server)?.adoptAccepted();
  for (const c of [...server.clients.values()]) {
    if (c === caller || c.fake || c.closed || !c.networked || c.plainFd < 0) continue;
    // The master's stream waits in its socket: refused with -BUSY, its writes would be lost.
    if (c.isMaster) continue;
    let got = false;
    let gone = false;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(c.plainFd, chunk, 0, chunk.length, null);
      } catch (e) {
        // EAGAIN: nothing more to read now. Anything else: the connection failed.
        gone = (e as NodeJS.ErrnoException).code !== 'EAGAIN';
        break;
      }
      if (n === 0) {
        gone = true;
        break;
      }
      got = true;
      server.stats.netInputBytes += n;
      c.parser.feed(Buffer.from(chunk.subarray(0, n)));
      c.lastInteraction = server.clock.now();
      if (n < chunk.length) break;
    }
    if (got) server.processInput(c);
    // A client that closed its connection is freed now, as Redis does from here (a replica
    // that left stops counting for min-replicas-to-write while the script still runs).
    if (gone) {
      server.freeClient(c);
      continue;
    }
    // Also replies produced before the script started but not yet flushed (a command that ran
    // in the same turn of the loop): Redis writes pending replies here too.
    flushDirect(server, c);
  }
}

/** Writes a client's pending replies synchronously when nothing is queued in its socket. */
function flushDirect(server: Server, c: Client): void {
  if (c.reply.len === 0 || !c.networked || c.socketQueued > 0) return;
  const out = c.reply.take();
  let off = 0;
  try {
    while (off < out.length) off += fs.writeSync(c.plainFd, out, off, out.length - off);
  } catch {
    // The socket is full: hand the rest to libuv, in order.
    c.socket!.write(out.subarray(off));
  }
  server.stats.netOutputBytes += out.length;
}
