/**
 * A sorted set value: a member → node Map for O(1) ZSCORE/membership, and an order-statistic
 * B+tree (ztree.ts) for order, rank and range queries in O(log n) — Redis's `zset` struct with
 * the skip list replaced (zset18: a ZADD that moves a member of a 100k-member set reads ~4 tree
 * nodes of adjacent scores instead of ~56 scattered skip list records; skiplist.ts stays as the
 * tests' reference). The Map holds each member's node (a small integer entry id, stable for
 * the member's life), not its score: scores live only in the tree's typed arrays, so updating
 * one allocates nothing and the Map never changes. Callers walk the order with nodes
 * (`first()`, `next(n)`, `member(n)`, `nodeScore(n)`, NIL = none), valid until that member is
 * removed.
 *
 * Redis keeps small sorted sets in a listpack and converts them to skiplist+dict once they hold
 * more than zset-max-listpack-entries members or a member longer than zset-max-listpack-value
 * bytes; the conversion is one-way except where Redis rebuilds a result (ZUNIONSTORE,
 * ZRANGESTORE…). nodis always uses the tree (a JS listpack would save memory but not
 * time), and tracks the encoding Redis would report, with the same conversion points, so
 * OBJECT ENCODING, ZSCAN's single-call answer for small sets and the RDB writer agree with Redis.
 */
import type { DigestSink, TypedValue } from './value.js';
import { formatDouble } from '../protocol/format.js';
import { NIL, type ScoreRange, type LexRange } from './skiplist.js';
import { ZTree } from './ztree.js';

export type { ScoreRange, LexRange, LexBound } from './skiplist.js';
export { NIL } from './skiplist.js';

/**
 * A node of a sorted set: an entry id in its tree (NIL = none). Valid until the
 * member is removed; read it through the ZSet (`member(n)`, `nodeScore(n)`, `next(n)`…).
 */
export type ZNode = number;

/** zset-max-listpack-entries / zset-max-listpack-value, read from the config by callers. */
export interface ZsetLimits {
  maxEntries: number;
  maxValue: number;
}

export class ZSet implements TypedValue {
  readonly type = 'zset' as const;
  /**
   * member → its node in `list`. Node addresses are small integers (Smis), so a score update
   * never touches the Map, and the score itself lives unboxed in the list.
   */
  private index: Map<string, ZNode>;
  /** The order (read-only for callers; replaced only by clone()). */
  list: ZTree;
  /** True while Redis would still hold this set as a listpack. */
  private compact: boolean;

  constructor(compact = true) {
    this.compact = compact;
    this.index = new Map();
    this.list = new ZTree();
  }

  /** A new, empty set encoded as Redis would for a first member of `firstMemberLength` bytes. */
  static forFirstMember(limits: ZsetLimits, firstMemberLength: number): ZSet {
    return new ZSet(limits.maxEntries !== 0 && firstMemberLength <= limits.maxValue);
  }

  encoding(): string {
    return this.compact ? 'listpack' : 'skiplist';
  }

  /** True while the set is listpack-encoded in Redis's terms. */
  get isCompact(): boolean {
    return this.compact;
  }

  size(): number {
    return this.index.size;
  }

  /** A copy sharing nothing: the tree's arrays are copied whole, so nodes carry over. */
  clone(): ZSet {
    const z = new ZSet(this.compact);
    z.index = new Map(this.index);
    z.list = this.list.clone();
    return z;
  }

  score(member: string): number | undefined {
    const n = this.index.get(member);
    return n === undefined ? undefined : this.list.score(n);
  }

  /** The member's node, or NIL when absent. */
  find(member: string): ZNode {
    return this.index.get(member) ?? NIL;
  }

  /** True when the member is in the set. */
  has(member: string): boolean {
    return this.index.has(member);
  }

  // ---- nodes ------------------------------------------------------------------------------------

  member(n: ZNode): string {
    return this.list.member(n);
  }

  nodeScore(n: ZNode): number {
    return this.list.score(n);
  }

  /** The node after `n` in order (NIL at the end). */
  next(n: ZNode): ZNode {
    return this.list.next(n);
  }

  /** The node before `n` in order (NIL at the start). */
  prev(n: ZNode): ZNode {
    return this.list.prev(n);
  }

  // ---- writes -----------------------------------------------------------------------------------

  /**
   * Adds a member known to be absent. With `limits`, converts to the skiplist encoding first
   * if the set would outgrow the listpack (zsetAdd's check before zzlInsert).
   */
  insertNew(member: string, score: number, limits?: ZsetLimits): void {
    if (limits !== undefined && this.compact &&
        (this.index.size + 1 > limits.maxEntries || member.length > limits.maxValue)) {
      this.compact = false;
    }
    // A listpack stores -0 as the integer 0, so a compact set never holds -0.
    if (this.compact && score === 0) score = 0;
    this.index.set(member, this.list.insert(score, member));
  }

  /**
   * Changes the score of node `n` (a member of this set); the node keeps its address. Pass the
   * member when at hand (it saves the list reading it back on score ties).
   */
  setNodeScore(n: ZNode, score: number, member: string | null = null): void {
    if (this.compact && score === 0) score = 0;
    if (Object.is(this.list.score(n), score)) return;
    this.list.updateScore(n, score, member);
  }

  /** Adds or updates; returns true when the member is new. */
  set(member: string, score: number, limits?: ZsetLimits): boolean {
    const n = this.index.get(member);
    if (n === undefined) {
      this.insertNew(member, score, limits);
      return true;
    }
    this.setNodeScore(n, score, member);
    return false;
  }

  /** Removes node `n` (found by first(), last() or find()), whose member is `member`. */
  removeNode(n: ZNode, member: string): void {
    this.index.delete(member);
    this.list.deleteNode(n, member);
  }

  /** Removes a member; false if it was not there. */
  remove(member: string): boolean {
    const n = this.index.get(member);
    if (n === undefined) return false;
    this.index.delete(member);
    this.list.deleteNode(n, member);
    return true;
  }

  // ---- order ------------------------------------------------------------------------------------

  /** 0-based rank (from the highest score when `reverse`), or -1 when absent. */
  rank(member: string, reverse = false): number {
    const n = this.index.get(member);
    if (n === undefined) return -1;
    const r = this.list.rankOf(n);
    return reverse ? this.list.length - 1 - r : r;
  }

  /** The node at 0-based rank, counting from the lowest score (NIL past the end). */
  at(rank: number): ZNode {
    return this.list.at(rank);
  }

  first(): ZNode {
    return this.list.first();
  }

  last(): ZNode {
    return this.list.last();
  }

  firstInRange(r: ScoreRange): ZNode {
    return this.list.firstInRange(r);
  }

  lastInRange(r: ScoreRange): ZNode {
    return this.list.lastInRange(r);
  }

  firstInLexRange(r: LexRange): ZNode {
    return this.list.firstInLexRange(r);
  }

  lastInLexRange(r: LexRange): ZNode {
    return this.list.lastInLexRange(r);
  }

  /** 0-based rank of a node that is in the set. */
  rankOf(n: ZNode): number {
    return this.list.rankOf(n);
  }

  deleteRangeByScore(r: ScoreRange): number {
    return this.list.deleteRangeByScore(r, (m) => this.index.delete(m));
  }

  deleteRangeByLex(r: LexRange): number {
    return this.list.deleteRangeByLex(r, (m) => this.index.delete(m));
  }

  /** Deletes 0-based ranks start..end inclusive (already clamped by the caller). */
  deleteRangeByRank(start: number, end: number): number {
    return this.list.deleteRangeByRank(start, end, (m) => this.index.delete(m));
  }

  /**
   * After building a result set (ZUNIONSTORE, ZDIFFSTORE…) Redis shrinks it back to a listpack
   * when it is small enough (zsetConvertToListpackIfNeeded).
   */
  convertToCompactIfFits(limits: ZsetLimits): void {
    if (this.compact) return;
    if (this.index.size > limits.maxEntries) return;
    for (const m of this.index.keys()) if (m.length > limits.maxValue) return;
    this.compact = true;
    // -0 and 0 compare equal, so the node keeps its place.
    for (let n = this.list.first(); n !== NIL; n = this.list.next(n)) {
      if (Object.is(this.list.score(n), -0)) this.list.setScoreInPlace(n, 0);
    }
  }

  /** Forces the encoding Redis would report (RDB loading, DEBUG-style conversions). */
  setCompact(compact: boolean): void {
    this.compact = compact;
  }

  /** DEBUG DIGEST: member and score (as %.17g) form one unordered element (xorObjectDigest). */
  digest(sink: DigestSink): void {
    const l = this.list;
    for (let n = l.first(); n !== NIL; n = l.next(n)) sink.unordered(l.member(n), formatDouble(l.score(n)));
  }

  /** Members in order with their scores (lowest first). */
  *entries(): IterableIterator<[string, number]> {
    const l = this.list;
    for (let n = l.first(); n !== NIL; n = l.next(n)) yield [l.member(n), l.score(n)];
  }

  /** Members in insertion (hash) order: what Redis's dict iteration gives SORT and ZSCAN. */
  members(): IterableIterator<string> {
    return this.index.keys();
  }

  /**
   * [member, score] in insertion order, live: a member added or removed while it is open is
   * seen or skipped as a Map iterator does (ZSCAN keeps one across calls).
   */
  *memberScores(): IterableIterator<[string, number]> {
    for (const [m, n] of this.index) yield [m, this.list.score(n)];
  }
}

/** Type guard for sorted-set values. */
export function isZSet(v: unknown): v is ZSet {
  return v instanceof ZSet;
}
