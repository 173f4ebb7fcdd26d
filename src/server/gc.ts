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

/** Old space's pages beyond its live data that make MEMORY PURGE compact (a fraction of live). */
const COMPACT_FRAGMENTATION = 0.08;

function oldSpaceWaste(): { used: number; spare: number } {
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return old === undefined ? { used: 0, spare: 0 } : { used: old.space_used_size, spare: old.physical_space_size - old.space_used_size };
}

/**
 * A full collection. With `compact`, when the old generation's pages then hold more than 8%
 * beyond its live data, a second collection evacuates every old-space page (V8's
 * --compact-on-every-full-gc, set for that one collection): live objects are packed into as
 * few pages as possible and the emptied pages go back to the OS. An ordinary full collection
 * only evacuates the pages V8 judges fragmented enough, and after loading 1M small keys left
 * old space ~20% larger than its live data (113 MB for 95 MB; compacted: 98 MB). Compacting
 * an old space that is not fragmented gains nothing and costs RSS: the pages it empties are
 * kept by V8 for reuse rather than unmapped (measured with a 1M-field hash: old space 70 MB for
 * 67 MB live either way, RSS 15 MB higher after an unconditional compaction). Compaction moves
 * every live object, so it costs time in proportion to the heap (~130 ms of CPU at 1M small
 * keys against ~60 ms uncompacted, plus one ordinary collection after it): only MEMORY PURGE,
 * an explicit request, asks for it.
 */
export function collectGarbage(compact = false): void {
  if (gc === null) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
  if (!compact) return;
  const { used, spare } = oldSpaceWaste();
  if (spare <= used * COMPACT_FRAGMENTATION) return;
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
  // The evacuated pages are unmapped by a background task; an ordinary collection right after
  // releases them before MEMORY PURGE replies (measured: RSS 287 MB → 180 MB only ~1 s later
  // without it, at once with it), so RSS read after the reply shows the compaction.
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
