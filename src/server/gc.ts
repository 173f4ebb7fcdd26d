/**
 * A full garbage collection on demand: V8's gc(), obtained on first use through the documented
 * expose-gc-at-runtime route. MEMORY PURGE uses it; so does `releasedMemory()`, after a big
 * release (a client with large buffers gone, a flushed dataset), so that the process's RSS falls
 * soon after used_memory does: an idle Node process would otherwise keep that garbage until
 * allocation pressure next triggers a collection.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null = null;

export function collectGarbage(): void {
  if (gc === null) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}

/** Released bytes that justify a collection, and the shortest time between two of them. */
const RELEASE_COLLECT_BYTES = 32 * 1024 * 1024;
const RELEASE_COLLECT_INTERVAL_MS = 1000;
let released = 0;
let scheduled = false;
let lastCollect = -Infinity;

/** `bytes` of data just became garbage: collect soon (once, shortly after) when it is a lot. */
export function releasedMemory(bytes: number): void {
  released += bytes;
  if (released < RELEASE_COLLECT_BYTES || scheduled) return;
  scheduled = true;
  const wait = Math.max(100, lastCollect + RELEASE_COLLECT_INTERVAL_MS - performance.now());
  setTimeout(() => {
    scheduled = false;
    released = 0;
    collectGarbage();
    lastCollect = performance.now();
  }, wait).unref();
}
