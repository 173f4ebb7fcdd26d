/**
 * The list type: a deque over a ring buffer whose capacity is a power of two.
 *
 * Why a ring: pushes and pops at both ends are O(1) amortized and indexing (LINDEX, LSET, the
 * start of LRANGE) is O(1) — better than Redis's quicklist, which walks nodes. Inserting or
 * removing in the middle (LINSERT, LREM, LPOS+LSET patterns) moves the shorter side, O(n/2)
 * pointer moves, which is the same order as Redis's search for the pivot anyway.
 *
 * Memory: one 8-byte slot per element plus the element itself. Elements that are canonical
 * integers ("42", "-7") are stored as JS numbers (small ones are Smis living in the slot: no
 * allocation at all), everything else as latin1 strings (one char per byte). Because both
 * sides of a comparison go through `encodeElement`, strict equality (`===`) compares stored
 * elements with an argument correctly. The ring shrinks when it is a quarter full so a list
 * that grew then drained does not keep its peak memory. Arrays are grown by pushing (never
 * `new Array(n)`), which keeps V8's fast packed elements for large capacities.
 *
 * OBJECT ENCODING is always "quicklist": Redis 7.0 has no listpack-encoded lists (7.2 does).
 */
import type { TypedValue } from './value.js';
import { isCanonicalSafeInteger } from './value.js';
import { HEAD_ENTRIES } from './field-table.js';

/** A stored element: a canonical integer as a number, otherwise its latin1 bytes. */
export type ListElement = string | number;

const MIN_CAPACITY = 4;

/** The stored form of an element given as bytes. */
export function encodeElement(s: string): ListElement {
  if (s.length <= 16 && isCanonicalSafeInteger(s)) {
    const n = Number(s);
    if (Number.isSafeInteger(n)) return n;
  }
  return s;
}

/**
 * How many first elements the memory model samples (keyspace/memory.ts RECHARGE_SAMPLES, which
 * is this): a push or pop at the head that leaves their count and total length as they were
 * does not move headEpoch.
 */
export const SAMPLED_HEAD = 5;

/** The length of a stored element's bytes: elementBytes(e).length, without making the string. */
export function elementLength(e: ListElement): number {
  if (typeof e === 'string') return e.length;
  let n = e < 0 ? 2 : 1;
  for (let a = Math.abs(e); a >= 10; a = Math.floor(a / 10)) n++;
  return n;
}

/** The bytes of a stored element. */
export function elementBytes(e: ListElement): string {
  return typeof e === 'string' ? e : String(e);
}

export class ListValue implements TypedValue {
  readonly type = 'list' as const;
  private items: (ListElement | undefined)[];
  private head = 0;
  private len = 0;
  private mask: number;
  /**
   * Moves whenever how many the first SAMPLED_HEAD elements are, or their total length, might
   * have changed: a push or pop at the head that changes them (one that swaps an element out of
   * them for one of the same length leaves it: LPUSH of equal-length elements, as redis-benchmark's
   * `xxx` or a queue of fixed-size ids, and LPOP of them), a push or pop at the tail of a list of
   * at most HEAD_ENTRIES, a change at a position below HEAD_ENTRIES, a removal by value, a trim.
   * A push at the tail of a longer list (RPUSH) leaves it, so the memory model's sample of the
   * first elements (its estimate of every write, memory.ts) can be kept until it moves, as for
   * big sets and hashes.
   */
  headEpoch = 0;

  constructor(capacity = MIN_CAPACITY) {
    let cap = MIN_CAPACITY;
    while (cap < capacity) cap *= 2;
    this.items = filledArray(cap);
    this.mask = cap - 1;
  }

  /** Builds a list from elements given as bytes, head first. */
  static from(elements: Iterable<string>): ListValue {
    const l = new ListValue();
    for (const e of elements) l.pushTail(e);
    return l;
  }

  get length(): number {
    return this.len;
  }

  size(): number {
    return this.len;
  }

  encoding(): string {
    return 'quicklist';
  }

  clone(): ListValue {
    const l = new ListValue(this.len);
    for (let i = 0; i < this.len; i++) l.items[i] = this.items[(this.head + i) & this.mask];
    l.len = this.len;
    return l;
  }

  // ---- ends -------------------------------------------------------------------------------------

  // A pushed element equal to the one already at that end is stored as that same string: JS
  // strings are immutable, so sharing is invisible, and the argument — a fresh string from the
  // parser — then dies young instead of surviving two scavenges and being promoted (a retained
  // element was most of an LPUSH's collector time: docs/PERFORMANCE.md, types16). Repeated
  // values (LPUSH q job job job, redis-benchmark's `xxx`) also take 8 bytes each, not 24.

  pushHead(s: string): void {
    const e = encodeElement(s);
    const at = this.len === 0 ? undefined : this.items[this.head];
    this.pushHeadRaw(at === e ? at : e);
  }

  pushTail(s: string): void {
    const e = encodeElement(s);
    const at = this.len === 0 ? undefined : this.items[(this.head + this.len - 1) & this.mask];
    this.pushTailRaw(at === e ? at : e);
  }

  pushHeadRaw(e: ListElement): void {
    if (this.len === this.items.length) this.resize(this.items.length * 2);
    // The first SAMPLED_HEAD after the push are `e` and all but the last of those before it.
    if (this.len < SAMPLED_HEAD || elementLength(e) !== elementLength(this.items[(this.head + SAMPLED_HEAD - 1) & this.mask]!)) this.headEpoch++;
    this.head = (this.head - 1) & this.mask;
    this.items[this.head] = e;
    this.len++;
  }

  pushTailRaw(e: ListElement): void {
    if (this.len === this.items.length) this.resize(this.items.length * 2);
    if (this.len < HEAD_ENTRIES) this.headEpoch++;
    this.items[(this.head + this.len) & this.mask] = e;
    this.len++;
  }

  popHead(): string | undefined {
    const e = this.popHeadRaw();
    return e === undefined ? undefined : elementBytes(e);
  }

  popTail(): string | undefined {
    const e = this.popTailRaw();
    return e === undefined ? undefined : elementBytes(e);
  }

  popHeadRaw(): ListElement | undefined {
    if (this.len === 0) return undefined;
    const e = this.items[this.head]!;
    // The first SAMPLED_HEAD after the pop are those before it but `e`, and the next one.
    if (this.len <= SAMPLED_HEAD || elementLength(e) !== elementLength(this.items[(this.head + SAMPLED_HEAD) & this.mask]!)) this.headEpoch++;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.len--;
    this.maybeShrink();
    return e;
  }

  popTailRaw(): ListElement | undefined {
    if (this.len === 0) return undefined;
    const at = (this.head + this.len - 1) & this.mask;
    const e = this.items[at];
    this.items[at] = undefined;
    if (this.len <= HEAD_ENTRIES) this.headEpoch++;
    this.len--;
    this.maybeShrink();
    return e;
  }

  // ---- positions --------------------------------------------------------------------------------

  /** Element at `index` (0 = head; must be within 0..length-1), as bytes. */
  get(index: number): string {
    return elementBytes(this.items[(this.head + index) & this.mask]!);
  }

  /** Stored element at `index` (0 ≤ index < length). */
  getRaw(index: number): ListElement {
    return this.items[(this.head + index) & this.mask]!;
  }

  set(index: number, s: string): void {
    if (index < HEAD_ENTRIES) this.headEpoch++;
    this.items[(this.head + index) & this.mask] = encodeElement(s);
  }

  /** Inserts before position `index` (0 ≤ index ≤ length), moving the shorter side. */
  insertAt(index: number, s: string): void {
    const e = encodeElement(s);
    if (index <= 0) return this.pushHeadRaw(e);
    if (index >= this.len) return this.pushTailRaw(e);
    if (this.len === this.items.length) this.resize(this.items.length * 2);
    if (index < HEAD_ENTRIES) this.headEpoch++;
    const items = this.items;
    const mask = this.mask;
    if (index < this.len >> 1) {
      // Shift [0, index) one slot towards the head.
      this.head = (this.head - 1) & mask;
      for (let i = 0; i < index; i++) items[(this.head + i) & mask] = items[(this.head + i + 1) & mask];
    } else {
      for (let i = this.len; i > index; i--) items[(this.head + i) & mask] = items[(this.head + i - 1) & mask];
    }
    items[(this.head + index) & mask] = e;
    this.len++;
  }

  /** Removes the element at `index` (0 ≤ index < length), moving the shorter side. */
  removeAt(index: number): void {
    const items = this.items;
    const mask = this.mask;
    if (index < HEAD_ENTRIES) this.headEpoch++;
    if (index < this.len >> 1) {
      for (let i = index; i > 0; i--) items[(this.head + i) & mask] = items[(this.head + i - 1) & mask];
      items[this.head] = undefined;
      this.head = (this.head + 1) & mask;
    } else {
      for (let i = index; i < this.len - 1; i++) items[(this.head + i) & mask] = items[(this.head + i + 1) & mask];
      items[(this.head + this.len - 1) & mask] = undefined;
    }
    this.len--;
    this.maybeShrink();
  }

  /**
   * Removes up to `count` elements equal to `s` (0 = all), scanning from the head, or from the
   * tail when `fromTail`. One compacting pass: O(n). Returns how many were removed.
   */
  removeMatching(s: string, count: number, fromTail: boolean): number {
    const target = encodeElement(s);
    const n = this.len;
    const items = this.items;
    const mask = this.mask;
    const limit = count <= 0 ? Infinity : count;
    let removed = 0;
    if (!fromTail) {
      let w = 0;
      for (let r = 0; r < n; r++) {
        const e = items[(this.head + r) & mask]!;
        if (removed < limit && e === target) {
          removed++;
          continue;
        }
        if (w !== r) items[(this.head + w) & mask] = e;
        w++;
      }
      for (let i = w; i < n; i++) items[(this.head + i) & mask] = undefined;
    } else {
      let w = n - 1;
      for (let r = n - 1; r >= 0; r--) {
        const e = items[(this.head + r) & mask]!;
        if (removed < limit && e === target) {
          removed++;
          continue;
        }
        if (w !== r) items[(this.head + w) & mask] = e;
        w--;
      }
      for (let i = 0; i <= w; i++) items[(this.head + i) & mask] = undefined;
      this.head = (this.head + removed) & mask;
    }
    this.len = n - removed;
    if (removed > 0) this.headEpoch++;
    this.maybeShrink();
    return removed;
  }

  /** Keeps only positions start..end inclusive (already clamped: 0 ≤ start ≤ end < length). */
  trim(start: number, end: number): void {
    const items = this.items;
    const mask = this.mask;
    this.headEpoch++;
    for (let i = 0; i < start; i++) items[(this.head + i) & mask] = undefined;
    for (let i = end + 1; i < this.len; i++) items[(this.head + i) & mask] = undefined;
    this.head = (this.head + start) & mask;
    this.len = end - start + 1;
    this.maybeShrink();
  }

  /** Removes everything. */
  clear(): void {
    this.headEpoch++;
    this.items = filledArray(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
    this.head = 0;
    this.len = 0;
  }

  /** Index of the first element equal to `s` from the head, or -1. */
  indexOf(s: string): number {
    const target = encodeElement(s);
    for (let i = 0; i < this.len; i++) if (this.items[(this.head + i) & this.mask] === target) return i;
    return -1;
  }

  /** Calls `fn` for positions start..end inclusive (in range), head to tail. */
  forRange(start: number, end: number, fn: (e: ListElement) => void): void {
    const items = this.items;
    const mask = this.mask;
    for (let i = start; i <= end; i++) fn(items[(this.head + i) & mask]!);
  }

  /** The elements as bytes, head first. */
  toArray(): string[] {
    const out = new Array<string>();
    for (let i = 0; i < this.len; i++) out.push(this.get(i));
    return out;
  }

  *[Symbol.iterator](): IterableIterator<string> {
    for (let i = 0; i < this.len; i++) yield this.get(i);
  }

  // ---- capacity ---------------------------------------------------------------------------------

  private maybeShrink(): void {
    const cap = this.items.length;
    if (cap > MIN_CAPACITY && this.len <= cap >> 2) this.resize(cap >> 1);
  }

  /**
   * A new ring of `cap` slots (`cap >= 2 × len`: growth doubles a full ring, a shrink halves a
   * quarter-full one), the elements first. Made with slice/concat/fill, which copy a packed
   * array's backing store at once, not by pushing slot by slot: pushing grows the new array
   * ~1.5× at a time, a copy per growth, and a large list's resize was a few percent of every
   * LPUSH/RPUSH that grows it (docs/PERFORMANCE.md, p16g). The result stays packed.
   */
  private resize(cap: number): void {
    const items = this.items;
    const len = this.len;
    if (len === 0) {
      this.items = filledArray(cap);
      this.head = 0;
      this.mask = cap - 1;
      return;
    }
    const end = this.head + len;
    let next = end <= items.length ? items.slice(this.head, end) : items.slice(this.head).concat(items.slice(0, end - items.length));
    // Doubled until `cap` (the copies past `len` are overwritten at once below).
    while (next.length < cap) next = next.concat(next.length <= cap - next.length ? next : next.slice(0, cap - next.length));
    next.fill(undefined, len);
    this.items = next;
    this.head = 0;
    this.mask = cap - 1;
  }
}

function filledArray(cap: number): (ListElement | undefined)[] {
  const a = new Array<ListElement | undefined>();
  for (let i = 0; i < cap; i++) a.push(undefined);
  return a;
}
