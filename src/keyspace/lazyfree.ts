/**
 * Lazy freeing as INFO reports it (lazyfree.c's lazyfreed_objects).
 *
 * Redis frees a deleted value inline, or — for UNLINK, FLUSHALL/FLUSHDB ASYNC and the
 * lazyfree-lazy-* settings — hands it to a background thread when freeing it would cost more
 * than LAZYFREE_THRESHOLD allocations. nodis never frees inline: dropping the last reference is
 * O(1) and V8's collector reclaims the memory off the command path. What stays observable is the
 * count: a lazy deletion of a value whose free effort passes the threshold counts one lazily
 * freed object, as in Redis, and since the collector needs no queue, lazyfree_pending_objects
 * is always 0.
 */
import { isStringValue, type RedisValue } from '../types/value.js';
import { StreamValue } from '../types/stream.js';
import { ListValue } from '../types/list.js';
import { chargedValueBytes } from './memory.js';

/** Above this many allocations a lazy deletion frees in the background (lazyfree.c). */
export const LAZYFREE_THRESHOLD = 64;

/** Bytes of one quicklist node at the default list-max-listpack-size (-2). */
const QUICKLIST_NODE_BYTES = 8192;

/**
 * lazyfreeGetFreeEffort: about how many allocations freeing `v` takes. Lists count their
 * quicklist nodes, hashtable/skiplist collections their elements, streams their nodes plus
 * each group and its pending entries (the first group's PEL standing for all); compact
 * encodings and strings are one allocation.
 */
export function freeEffort(v: RedisValue): number {
  if (isStringValue(v)) return 1;
  if (v instanceof ListValue) return Math.max(1, Math.ceil(chargedValueBytes(v) / QUICKLIST_NODE_BYTES));
  if (v instanceof StreamValue) {
    let effort = v.nodes.length;
    const groups = v.groups;
    if (groups !== null && groups.size > 0) {
      const first = groups.values().next().value!;
      effort += groups.size * (1 + first.pel.size);
    }
    return effort;
  }
  const encoding = v.encoding();
  if (encoding === 'hashtable' || encoding === 'skiplist') return v.size();
  return 1;
}

/** A value dropped by a lazy deletion: true when Redis would have freed it in the background. */
export function freedLazily(v: RedisValue): boolean {
  return freeEffort(v) > LAZYFREE_THRESHOLD;
}
