/**
 * An insertion-ordered string-keyed hash table with the caller's 32-bit hash: what a KeyDict
 * keeps its keys in instead of a V8 `Map`.
 *
 * Why not a `Map`: V8's OrderedHashMap chains two entries per bucket on average and keeps no
 * hash in its entries, so a lookup reads, for every entry of the chain, the entry and then the
 * stored key *string* (to compare): one cache miss each at 100,000+ keys. It was 34% of the
 * server's CPU on a pipelined GET (docs/PERFORMANCE.md). Here a lookup reads one slot of an
 * open-addressing index whose slot holds the entry's number *and* a tag of the key's hash, so a
 * slot of another key is passed over without touching its entry or its string; on a tag match
 * it reads the entry (key and value side by side) and compares the key. Measured in isolation
 * (100,000 keys, fresh lookup strings): ~330 ns per hit against ~740 for the sharded Maps.
 *
 * Layout (`Store`): the entries in insertion order, `kv[2i]` = key, `kv[2i+1]` = value, with
 * `hashes[i]` the key's hash; a deleted entry leaves a hole (key `undefined`). The index has
 * twice as many slots as there is room for entries, linear probing; a slot is 0 (empty), -1 (a
 * deleted entry's tombstone), or `tag << idxBits | (entry + 1)`. Entries + tombstones never
 * exceed half the slots, since both are bounded by the entries' room: when it is full the
 * table is rebuilt (compacted, and doubled if more than half of it is live), and on deletes it
 * halves once a quarter of it is live. The hash is the caller's (KeyDict's `keyHash`, which it
 * computes once for the shard and the table): the slot comes from its top bits after a
 * multiplicative mix, the tag from bits 8 and up (the shard is bits 0–7).
 *
 * Iteration is what a `Map` iterator gives, which SCAN, the snapshot and the expire cycle rely
 * on (see dict.ts): entries in insertion order, newcomers after, deleted ones skipped, and an
 * iterator survives any number of rebuilds. A rebuild leaves the old `Store` behind with a
 * link to the new one and the sorted positions of the holes it dropped; an iterator that finds
 * its store superseded moves its position back by the holes before it and follows the link
 * (V8 does the same for its tables). An old store keeps only that link and list, so an
 * abandoned iterator holds no entries alive.
 */

import { holesBefore, placeSlot, slotGeometry, SLOT_MIX, type SlotGeometry } from '../types/table-support.js';

interface Store<V> {
  /** Key, value, key, value… in insertion order; a deleted entry's key is undefined. */
  kv: (string | V | undefined)[];
  /** The hash of each entry's key. */
  hashes: Int32Array;
  /**
   * Each entry's record (NO_RECORD when it has none), or null while no entry of this store has
   * had one: the main dictionary keeps its keys' access records here (keyspace/db.ts), so a
   * table without them (expires, or the keyspace under a policy that keeps none) pays nothing.
   */
  rec: Int32Array | null;
  /** Entries appended so far (live + holes). */
  used: number;
  /** The store that replaced this one, or null while current. */
  next: Store<V> | null;
  /** Once replaced: the positions of the holes dropped, ascending. */
  holes: Int32Array | null;
}

const MIN_ROOM = 4;
const EMPTY_HOLES = new Int32Array(0);

/** An entry's record when it has none (records are ≥ 0). */
export const NO_RECORD = -1;
/** set()'s `recOld`: leave an existing entry's record as it is. */
export const KEEP_RECORD = -2;
/**
 * A deleted entry's record, in a store that has records: the eviction sampler tells holes
 * from entries by the record array alone (recordOrHole), without loading the entry's key
 * slot — another array, a cache miss per sample otherwise.
 */
export const HOLE_RECORD = -3;

export class OrderedTable<V> implements SlotGeometry {
  private store: Store<V>;
  private live = 0;
  /** Live entries with a record (≥ 0). */
  private recorded = 0;
  /** The index: 2 × room slots (table-support.ts's SlotGeometry; not for use outside). */
  slots: Int32Array;
  slotShift: number;
  idxBits: number;
  idxMask: number;
  tagMask: number;

  constructor(room = MIN_ROOM) {
    this.store = newStore(room);
    this.slots = new Int32Array(0);
    this.slotShift = this.idxBits = this.idxMask = this.tagMask = 0;
    this.sizeIndex(room);
  }

  get size(): number {
    return this.live;
  }

  /** Live entries that have a record. */
  get recordCount(): number {
    return this.recorded;
  }

  /** The entry number of `key` (hash `h`), or -1. */
  private find(key: string, h: number): number {
    const slots = this.slots;
    const last = slots.length - 1;
    const tag = (h >>> 8) & this.tagMask;
    const shift = this.idxBits;
    const kv = this.store.kv;
    let i = Math.imul(h, SLOT_MIX) >>> this.slotShift;
    for (;;) {
      const s = slots[i]!;
      if (s === 0) return -1;
      if (s >>> shift === tag && s !== -1) {
        const e = (s & this.idxMask) - 1;
        if (kv[2 * e] === key) return e;
      }
      i = i === last ? 0 : i + 1;
    }
  }

  get(key: string, h: number): V | undefined {
    const e = this.find(key, h);
    return e < 0 ? undefined : (this.store.kv[2 * e + 1] as V);
  }

  /**
   * Reads what a get/set of hash `h` will read — its slots up to the first of its tag, the
   * entry that slot names and that entry's key and value strings — and answers a number made
   * from them (the caller keeps it, so the reads are not dropped). For warming the cache ahead
   * of several lookups whose misses would otherwise come one after another (dict.ts, warm()).
   * find() without the key comparison: a slot whose tag has the top bit set is negative, and
   * the entry of a key past its first slot is the one its lookup reads (warming stopped at a
   * first slot ≤ 0, which left half of all keys cold, and warmed a neighbour's entry for a key
   * past its first slot).
   */
  touch(h: number): number {
    const slots = this.slots;
    const last = slots.length - 1;
    const tag = (h >>> 8) & this.tagMask;
    const shift = this.idxBits;
    let i = Math.imul(h, SLOT_MIX) >>> this.slotShift;
    for (;;) {
      const s = slots[i]!;
      if (s === 0) return 0;
      if (s >>> shift === tag && s !== -1) {
        const kv = this.store.kv;
        const e = (s & this.idxMask) - 1;
        const k = kv[2 * e];
        const v = kv[2 * e + 1];
        return (typeof k === 'string' ? k.length : 0) + (typeof v === 'string' ? v.length : 0);
      }
      i = i === last ? 0 : i + 1;
    }
  }

  has(key: string, h: number): boolean {
    return this.find(key, h) >= 0;
  }

  /**
   * Sets key → value; returns the value it replaced, undefined if the key is new. A new entry
   * gets the record `recNew` (NO_RECORD: none), a replaced one `recOld` (KEEP_RECORD: its own).
   */
  set(key: string, h: number, value: V, recNew = NO_RECORD, recOld = KEEP_RECORD): V | undefined {
    const slots = this.slots;
    const last = slots.length - 1;
    const tag = (h >>> 8) & this.tagMask;
    const shift = this.idxBits;
    let st = this.store;
    let i = Math.imul(h, SLOT_MIX) >>> this.slotShift;
    for (;;) {
      const s = slots[i]!;
      if (s === 0) break;
      if (s >>> shift === tag && s !== -1) {
        const e = (s & this.idxMask) - 1;
        if (st.kv[2 * e] === key) {
          const old = st.kv[2 * e + 1] as V;
          st.kv[2 * e + 1] = value;
          if (recOld !== KEEP_RECORD) this.writeRecord(st, e, recOld);
          return old;
        }
      }
      i = i === last ? 0 : i + 1;
    }
    if (st.used === st.hashes.length) {
      this.rebuild(this.live * 2 > st.used ? st.used * 2 : st.used);
      st = this.store;
    }
    this.append(st, key, h, value);
    this.live++;
    if (recNew >= 0) {
      const rec = st.rec ?? this.recordsOf(st);
      rec[st.used - 1] = recNew;
      this.recorded++;
    } else if (st.rec !== null) st.rec[st.used - 1] = NO_RECORD;
    return undefined;
  }

  /** The record of `key` (hash `h`): NO_RECORD when it has none or is absent. */
  recordOf(key: string, h: number): number {
    const e = this.find(key, h);
    const rec = this.store.rec;
    return e < 0 || rec === null ? NO_RECORD : rec[e]!;
  }

  /** Sets the record of `key` (≥ 0, or NO_RECORD); false when the key is absent. */
  setRecord(key: string, h: number, record: number): boolean {
    const e = this.find(key, h);
    if (e < 0) return false;
    this.writeRecord(this.store, e, record);
    return true;
  }

  /** The record at position `p` of a live entry (NO_RECORD: none). */
  recordAt(p: number): number {
    const rec = this.store.rec;
    return rec === null ? NO_RECORD : rec[p]!;
  }

  private writeRecord(st: Store<V>, e: number, record: number): void {
    let rec = st.rec;
    if (rec === null) {
      if (record < 0) return;
      rec = this.recordsOf(st);
    }
    this.recorded += (record >= 0 ? 1 : 0) - (rec[e]! >= 0 ? 1 : 0);
    rec[e] = record;
  }

  /** The store's record array, made (every entry without one, holes marked) on its first record. */
  private recordsOf(st: Store<V>): Int32Array {
    if (st.rec !== null) return st.rec;
    const rec = (st.rec = new Int32Array(st.hashes.length).fill(NO_RECORD));
    for (let p = 0; p < st.used; p++) if (st.kv[2 * p] === undefined) rec[p] = HOLE_RECORD;
    return rec;
  }

  /**
   * The record at position `p` (< span) — NO_RECORD for a live entry without one — or
   * HOLE_RECORD for a deleted entry. Reads the key slot only in a store without records.
   */
  recordOrHole(p: number): number {
    const st = this.store;
    const rec = st.rec;
    if (rec !== null) return rec[p]!;
    return st.kv[2 * p] === undefined ? HOLE_RECORD : NO_RECORD;
  }

  delete(key: string, h: number): boolean {
    return this.remove(key, h) !== undefined;
  }

  /** Deletes key; returns the value it had, undefined if absent (values are never undefined). */
  remove(key: string, h: number): V | undefined {
    const slots = this.slots;
    const last = slots.length - 1;
    const tag = (h >>> 8) & this.tagMask;
    const shift = this.idxBits;
    const st = this.store;
    let i = Math.imul(h, SLOT_MIX) >>> this.slotShift;
    for (;;) {
      const s = slots[i]!;
      if (s === 0) return undefined;
      if (s >>> shift === tag && s !== -1) {
        const e = (s & this.idxMask) - 1;
        if (st.kv[2 * e] === key) {
          const old = st.kv[2 * e + 1] as V;
          slots[i] = -1;
          st.kv[2 * e] = undefined;
          st.kv[2 * e + 1] = undefined;
          this.live--;
          const rec = st.rec;
          if (rec !== null) {
            if (rec[e]! >= 0) this.recorded--;
            rec[e] = HOLE_RECORD;
          }
          const room = st.hashes.length;
          if (room > MIN_ROOM && this.live * 4 < room) this.rebuild(Math.max(MIN_ROOM, room >>> 1));
          return old;
        }
      }
      i = i === last ? 0 : i + 1;
    }
  }

  /**
   * Positions 0 … span − 1 of the current store, for keyAt()/valueAt(): the entries appended
   * since the last rebuild, live ones and holes. A rebuild renumbers them (sampling, which reads
   * by position, only wanders; iterators use entries()).
   */
  get span(): number {
    return this.store.used;
  }

  /** The key at position `p` (< span) of the current store; undefined for a deleted entry. */
  keyAt(p: number): string | undefined {
    return this.store.kv[2 * p] as string | undefined;
  }

  /** The hash of the key at position `p` of a live entry (the caller's keyHash of it). */
  hashAt(p: number): number {
    return this.store.hashes[p]!;
  }

  /** The value at position `p` of a live entry (keyAt(p) !== undefined). */
  valueAt(p: number): V {
    return this.store.kv[2 * p + 1] as V;
  }

  /** Live iteration over [key, value] pairs, as a Map's (see the file comment). */
  *entries(): IterableIterator<[string, V]> {
    let st = this.store;
    let p = 0;
    for (;;) {
      while (st.next !== null) {
        p -= holesBefore(st.holes!, p);
        st = st.next;
      }
      if (p >= st.used) return;
      const k = st.kv[2 * p] as string | undefined;
      const v = st.kv[2 * p + 1] as V;
      p++;
      if (k !== undefined) yield [k, v];
    }
  }

  /** The position of `key` (hash `h`) in the current store, or -1 (a TableCursor compares it to its own). */
  positionOf(key: string, h: number): number {
    return this.find(key, h);
  }

  /** Live iteration as entries(), without an allocation per entry (TableCursor). */
  cursor(): TableCursor<V> {
    return new TableCursor(this.store);
  }

  /** Live iteration over the keys, as entries(). */
  *keys(): IterableIterator<string> {
    let st = this.store;
    let p = 0;
    for (;;) {
      while (st.next !== null) {
        p -= holesBefore(st.holes!, p);
        st = st.next;
      }
      if (p >= st.used) return;
      const k = st.kv[2 * p] as string | undefined;
      p++;
      if (k !== undefined) yield k;
    }
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  private sizeIndex(room: number): void {
    const g = slotGeometry(room);
    this.slots = g.slots;
    this.slotShift = g.slotShift;
    this.idxBits = g.idxBits;
    this.idxMask = g.idxMask;
    this.tagMask = g.tagMask;
  }

  private append(st: Store<V>, key: string, h: number, value: V): void {
    const e = st.used++;
    st.kv[2 * e] = key;
    st.kv[2 * e + 1] = value;
    st.hashes[e] = h;
    placeSlot(this, h, e);
  }

  /** Moves the live entries, in order, to a new store with room for `room`; drops the holes. */
  private rebuild(room: number): void {
    const old = this.store;
    const st = newStore<V>(room);
    this.sizeIndex(room);
    const holes = old.used === this.live ? EMPTY_HOLES : new Int32Array(old.used - this.live);
    let nholes = 0;
    const kv = old.kv;
    const oldRec = old.rec;
    const rec = oldRec === null ? null : (st.rec = new Int32Array(room));
    for (let i = 0; i < old.used; i++) {
      const k = kv[2 * i] as string | undefined;
      if (k === undefined) holes[nholes++] = i;
      else {
        if (rec !== null) rec[st.used] = oldRec![i]!;
        this.append(st, k, old.hashes[i]!, kv[2 * i + 1] as V);
      }
    }
    rec?.fill(NO_RECORD, st.used);
    old.next = st;
    old.holes = holes;
    old.kv = [];
    old.hashes = EMPTY_HOLES;
    old.rec = null;
    this.store = st;
  }
}

/**
 * entries() as a cursor: next() moves to the next live entry (false at the end), whose `key`
 * and `value` it then holds. Same guarantees as entries() (it follows rebuilds the same way);
 * what the snapshot's walk uses, so a million keys do not make a million [key, value] pairs
 * and iterator results for the collector.
 */
export class TableCursor<V> {
  key = '';
  value: V | undefined = undefined;
  /** keyHash(key), as the table stored it. */
  hash = 0;
  private p = 0;

  constructor(private st: Store<V>) {}

  /** The position of the next entry in the table's current store (positionOf's numbering). */
  position(): number {
    let st = this.st;
    let p = this.p;
    while (st.next !== null) {
      p -= holesBefore(st.holes!, p);
      st = st.next;
    }
    this.st = st;
    this.p = p;
    return p;
  }

  next(): boolean {
    let st = this.st;
    let p = this.p;
    for (;;) {
      while (st.next !== null) {
        p -= holesBefore(st.holes!, p);
        st = st.next;
      }
      this.st = st;
      if (p >= st.used) {
        this.p = p;
        return false;
      }
      const k = st.kv[2 * p] as string | undefined;
      p++;
      if (k !== undefined) {
        this.key = k;
        this.value = st.kv[2 * p - 1] as V;
        this.hash = st.hashes[p - 1]!;
        this.p = p;
        return true;
      }
    }
  }
}

function newStore<V>(room: number): Store<V> {
  return { kv: new Array<string | V | undefined>(room * 2).fill(undefined), hashes: new Int32Array(room), rec: null, used: 0, next: null, holes: null };
}
