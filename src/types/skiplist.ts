/**
 * The ordered half of a sorted set: a skip list with spans, as Redis's zskiplist (t_zset.c),
 * after William Pugh's paper. Elements are ordered by score, then by member bytes (members are
 * latin1 strings, so JS string comparison is memcmp order). Each forward link records how many
 * elements it skips (its span), which makes rank lookups and "element at rank" O(log n), and each
 * node keeps a backward link so reverse iteration is O(1) per step.
 *
 * The list holds no member → score index; ZSet (zset.ts) pairs it with a Map for that.
 */

/** Most levels a node can have: enough for 2^64 elements with P = 1/4. */
export const SKIPLIST_MAXLEVEL = 32;
/** Probability of a node reaching the next level. */
const SKIPLIST_P = 0.25;

export class SkipNode {
  /** Next node at each level (null at the end). */
  readonly forward: (SkipNode | null)[];
  /** Elements skipped by each forward link (a link to the next node has span 1). */
  readonly span: number[];
  backward: SkipNode | null = null;

  constructor(
    level: number,
    public score: number,
    public readonly member: string,
  ) {
    this.forward = new Array<SkipNode | null>(level).fill(null);
    this.span = new Array<number>(level).fill(0);
  }

  /** The next node in order (level 0), or null. */
  get next(): SkipNode | null {
    return this.forward[0]!;
  }
}

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

/** Order of (score, member) pairs: score first, then member bytes. */
function before(score: number, member: string, node: SkipNode): boolean {
  return node.score < score || (node.score === score && node.member < member);
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

export class SkipList {
  readonly header = new SkipNode(SKIPLIST_MAXLEVEL, 0, '');
  tail: SkipNode | null = null;
  length = 0;
  level = 1;

  /** First node in order, or null. */
  first(): SkipNode | null {
    return this.header.forward[0]!;
  }

  last(): SkipNode | null {
    return this.tail;
  }

  /** Inserts a new element; the caller guarantees the member is not already present. */
  insert(score: number, member: string): SkipNode {
    const update = new Array<SkipNode>(SKIPLIST_MAXLEVEL);
    const rank = new Array<number>(SKIPLIST_MAXLEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1]!;
      let f = x.forward[i]!;
      while (f !== null && before(score, member, f)) {
        rank[i]! += x.span[i]!;
        x = f;
        f = x.forward[i]!;
      }
      update[i] = x;
    }
    const level = randomLevel();
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.header;
        this.header.span[i] = this.length;
      }
      this.level = level;
    }
    const node = new SkipNode(level, score, member);
    for (let i = 0; i < level; i++) {
      const u = update[i]!;
      node.forward[i] = u.forward[i]!;
      u.forward[i] = node;
      node.span[i] = u.span[i]! - (rank[0]! - rank[i]!);
      u.span[i] = rank[0]! - rank[i]! + 1;
    }
    for (let i = level; i < this.level; i++) update[i]!.span[i]!++;
    node.backward = update[0] === this.header ? null : update[0]!;
    if (node.forward[0] !== null) node.forward[0]!.backward = node;
    else this.tail = node;
    this.length++;
    return node;
  }

  /** Unlinks `x`, given for each level the last node before it. */
  private unlink(x: SkipNode, update: SkipNode[]): void {
    for (let i = 0; i < this.level; i++) {
      const u = update[i]!;
      if (u.forward[i] === x) {
        u.span[i]! += x.span[i]! - 1;
        u.forward[i] = x.forward[i]!;
      } else {
        u.span[i]!--;
      }
    }
    const next = x.forward[0]!;
    if (next !== null) next.backward = x.backward;
    else this.tail = x.backward;
    while (this.level > 1 && this.header.forward[this.level - 1] === null) this.level--;
    this.length--;
  }

  /** The per-level predecessors of (score, member). */
  private findUpdate(score: number, member: string): SkipNode[] {
    const update = new Array<SkipNode>(SKIPLIST_MAXLEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && before(score, member, f)) {
        x = f;
        f = x.forward[i]!;
      }
      update[i] = x;
    }
    return update;
  }

  /** Deletes the element (score, member); false if it is not there. */
  delete(score: number, member: string): boolean {
    const update = this.findUpdate(score, member);
    const x = update[0]!.forward[0]!;
    if (x === null || x.score !== score || x.member !== member) return false;
    this.unlink(x, update);
    return true;
  }

  /**
   * Changes an element's score. When the node stays in place only the score is written;
   * otherwise it is removed and re-inserted (zslUpdateScore).
   */
  updateScore(current: number, member: string, score: number): SkipNode {
    const update = this.findUpdate(current, member);
    const x = update[0]!.forward[0]!;
    if (x === null || x.score !== current || x.member !== member) throw new Error('skiplist: element to update not found');
    const prev = x.backward;
    const next = x.forward[0]!;
    if ((prev === null || prev.score < score || (prev.score === score && prev.member < member)) &&
        (next === null || next.score > score || (next.score === score && next.member > member))) {
      x.score = score;
      return x;
    }
    this.unlink(x, update);
    return this.insert(score, member);
  }

  /** 1-based rank of (score, member), or 0 when absent. */
  rank(score: number, member: string): number {
    let rank = 0;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && (f.score < score || (f.score === score && f.member <= member))) {
        rank += x.span[i]!;
        x = f;
        f = x.forward[i]!;
      }
      if (x !== this.header && x.member === member && x.score === score) return rank;
    }
    return 0;
  }

  /** The node at 1-based `rank`, or null. */
  byRank(rank: number): SkipNode | null {
    let traversed = 0;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && traversed + x.span[i]! <= rank) {
        traversed += x.span[i]!;
        x = f;
        f = x.forward[i]!;
      }
      if (traversed === rank) return x === this.header ? null : x;
    }
    return null;
  }

  private inScoreRange(r: ScoreRange): boolean {
    if (scoreRangeEmpty(r)) return false;
    const last = this.tail;
    if (last === null || !scoreGteMin(last.score, r)) return false;
    const first = this.first();
    return first !== null && scoreLteMax(first.score, r);
  }

  /** First node with a score in range, or null. */
  firstInRange(r: ScoreRange): SkipNode | null {
    if (!this.inScoreRange(r)) return null;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && !scoreGteMin(f.score, r)) {
        x = f;
        f = x.forward[i]!;
      }
    }
    const n = x.forward[0]!;
    return n !== null && scoreLteMax(n.score, r) ? n : null;
  }

  /** Last node with a score in range, or null. */
  lastInRange(r: ScoreRange): SkipNode | null {
    if (!this.inScoreRange(r)) return null;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && scoreLteMax(f.score, r)) {
        x = f;
        f = x.forward[i]!;
      }
    }
    return x !== this.header && scoreGteMin(x.score, r) ? x : null;
  }

  private inLexRange(r: LexRange): boolean {
    if (lexRangeEmpty(r)) return false;
    const last = this.tail;
    if (last === null || !lexGteMin(last.member, r)) return false;
    const first = this.first();
    return first !== null && lexLteMax(first.member, r);
  }

  firstInLexRange(r: LexRange): SkipNode | null {
    if (!this.inLexRange(r)) return null;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && !lexGteMin(f.member, r)) {
        x = f;
        f = x.forward[i]!;
      }
    }
    const n = x.forward[0]!;
    return n !== null && lexLteMax(n.member, r) ? n : null;
  }

  lastInLexRange(r: LexRange): SkipNode | null {
    if (!this.inLexRange(r)) return null;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && lexLteMax(f.member, r)) {
        x = f;
        f = x.forward[i]!;
      }
    }
    return x !== this.header && lexGteMin(x.member, r) ? x : null;
  }

  /**
   * Deletes consecutive nodes starting after the predecessors in `update` while `keep(node)`
   * holds, calling `removed` for each; returns how many went.
   */
  private deleteRun(update: SkipNode[], stillIn: (n: SkipNode, index: number) => boolean, removed: (n: SkipNode) => void): number {
    let x = update[0]!.forward[0]!;
    let count = 0;
    while (x !== null && stillIn(x, count)) {
      const next = x.forward[0]!;
      this.unlink(x, update);
      removed(x);
      count++;
      x = next;
    }
    return count;
  }

  deleteRangeByScore(r: ScoreRange, removed: (n: SkipNode) => void): number {
    const update = new Array<SkipNode>(SKIPLIST_MAXLEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && !scoreGteMin(f.score, r)) {
        x = f;
        f = x.forward[i]!;
      }
      update[i] = x;
    }
    return this.deleteRun(update, (n) => scoreLteMax(n.score, r), removed);
  }

  deleteRangeByLex(r: LexRange, removed: (n: SkipNode) => void): number {
    const update = new Array<SkipNode>(SKIPLIST_MAXLEVEL);
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && !lexGteMin(f.member, r)) {
        x = f;
        f = x.forward[i]!;
      }
      update[i] = x;
    }
    return this.deleteRun(update, (n) => lexLteMax(n.member, r), removed);
  }

  /** Deletes 1-based ranks start..end inclusive. */
  deleteRangeByRank(start: number, end: number, removed: (n: SkipNode) => void): number {
    const update = new Array<SkipNode>(SKIPLIST_MAXLEVEL);
    let traversed = 0;
    let x = this.header;
    for (let i = this.level - 1; i >= 0; i--) {
      let f = x.forward[i]!;
      while (f !== null && traversed + x.span[i]! < start) {
        traversed += x.span[i]!;
        x = f;
        f = x.forward[i]!;
      }
      update[i] = x;
    }
    const count = end - start + 1;
    return this.deleteRun(update, (_n, i) => i < count, removed);
  }
}
