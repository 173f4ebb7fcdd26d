/**
 * The acceptor thread: accepts connections on the server's listening sockets while a script
 * is busy, when the main thread (inside the script) cannot.
 *
 * Redis accepts and answers new clients from processEventsWhileBlocked (they get -BUSY, and
 * can send SCRIPT KILL or SHUTDOWN NOSAVE). Node has no synchronous accept(), so this worker
 * thread listens on the same descriptors (the kernel hands each connection to one accept()),
 * and passes every accepted descriptor to the main thread through shared memory, where
 * busy.ts wraps it in a socket of its own and serves it like any other client.
 *
 * Outside busy periods the thread sleeps in Atomics.wait (told so by an `idle` message), so its
 * event loop does not run and every connection goes to the main thread's listeners as usual. A socket accepted here is
 * kept (paused, never read, never closed): closing it would close the descriptor that the
 * main thread now owns. That costs a small object per connection accepted while busy.
 *
 * The shared memory's layout is in busy-ring.ts.
 */
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

import { BUSY, READ, RING_SLOTS, RING_START, WRITTEN, type AcceptorMessage } from './busy-ring.js';

function run(shared: Int32Array, initial: { fd: number; address: string }[]): void {
  /** Listening sockets opened here, by "fd address" (a descriptor reused for a new address gets a new one). */
  const listening = new Map<string, net.Server>();
  /** Accepted sockets: kept so that nothing ever closes their descriptors from this thread. */
  const handedOver: net.Socket[] = [];
  /** Descriptors waiting for room in the ring. */
  const overflow: number[] = [];
  let retry: NodeJS.Timeout | null = null;

  const handOver = (): void => {
    while (overflow.length > 0) {
      const written = Atomics.load(shared, WRITTEN);
      if (written - Atomics.load(shared, READ) >= RING_SLOTS) break;
      shared[RING_START + (written % RING_SLOTS)] = overflow.shift()!;
      Atomics.store(shared, WRITTEN, written + 1);
    }
    // Wakes the main thread's event loop too, for a connection accepted just as the busy
    // period ended (the main thread then adopts it from its message handler).
    parentPort!.postMessage(0);
    if (overflow.length > 0 && retry === null) {
      retry = setTimeout(() => {
        retry = null;
        handOver();
      }, 1);
    }
  };

  const listen = (listeners: { fd: number; address: string }[]): void => {
    for (const { fd, address } of listeners) {
      const key = `${fd} ${address}`;
      if (listening.has(key)) continue;
      const srv = net.createServer({ pauseOnConnect: true }, (socket) => {
        const cfd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
        if (cfd < 0) return;
        handedOver.push(socket);
        overflow.push(cfd);
        handOver();
      });
      // A listener the main thread closed meanwhile: nothing to accept there.
      srv.on('error', () => {});
      srv.listen({ fd });
      listening.set(key, srv);
    }
  };

  // After a busy period: sleep, blocking this thread's loop, until the next one begins (a
  // busy period that began meanwhile means no sleep at all).
  const sleepUntilBusy = (): void => {
    while (Atomics.load(shared, BUSY) === 0) Atomics.wait(shared, BUSY, 0);
  };

  parentPort!.on('message', (msg: AcceptorMessage) => {
    if ('idle' in msg) sleepUntilBusy();
    else listen(msg.listeners);
  });
  listen(initial);
}

if (parentPort !== null && workerData !== null && typeof workerData === 'object' && 'shared' in workerData) {
  const data = workerData as { shared: SharedArrayBuffer; listeners: { fd: number; address: string }[] };
  run(new Int32Array(data.shared), data.listeners);
}
