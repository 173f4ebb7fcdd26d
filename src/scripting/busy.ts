/**
 * Serving other clients while a script is busy (processEventsWhileBlocked in Redis).
 *
 * A script runs synchronously inside the event loop, so while it runs Node cannot deliver
 * socket events. Past busy-reply-threshold the Lua count hook calls this: it reads whatever
 * each client has sent straight from its socket's file descriptor (non-blocking, so an idle
 * client yields EAGAIN at once), runs those commands through the normal dispatch — where the
 * BUSY precheck refuses all but allow-busy commands (SCRIPT KILL, FUNCTION KILL, SHUTDOWN …) —
 * and writes the replies straight back. libuv later finds nothing to read and carries on.
 * The script's own caller is skipped (its further input waits, as Redis protects it).
 * New connections are accepted only after the script ends.
 */
import fs from 'node:fs';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';

const chunk = Buffer.allocUnsafe(64 * 1024);

export function processEventsWhileBlocked(server: Server, caller: Client): void {
  for (const c of [...server.clients.values()]) {
    if (c === caller || c.fake || c.closed || c.socket === null || c.fd < 0) continue;
    let got = false;
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(c.fd, chunk, 0, chunk.length, null);
      } catch {
        break; // EAGAIN: nothing more to read now (or the socket failed: libuv will see it).
      }
      if (n <= 0) break;
      got = true;
      server.stats.netInputBytes += n;
      c.parser.feed(Buffer.from(chunk.subarray(0, n)));
      c.lastInteraction = server.clock.now();
      if (n < chunk.length) break;
    }
    if (got) server.processInput(c);
    // Also replies produced before the script started but not yet flushed (a command that ran
    // in the same turn of the loop): Redis writes pending replies here too.
    flushDirect(server, c);
  }
}

/** Writes a client's pending replies synchronously when nothing is queued in its socket. */
function flushDirect(server: Server, c: Client): void {
  if (c.reply.len === 0 || c.socket === null || c.socket.writableLength > 0) return;
  const out = c.reply.take();
  let off = 0;
  try {
    while (off < out.length) off += fs.writeSync(c.fd, out, off, out.length - off);
  } catch {
    // The socket is full: hand the rest to libuv, in order.
    c.socket.write(out.subarray(off));
  }
  server.stats.netOutputBytes += out.length;
}
