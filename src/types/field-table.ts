/**
 * A hashtable-encoded hash's fields and values: one string per field, in an insertion-ordered
 * open-addressing table (keyspace/ordered-table.ts's design and index, one string per entry).
 *
 * Why not a `Map<string, string>`: a field then costs two heap strings (16 bytes of header
 * each, plus padding to 8) and a Map entry (three pointers and half a bucket, 28 bytes): ~92
 * bytes for a 16-byte field and a 12-byte value, against Redis's ~91 of RSS (docs/PERFORMANCE.md,
 * "collections-memory"). Here an entry is one string — a header giving the field's length, the
 * field, the value — and a pointer, a hash and two index slots (20 bytes): ~68 bytes for the
 * same field. What it costs: a write builds the entry string (a copy of field and value), and
 * a read of a value or a field is a substring (V8 makes a slice, not a copy, from 13 chars).
 *
 * The entry's header is one char, the field's length, below 255; else char 255 and the length
 * in four chars (big-endian). Strings are latin1 (one byte per char), so the entry stays a
 * one-byte string. `pack` builds it by concatenation and flattens it at once (charCodeAt): the
 * cons string left pointing at the flat copy is short-cut by V8's next scavenge, so what stays
 * is one sequential string.
 *
 * Layout (`Store`): the entries in insertion order, `hashes[i]` the field's keyHash, a deleted
 * entry a hole (undefined). The index has twice as many slots as there is room for entries,
 * linear probing, tagged slots (table-support.ts's SlotGeometry), so a probe passes over other
 * fields' slots without reading their strings. A full store is
 * rebuilt (compacted, doubled when more than half of it is live); deletes halve it once a
 * quarter of it is live. Iterators are live as a Map's (HSCAN keeps one across calls): entries
 * in insertion order, newcomers after, deleted ones skipped, surviving rebuilds by following
 * the old store's link and the positions of the holes it dropped (as OrderedTable's do).
 */
import type { Random } from '../core/clock.js';
import { keyHash, holesBefore, placeSlot, slotGeometry, SLOT_MIX, type SlotGeometry } from './table-support.js';

interface Store {
  /** One packed entry per field (see pack()), in insertion order; undefined for a deleted one. */
  entries: (string | undefined)[];
  /** keyHash of each entry's field. */
  hashes: Int32Array;
  /** Entries appended so far (live + holes). */
  used: number;
  /** The store that replaced this one, or null while current. */
  next: Store | null;
  /** Once replaced: the positions of the holes dropped, ascending. */
  holes: Int32Array | null;
}

const MIN_ROOM = 4;
const EMPTY = new Int32Array(0);
/** A header char at or above which the field's length follows in four chars. */
const LONG_FIELD = 0xff;

/** The one string an entry is: the field's length, the field, the value. */
function pack(field: string, value: string): string {
  const n = field.length;
  const head =
    n < LONG_FIELD ? String.fromCharCode(n) : String.fromCharCode(LONG_FIELD, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const entry = head + field + value;
  entry.charCodeAt(0); // flattens the concatenation now (see the file comment)
  return entry;
}

/** Where the entry's field ends and its value begins. */
function valueStart(entry: string): number {
  const c = entry.charCodeAt(0);
  if (c < LONG_FIELD) return 1 + c;
  return 5 + (((entry.charCodeAt(1) << 24) | (entry.charCodeAt(2) << 16) | (entry.charCodeAt(3) << 8) | entry.charCodeAt(4)) >>> 0);
}

function fieldOf(entry: string): string {
  return entry.slice(entry.charCodeAt(0) < LONG_FIELD ? 1 : 5, valueStart(entry));
}

function valueOf(entry: string): string {
  return entry.slice(valueStart(entry));
}

/** True when `entry` holds `field`. */
function holds(entry: string, field: string): boolean {
  const n = field.length;
  if (n < LONG_FIELD) return entry.charCodeAt(0) === n && entry.startsWith(field, 1);
  return valueStart(entry) === 5 + n && entry.startsWith(field, 5);
}

/**
 * How many first entries `headEpoch` watches: a change to the lengths of the first HEAD_ENTRIES
 * live entries (in iteration order) moves it. The memory model samples 5 (memory.ts).
 */
export const HEAD_ENTRIES = 8;

export class FieldTable {
  private store: Store;
  private live = 0;
  /**
   * Moves whenever the field and value lengths of the first HEAD_ENTRIES live entries might have
   * changed: a delete, a value replaced by one of another length, an entry appended while fewer
   * than HEAD_ENTRIES were live. An append behind them, a value of the same length and a rebuild
   * (which keeps the order) leave it, so a sample of those entries' lengths (the memory model's
   * estimate of every write) can be kept until it moves.
   */
  headEpoch = 0;
  /** The index over the store's entries (table-support.ts). */
  private index: SlotGeometry;

  constructor(room = MIN_ROOM) {
    // A power of two, as every later room (doubled or halved): the index has 2 × room slots.
    room = Math.max(MIN_ROOM, 2 ** Math.ceil(Math.log2(room)));
    this.store = newStore(room);
    this.index = slotGeometry(room);
  }

  get size(): number {
    return this.live;
  }

  /** The slot of `field` (hash `h`) in the index, or -1. */
  private slotOf(field: string, h: number): number {
    const { slots, idxBits, idxMask } = this.index;
    const tag = (h >>> 8) & this.index.tagMask;
    const entries = this.store.entries;
    for (let i = Math.imul(h, SLOT_MIX) >>> this.index.slotShift; ; i = (i + 1) & (slots.length - 1)) {
      const s = slots[i]!;
      if (s === 0) return -1;
      if (s >>> idxBits === tag && s !== -1 && holds(entries[(s & idxMask) - 1]!, field)) return i;
    }
  }

  /** The entry number named by index slot `i`. */
  private entryAt(i: number): number {
    return (this.index.slots[i]! & this.index.idxMask) - 1;
  }

  /** The entry string of `field`, or undefined. */
  private entryOf(field: string): string | undefined {
    const i = this.slotOf(field, keyHash(field));
    return i < 0 ? undefined : this.store.entries[this.entryAt(i)];
  }

  get(field: string): string | undefined {
    const entry = this.entryOf(field);
    return entry === undefined ? undefined : valueOf(entry);
  }

  /** The length of `field`'s value, 0 when absent (HSTRLEN without a substring). */
  valueLength(field: string): number {
    const entry = this.entryOf(field);
    return entry === undefined ? 0 : entry.length - valueStart(entry);
  }

  has(field: string): boolean {
    return this.slotOf(field, keyHash(field)) >= 0;
  }

  /** Sets field → value; returns true when the field is new. */
  set(field: string, value: string): boolean {
    const h = keyHash(field);
    const i = this.slotOf(field, h);
    if (i >= 0) {
      // The same value again keeps the entry: no string made, none left for the collector.
      const entries = this.store.entries;
      const e = this.entryAt(i);
      const entry = entries[e]!;
      if (entry.length - valueStart(entry) !== value.length) {
        entries[e] = pack(field, value);
        this.headEpoch++;
      } else if (!entry.endsWith(value)) entries[e] = pack(field, value);
      return false;
    }
    let st = this.store;
    if (st.used === st.hashes.length) {
      this.rebuild(this.live * 2 > st.used ? st.used * 2 : st.used);
      st = this.store;
    }
    this.append(st, pack(field, value), h);
    if (this.live < HEAD_ENTRIES) this.headEpoch++;
    this.live++;
    return true;
  }

  /** Removes a field; returns true if it existed. */
  delete(field: string): boolean {
    const i = this.slotOf(field, keyHash(field));
    if (i < 0) return false;
    const st = this.store;
    st.entries[this.entryAt(i)] = undefined;
    this.index.slots[i] = -1;
    this.live--;
    this.headEpoch++;
    const room = st.hashes.length;
    if (room > MIN_ROOM && this.live * 4 < room) this.rebuild(Math.max(MIN_ROOM, room >>> 1));
    return true;
  }

  /** A uniformly random field (the table must not be empty): a random position, holes redrawn. */
  randomField(rng: Random): string {
    // At least a quarter of the room is live (delete() halves it below that): ≤ 4 draws expected.
    const st = this.store;
    for (;;) {
      const entry = st.entries[rng.below(st.used)];
      if (entry !== undefined) return fieldOf(entry);
    }
  }

  /**
   * Calls `visit` with the field's and value's lengths of the first `count` entries (the
   * memory model's sample), reading no substring; returns how many it visited.
   */
  sampleLengths(count: number, visit: (fieldLength: number, valueLength: number) => void): number {
    const st = this.store;
    let seen = 0;
    for (let p = 0; p < st.used && seen < count; p++) {
      const entry = st.entries[p];
      if (entry === undefined) continue;
      const start = valueStart(entry);
      visit(start - (entry.charCodeAt(0) < LONG_FIELD ? 1 : 5), entry.length - start);
      seen++;
    }
    return seen;
  }

  /** An independent copy (entries are immutable strings, shared). */
  clone(): FieldTable {
    const copy = new FieldTable(this.live);
    const st = this.store;
    for (let p = 0; p < st.used; p++) {
      const entry = st.entries[p];
      if (entry !== undefined) copy.append(copy.store, entry, st.hashes[p]!);
    }
    copy.live = this.live;
    return copy;
  }

  /** Live iteration over [field, value] pairs, as a Map's (see the file comment). */
  entries(): IterableIterator<[string, string]> {
    return this.walk((entry) => [fieldOf(entry), valueOf(entry)]);
  }

  keys(): IterableIterator<string> {
    return this.walk(fieldOf);
  }

  values(): IterableIterator<string> {
    return this.walk(valueOf);
  }

  private *walk<T>(read: (entry: string) => T): IterableIterator<T> {
    // A store replaced since the last step: move to its successor, the position less the
    // holes that the rebuild dropped before it.
    for (let st = this.store, p = 0; ; ) {
      if (st.next !== null) {
        p -= holesBefore(st.holes!, p);
        st = st.next;
      } else if (p >= st.used) {
        return;
      } else {
        const entry = st.entries[p++];
        if (entry !== undefined) yield read(entry);
      }
    }
  }

  private append(st: Store, entry: string, h: number): void {
    const e = st.used++;
    st.entries[e] = entry;
    st.hashes[e] = h;
    placeSlot(this.index, h, e);
  }

  /** Moves the live entries, in order, to a new store with room for `room`; drops the holes. */
  private rebuild(room: number): void {
    const old = this.store;
    const st = newStore(room);
    this.index = slotGeometry(room);
    const holes = old.used === this.live ? EMPTY : new Int32Array(old.used - this.live);
    let nholes = 0;
    for (let p = 0; p < old.used; p++) {
      const entry = old.entries[p];
      if (entry === undefined) holes[nholes++] = p;
      else this.append(st, entry, old.hashes[p]!);
    }
    old.next = st;
    old.holes = holes;
    old.entries = [];
    old.hashes = EMPTY;
    this.store = st;
  }
}

function newStore(room: number): Store {
  return { entries: new Array<string | undefined>(room).fill(undefined), hashes: new Int32Array(room), used: 0, next: null, holes: null };
}
