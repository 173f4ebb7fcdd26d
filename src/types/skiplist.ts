/**
 * The ordered half of a sorted set: a skip list with spans, as Redis's zskiplist (t_zset.c),
 * after William Pugh's paper. Elements are ordered by score, then by member bytes (members are
 * latin1 strings, so JS string comparison is memcmp order). Each forward link records how many
 * elements it skips (its span), which makes rank lookups and "element at rank" O(log n), and each
 * node keeps a backward link so reverse iteration is O(1) per step.
 *
 * Layout. A search is bound by memory latency, so a node is one flat record in typed arrays,
 * not an object with two arrays and a boxed score (~4 heap objects, ~4 cache misses, per step):
 *
 *   doubles  [score][forward_0 | span_0][backward | meta][forward_1 | span_1] … [forward_L-1 | span_L-1]
 *            meta = slot << 5 | (level - 1); each double after the score holds two int32 words
 *
 * A record is 2 + level doubles (16 + 8·level bytes; 27 on average with P = 1/4). Level 0's
 * link sits right after the score, so the commonest step (read a node's score, then its next
 * link) reads 16 adjacent bytes. Storage is pages of 2^pageShift doubles (512 KiB by default),
 * each one ArrayBuffer seen both as a Float64Array (scores) and an Int32Array (links), so a
 * search step touches about one cache line. A node's address is an integer, page << pageShift
 * | offset (in doubles). Only the first page grows, by half up to 64 KiB, so a small set stays
 * small and growth never copies more than that (a 10M-member set adds a page, never moves
 * 300 MB); records never straddle pages and never move, so an address is stable for the node's
 * life (ZSet's member map stores them). Past the first page, tall records (2+ levels, a quarter
 * of them: the only nodes a search visits above level 0) are bumped into pages of their own and
 * short ones into others, so the upper levels of a search read records packed together rather
 * than one per cache line among level-1 nodes (types17: 5-10% less CPU per ZADD move on 100k
 * members).
 *
 * Record 0 is the header (32 levels); NIL (0) is "no node", as no link ever targets the header.
 * Freed records go on a free list per level (linked through the backward word) and are reused
 * by inserts of that level; a page's tail too short for a record becomes a free record of the
 * level it fits. Members live in JS arrays (pages of 8192) indexed by the record's slot, a dense
 * id that stays with its record when the record is reused; they are read only on score ties
 * and for replies. A score change that moves a node relinks the same record at its new place
 * (same level, same slot), so ZADD updates allocate nothing; searches use module-level scratch
 * arrays (UPDATE/RANK) and read the moving node's member only on a tie (callers may pass it).
 *
 * The list holds no member → node index. ZSet (zset.ts) no longer uses it (zset18: ztree.ts holds
 * the order); it stays as the reference of the differential tests and for the range predicates.
 */

/** Most levels a node can have: enough for 2^64 elements with P = 1/4. */
export const SKIPLIST_MAXLEVEL = 32;
/** Probability of a node reaching the next level. */
const SKIPLIST_P = 0.25;

/** No node: the end of a level, or no predecessor. It is the header's address. */
export const NIL = 0;

/** Default page size: 2^16 doubles = 512 KiB. */
export const DEFAULT_PAGE_SHIFT = 16;
/** Smallest page the header and the biggest record fit in (tests use tiny pages). */
const MIN_PAGE_SHIFT = 6;
/** The first page starts this big (doubles: the header and ~4 nodes) and doubles as needed. */
const FIRST_PAGE_DOUBLES = 48;
/**
 * …up to this (64 KiB, ~2,500 nodes): past it, records go to whole pages, tall ones (TALL_LEVEL
 * levels or more) to pages of their own.
 */
const FIRST_PAGE_MAX_DOUBLES = 1 << 13;
/**
 * Records of this many levels or more are "tall": a quarter of the nodes, the only ones a search
 * visits above level 0. Kept in pages of their own (once the first page is full), they sit
 * together instead of among the short records, so the upper levels of a search touch fewer
 * cache lines.
 */
const TALL_LEVEL = 2;

// Word offsets (int32) within a record.
const FWD0 = 2; // level 0's link right after the score: a level-0 step reads 16 adjacent bytes
const BACK = 4;
const META = 5;

/** Word offset of the forward link at level i (its span is the next word). */
function lv(i: number): number {
  return i === 0 ? FWD0 : 4 + 2 * i;
}
const HEADER_DOUBLES = 2 + SKIPLIST_MAXLEVEL;
/** META of a free record that never had a slot (a page's leftover tail). */
const NO_SLOT = -1;
/** Members are stored in pages of 2^13 slots. */
const MEMBER_PAGE_SHIFT = 13;
const MEMBER_PAGE_MASK = (1 << MEMBER_PAGE_SHIFT) - 1;

/** A score interval; `minex`/`maxex` make an end exclusive (`(1.5` in the commands). */
export interface ScoreRange {
  min: number;
  max: number;
  minex: boolean;
  maxex: boolean;
}

/** One end of a lexicographic interval: `-`/`+` are the infinite bounds (inf -1 / 1). */
export interface LexBound {
  value: string;
  inf: -1 | 0 | 1;
  exclusive: boolean;
}

export interface LexRange {
  min: LexBound;
  max: LexBound;
}

export function scoreGteMin(score: number, r: ScoreRange): boolean {
  return r.minex ? score > r.min : score >= r.min;
}

export function scoreLteMax(score: number, r: ScoreRange): boolean {
  return r.maxex ? score < r.max : score <= r.max;
}

/** Compares a member with a lex bound: <0, 0, >0 (sdscmplex with the shared min/max strings). */
function compareWithBound(member: string, b: LexBound): number {
  if (b.inf !== 0) return -b.inf;
  return member < b.value ? -1 : member > b.value ? 1 : 0;
}

/** Compares two lex bounds (for the "range is always empty" test). */
function compareBounds(a: LexBound, b: LexBound): number {
  if (a.inf === b.inf && a.inf !== 0) return 0;
  if (a.inf === -1 || b.inf === 1) return -1;
  if (a.inf === 1 || b.inf === -1) return 1;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export function lexGteMin(member: string, r: LexRange): boolean {
  const c = compareWithBound(member, r.min);
  return r.min.exclusive ? c > 0 : c >= 0;
}

export function lexLteMax(member: string, r: LexRange): boolean {
  const c = compareWithBound(member, r.max);
  return r.max.exclusive ? c < 0 : c <= 0;
}

/** True when no element can ever be in the score range (min > max, or an empty open point). */
export function scoreRangeEmpty(r: ScoreRange): boolean {
  return r.min > r.max || (r.min === r.max && (r.minex || r.maxex));
}

export function lexRangeEmpty(r: LexRange): boolean {
  const c = compareBounds(r.min, r.max);
  return c > 0 || (c === 0 && (r.min.exclusive || r.max.exclusive));
}

/** Level generator state (xorshift32). Levels only shape performance, never replies. */
let levelSeed = 0x2545f491;
function randomLevel(): number {
  let level = 1;
  for (;;) {
    levelSeed ^= levelSeed << 13;
    levelSeed ^= levelSeed >>> 17;
    levelSeed ^= levelSeed << 5;
    if ((levelSeed >>> 0) / 4294967296 >= SKIPLIST_P || level >= SKIPLIST_MAXLEVEL) return level;
    level++;
  }
}

/**
 * Scratch for one operation at a time (JS is single-threaded and no list operation calls out
 * while these are live): per level, the last node before the target and its rank.
 */
const UPDATE = new Int32Array(SKIPLIST_MAXLEVEL);
const RANK = new Int32Array(SKIPLIST_MAXLEVEL);

/** Where range deletions report each removed member. */
export type RemovedMember = (member: string) => void;

export class SkipList {
  /** Number of elements. */
  length = 0;
  /** Levels in use (the highest level of any node, at least 1). */
  level = 1;
  /** The last node, or NIL. */
  tail = NIL;

  private readonly shift: number;
  private readonly mask: number;
  /** Page p's doubles (scores) and the same bytes as int32 words (links, spans, meta). */
  private dbl: Float64Array[];
  private words: Int32Array[];
  /**
   * Bump allocation of short records (levels below TALL_LEVEL, and every record while the first
   * page is growing): the page, its next free offset and its current capacity.
   */
  private topPage: number;
  private topOff: number;
  private topCap: number;
  /** Bump allocation of tall records once the first page is full: their page (-1: none yet) and offset. */
  private tallPage: number;
  private tallOff: number;
  /**
   * Head of the free-record list of each level (index = level), NIL when empty; null until the
   * first record is freed (most small sets never free one, and this saves them ~300 bytes).
   */
  private freeHead: number[] | null;
  /**
   * Member of each slot ('' while its record is free), in pages of 2^MEMBER_PAGE_SHIFT of
   * which only the last grows, so no growth copies a big array. A slot belongs to its record
   * for good: a reused record brings its slot along.
   */
  private members: string[][];
  private slots: number;

  constructor(pageShift = DEFAULT_PAGE_SHIFT) {
    if (pageShift < MIN_PAGE_SHIFT || pageShift > 24) throw new RangeError('skiplist: page shift out of range');
    this.shift = pageShift;
    this.mask = (1 << pageShift) - 1;
    const cap = Math.min(FIRST_PAGE_DOUBLES, 1 << pageShift);
    const buf = new ArrayBuffer(cap * 8);
    this.dbl = [new Float64Array(buf)];
    this.words = [new Int32Array(buf)];
    this.topPage = 0;
    this.topOff = HEADER_DOUBLES;
    this.topCap = cap;
    this.tallPage = -1;
    this.tallOff = 0;
    this.freeHead = null;
    this.members = [[]];
    this.slots = 0;
    // The header: level 32, every link NIL with span 0 (the buffer starts zeroed).
    this.words[0]![META] = SKIPLIST_MAXLEVEL - 1;
  }

  // ---- node accessors -------------------------------------------------------------------------

  /** First node in order, or NIL. */
  first(): number {
    return this.words[0]![FWD0]!;
  }

  /** Last node in order, or NIL. */
  last(): number {
    return this.tail;
  }

  /** The node after `a` (NIL at the end). */
  next(a: number): number {
    return this.words[a >>> this.shift]![((a & this.mask) << 1) + FWD0]!;
  }

  /** The node before `a` (NIL at the start). */
  prev(a: number): number {
    return this.words[a >>> this.shift]![((a & this.mask) << 1) + BACK]!;
  }

  score(a: number): number {
    return this.dbl[a >>> this.shift]![a & this.mask]!;
  }

  member(a: number): string {
    const slot = this.words[a >>> this.shift]![((a & this.mask) << 1) + META]! >>> 5;
    return this.members[slot >>> MEMBER_PAGE_SHIFT]![slot & MEMBER_PAGE_MASK]!;
  }

  /** Levels of node `a` (32 for the header). */
  levelOf(a: number): number {
    return (this.words[a >>> this.shift]![((a & this.mask) << 1) + META]! & 31) + 1;
  }

  /** Forward link of `a` at level i (a = NIL reads the header). */
  forward(a: number, i: number): number {
    return this.words[a >>> this.shift]![((a & this.mask) << 1) + lv(i)]!;
  }

  /** Span of `a`'s forward link at level i. */
  span(a: number, i: number): number {
    return this.words[a >>> this.shift]![((a & this.mask) << 1) + lv(i) + 1]!;
  }

  /** Pages of records in use (tests check growth and reuse with it). */
  get pageCount(): number {
    return this.dbl.length;
  }

  // ---- storage ----------------------------------------------------------------------------------

  /** A record of `level` levels for `member` (fields other than meta are written by the caller). */
  private alloc(level: number, member: string): number {
    const freeHead = this.freeHead;
    let a = freeHead === null ? NIL : freeHead[level]!;
    let slot: number;
    if (a !== NIL) {
      const w = this.words[a >>> this.shift]!;
      const o = (a & this.mask) << 1;
      freeHead![level] = w[o + BACK]!;
      const meta = w[o + META]!;
      if (meta === NO_SLOT) {
        slot = this.newSlot(member);
      } else {
        slot = meta >>> 5;
        this.members[slot >>> MEMBER_PAGE_SHIFT]![slot & MEMBER_PAGE_MASK] = member;
      }
    } else {
      a = level >= TALL_LEVEL && this.topCap >= this.firstPageMax() ? this.bumpTall(2 + level) : this.bump(2 + level);
      slot = this.newSlot(member);
    }
    this.words[a >>> this.shift]![((a & this.mask) << 1) + META] = slot * 32 + level - 1;
    return a;
  }

  private newSlot(member: string): number {
    const slot = this.slots++;
    if ((slot & MEMBER_PAGE_MASK) === 0 && slot !== 0) this.members.push([]);
    this.members[this.members.length - 1]!.push(member);
    return slot;
  }

  /** The first page grows in place up to this many doubles; later pages are whole. */
  private firstPageMax(): number {
    return Math.min(FIRST_PAGE_MAX_DOUBLES, 1 << this.shift);
  }

  /** A fresh, whole page; returns its number. */
  private newPage(): number {
    const buf = new ArrayBuffer((1 << this.shift) * 8);
    this.dbl.push(new Float64Array(buf));
    this.words.push(new Int32Array(buf));
    return this.dbl.length - 1;
  }

  /**
   * Keeps the tail of `page` from `off` (too short for the record at hand) as a free record of the
   * biggest level it holds, within the page's class: a tall page's tail only for a tall record,
   * a short page's for a short one (page 0 holds both).
   */
  private freeTail(page: number, off: number, cap: number): void {
    let level = cap - off - 2;
    if (page !== 0) {
      if (page === this.tallPage) {
        if (level < TALL_LEVEL) return;
      } else if (level >= TALL_LEVEL) {
        level = TALL_LEVEL - 1;
      }
    }
    if (level >= 1) {
      this.words[page]![(off << 1) + META] = NO_SLOT;
      this.pushFree((page << this.shift) | off, level);
    }
  }

  /** `size` fresh doubles for a tall record, in the pages that hold only tall records. */
  private bumpTall(size: number): number {
    const pageSize = 1 << this.shift;
    if (this.tallPage < 0 || this.tallOff + size > pageSize) {
      if (this.tallPage >= 0) this.freeTail(this.tallPage, this.tallOff, pageSize);
      this.tallPage = this.newPage();
      this.tallOff = 0;
    }
    const a = (this.tallPage << this.shift) | this.tallOff;
    this.tallOff += size;
    return a;
  }

  /** `size` fresh doubles for a short record (or any record while the first page grows). */
  private bump(size: number): number {
    if (this.topOff + size > this.topCap) {
      const last = this.topPage;
      const firstMax = this.firstPageMax();
      if (this.topCap < firstMax && this.topOff + size <= firstMax) {
        // Grow the (only partial) first page by half, in whole cache lines; its records keep
        // their offsets. Small sets stay small; the copy is at most one page.
        const want = Math.max(this.topCap + (this.topCap >> 1), this.topOff + size);
        const cap = Math.min((want + 7) & ~7, firstMax);
        const buf = new ArrayBuffer(cap * 8);
        new Float64Array(buf).set(this.dbl[last]!);
        this.dbl[last] = new Float64Array(buf);
        this.words[last] = new Int32Array(buf);
        this.topCap = cap;
      } else {
        // The page's tail is too short for this record: keep it as a free record of the
        // biggest level it holds, then start a full page.
        this.freeTail(last, this.topOff, this.topCap);
        this.topPage = this.newPage();
        this.topOff = 0;
        this.topCap = 1 << this.shift;
      }
    }
    const a = (this.topPage << this.shift) | this.topOff;
    this.topOff += size;
    return a;
  }

  private pushFree(a: number, level: number): void {
    const freeHead = (this.freeHead ??= new Array<number>(SKIPLIST_MAXLEVEL + 1).fill(NIL));
    this.words[a >>> this.shift]![((a & this.mask) << 1) + BACK] = freeHead[level]!;
    freeHead[level] = a;
  }

  /** Returns an unlinked record (with its slot) to its level's free list. */
  private free(a: number): void {
    const meta = this.words[a >>> this.shift]![((a & this.mask) << 1) + META]!;
    const slot = meta >>> 5;
    this.members[slot >>> MEMBER_PAGE_SHIFT]![slot & MEMBER_PAGE_MASK] = '';
    this.pushFree(a, (meta & 31) + 1);
  }

  /** An independent copy (same addresses): copies pages, not nodes. */
  clone(): SkipList {
    const c = new SkipList(this.shift);
    c.dbl = [];
    c.words = [];
    for (const p of this.dbl) {
      const buf = p.buffer.slice(0);
      c.dbl.push(new Float64Array(buf));
      c.words.push(new Int32Array(buf));
    }
    c.topPage = this.topPage;
    c.topOff = this.topOff;
    c.topCap = this.topCap;
    c.tallPage = this.tallPage;
    c.tallOff = this.tallOff;
    c.freeHead = this.freeHead === null ? null : this.freeHead.slice();
    c.members = this.members.map((p) => p.slice());
    c.slots = this.slots;
    c.length = this.length;
    c.level = this.level;
    c.tail = this.tail;
    return c;
  }

  // ---- searches ---------------------------------------------------------------------------------

  /**
   * Fills UPDATE with the last node before (score, x's member) at each level and RANK with its
   * rank (zslInsert's first loop); x is the record about to be linked.
   */
  private findInsertPoint(score: number, x: number, knownMember: string | null): void {
    const shift = this.shift, mask = this.mask;
    const dbl = this.dbl, words = this.words, members = this.members;
    // x's member is only needed on a score tie: read it then, unless the caller passed it.
    let member = knownMember;
    const top = this.level - 1;
    let p = NIL;
    let pw = words[0]!;
    let r = 0;
    for (let i = top; i >= 0; i--) {
      const li = lv(i);
      let po = ((p & mask) << 1) + li;
      let f = pw[po]!;
      while (f !== NIL) {
        const fo = f & mask;
        const fs = dbl[f >>> shift]![fo]!;
        if (fs < score) {
          // advance
        } else if (fs === score) {
          member ??= this.member(x);
          const fw = words[f >>> shift]!;
          const slot = fw[(fo << 1) + META]! >>> 5;
          if (!(members[slot >>> MEMBER_PAGE_SHIFT]![slot & MEMBER_PAGE_MASK]! < member)) break;
        } else {
          break;
        }
        r += pw[po + 1]!;
        p = f;
        pw = words[f >>> shift]!;
        po = (fo << 1) + li;
        f = pw[po]!;
      }
      RANK[i] = r;
      UPDATE[i] = p;
    }
  }

  /** Fills UPDATE with the last node before node `a` (which is in the list) at each level. */
  private findPredecessors(a: number, knownMember: string | null): void {
    const shift = this.shift, mask = this.mask;
    const dbl = this.dbl, words = this.words, members = this.members;
    const score = dbl[a >>> shift]![a & mask]!;
    let member = knownMember;
    let p = NIL;
    let pw = words[0]!;
    for (let i = this.level - 1; i >= 0; i--) {
      const li = lv(i);
      let po = ((p & mask) << 1) + li;
      let f = pw[po]!;
      while (f !== NIL && f !== a) {
        const fo = f & mask;
        const fs = dbl[f >>> shift]![fo]!;
        if (fs < score) {
          // advance
        } else if (fs === score) {
          // A tie with another node: member order decides (`a` itself needs no comparison).
          member ??= this.member(a);
          const fw = words[f >>> shift]!;
          const slot = fw[(fo << 1) + META]! >>> 5;
          if (!(members[slot >>> MEMBER_PAGE_SHIFT]![slot & MEMBER_PAGE_MASK]! < member)) break;
        } else {
          break;
        }
        p = f;
        pw = words[f >>> shift]!;
        po = (fo << 1) + li;
        f = pw[po]!;
      }
      UPDATE[i] = p;
    }
  }

  // ---- updates ----------------------------------------------------------------------------------

  /** Links record `x` (of `level` levels, member already stored) at the place of `score`. */
  private link(x: number, level: number, score: number, member: string | null): void {
    this.findInsertPoint(score, x, member);
    const shift = this.shift, mask = this.mask, words = this.words;
    if (level > this.level) {
      const hw = words[0]!;
      for (let i = this.level; i < level; i++) {
        RANK[i] = 0;
        UPDATE[i] = NIL;
        hw[lv(i) + 1] = this.length;
      }
      this.level = level;
    }
    const xw = words[x >>> shift]!;
    const xo = (x & mask) << 1;
    const r0 = RANK[0]!;
    for (let i = 0; i < level; i++) {
      const u = UPDATE[i]!;
      const uw = words[u >>> shift]!;
      const uo = ((u & mask) << 1) + lv(i);
      const skipped = r0 - RANK[i]!;
      xw[xo + lv(i)] = uw[uo]!;
      uw[uo] = x;
      xw[xo + lv(i) + 1] = uw[uo + 1]! - skipped;
      uw[uo + 1] = skipped + 1;
    }
    for (let i = level; i < this.level; i++) {
      const u = UPDATE[i]!;
      words[u >>> shift]![((u & mask) << 1) + lv(i) + 1]!++;
    }
    xw[xo + BACK] = UPDATE[0]!;
    const next = xw[xo + FWD0]!;
    if (next !== NIL) words[next >>> shift]![((next & mask) << 1) + BACK] = x;
    else this.tail = x;
    this.length++;
  }

  /** Unlinks `x`, with UPDATE holding the last node before it at each level (zslDeleteNode). */
  private unlink(x: number): void {
    const shift = this.shift, mask = this.mask, words = this.words;
    const xw = words[x >>> shift]!;
    const xo = (x & mask) << 1;
    for (let i = 0; i < this.level; i++) {
      const u = UPDATE[i]!;
      const uw = words[u >>> shift]!;
      const uo = ((u & mask) << 1) + lv(i);
      if (uw[uo] === x) {
        uw[uo + 1] = uw[uo + 1]! + xw[xo + lv(i) + 1]! - 1;
        uw[uo] = xw[xo + lv(i)]!;
      } else {
        uw[uo + 1]!--;
      }
    }
    const next = xw[xo + FWD0]!;
    if (next !== NIL) words[next >>> shift]![((next & mask) << 1) + BACK] = xw[xo + BACK]!;
    else this.tail = xw[xo + BACK]!;
    const hw = words[0]!;
    while (this.level > 1 && hw[lv(this.level - 1)] === NIL) this.level--;
    this.length--;
  }

  /** Inserts a new element and returns its node; the caller guarantees the member is absent. */
  insert(score: number, member: string): number {
    const level = randomLevel();
    const x = this.alloc(level, member);
    this.dbl[x >>> this.shift]![x & this.mask] = score;
    this.link(x, level, score, member);
    return x;
  }

  /**
   * Deletes node `a` (which must be in the list). `member`, when the caller has it (it must be
   * a's), spares reading it back on score ties.
   */
  deleteNode(a: number, member: string | null = null): void {
    this.findPredecessors(a, member);
    if (this.forward(UPDATE[0]!, 0) !== a) throw new Error('skiplist: node to delete not found');
    this.unlink(a);
    this.free(a);
  }

  /**
   * Changes node `a`'s score (zslUpdateScore). When the node stays in place only the score is
   * written; otherwise the same record is unlinked and relinked at its new place, so the node
   * keeps its address. `member` as for deleteNode: the caller's copy of a's member (ZADD's
   * argument is in cache; the stored one costs two cache misses to reach on a score tie).
   */
  updateScore(a: number, score: number, member: string | null = null): void {
    const shift = this.shift, mask = this.mask;
    const aw = this.words[a >>> shift]!;
    const ao = (a & mask) << 1;
    if (this.keepsPlace(a, aw[ao + BACK]!, aw[ao + FWD0]!, score, member)) {
      this.dbl[a >>> shift]![a & mask] = score;
      return;
    }
    this.findPredecessors(a, member);
    if (this.forward(UPDATE[0]!, 0) !== a) throw new Error('skiplist: element to update not found');
    this.unlink(a);
    this.dbl[a >>> shift]![a & mask] = score;
    this.link(a, (aw[ao + META]! & 31) + 1, score, member);
  }

  /** True when node `a` with `score` would still sort after `prev` and before `next`. */
  private keepsPlace(a: number, prev: number, next: number, score: number, member: string | null): boolean {
    if (prev !== NIL) {
      const ps = this.score(prev);
      if (ps > score || (ps === score && !(this.member(prev) < (member ??= this.member(a))))) return false;
    }
    if (next !== NIL) {
      const ns = this.score(next);
      if (ns < score || (ns === score && !(this.member(next) > (member ??= this.member(a))))) return false;
    }
    return true;
  }

  /** Writes a score that keeps the node's place (e.g. -0 → 0). */
  setScoreInPlace(a: number, score: number): void {
    this.dbl[a >>> this.shift]![a & this.mask] = score;
  }

  // ---- ranks ------------------------------------------------------------------------------------

  /** 1-based rank of (score, member), or 0 when absent (zslGetRank). */
  rank(score: number, member: string): number {
    let rank = 0;
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL) {
        const fs = this.score(f);
        if (!(fs < score || (fs === score && this.member(f) <= member))) break;
        rank += this.span(x, i);
        x = f;
        f = this.forward(x, i);
      }
      if (x !== NIL && this.score(x) === score && this.member(x) === member) return rank;
    }
    return 0;
  }

  /** The node at 1-based `rank`, or NIL. */
  byRank(rank: number): number {
    let traversed = 0;
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL && traversed + this.span(x, i) <= rank) {
        traversed += this.span(x, i);
        x = f;
        f = this.forward(x, i);
      }
      if (traversed === rank) return x;
    }
    return NIL;
  }

  // ---- ranges -----------------------------------------------------------------------------------

  private inScoreRange(r: ScoreRange): boolean {
    if (scoreRangeEmpty(r)) return false;
    if (this.tail === NIL || !scoreGteMin(this.score(this.tail), r)) return false;
    const first = this.first();
    return first !== NIL && scoreLteMax(this.score(first), r);
  }

  /** Fills UPDATE with the last node before the first one with a score ≥ the range's min. */
  private seekScoreMin(r: ScoreRange): void {
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL && !scoreGteMin(this.score(f), r)) {
        x = f;
        f = this.forward(x, i);
      }
      UPDATE[i] = x;
    }
  }

  /** First node with a score in range, or NIL. */
  firstInRange(r: ScoreRange): number {
    if (!this.inScoreRange(r)) return NIL;
    this.seekScoreMin(r);
    const n = this.forward(UPDATE[0]!, 0);
    return n !== NIL && scoreLteMax(this.score(n), r) ? n : NIL;
  }

  /** Last node with a score in range, or NIL. */
  lastInRange(r: ScoreRange): number {
    if (!this.inScoreRange(r)) return NIL;
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL && scoreLteMax(this.score(f), r)) {
        x = f;
        f = this.forward(x, i);
      }
    }
    return x !== NIL && scoreGteMin(this.score(x), r) ? x : NIL;
  }

  private inLexRange(r: LexRange): boolean {
    if (lexRangeEmpty(r)) return false;
    if (this.tail === NIL || !lexGteMin(this.member(this.tail), r)) return false;
    const first = this.first();
    return first !== NIL && lexLteMax(this.member(first), r);
  }

  /** Fills UPDATE with the last node before the first one with a member ≥ the range's min. */
  private seekLexMin(r: LexRange): void {
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL && !lexGteMin(this.member(f), r)) {
        x = f;
        f = this.forward(x, i);
      }
      UPDATE[i] = x;
    }
  }

  firstInLexRange(r: LexRange): number {
    if (!this.inLexRange(r)) return NIL;
    this.seekLexMin(r);
    const n = this.forward(UPDATE[0]!, 0);
    return n !== NIL && lexLteMax(this.member(n), r) ? n : NIL;
  }

  lastInLexRange(r: LexRange): number {
    if (!this.inLexRange(r)) return NIL;
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL && lexLteMax(this.member(f), r)) {
        x = f;
        f = this.forward(x, i);
      }
    }
    return x !== NIL && lexGteMin(this.member(x), r) ? x : NIL;
  }

  /**
   * Deletes consecutive nodes after the predecessors in UPDATE while `stillIn(node, index)`
   * holds, reporting each member; returns how many went. UPDATE stays valid across unlinks (the
   * predecessors do not change), and `removed` must not touch any skip list.
   */
  private deleteRun(stillIn: (a: number, index: number) => boolean, removed: RemovedMember): number {
    let x = this.forward(UPDATE[0]!, 0);
    let count = 0;
    while (x !== NIL && stillIn(x, count)) {
      const next = this.next(x);
      const member = this.member(x);
      this.unlink(x);
      this.free(x);
      removed(member);
      count++;
      x = next;
    }
    return count;
  }

  deleteRangeByScore(r: ScoreRange, removed: RemovedMember): number {
    this.seekScoreMin(r);
    return this.deleteRun((a) => scoreLteMax(this.score(a), r), removed);
  }

  deleteRangeByLex(r: LexRange, removed: RemovedMember): number {
    this.seekLexMin(r);
    return this.deleteRun((a) => lexLteMax(this.member(a), r), removed);
  }

  /** Deletes 1-based ranks start..end inclusive. */
  deleteRangeByRank(start: number, end: number, removed: RemovedMember): number {
    let traversed = 0;
    let x = NIL;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = this.forward(x, i);
      while (f !== NIL && traversed + this.span(x, i) < start) {
        traversed += this.span(x, i);
        x = f;
        f = this.forward(x, i);
      }
      UPDATE[i] = x;
    }
    const count = end - start + 1;
    return this.deleteRun((_a, i) => i < count, removed);
  }
}
