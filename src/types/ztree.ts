/**
 * The ordered half of a sorted set as an order-statistic B+tree (zset18), in place of the skip
 * list (skiplist.ts) behind the same interface. Elements are ordered by score, then by member
 * bytes (latin1 strings: JS string comparison is memcmp order), as in Redis.
 *
 * Why. A ZADD that moves a member of a 100k-member set made two skip list searches of ~28 node
 * visits, nearly each a cache miss (types17). Here a search reads ~4 nodes (the root, two inner
 * levels, a leaf), each a run of adjacent scores that the prefetcher streams.
 *
 * Layout (all typed arrays, no object per node):
 *   leaves   one record of LEAF_W int32 words each: [LB scores as doubles][LB entry ids]
 *            [length, next leaf, previous leaf, parent]
 *   inner    one record of NODE_W words each: [IB separator scores as doubles][IB children]
 *            [IB subtree counts][length, parent]; separator i (i ≥ 1) is ≤ every element of
 *            child i and > every element of child i-1; its member is in `sepMembers`
 *   entries  [score as a double][leaf, position hint] per element, and its member in `members`
 * A node address for callers is an entry id: stable for the element's life (a split, merge or
 * borrow moves the id to another leaf and rewrites the entry's leaf, never renumbers it), so
 * ZSet's member map stores it, as it stored skip list addresses. Entry 0 is NIL. The position
 * hint is checked before use (an insert in the same leaf shifts it) and rewritten when wrong.
 * Subtree counts make rank and element-at-rank O(height · IB) like the skip list's spans.
 *
 * Leaves split in halves when full and merge with (or borrow from) a sibling below LB/4 elements;
 * inner nodes likewise at IB and IB/4; a root with one child is dropped. Pools grow by half
 * (one ArrayBuffer each, seen as doubles and words) and keep a free list of records.
 */
import {
  NIL,
  scoreGteMin,
  scoreLteMax,
  lexGteMin,
  lexLteMax,
  scoreRangeEmpty,
  lexRangeEmpty,
  type ScoreRange,
  type LexRange,
  type RemovedMember,
} from './skiplist.js';

/** Elements per leaf. */
const LB = 32;
/** Children per inner node. */
const IB = 32;
const LEAF_MIN = LB >> 2;
const NODE_MIN = IB >> 2;
// Leaf record, in int32 words (scores take two words each).
const L_ENT = 2 * LB;
const L_LEN = 3 * LB;
const L_NEXT = L_LEN + 1;
const L_PREV = L_LEN + 2;
const L_PARENT = L_LEN + 3;
const LEAF_W = 3 * LB + 4;
const LEAF_D = LEAF_W >> 1;
// Inner record.
const N_CHILD = 2 * IB;
const N_COUNT = 3 * IB;
const N_LEN = 4 * IB;
const N_PARENT = N_LEN + 1;
const NODE_W = 4 * IB + 2;
const NODE_D = NODE_W >> 1;
/** No leaf / no node. */
const NONE = -1;

/** A pool of fixed-size records: one buffer seen as doubles and words. */
function grownBuffer(old: Float64Array, doubles: number): ArrayBuffer {
  const buf = new ArrayBuffer(doubles * 8);
  new Float64Array(buf).set(old);
  return buf;
}

/** Scratch for moving a run of elements between leaves. */
export class ZTree {
  /** Number of elements. */
  length = 0;
  /** Inner levels above the leaves (0: the root is a leaf). */
  private height = 0;
  private root: number;
  private headLeaf: number;
  private tailLeaf: number;

  private ld: Float64Array;
  private lw: Int32Array;
  private leafCap: number;
  private leafTop = 0;
  private leafFree = NONE;

  private nd: Float64Array;
  private nw: Int32Array;
  private nodeCap: number;
  private nodeTop = 0;
  private nodeFree = NONE;
  private sepMembers: string[];

  private ed: Float64Array;
  private ew: Int32Array;
  private entCap: number;
  private entTop = 1;
  private entFree = NIL;
  private members: string[];

  constructor() {
    this.leafCap = 1;
    const lb = new ArrayBuffer(LEAF_D * 8);
    this.ld = new Float64Array(lb);
    this.lw = new Int32Array(lb);
    this.nodeCap = 0;
    const nb = new ArrayBuffer(0);
    this.nd = new Float64Array(nb);
    this.nw = new Int32Array(nb);
    this.sepMembers = [];
    this.entCap = 8;
    const eb = new ArrayBuffer(this.entCap * 16);
    this.ed = new Float64Array(eb);
    this.ew = new Int32Array(eb);
    this.members = [''];
    const root = this.newLeaf();
    this.root = root;
    this.headLeaf = root;
    this.tailLeaf = root;
  }

  // ---- pools ------------------------------------------------------------------------------------

  private newLeaf(): number {
    let l = this.leafFree;
    if (l !== NONE) {
      this.leafFree = this.lw[l * LEAF_W + L_PARENT]!;
    } else {
      if (this.leafTop === this.leafCap) {
        this.leafCap = this.leafCap + (this.leafCap >> 1) + 1;
        const buf = grownBuffer(this.ld, this.leafCap * LEAF_D);
        this.ld = new Float64Array(buf);
        this.lw = new Int32Array(buf);
      }
      l = this.leafTop++;
    }
    const b = l * LEAF_W;
    this.lw[b + L_LEN] = 0;
    this.lw[b + L_NEXT] = NONE;
    this.lw[b + L_PREV] = NONE;
    this.lw[b + L_PARENT] = NONE;
    return l;
  }

  private freeLeaf(l: number): void {
    this.lw[l * LEAF_W + L_PARENT] = this.leafFree;
    this.leafFree = l;
  }

  private newNode(): number {
    let n = this.nodeFree;
    if (n !== NONE) {
      this.nodeFree = this.nw[n * NODE_W + N_PARENT]!;
    } else {
      if (this.nodeTop === this.nodeCap) {
        this.nodeCap = this.nodeCap + (this.nodeCap >> 1) + 1;
        const buf = grownBuffer(this.nd, this.nodeCap * NODE_D);
        this.nd = new Float64Array(buf);
        this.nw = new Int32Array(buf);
        const sm = this.sepMembers;
        while (sm.length < this.nodeCap * IB) sm.push('');
      }
      n = this.nodeTop++;
    }
    this.nw[n * NODE_W + N_LEN] = 0;
    this.nw[n * NODE_W + N_PARENT] = NONE;
    return n;
  }

  private freeNode(n: number): void {
    this.nw[n * NODE_W + N_PARENT] = this.nodeFree;
    this.nodeFree = n;
  }

  private newEntry(score: number, member: string): number {
    let e = this.entFree;
    if (e !== NIL) {
      this.entFree = this.ew[e * 4 + 3]!;
      this.members[e] = member;
    } else {
      if (this.entTop === this.entCap) {
        this.entCap = this.entCap + (this.entCap >> 1);
        const buf = grownBuffer(this.ed, this.entCap * 2);
        this.ed = new Float64Array(buf);
        this.ew = new Int32Array(buf);
      }
      e = this.entTop++;
      this.members.push(member);
    }
    this.ed[e * 2] = score;
    return e;
  }

  private freeEntry(e: number): void {
    this.members[e] = '';
    this.ew[e * 4 + 3] = this.entFree;
    this.entFree = e;
  }

  // ---- node accessors ---------------------------------------------------------------------------

  score(e: number): number {
    return this.ed[e * 2]!;
  }

  member(e: number): string {
    return this.members[e]!;
  }

  /** A level for MEMORY USAGE's model of Redis's skip list node (P = 1/4, fixed per entry). */
  levelOf(e: number): number {
    let h = Math.imul(e ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
    let level = 1;
    while ((h & 3) === 0 && level < 16) {
      level++;
      h >>>= 2;
    }
    return level;
  }

  /** Position of entry e in its leaf (the hint when right, else a scan that fixes the hint). */
  private posOf(e: number, leaf: number): number {
    const lw = this.lw;
    const b = leaf * LEAF_W;
    const h = this.ew[e * 4 + 3]!;
    if (h >= 0 && h < lw[b + L_LEN]! && lw[b + L_ENT + h] === e) return h;
    const n = lw[b + L_LEN]!;
    for (let i = 0; i < n; i++) {
      if (lw[b + L_ENT + i] === e) {
        this.ew[e * 4 + 3] = i;
        return i;
      }
    }
    throw new Error('ztree: entry not in its leaf');
  }

  first(): number {
    const l = this.headLeaf;
    return this.lw[l * LEAF_W + L_LEN] === 0 ? NIL : this.lw[l * LEAF_W + L_ENT]!;
  }

  last(): number {
    const l = this.tailLeaf;
    const n = this.lw[l * LEAF_W + L_LEN]!;
    return n === 0 ? NIL : this.lw[l * LEAF_W + L_ENT + n - 1]!;
  }

  next(e: number): number {
    const leaf = this.ew[e * 4 + 2]!;
    const p = this.posOf(e, leaf) + 1;
    const lw = this.lw;
    let b = leaf * LEAF_W;
    if (p < lw[b + L_LEN]!) {
      const x = lw[b + L_ENT + p]!;
      this.ew[x * 4 + 3] = p;
      return x;
    }
    const nl = lw[b + L_NEXT]!;
    if (nl === NONE) return NIL;
    b = nl * LEAF_W;
    const x = lw[b + L_ENT]!;
    this.ew[x * 4 + 3] = 0;
    return x;
  }

  prev(e: number): number {
    const leaf = this.ew[e * 4 + 2]!;
    const p = this.posOf(e, leaf) - 1;
    const lw = this.lw;
    if (p >= 0) {
      const x = lw[leaf * LEAF_W + L_ENT + p]!;
      this.ew[x * 4 + 3] = p;
      return x;
    }
    const pl = lw[leaf * LEAF_W + L_PREV]!;
    if (pl === NONE) return NIL;
    const n = lw[pl * LEAF_W + L_LEN]!;
    const x = lw[pl * LEAF_W + L_ENT + n - 1]!;
    this.ew[x * 4 + 3] = n - 1;
    return x;
  }

  /** Records in use (leaves + inner nodes), for benchmarks. */
  get pageCount(): number {
    return this.leafTop + this.nodeTop;
  }

  /** An independent copy with the same entry ids. */
  clone(): ZTree {
    const c = new ZTree();
    c.length = this.length;
    c.height = this.height;
    c.root = this.root;
    c.headLeaf = this.headLeaf;
    c.tailLeaf = this.tailLeaf;
    const lb = this.ld.buffer.slice(0);
    c.ld = new Float64Array(lb);
    c.lw = new Int32Array(lb);
    c.leafCap = this.leafCap;
    c.leafTop = this.leafTop;
    c.leafFree = this.leafFree;
    const nb = this.nd.buffer.slice(0);
    c.nd = new Float64Array(nb);
    c.nw = new Int32Array(nb);
    c.nodeCap = this.nodeCap;
    c.nodeTop = this.nodeTop;
    c.nodeFree = this.nodeFree;
    c.sepMembers = this.sepMembers.slice();
    const eb = this.ed.buffer.slice(0);
    c.ed = new Float64Array(eb);
    c.ew = new Int32Array(eb);
    c.entCap = this.entCap;
    c.entTop = this.entTop;
    c.entFree = this.entFree;
    c.members = this.members.slice();
    return c;
  }

  // ---- counts -----------------------------------------------------------------------------------

  /** Index of child c in inner node p. */
  private childIndex(p: number, c: number): number {
    const nw = this.nw;
    const b = p * NODE_W;
    const n = nw[b + N_LEN]!;
    for (let i = 0; i < n; i++) if (nw[b + N_CHILD + i] === c) return i;
    throw new Error('ztree: child not in its parent');
  }

  /** Adds `delta` to the subtree counts on the path from leaf `leaf` to the root. */
  private addCount(leaf: number, delta: number): void {
    const nw = this.nw;
    let c = leaf;
    let p = this.lw[leaf * LEAF_W + L_PARENT]!;
    while (p !== NONE) {
      const b = p * NODE_W;
      const n = nw[b + N_LEN]!;
      let i = 0;
      while (i < n && nw[b + N_CHILD + i] !== c) i++;
      nw[b + N_COUNT + i] += delta;
      c = p;
      p = nw[b + N_PARENT]!;
    }
  }

  /** Sets the parent of `child`, a node at `level` (1: a leaf). */
  private setParent(child: number, level: number, parent: number): void {
    if (level === 1) this.lw[child * LEAF_W + L_PARENT] = parent;
    else this.nw[child * NODE_W + N_PARENT] = parent;
  }

  // ---- insert -----------------------------------------------------------------------------------

  /** The leaf where (score, member) belongs. */
  private leafFor(score: number, member: string): number {
    const nd = this.nd, nw = this.nw, sm = this.sepMembers;
    let x = this.root;
    for (let h = this.height; h > 0; h--) {
      const b = x * NODE_W;
      const d = x * NODE_D;
      const n = nw[b + N_LEN]!;
      let i = 1;
      while (i < n) {
        const s = nd[d + i]!;
        if (s < score || (s === score && !(member < sm[x * IB + i]!))) i++;
        else break;
      }
      x = nw[b + N_CHILD + i - 1]!;
    }
    return x;
  }

  /** Inserts a new element and returns its entry; the caller guarantees the member is absent. */
  insert(score: number, member: string): number {
    const e = this.newEntry(score, member);
    this.place(e, score, member);
    return e;
  }

  /** Links entry e (score and member stored) at its place. */
  private place(e: number, score: number, member: string): void {
    let leaf = this.leafFor(score, member);
    if (this.lw[leaf * LEAF_W + L_LEN] === LB) leaf = this.splitLeaf(leaf, score, member);
    this.insertInLeaf(leaf, e, score, member);
    this.addCount(leaf, 1);
    this.length++;
  }

  private insertInLeaf(leaf: number, e: number, score: number, member: string): void {
    const ld = this.ld, lw = this.lw, members = this.members;
    const b = leaf * LEAF_W;
    const d = leaf * LEAF_D;
    const n = lw[b + L_LEN]!;
    let p = 0;
    while (p < n) {
      const s = ld[d + p]!;
      if (s < score || (s === score && members[lw[b + L_ENT + p]!]! < member)) p++;
      else break;
    }
    if (p < n) {
      ld.copyWithin(d + p + 1, d + p, d + n);
      lw.copyWithin(b + L_ENT + p + 1, b + L_ENT + p, b + L_ENT + n);
    }
    ld[d + p] = score;
    lw[b + L_ENT + p] = e;
    lw[b + L_LEN] = n + 1;
    this.ew[e * 4 + 2] = leaf;
    this.ew[e * 4 + 3] = p;
  }

  /** Moves elements [from, from+k) of leaf src to leaf dst at position at (dst has room). */
  private moveRun(src: number, from: number, k: number, dst: number, at: number): void {
    const ld = this.ld, lw = this.lw, ew = this.ew;
    const sb = src * LEAF_W, sd = src * LEAF_D, db = dst * LEAF_W, dd = dst * LEAF_D;
    const dn = lw[db + L_LEN]!;
    if (at < dn) {
      ld.copyWithin(dd + at + k, dd + at, dd + dn);
      lw.copyWithin(db + L_ENT + at + k, db + L_ENT + at, db + L_ENT + dn);
    }
    ld.copyWithin(dd + at, sd + from, sd + from + k);
    lw.copyWithin(db + L_ENT + at, sb + L_ENT + from, sb + L_ENT + from + k);
    for (let i = 0; i < k; i++) ew[lw[db + L_ENT + at + i]! * 4 + 2] = dst;
    lw[db + L_LEN] = dn + k;
    const sn = lw[sb + L_LEN]!;
    if (from + k < sn) {
      ld.copyWithin(sd + from, sd + from + k, sd + sn);
      lw.copyWithin(sb + L_ENT + from, sb + L_ENT + from + k, sb + L_ENT + sn);
    }
    lw[sb + L_LEN] = sn - k;
  }

  /**
   * Splits a full leaf in halves (the upper half to a new leaf after it) and returns the half
   * where (score, member) belongs.
   */
  private splitLeaf(leaf: number, score: number, member: string): number {
    const right = this.newLeaf();
    const lw = this.lw;
    const b = leaf * LEAF_W;
    const half = LB >> 1;
    this.moveRun(leaf, half, LB - half, right, 0);
    const rb = right * LEAF_W;
    const next = lw[b + L_NEXT]!;
    lw[rb + L_NEXT] = next;
    lw[rb + L_PREV] = leaf;
    lw[b + L_NEXT] = right;
    if (next === NONE) this.tailLeaf = right;
    else lw[next * LEAF_W + L_PREV] = right;
    const sepScore = this.ld[right * LEAF_D]!;
    const sepMember = this.members[lw[rb + L_ENT]!]!;
    this.insertChild(leaf, right, 1, sepScore, sepMember, half, LB - half);
    return sepScore < score || (sepScore === score && !(member < sepMember)) ? right : leaf;
  }

  /**
   * Records that node `left` (at `level`: 1 = a leaf) was split and `right` follows it with
   * separator (sepScore, sepMember); their element counts are given.
   */
  private insertChild(left: number, right: number, level: number, sepScore: number, sepMember: string,
    leftCount: number, rightCount: number): void {
    let p = level === 1 ? this.lw[left * LEAF_W + L_PARENT]! : this.nw[left * NODE_W + N_PARENT]!;
    if (p === NONE) {
      // A new root above the old one.
      p = this.newNode();
      const nw = this.nw;
      const b = p * NODE_W;
      nw[b + N_LEN] = 2;
      nw[b + N_CHILD] = left;
      nw[b + N_CHILD + 1] = right;
      nw[b + N_COUNT] = leftCount;
      nw[b + N_COUNT + 1] = rightCount;
      this.nd[p * NODE_D + 1] = sepScore;
      this.sepMembers[p * IB + 1] = sepMember;
      this.setParent(left, level, p);
      this.setParent(right, level, p);
      this.root = p;
      this.height++;
      return;
    }
    if (this.nw[p * NODE_W + N_LEN] === IB) {
      const q = this.splitNode(p, level + 1);
      // The halves' parent links moved `left` to q when it went right.
      if ((level === 1 ? this.lw[left * LEAF_W + L_PARENT]! : this.nw[left * NODE_W + N_PARENT]!) === q) p = q;
    }
    const nd = this.nd, nw = this.nw, sm = this.sepMembers;
    const b = p * NODE_W, d = p * NODE_D;
    const n = nw[b + N_LEN]!;
    const i = this.childIndex(p, left) + 1;
    if (i < n) {
      nd.copyWithin(d + i + 1, d + i, d + n);
      nw.copyWithin(b + N_CHILD + i + 1, b + N_CHILD + i, b + N_CHILD + n);
      nw.copyWithin(b + N_COUNT + i + 1, b + N_COUNT + i, b + N_COUNT + n);
      for (let j = n; j > i; j--) sm[p * IB + j] = sm[p * IB + j - 1]!;
    }
    nd[d + i] = sepScore;
    sm[p * IB + i] = sepMember;
    nw[b + N_CHILD + i] = right;
    nw[b + N_COUNT + i - 1] = leftCount;
    nw[b + N_COUNT + i] = rightCount;
    nw[b + N_LEN] = n + 1;
    this.setParent(right, level, p);
  }

  /** Splits a full inner node at `level` in halves; returns the new right half. */
  private splitNode(p: number, level: number): number {
    const q = this.newNode();
    const nd = this.nd, nw = this.nw, sm = this.sepMembers;
    const pb = p * NODE_W, pd = p * NODE_D, qb = q * NODE_W, qd = q * NODE_D;
    const half = IB >> 1;
    const k = IB - half;
    nd.copyWithin(qd, pd + half, pd + IB);
    nw.copyWithin(qb + N_CHILD, pb + N_CHILD + half, pb + N_CHILD + IB);
    nw.copyWithin(qb + N_COUNT, pb + N_COUNT + half, pb + N_COUNT + IB);
    for (let j = 0; j < k; j++) sm[q * IB + j] = sm[p * IB + half + j]!;
    nw[qb + N_LEN] = k;
    nw[pb + N_LEN] = half;
    let leftCount = 0, rightCount = 0;
    for (let j = 0; j < half; j++) leftCount += nw[pb + N_COUNT + j]!;
    for (let j = 0; j < k; j++) {
      rightCount += nw[qb + N_COUNT + j]!;
      this.setParent(nw[qb + N_CHILD + j]!, level - 1, q);
    }
    this.insertChild(p, q, level, nd[qd]!, sm[q * IB]!, leftCount, rightCount);
    return q;
  }

  // ---- delete -----------------------------------------------------------------------------------

  /** Unlinks entry e from its leaf and the counts, rebalancing; the entry stays allocated. */
  private unplace(e: number): void {
    const leaf = this.ew[e * 4 + 2]!;
    const p = this.posOf(e, leaf);
    const ld = this.ld, lw = this.lw;
    const b = leaf * LEAF_W, d = leaf * LEAF_D;
    const n = lw[b + L_LEN]!;
    if (p + 1 < n) {
      ld.copyWithin(d + p, d + p + 1, d + n);
      lw.copyWithin(b + L_ENT + p, b + L_ENT + p + 1, b + L_ENT + n);
    }
    lw[b + L_LEN] = n - 1;
    this.addCount(leaf, -1);
    this.length--;
    if (n - 1 < LEAF_MIN && this.height > 0) this.rebalanceLeaf(leaf);
  }

  /** Deletes entry e (which must be in the tree). */
  deleteNode(e: number, _member: string | null = null): void {
    this.unplace(e);
    this.freeEntry(e);
  }

  /** A leaf below LEAF_MIN: merge with a sibling under the same parent, or borrow from it. */
  private rebalanceLeaf(leaf: number): void {
    const lw = this.lw;
    const p = lw[leaf * LEAF_W + L_PARENT]!;
    const i = this.childIndex(p, leaf);
    const pb = p * NODE_W;
    const pn = this.nw[pb + N_LEN]!;
    // Work on a (left, right) pair of adjacent children.
    const li = i > 0 ? i - 1 : i;
    if (li + 1 >= pn) return; // an only child (cannot happen below a balanced parent)
    const left = this.nw[pb + N_CHILD + li]!;
    const right = this.nw[pb + N_CHILD + li + 1]!;
    const ln = lw[left * LEAF_W + L_LEN]!;
    const rn = lw[right * LEAF_W + L_LEN]!;
    if (ln + rn <= (LB * 3) >> 2) {
      // Merge right into left; drop right.
      this.moveRun(right, 0, rn, left, ln);
      const next = lw[right * LEAF_W + L_NEXT]!;
      lw[left * LEAF_W + L_NEXT] = next;
      if (next === NONE) this.tailLeaf = left;
      else lw[next * LEAF_W + L_PREV] = left;
      this.nw[pb + N_COUNT + li] += rn;
      this.removeChild(p, li + 1);
      this.freeLeaf(right);
      this.rebalanceNode(p, 2);
      return;
    }
    // Borrow: even out the pair.
    const k = ((ln + rn) >> 1) - Math.min(ln, rn);
    if (ln < rn) this.moveRun(right, 0, k, left, ln);
    else this.moveRun(left, ln - k, k, right, 0);
    const delta = ln < rn ? k : -k;
    this.nw[pb + N_COUNT + li] += delta;
    this.nw[pb + N_COUNT + li + 1] -= delta;
    this.nd[p * NODE_D + li + 1] = this.ld[right * LEAF_D]!;
    this.sepMembers[p * IB + li + 1] = this.members[lw[right * LEAF_W + L_ENT]!]!;
  }

  /** Removes child i (≥ 1) of inner node p with its separator and count. */
  private removeChild(p: number, i: number): void {
    const nd = this.nd, nw = this.nw, sm = this.sepMembers;
    const b = p * NODE_W, d = p * NODE_D;
    const n = nw[b + N_LEN]!;
    if (i + 1 < n) {
      nd.copyWithin(d + i, d + i + 1, d + n);
      nw.copyWithin(b + N_CHILD + i, b + N_CHILD + i + 1, b + N_CHILD + n);
      nw.copyWithin(b + N_COUNT + i, b + N_COUNT + i + 1, b + N_COUNT + n);
      for (let j = i; j < n - 1; j++) sm[p * IB + j] = sm[p * IB + j + 1]!;
    }
    sm[p * IB + n - 1] = '';
    nw[b + N_LEN] = n - 1;
  }

  /**
   * An inner node that lost a child: drop a one-child root, merge or borrow below NODE_MIN.
   * `level` is p's (leaves are 1, their parents 2), as for setParent and moveChildren.
   */
  private rebalanceNode(p: number, level: number): void {
    const nw = this.nw;
    const n = nw[p * NODE_W + N_LEN]!;
    const g = nw[p * NODE_W + N_PARENT]!;
    if (g === NONE) {
      if (n === 1) {
        const only = nw[p * NODE_W + N_CHILD]!;
        this.setParent(only, level - 1, NONE);
        this.root = only;
        this.height--;
        this.freeNode(p);
      }
      return;
    }
    if (n >= NODE_MIN) return;
    const i = this.childIndex(g, p);
    const gb = g * NODE_W;
    const gn = nw[gb + N_LEN]!;
    const li = i > 0 ? i - 1 : i;
    if (li + 1 >= gn) return;
    const left = nw[gb + N_CHILD + li]!;
    const right = nw[gb + N_CHILD + li + 1]!;
    const ln = nw[left * NODE_W + N_LEN]!;
    const rn = nw[right * NODE_W + N_LEN]!;
    const sepScore = this.nd[g * NODE_D + li + 1]!;
    const sepMember = this.sepMembers[g * IB + li + 1]!;
    if (ln + rn <= (IB * 3) >> 2) {
      this.moveChildren(right, 0, rn, left, ln, sepScore, sepMember, level);
      nw[gb + N_COUNT + li] += nw[gb + N_COUNT + li + 1]!;
      this.removeChild(g, li + 1);
      this.freeNode(right);
      this.rebalanceNode(g, level + 1);
      return;
    }
    const k = ((ln + rn) >> 1) - Math.min(ln, rn);
    let moved: number;
    if (ln < rn) {
      // The first k children of right go to the end of left; right's new first separator goes up.
      const upScore = this.nd[right * NODE_D + k]!;
      const upMember = this.sepMembers[right * IB + k]!;
      moved = this.moveChildren(right, 0, k, left, ln, sepScore, sepMember, level);
      this.nd[g * NODE_D + li + 1] = upScore;
      this.sepMembers[g * IB + li + 1] = upMember;
      nw[gb + N_COUNT + li] += moved;
      nw[gb + N_COUNT + li + 1] -= moved;
    } else {
      const upScore = this.nd[left * NODE_D + ln - k]!;
      const upMember = this.sepMembers[left * IB + ln - k]!;
      moved = this.moveChildren(left, ln - k, k, right, 0, sepScore, sepMember, level);
      this.nd[g * NODE_D + li + 1] = upScore;
      this.sepMembers[g * IB + li + 1] = upMember;
      nw[gb + N_COUNT + li] -= moved;
      nw[gb + N_COUNT + li + 1] += moved;
    }
  }

  /**
   * Moves children [from, from+k) of inner node src to dst at `at` (either src's tail to dst's
   * front, or src's front to dst's tail). (sepScore, sepMember) is the parent's separator
   * between the two nodes: it becomes the separator of whichever child crosses to the far side
   * of it. Returns the elements moved.
   */
  private moveChildren(src: number, from: number, k: number, dst: number, at: number,
    sepScore: number, sepMember: string, level: number): number {
    const nd = this.nd, nw = this.nw, sm = this.sepMembers;
    const sb = src * NODE_W, sd = src * NODE_D, db = dst * NODE_W, dd = dst * NODE_D;
    const sn = nw[sb + N_LEN]!, dn = nw[db + N_LEN]!;
    if (at < dn) {
      nd.copyWithin(dd + at + k, dd + at, dd + dn);
      nw.copyWithin(db + N_CHILD + at + k, db + N_CHILD + at, db + N_CHILD + dn);
      nw.copyWithin(db + N_COUNT + at + k, db + N_COUNT + at, db + N_COUNT + dn);
      for (let j = dn - 1; j >= at; j--) sm[dst * IB + j + k] = sm[dst * IB + j]!;
    }
    nd.copyWithin(dd + at, sd + from, sd + from + k);
    nw.copyWithin(db + N_CHILD + at, sb + N_CHILD + from, sb + N_CHILD + from + k);
    nw.copyWithin(db + N_COUNT + at, sb + N_COUNT + from, sb + N_COUNT + from + k);
    for (let j = 0; j < k; j++) sm[dst * IB + at + j] = sm[src * IB + from + j]!;
    let moved = 0;
    for (let j = 0; j < k; j++) {
      moved += nw[db + N_COUNT + at + j]!;
      this.setParent(nw[db + N_CHILD + at + j]!, level - 1, dst);
    }
    if (at === 0) {
      // src's tail went to dst's front: dst's old first child now has the parent's separator.
      nd[dd + k] = sepScore;
      sm[dst * IB + k] = sepMember;
    } else {
      // src's front went to dst's tail: the first moved child gets the parent's separator.
      nd[dd + at] = sepScore;
      sm[dst * IB + at] = sepMember;
    }
    if (from + k < sn) {
      nd.copyWithin(sd + from, sd + from + k, sd + sn);
      nw.copyWithin(sb + N_CHILD + from, sb + N_CHILD + from + k, sb + N_CHILD + sn);
      nw.copyWithin(sb + N_COUNT + from, sb + N_COUNT + from + k, sb + N_COUNT + sn);
      for (let j = from; j < sn - k; j++) sm[src * IB + j] = sm[src * IB + j + k]!;
    }
    for (let j = sn - k; j < sn; j++) sm[src * IB + j] = '';
    nw[sb + N_LEN] = sn - k;
    nw[db + N_LEN] = dn + k;
    return moved;
  }

  // ---- score changes ----------------------------------------------------------------------------

  /**
   * Changes entry e's score; the entry keeps its id. Stays in its leaf when the new key falls
   * strictly between the leaf's other elements (no count changes); otherwise leaves and re-enters.
   */
  updateScore(e: number, score: number, member: string | null = null): void {
    const m = member ?? this.members[e]!;
    const leaf = this.ew[e * 4 + 2]!;
    const p = this.posOf(e, leaf);
    const ld = this.ld, lw = this.lw, members = this.members;
    const b = leaf * LEAF_W, d = leaf * LEAF_D;
    const n = lw[b + L_LEN]!;
    // Inside the leaf: after its first other element and before its last other element.
    const lo = p === 0 ? 1 : 0;
    const hi = p === n - 1 ? n - 2 : n - 1;
    if (lo <= hi && lo < n && hi >= 0) {
      const ls = ld[d + lo]!, hs = ld[d + hi]!;
      const afterLo = ls < score || (ls === score && members[lw[b + L_ENT + lo]!]! < m);
      const beforeHi = hs > score || (hs === score && members[lw[b + L_ENT + hi]!]! > m);
      if (afterLo && beforeHi) {
        // Remove at p, then insert in this leaf by scanning.
        if (p + 1 < n) {
          ld.copyWithin(d + p, d + p + 1, d + n);
          lw.copyWithin(b + L_ENT + p, b + L_ENT + p + 1, b + L_ENT + n);
        }
        lw[b + L_LEN] = n - 1;
        this.ed[e * 2] = score;
        this.insertInLeaf(leaf, e, score, m);
        return;
      }
    }
    this.unplace(e);
    this.ed[e * 2] = score;
    this.place(e, score, m);
  }

  /** Writes a score that keeps the element's place (e.g. -0 → 0). */
  setScoreInPlace(e: number, score: number): void {
    const leaf = this.ew[e * 4 + 2]!;
    this.ld[leaf * LEAF_D + this.posOf(e, leaf)] = score;
    this.ed[e * 2] = score;
  }

  // ---- ranks ------------------------------------------------------------------------------------

  /** 0-based rank of entry e (in the tree). */
  rankOf(e: number): number {
    const nw = this.nw;
    const leaf = this.ew[e * 4 + 2]!;
    let r = this.posOf(e, leaf);
    let c = leaf;
    let p = this.lw[leaf * LEAF_W + L_PARENT]!;
    while (p !== NONE) {
      const b = p * NODE_W;
      for (let i = 0; nw[b + N_CHILD + i] !== c; i++) r += nw[b + N_COUNT + i]!;
      c = p;
      p = nw[b + N_PARENT]!;
    }
    return r;
  }

  /** The entry at 0-based `rank`, or NIL. */
  at(rank: number): number {
    if (rank < 0 || rank >= this.length) return NIL;
    const nw = this.nw;
    let x = this.root;
    let r = rank;
    for (let h = this.height; h > 0; h--) {
      const b = x * NODE_W;
      let i = 0;
      while (r >= nw[b + N_COUNT + i]!) r -= nw[b + N_COUNT + i++]!;
      x = nw[b + N_CHILD + i]!;
    }
    const e = this.lw[x * LEAF_W + L_ENT + r]!;
    this.ew[e * 4 + 3] = r;
    return e;
  }

  // ---- ranges -----------------------------------------------------------------------------------

  /**
   * The first entry whose (score, member) satisfies `pred`, which must be false then true along
   * the order (a lower bound); NIL when none does.
   */
  private lowerBound(pred: (score: number, member: string) => boolean): number {
    const nd = this.nd, nw = this.nw, sm = this.sepMembers;
    let x = this.root;
    for (let h = this.height; h > 0; h--) {
      const b = x * NODE_W, d = x * NODE_D;
      const n = nw[b + N_LEN]!;
      let i = 1;
      while (i < n && !pred(nd[d + i]!, sm[x * IB + i]!)) i++;
      x = nw[b + N_CHILD + i - 1]!;
    }
    const lw = this.lw, ld = this.ld, members = this.members;
    const b = x * LEAF_W, d = x * LEAF_D;
    const n = lw[b + L_LEN]!;
    for (let i = 0; i < n; i++) {
      const e = lw[b + L_ENT + i]!;
      if (pred(ld[d + i]!, members[e]!)) {
        this.ew[e * 4 + 3] = i;
        return e;
      }
    }
    // Everything in this leaf fails; the next leaf's first element is past the separator that holds.
    const nl = lw[b + L_NEXT]!;
    if (nl === NONE || lw[nl * LEAF_W + L_LEN] === 0) return NIL;
    const e = lw[nl * LEAF_W + L_ENT]!;
    this.ew[e * 4 + 3] = 0;
    return e;
  }

  firstInRange(r: ScoreRange): number {
    if (scoreRangeEmpty(r) || this.length === 0) return NIL;
    const e = this.lowerBound((s) => scoreGteMin(s, r));
    return e !== NIL && scoreLteMax(this.score(e), r) ? e : NIL;
  }

  lastInRange(r: ScoreRange): number {
    if (scoreRangeEmpty(r) || this.length === 0) return NIL;
    const after = this.lowerBound((s) => !scoreLteMax(s, r));
    const e = after === NIL ? this.last() : this.prev(after);
    return e !== NIL && scoreGteMin(this.score(e), r) ? e : NIL;
  }

  firstInLexRange(r: LexRange): number {
    if (lexRangeEmpty(r) || this.length === 0) return NIL;
    const e = this.lowerBound((_s, m) => lexGteMin(m, r));
    return e !== NIL && lexLteMax(this.member(e), r) ? e : NIL;
  }

  lastInLexRange(r: LexRange): number {
    if (lexRangeEmpty(r) || this.length === 0) return NIL;
    const after = this.lowerBound((_s, m) => !lexLteMax(m, r));
    const e = after === NIL ? this.last() : this.prev(after);
    return e !== NIL && lexGteMin(this.member(e), r) ? e : NIL;
  }

  /** Deletes from entry `e` on while `stillIn(e, index)` holds, reporting each member. */
  private deleteFrom(e: number, stillIn: (e: number, index: number) => boolean, removed: RemovedMember): number {
    let count = 0;
    while (e !== NIL && stillIn(e, count)) {
      const next = this.next(e);
      const member = this.members[e]!;
      this.deleteNode(e);
      removed(member);
      count++;
      e = next;
    }
    return count;
  }

  deleteRangeByScore(r: ScoreRange, removed: RemovedMember): number {
    if (this.length === 0) return 0;
    const e = this.lowerBound((s) => scoreGteMin(s, r));
    return this.deleteFrom(e, (x) => scoreLteMax(this.score(x), r), removed);
  }

  deleteRangeByLex(r: LexRange, removed: RemovedMember): number {
    if (this.length === 0) return 0;
    const e = this.lowerBound((_s, m) => lexGteMin(m, r));
    return this.deleteFrom(e, (x) => lexLteMax(this.member(x), r), removed);
  }

  /** Deletes 0-based ranks start..end inclusive (clamped by the caller). */
  deleteRangeByRank(start: number, end: number, removed: RemovedMember): number {
    const count = end - start + 1;
    return this.deleteFrom(this.at(start), (_e, i) => i < count, removed);
  }

  /**
   * Checks every structural invariant (tests): counts, parents, separators, leaf chain, order.
   * Returns the number of inner levels.
   */
  check(): number {
    const fail = (what: string): never => {
      throw new Error(`ztree: ${what}`);
    };
    const lw = this.lw, ld = this.ld, nw = this.nw, nd = this.nd;
    const leaves: number[] = [];
    const walk = (x: number, h: number, parent: number): number => {
      if (h === 0) {
        if (lw[x * LEAF_W + L_PARENT] !== parent) fail('leaf parent');
        const n = lw[x * LEAF_W + L_LEN]!;
        if (n > LB) fail('leaf overfull');
        if (parent !== NONE && n < 1) fail('empty leaf');
        for (let i = 0; i < n; i++) {
          const e = lw[x * LEAF_W + L_ENT + i]!;
          if (this.ew[e * 4 + 2] !== x) fail('entry leaf');
          if (!Object.is(this.ed[e * 2], ld[x * LEAF_D + i])) fail('entry score');
        }
        leaves.push(x);
        return n;
      }
      if (nw[x * NODE_W + N_PARENT] !== parent) fail('node parent');
      const n = nw[x * NODE_W + N_LEN]!;
      if (n < (parent === NONE ? 2 : 1) || n > IB) fail(`node length ${n}`);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const c = nw[x * NODE_W + N_CHILD + i]!;
        const cnt = walk(c, h - 1, x);
        if (cnt !== nw[x * NODE_W + N_COUNT + i]) fail('count');
        total += cnt;
      }
      return total;
    };
    const total = walk(this.root, this.height, NONE);
    if (total !== this.length) fail('length');
    // The leaf chain is the leaves in order.
    let l = this.headLeaf, prev = NONE, k = 0;
    while (l !== NONE) {
      if (l !== leaves[k++]) fail('leaf chain');
      if (lw[l * LEAF_W + L_PREV] !== prev) fail('leaf back link');
      prev = l;
      l = lw[l * LEAF_W + L_NEXT]!;
    }
    if (k !== leaves.length || this.tailLeaf !== prev) fail('leaf chain end');
    // Separators: every element of child i ≥ separator i > every element of child i-1.
    const keyLess = (s1: number, m1: string, s2: number, m2: string): boolean => s1 < s2 || (s1 === s2 && m1 < m2);
    const bounds = (x: number, h: number, lo: [number, string] | null, hi: [number, string] | null): void => {
      if (h === 0) {
        const n = lw[x * LEAF_W + L_LEN]!;
        for (let i = 0; i < n; i++) {
          const e = lw[x * LEAF_W + L_ENT + i]!;
          const s = ld[x * LEAF_D + i]!, m = this.members[e]!;
          if (lo !== null && keyLess(s, m, lo[0], lo[1])) fail('below separator');
          if (hi !== null && !keyLess(s, m, hi[0], hi[1])) fail('above separator');
        }
        return;
      }
      const n = nw[x * NODE_W + N_LEN]!;
      for (let i = 0; i < n; i++) {
        const clo: [number, string] | null = i === 0 ? lo : [nd[x * NODE_D + i]!, this.sepMembers[x * IB + i]!];
        const chi: [number, string] | null = i + 1 < n ? [nd[x * NODE_D + i + 1]!, this.sepMembers[x * IB + i + 1]!] : hi;
        bounds(nw[x * NODE_W + N_CHILD + i]!, h - 1, clo, chi);
      }
    };
    bounds(this.root, this.height, null, null);
    let last: [number, string] | null = null;
    for (let e = this.first(); e !== NIL; e = this.next(e)) {
      const cur: [number, string] = [this.score(e), this.member(e)];
      if (last !== null && !keyLess(last[0], last[1], cur[0], cur[1])) fail('order');
      last = cur;
    }
    return this.height;
  }
}
