/**
 * A full garbage collection on demand: V8's gc(), obtained on first use through the documented
 * expose-gc-at-runtime route. MEMORY PURGE uses it, and eviction when the heap still counts
 * memory it has already given up (server/evict.ts).
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
