/**
 * The keyspace's key → value dictionary, built so that no single step of its growth stalls the
 * event loop.
 *
 * Why not one big table: a hash table grows (and shrinks) by rehashing its whole table in one
 * step. Measured in isolation with V8's `Map` (what this was built on first), the insert that
 * takes a Map of short string keys past 131,072 entries costs ~25 ms, past 524,288 100–160 ms,
 * past 1,048,576 0.8–1 s; Redis rehashes incrementally and never has such a step.
 *
 * So a `KeyDict` is one table while small (below `shardAt` entries), and `shardCount` tables
 * beyond: a key's shard is a hash of its bytes (FNV-1a, `keyHash`), so each table holds about
 * size/shardCount keys and its growth costs a few milliseconds at most up to ~10M keys. The
 * switch moves the entries once, in both directions (sharding at `shardAt`, back to one table at
 * `unshardAt`, far apart so a size hovering near one of them does not flip it back and forth),
 * and so does `clear()`. The tables are `OrderedTable`s (ordered-table.ts): insertion-ordered
 * like a `Map`, but a lookup passes over other keys' slots by a stored hash tag instead of
 * reading their key strings; the hash computed once here picks both the shard and the slot.
 *
 * Iteration (keys(), entries()) is table by table, each through the table's own live iterator,
 * which survives inserts, deletes and rebuilds as a `Map` iterator does. Guarantees, which SCAN
 * cursors, the non-blocking snapshot and the active expire cycle rely on:
 *  - every key present for the whole iteration is visited exactly once;
 *  - it terminates however fast keys arrive: from each table it takes at most as many entries
 *    as the table held when the walk entered it (a table yields the entries it held first, in
 *    insertion order, then newcomers);
 *  - across a switch or a clear(), an iterator goes on walking the tables it started on — no
 *    longer written to, so they hold the keys as they were — and yields from them only keys
 *    still in the dictionary, with their current values (a key deleted since is not returned).
 * The order is insertion order per table, tables in shard order: like Redis's bucket order it
 * is not insertion order overall.
 */
import { HOLE_RECORD, KEEP_RECORD, NO_RECORD, OrderedTable, type TableCursor } from './ordered-table.js';
import { keyHash } from '../types/table-support.js';

/** Entries at which a single table is split into shards. */
export const SHARD_AT = 1 << 15;
/** Entries at which a sharded dictionary goes back to one table. */
export const UNSHARD_AT = 1 << 11;
/**
 * Number of shards: 1M keys make ~4k-entry tables (growth well under 1 ms), 10M keys ~40k-entry
 * ones (a few ms). 1,024 shards cost lookups ~10% more than 256 (more table headers to reach).
 */
export const SHARD_COUNT = 1 << 8;

export { keyHash, keyHashOfBytes } from '../types/table-support.js';
export { KEEP_RECORD, NO_RECORD } from './ordered-table.js';

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
  /** The one table while small, else null. */
  private single: OrderedTable<V> | null = new OrderedTable();
  /** The shards while large, else null. */
  private shards: OrderedTable<V>[] | null = null;
  private total = 0;
  /**
   * Bumped whenever the tables are replaced (a switch or a clear()): an iterator that started on
   * an older generation walks tables no longer written to and filters them (see the file comment).
   */
  private generation = 0;
  private readonly mask: number;
  /**
   * The bucket count Redis's dict would have for this dictionary (DEBUG HTSTATS' "table size"),
   * following dict.c's rules: 4 on the first insert; doubled to the power of two above the
   * count when an insert finds the table full — unless a background job runs
   * (`resizeAllowed` false, Redis's dict_can_resize while a child exists), then only past 5
   * entries per bucket; shrunk by `cronResize` (serverCron's tryResizeHashTables) below 10%
   * fill. nodis's own tables are OrderedTables: this models Redis's, it does not describe them.
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
    const h = keyHash(key);
    return (this.single ?? this.shards![h & this.mask]!).get(key, h);
  }

  /** get() with the key's hash given (keyHash(key)). */
  getHashed(key: string, h: number): V | undefined {
    return (this.single ?? this.shards![h & this.mask]!).get(key, h);
  }

  /** Warms the cache for a lookup of a key whose keyHash is `h` (OrderedTable.touch). */
  touch(h: number): number {
    return (this.single ?? this.shards![h & this.mask]!).touch(h);
  }

  has(key: string): boolean {
    const h = keyHash(key);
    return (this.single ?? this.shards![h & this.mask]!).has(key, h);
  }

  /**
   * Sets key → value; returns true if the key is new. `h` is keyHash(key), when the caller
   * already has it (the main and expires dictionaries of a database share it).
   */
  set(key: string, value: V, h = keyHash(key)): boolean {
    return this.put(key, value, h) === undefined;
  }

  /**
   * Sets key → value; returns the value it replaced, undefined if the key is new (one lookup).
   * The entry's record (an int ≥ 0 kept beside it: the main dictionary's access records) becomes
   * `recNew` if the key is new (NO_RECORD: none), `recOld` if not (KEEP_RECORD: unchanged).
   */
  put(key: string, value: V, h = keyHash(key), recNew = NO_RECORD, recOld = KEEP_RECORD): V | undefined {
    const single = this.single;
    const old = (single ?? this.shards![h & this.mask]!).set(key, h, value, recNew, recOld);
    if (old !== undefined) return old;
    this.total++;
    if (this.total > this.table) this.expandIfNeeded();
    if (single !== null && this.total >= this.shardAt) this.spread();
    return undefined;
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

  delete(key: string, h = keyHash(key)): boolean {
    return this.remove(key, h) !== undefined;
  }

  /** The record of `key` (see put()): NO_RECORD when it has none or is absent. */
  recordOf(key: string, h = keyHash(key)): number {
    return (this.single ?? this.shards![h & this.mask]!).recordOf(key, h);
  }

  /** Sets the record of an existing `key` (NO_RECORD: none); false when the key is absent. */
  setRecord(key: string, record: number, h = keyHash(key)): boolean {
    return (this.single ?? this.shards![h & this.mask]!).setRecord(key, h, record);
  }

  /** Keys that have a record. */
  get recordCount(): number {
    let n = 0;
    for (const m of this.maps()) n += m.recordCount;
    return n;
  }

  /** Deletes key; returns the value it had, undefined if absent (one lookup). */
  remove(key: string, h = keyHash(key)): V | undefined {
    const single = this.single;
    const old = (single ?? this.shards![h & this.mask]!).remove(key, h);
    if (old === undefined) return undefined;
    this.total--;
    if (single === null && this.total <= this.unshardAt) this.gather();
    return old;
  }

  clear(): void {
    this.single = new OrderedTable();
    this.shards = null;
    this.total = 0;
    this.table = 0;
    this.replaced();
  }

  /** One table → shards. The old table is left as it is for iterators still walking it. */
  private spread(): void {
    const shards: OrderedTable<V>[] = [];
    for (let i = 0; i <= this.mask; i++) shards.push(new OrderedTable());
    const from = this.single!;
    for (let p = 0; p < from.span; p++) {
      const k = from.keyAt(p);
      if (k === undefined) continue;
      const h = from.hashAt(p);
      shards[h & this.mask]!.set(k, h, from.valueAt(p), from.recordAt(p));
    }
    this.shards = shards;
    this.single = null;
    this.replaced();
  }

  /** Shards → one table. The shards are left as they are for iterators still walking them. */
  private gather(): void {
    const single = new OrderedTable<V>();
    for (const m of this.shards!) {
      for (let p = 0; p < m.span; p++) {
        const k = m.keyAt(p);
        if (k !== undefined) single.set(k, m.hashAt(p), m.valueAt(p), m.recordAt(p));
      }
    }
    this.single = single;
    this.shards = null;
    this.replaced();
  }

  private replaced(): void {
    this.generation++;
    this.rover.reset();
    this.sampleTable = 0;
    this.samplePos = 0;
  }

  /** The tables as they are now (an iterator keeps this array: it is never modified in place). */
  private maps(): OrderedTable<V>[] {
    return this.single !== null ? [this.single] : this.shards!;
  }

  /** Live iteration over all entries; see the file comment for its guarantees. */
  *entries(): IterableIterator<[string, V]> {
    const generation = this.generation;
    for (const m of this.maps()) {
      let budget = m.size;
      for (const entry of m.entries()) {
        if (budget-- <= 0) break;
        if (this.generation === generation) yield entry;
        else {
          const v = this.get(entry[0]);
          if (v !== undefined) yield [entry[0], v];
        }
      }
    }
  }

  /** Live iteration as entries(), without an allocation per entry (DictWalker). */
  walker(): DictWalker<V> {
    return new DictWalker(this, this.maps(), this.generation);
  }

  /** Bumped when the tables are replaced (for DictWalker, as for entries()). */
  get tablesGeneration(): number {
    return this.generation;
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

  /** The rover of randomKey(): a persistent walk over the keys, wrapping at the end. */
  private readonly rover = new Rover<string>((m) => m.keys());
  /**
   * The rover of sampleEntries(): a walk over the tables by position (OrderedTable.keyAt), the
   * table it is in and the position there. No iterator and no [key, value] pair per step: a
   * table's rebuild renumbers the positions under it, which only moves the walk.
   */
  private sampleTable = 0;
  private samplePos = 0;

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
      const k = this.rover.next(this.maps());
      if (k === undefined || steps-- <= 0) return k;
    }
  }

  /**
   * Up to `count` sampled entries with their values (dictGetSomeKeys). The sampling rover walks
   * on from where it last stopped, jumping a random number of positions (< 64 / count; a
   * table's positions include the holes of deleted entries) before each sample and then to
   * the next live entry, so one call spans a window of ~64 positions, as randomKey()'s single
   * jump does, instead of `count` such jumps. Samples in one window are close in
   * insertion order, so alike in age; the eviction pool, which keeps the best candidates of
   * every call, and the rover's walk around the whole dictionary (each key looked at once per
   * lap) make up for it. Walking a table's entries in order reads them sequentially, where a
   * lookup per sample misses the cache each time. `keys` and `values` are overwritten; a key
   * repeats only in a dictionary smaller than the window. `hashes`, when given, receives each
   * key's keyHash (stored beside it), so that deleting the key later needs not read it.
   */
  sampleEntries(r: () => number, count: number, keys: string[], values: V[], hashes?: number[]): void {
    const at = SamplePositions.atLeast(count);
    const got = this.samplePositions(r, count, at.tables, at.positions, values, at.hashes, null);
    for (let i = 0; i < got; i++) {
      keys[i] = this.sampledKey(at.tables[i]!, at.positions[i]!);
      if (hashes !== undefined) hashes[i] = at.hashes[i]!;
    }
    if (keys.length !== got) keys.length = got;
    if (hashes !== undefined && hashes.length !== got) hashes.length = got;
  }

  /**
   * sampleEntries() for the eviction pool: where the sampled entries are (`tables[i]`,
   * `positions[i]`, for sampledKey()) instead of their keys, with their values and hashes;
   * answers how many (≤ count, up to 64). Most samples rank below everything in the pool and
   * are dropped, and storing a key into an array in old space costs a write barrier that reads
   * the key's page header, a cache miss per key (measured: most of the sampling's time); the
   * pool reads the key of the few it keeps. Valid until the dictionary next changes. The
   * arrays must have room for `count` (SamplePositions.atLeast). With `values` null the
   * entries' records (put()) are answered in `records` instead of their values, and a hole is
   * told by its record, so no key slot is read. With `hashes` null no hash is read either
   * (sampledHash() reads those of the kept few): each of the entry's arrays read per sample is
   * a cache miss on a keyspace larger than the caches.
   */
  samplePositions(r: () => number, count: number, tables: Int32Array, positions: Int32Array, values: V[] | null, hashes: Int32Array | null, records: Int32Array | null): number {
    const n = Math.min(count, this.total);
    // `values` is written by index and cut to size only when its length changes: setting an
    // array's length calls into V8's runtime, and length 0 drops its backing store.
    let got = 0;
    if (n > 0) {
      const span = Math.max(1, Math.ceil(Math.min(this.total, 64) / n));
      const maps = this.maps();
      let t = this.sampleTable;
      let p = this.samplePos;
      if (t >= maps.length) {
        t = 0;
        p = 0;
      }
      let m = maps[t]!;
      // total > 0, so some table has a live entry and each search below ends within one lap.
      for (let i = 0; i < n; i++) {
        // Jump the skip by position (holes included) instead of stepping over each live entry:
        // a call reads ~count entries of the table, not the whole window.
        p += Math.floor(r() * span);
        for (;;) {
          while (p >= m.span) {
            t = t + 1 === maps.length ? 0 : t + 1;
            m = maps[t]!;
            p = 0;
          }
          if (values !== null) {
            if (m.keyAt(p++) === undefined) continue;
            values[got] = m.valueAt(p - 1);
          } else {
            // The record tells a hole too: the key slot is loaded only for the few samples the
            // pool keeps (sampledKey).
            const r = m.recordOrHole(p++);
            if (r === HOLE_RECORD) continue;
            records![got] = r;
          }
          tables[got] = t;
          positions[got] = p - 1;
          if (hashes !== null) hashes[got] = m.hashAt(p - 1);
          got++;
          break;
        }
      }
      this.sampleTable = t;
      this.samplePos = p;
    }
    if (values !== null && values.length !== got) values.length = got;
    return got;
  }

  /** The key of an entry samplePositions() answered (the dictionary unchanged since). */
  sampledKey(table: number, position: number): string {
    return (this.single ?? this.shards![table]!).keyAt(position)!;
  }

  /** The keyHash of an entry samplePositions() answered (the dictionary unchanged since). */
  sampledHash(table: number, position: number): number {
    return (this.single ?? this.shards![table]!).hashAt(position);
  }
}

/** Reusable arrays for KeyDict.samplePositions(), grown to the largest count asked for. */
export class SamplePositions {
  private static shared = new SamplePositions(16);
  readonly tables: Int32Array;
  readonly positions: Int32Array;
  readonly hashes: Int32Array;
  readonly records: Int32Array;
  private constructor(room: number) {
    this.tables = new Int32Array(room);
    this.positions = new Int32Array(room);
    this.hashes = new Int32Array(room);
    this.records = new Int32Array(room);
  }
  /** Arrays with room for `count` samples (the same ones while they are large enough). */
  static atLeast(count: number): SamplePositions {
    if (count > SamplePositions.shared.tables.length) SamplePositions.shared = new SamplePositions(count);
    return SamplePositions.shared;
  }
}

/**
 * entries() as a cursor: next() moves to the next entry (false at the end), whose `key` and
 * `value` it then holds; the same guarantees (see the file comment), without the generator's
 * [key, value] pair and iterator results per entry.
 */
export class DictWalker<V> {
  key = '';
  value: V | undefined = undefined;
  /** keyHash(key) of the entry next() returned (read from its table, not computed). */
  hash = 0;
  private table = 0;
  private cursor: TableCursor<V> | null = null;
  private budget = 0;

  constructor(
    private readonly dict: KeyDict<V> | null,
    private readonly tables: readonly OrderedTable<V>[],
    private readonly generation: number,
  ) {}

  /** A walker with nothing to walk. */
  static empty<V>(): DictWalker<V> {
    return new DictWalker<V>(null, [], 0);
  }

  /**
   * Whether the walk has gone past `key`: its table (among those this walk walks) is finished,
   * or it is the table being walked and the key's entry comes before the walk's position. For a
   * key present when the walk started and unchanged since, that is "already returned by next()"
   * — what a snapshot needs to know when a write reaches a key, without remembering every key
   * it returned. (Keys the tables got later are not this question's: a snapshot marks them.)
   */
  passed(key: string): boolean {
    const tables = this.tables;
    // Nothing (left) to walk: every key is behind it.
    if (tables.length === 0) return true;
    const h = keyHash(key);
    const t = tables.length === 1 ? 0 : h & (tables.length - 1);
    if (t !== this.table) return t < this.table;
    const c = this.cursor;
    if (c === null) return false;
    const e = tables[t]!.positionOf(key, h);
    return e < 0 || e < c.position();
  }

  next(): boolean {
    for (;;) {
      let c = this.cursor;
      if (c === null) {
        const m = this.tables[this.table];
        if (m === undefined) return false;
        c = this.cursor = m.cursor();
        // From each table at most as many entries as it held when the walk entered it.
        this.budget = m.size;
      }
      if (this.budget-- > 0 && c.next()) {
        const dict = this.dict!;
        if (dict.tablesGeneration === this.generation) {
          this.key = c.key;
          this.value = c.value;
          this.hash = c.hash;
          return true;
        }
        // The tables were replaced: these are no longer written to; yield only keys still
        // present, with their current values.
        const v = dict.get(c.key);
        if (v === undefined) continue;
        this.key = c.key;
        this.value = v;
        this.hash = c.hash;
        return true;
      }
      this.cursor = null;
      this.table++;
    }
  }
}

/** A persistent iterator over a dictionary's tables in turn: the index of the table it walks, and its iterator there. */
class Rover<T> {
  private it: Iterator<T> | null = null;
  private map = 0;

  constructor(private readonly open: (m: OrderedTable<unknown>) => Iterator<T>) {}

  /** Starts again from the first table (the tables were replaced). */
  reset(): void {
    this.it = null;
    this.map = 0;
  }

  /** The next item, moving on to the next table and wrapping at the end; undefined if all are empty. */
  next(maps: readonly OrderedTable<unknown>[]): T | undefined {
    // Two full passes at most: the dictionary is not empty when this is called.
    for (let steps = 0; steps <= 2 * maps.length; steps++) {
      if (this.it === null) {
        if (this.map >= maps.length) this.map = 0;
        this.it = this.open(maps[this.map]!);
      }
      const next = this.it.next();
      if (next.done !== true) return next.value;
      this.it = null;
      this.map++;
    }
    return undefined;
  }
}
