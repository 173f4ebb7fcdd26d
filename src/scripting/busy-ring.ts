/**
 * The shared memory busy.ts and its acceptor thread (busy-acceptor.ts) hand descriptors over
 * in (Int32Array): [BUSY] 1 while a script is busy, [WRITTEN] descriptors handed over so far,
 * [READ] descriptors the main thread took, then a ring of RING_SLOTS descriptors. Its own
 * module so that the server's bundle does not take in the acceptor thread's program (which
 * reads node:worker_threads when it loads; docs/PERFORMANCE.md "Start-up").
 */
export const BUSY = 0;
export const WRITTEN = 1;
export const READ = 2;
export const RING_START = 3;
export const RING_SLOTS = 1024;

/** What the main thread sends: the listening sockets to accept on, or that a busy period ended. */
export type AcceptorMessage = { listeners: { fd: number; address: string }[] } | { idle: true };
