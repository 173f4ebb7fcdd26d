/**
 * The keyspace's key → value dictionary, built so that no single step of its growth stalls the
 * event loop.
 *
 * Why not one `Map`: V8 grows (and shrinks) a `Map` by rehashing its whole table in one step.
 * Measured in isolation, the insert that takes a Map of short string keys past 131,072 entries
 * costs ~25 ms, past 524,288 100–160 ms, past 1,048,576 0.8–1 s; Redis rehashes incrementally
 * and never has such a step. A V8 Map also holds at most 2^24 entries.
 *
 * So a `KeyDict` is one Map while small (below `shardAt` entries; one probe per lookup, no
 * hashing of our own), and `shardCount` Maps beyond: a key's shard is a hash of its bytes
 * (FNV-1a, `keyHash`), so each Map holds about size/shardCount keys and its growth costs
 * a few milliseconds at most up to ~10M keys. The switch moves the entries once, in both
 * directions (sharding at `shardAt`, back to one Map at `unshardAt`, far apart so a size
 * hovering near one of them does not flip it back and forth), and so does `clear()`.
 *
 * Iteration (keys(), entries()) is Map by Map, each through the Map's own live iterator, and a
 * live iterator survives inserts, deletes and V8's rehashes. Guarantees, which SCAN cursors,
 * the non-blocking snapshot and the active expire cycle rely on:
 *  - every key present for the whole iteration is visited exactly once;
 *  - it terminates however fast keys arrive: from each Map it takes at most as many entries as
 *    the Map held when the walk entered it (a Map yields the entries it held first, in
 *    insertion order, then newcomers);
 *  - across a switch or a clear(), an iterator goes on walking the Maps it started on — no
 *    longer written to, so they hold the keys as they were — and yields from them only keys
 *    still in the dictionary, with their current values (a key deleted since is not returned).
 * The order is insertion order per Map, Maps in shard order: like Redis's bucket order it is
 * not insertion order overall.
 */

/** Entries at which a single Map is split into shards (its growth to 2^15 costs ~1–3 ms). */
export const SHARD_AT = 1 << 15;
/** Entries at which a sharded dictionary goes back to one Map. */
export const UNSHARD_AT = 1 << 11;
/**
 * Number of shards: 1M keys make ~4k-entry Maps (growth well under 1 ms), 10M keys ~40k-entry
 * ones (a few ms). 1,024 shards cost lookups ~10% more than 256 (more Map headers to reach).
 */
export const SHARD_COUNT = 1 << 8;

/**
 * A 32-bit hash of a key's chars: FNV-1a with a final mix so that the low bits (the shard) depend
 * on every char. Keys over 64 chars hash their first and last 32 chars and their length.
 */
export function keyHash(key: string): number {
  const n = key.length;
  let h = 0x811c9dc5 ^ n;
  if (n <= 64) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    for (let i = 0; i < 32; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    for (let i = n - 32; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/** dict.c's DICT_HT_INITIAL_SIZE and dict_force_resize_ratio. */
const DICT_INITIAL_SIZE = 4;
const DICT_FORCE_RESIZE_RATIO = 5;

/** The smallest power of two ≥ n (dict.c's _dictNextExp). */
function nextPowerOfTwo(n: number): number {
  let size = DICT_INITIAL_SIZE;
  while (size < n) size *= 2;
  return size;
}

export class KeyDict<V> {
  /** The one Map while small, else null. */
  private single: Map<string, V> | null = new Map();
  /** The shards while large, else null. */
  private shards: Map<string, V>[] | null = null;
  private total = 0;
  /**
   * Bumped whenever the Maps are replaced (a switch or a clear()): an iterator that started on
   * an older generation walks Maps no longer written to and filters them (see the file comment).
   */
  private generation = 0;
  private readonly mask: number;
  /**
   * The bucket count Redis's dict would have for this dictionary (DEBUG HTSTATS' "table size"),
   * following dict.c's rules: 4 on the first insert; doubled to the power of two above the
   * count when an insert finds the table full — unless a background job runs
   * (`resizeAllowed` false, Redis's dict_can_resize while a child exists), then only past 5
   * entries per bucket; shrunk by `cronResize` (serverCron's tryResizeHashTables) below 10%
   * fill. nodis's own tables are V8 Maps: this models Redis's, it does not describe them.
   */
  private table = 0;
  /** False while a background job (snapshot) runs: tables grow only when 5× over full. */
  resizeAllowed = true;

  constructor(
    private readonly shardAt = SHARD_AT,
    private readonly unshardAt = UNSHARD_AT,
    shardCount = SHARD_COUNT,
  ) {
    if (shardCount < 2 || (shardCount & (shardCount - 1)) !== 0) throw new RangeError('shardCount must be a power of 2');
    if (unshardAt >= shardAt) throw new RangeError('unshardAt must be below shardAt');
    this.mask = shardCount - 1;
  }

  get size(): number {
    return this.total;
  }

  /** True while the entries are spread over shards (for tests and introspection). */
  get sharded(): boolean {
    return this.shards !== null;
  }

  get(key: string): V | undefined {
    const m = this.single;
    if (m !== null) return m.get(key);
    return this.shards![keyHash(key) & this.mask]!.get(key);
  }

  has(key: string): boolean {
    const m = this.single;
    if (m !== null) return m.has(key);
    return this.shards![keyHash(key) & this.mask]!.has(key);
  }

  /** Sets key → value; returns true if the key is new. */
  set(key: string, value: V): boolean {
    const single = this.single;
    const m = single ?? this.shards![keyHash(key) & this.mask]!;
    const before = m.size;
    m.set(key, value);
    if (m.size === before) return false;
    this.total++;
    if (this.total > this.table) this.expandIfNeeded();
    if (single !== null && this.total >= this.shardAt) this.spread();
    return true;
  }

  /** _dictExpandIfNeeded, for the insert that just took the count to `total`. */
  private expandIfNeeded(): void {
    const used = this.total - 1;
    if (this.table === 0) this.table = DICT_INITIAL_SIZE;
    else if (this.resizeAllowed || used / this.table > DICT_FORCE_RESIZE_RATIO) this.table = nextPowerOfTwo(used + 1);
  }

  /** Redis's table size for this dictionary (0 when empty); see `table`. */
  get tableSize(): number {
    return this.table;
  }

  /** tryResizeHashTables: shrinks the modelled table below 10% fill when no job runs. */
  cronResize(): void {
    if (!this.resizeAllowed || this.table <= DICT_INITIAL_SIZE) return;
    if ((this.total * 100) / this.table < 10) this.table = nextPowerOfTwo(Math.max(this.total, DICT_INITIAL_SIZE));
  }

  delete(key: string): boolean {
    const single = this.single;
    const m = single ?? this.shards![keyHash(key) & this.mask]!;
    if (!m.delete(key)) return false;
    this.total--;
    if (single === null && this.total <= this.unshardAt) this.gather();
    return true;
  }

  clear(): void {
    this.single = new Map();
    this.shards = null;
    this.total = 0;
    this.table = 0;
    this.replaced();
  }

  /** One Map → shards. The old Map is left as it is for iterators still walking it. */
  private spread(): void {
    const shards: Map<string, V>[] = [];
    for (let i = 0; i <= this.mask; i++) shards.push(new Map());
    for (const [k, v] of this.single!) shards[keyHash(k) & this.mask]!.set(k, v);
    this.shards = shards;
    this.single = null;
    this.replaced();
  }

  /** Shards → one Map. The shards are left as they are for iterators still walking them. */
  private gather(): void {
    const single = new Map<string, V>();
    for (const m of this.shards!) for (const [k, v] of m) single.set(k, v);
    this.single = single;
    this.shards = null;
    this.replaced();
  }

  private replaced(): void {
    this.generation++;
    this.rover = null;
  }

  /** The Maps as they are now (an iterator keeps this array: it is never modified in place). */
  private maps(): Map<string, V>[] {
    return this.single !== null ? [this.single] : this.shards!;
  }

  /** Live iteration over all entries; see the file comment for its guarantees. */
  *entries(): IterableIterator<[string, V]> {
    const generation = this.generation;
    for (const m of this.maps()) {
      let budget = m.size;
      for (const entry of m) {
        if (budget-- <= 0) break;
        if (this.generation === generation) yield entry;
        else {
          const v = this.get(entry[0]);
          if (v !== undefined) yield [entry[0], v];
        }
      }
    }
  }

  /** Live iteration over all keys, as entries(). */
  *keys(): IterableIterator<string> {
    const generation = this.generation;
    for (const m of this.maps()) {
      let budget = m.size;
      for (const key of m.keys()) {
        if (budget-- <= 0) break;
        if (this.generation === generation || this.has(key)) yield key;
      }
    }
  }

  /** The rover: the index in maps() of the Map it walks, and its iterator over that Map. */
  private rover: Iterator<string> | null = null;
  private roverMap = 0;

  /** The rover's next key, moving on to the next Map and wrapping at the end. */
  private roverNext(): string | undefined {
    const maps = this.maps();
    // Two full passes at most: the dictionary is not empty when this is called.
    for (let steps = 0; steps <= 2 * maps.length; steps++) {
      if (this.rover === null) {
        if (this.roverMap >= maps.length) this.roverMap = 0;
        this.rover = maps[this.roverMap]!.keys();
      }
      const next = this.rover.next();
      if (next.done !== true) return next.value;
      this.rover = null;
      this.roverMap++;
    }
    return undefined;
  }

  /**
   * A random key in O(1) amortised: a persistent "roving" iterator is advanced by a random
   * number of steps (< 64), wrapping at the end. Not perfectly uniform — neither is Redis's
   * dictGetRandomKey — but every key can come up and no call walks the whole dictionary.
   * `r` is in [0, 1).
   */
  randomKey(r: number): string | undefined {
    if (this.total === 0) return undefined;
    let steps = Math.floor(r * Math.min(this.total, 64));
    for (;;) {
      const k = this.roverNext();
      if (k === undefined || steps-- <= 0) return k;
    }
  }

  /**
   * Up to `count` random keys (dictGetSomeKeys), each an independent random jump of the rover:
   * consecutive keys would be too alike, since insertion order follows creation time (Redis's
   * consecutive buckets are in hash order). A key may repeat.
   */
  sampleKeys(r: () => number, count: number, out: string[]): void {
    out.length = 0;
    const n = Math.min(count, this.total);
    for (let i = 0; i < n; i++) {
      const k = this.randomKey(r());
      if (k === undefined) return;
      out.push(k);
    }
  }
}
