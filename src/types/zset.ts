/**
 * A sorted set value: a member → score Map for O(1) ZSCORE/membership, and a skip list with
 * spans (skiplist.ts) for order, rank and range queries in O(log n) — Redis's `zset` struct.
 *
 * Redis keeps small sorted sets in a listpack and converts them to skiplist+dict once they hold
 * more than zset-max-listpack-entries members or a member longer than zset-max-listpack-value
 * bytes; the conversion is one-way except where Redis rebuilds a result (ZUNIONSTORE,
 * ZRANGESTORE…). nodis always uses the skip list (a JS listpack would save memory but not
 * time), and tracks the encoding Redis would report, with the same conversion points, so
 * OBJECT ENCODING, ZSCAN's single-call answer for small sets and the RDB writer agree with Redis.
 */
import type { DigestSink, TypedValue } from './value.js';
import { formatDouble } from '../protocol/format.js';
import {
  SkipList,
  type SkipNode,
  type ScoreRange,
  type LexRange,
} from './skiplist.js';

export type { ScoreRange, LexRange, LexBound, SkipNode } from './skiplist.js';

/** zset-max-listpack-entries / zset-max-listpack-value, read from the config by callers. */
export interface ZsetLimits {
  maxEntries: number;
  maxValue: number;
}

export class ZSet implements TypedValue {
  readonly type = 'zset' as const;
  /** member → score. */
  readonly scores = new Map<string, number>();
  readonly list = new SkipList();
  /** True while Redis would still hold this set as a listpack. */
  private compact: boolean;

  constructor(compact = true) {
    this.compact = compact;
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
    return this.scores.size;
  }

  clone(): ZSet {
    const z = new ZSet(this.compact);
    for (let n = this.list.first(); n !== null; n = n.next) z.insertNew(n.member, n.score);
    return z;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /**
   * Adds a member known to be absent. With `limits`, converts to the skiplist encoding first
   * if the set would outgrow the listpack (zsetAdd's check before zzlInsert).
   */
  insertNew(member: string, score: number, limits?: ZsetLimits): void {
    if (limits !== undefined && this.compact &&
        (this.scores.size + 1 > limits.maxEntries || member.length > limits.maxValue)) {
      this.compact = false;
    }
    // A listpack stores -0 as the integer 0, so a compact set never holds -0.
    if (this.compact && score === 0) score = 0;
    this.scores.set(member, score);
    this.list.insert(score, member);
  }

  /** Changes an existing member's score. */
  setScore(member: string, current: number, score: number): void {
    if (this.compact && score === 0) score = 0;
    if (Object.is(current, score)) return;
    this.list.updateScore(current, member, score);
    this.scores.set(member, score);
  }

  /** Adds or updates; returns true when the member is new. */
  set(member: string, score: number, limits?: ZsetLimits): boolean {
    const current = this.scores.get(member);
    if (current === undefined) {
      this.insertNew(member, score, limits);
      return true;
    }
    this.setScore(member, current, score);
    return false;
  }

  /** Removes a member; false if it was not there. */
  remove(member: string): boolean {
    const score = this.scores.get(member);
    if (score === undefined) return false;
    this.scores.delete(member);
    this.list.delete(score, member);
    return true;
  }

  /** 0-based rank (from the highest score when `reverse`), or -1 when absent. */
  rank(member: string, reverse = false): number {
    const score = this.scores.get(member);
    if (score === undefined) return -1;
    const r = this.list.rank(score, member);
    return reverse ? this.list.length - r : r - 1;
  }

  /** The node at 0-based rank, counting from the lowest score. */
  at(rank: number): SkipNode | null {
    return this.list.byRank(rank + 1);
  }

  first(): SkipNode | null {
    return this.list.first();
  }

  last(): SkipNode | null {
    return this.list.last();
  }

  firstInRange(r: ScoreRange): SkipNode | null {
    return this.list.firstInRange(r);
  }

  lastInRange(r: ScoreRange): SkipNode | null {
    return this.list.lastInRange(r);
  }

  firstInLexRange(r: LexRange): SkipNode | null {
    return this.list.firstInLexRange(r);
  }

  lastInLexRange(r: LexRange): SkipNode | null {
    return this.list.lastInLexRange(r);
  }

  /** 0-based rank of a node that is in the set. */
  rankOf(n: SkipNode): number {
    return this.list.rank(n.score, n.member) - 1;
  }

  deleteRangeByScore(r: ScoreRange): number {
    return this.list.deleteRangeByScore(r, this.forget);
  }

  deleteRangeByLex(r: LexRange): number {
    return this.list.deleteRangeByLex(r, this.forget);
  }

  /** Deletes 0-based ranks start..end inclusive (already clamped by the caller). */
  deleteRangeByRank(start: number, end: number): number {
    return this.list.deleteRangeByRank(start + 1, end + 1, this.forget);
  }

  private readonly forget = (n: SkipNode): void => {
    this.scores.delete(n.member);
  };

  /**
   * After building a result set (ZUNIONSTORE, ZDIFFSTORE…) Redis shrinks it back to a listpack
   * when it is small enough (zsetConvertToListpackIfNeeded).
   */
  convertToCompactIfFits(limits: ZsetLimits): void {
    if (this.compact) return;
    if (this.scores.size > limits.maxEntries) return;
    for (const m of this.scores.keys()) if (m.length > limits.maxValue) return;
    this.compact = true;
    for (let n = this.list.first(); n !== null; n = n.next) {
      if (Object.is(n.score, -0)) {
        n.score = 0;
        this.scores.set(n.member, 0);
      }
    }
  }

  /** Forces the encoding Redis would report (RDB loading, DEBUG-style conversions). */
  setCompact(compact: boolean): void {
    this.compact = compact;
  }

  /** DEBUG DIGEST: member and score (as %.17g) form one unordered element (xorObjectDigest). */
  digest(sink: DigestSink): void {
    for (let n = this.list.first(); n !== null; n = n.next) sink.unordered(n.member, formatDouble(n.score));
  }

  /** Members in order with their scores (lowest first). */
  *entries(): IterableIterator<[string, number]> {
    for (let n = this.list.first(); n !== null; n = n.next) yield [n.member, n.score];
  }
}

/** Type guard for sorted-set values. */
export function isZSet(v: unknown): v is ZSet {
  return v instanceof ZSet;
}
