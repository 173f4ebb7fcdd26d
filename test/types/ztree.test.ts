/**
 * Differential tests of the sorted set's B+tree (src/types/ztree.ts) against a sorted array model
 * and against the skip list it replaced (src/types/skiplist.ts): random inserts, score updates
 * (ties ordered by member bytes), deletes, range deletions by score, lex and rank, on sets large
 * enough for three inner levels; after them every structural invariant (`check()`: counts,
 * parents, separators, the leaf chain), the order both ways, rank ↔ element-at-rank, range ends
 * by score and by lex in both directions, and a clone's independence. Entry ids must stay the
 * element's for its whole life (ZSet's member map holds them).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { ZTree } from '../../src/types/ztree.js';
import { SkipList, NIL, type ScoreRange, type LexRange, type LexBound } from '../../src/types/skiplist.js';

type Entry = [string, number];

function cmp(a: Entry, b: Entry): number {
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function inScore(s: number, r: ScoreRange): boolean {
  return (r.minex ? s > r.min : s >= r.min) && (r.maxex ? s < r.max : s <= r.max);
}

function inLex(m: string, r: LexRange): boolean {
  const geMin = r.min.inf === -1 || (r.min.inf === 0 && (r.min.exclusive ? m > r.min.value : m >= r.min.value));
  const leMax = r.max.inf === 1 || (r.max.inf === 0 && (r.max.exclusive ? m < r.max.value : m <= r.max.value));
  return geMin && leMax && r.min.inf !== 1 && r.max.inf !== -1;
}

/** A deterministic generator (tests must replay). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Tree, its entries by member, and the model, checked against each other. */
class Harness {
  tree = new ZTree();
  ids = new Map<string, number>();
  model = new Map<string, number>();

  set(member: string, score: number, passMember: boolean): void {
    const e = this.ids.get(member);
    if (e === undefined) {
      this.ids.set(member, this.tree.insert(score, member));
    } else {
      this.tree.updateScore(e, score, passMember ? member : null);
      assert.equal(this.ids.get(member), e);
    }
    this.model.set(member, score);
  }

  del(member: string): void {
    const e = this.ids.get(member);
    if (e === undefined) return;
    assert.equal(this.tree.member(e), member);
    this.tree.deleteNode(e);
    this.ids.delete(member);
    this.model.delete(member);
  }

  sorted(): Entry[] {
    return [...this.model].sort(cmp);
  }

  delScore(r: ScoreRange): void {
    const expected = this.sorted().filter((x) => inScore(x[1], r)).map((x) => x[0]);
    const removed: string[] = [];
    const n = this.tree.deleteRangeByScore(r, (m) => removed.push(m));
    assert.deepEqual(removed, expected, 'deleteRangeByScore');
    assert.equal(n, expected.length);
    for (const m of removed) this.forget(m);
  }

  delLex(r: LexRange): void {
    const expected = this.sorted().filter((x) => inLex(x[0], r)).map((x) => x[0]);
    const removed: string[] = [];
    this.tree.deleteRangeByLex(r, (m) => removed.push(m));
    assert.deepEqual(removed, expected, 'deleteRangeByLex');
    for (const m of removed) this.forget(m);
  }

  delRank(start: number, end: number): void {
    const expected = this.sorted().slice(start, end + 1).map((x) => x[0]);
    const removed: string[] = [];
    this.tree.deleteRangeByRank(start, end, (m) => removed.push(m));
    assert.deepEqual(removed, expected, 'deleteRangeByRank');
    for (const m of removed) this.forget(m);
  }

  private forget(m: string): void {
    this.ids.delete(m);
    this.model.delete(m);
  }

  /** Everything the ZSet reads, against the model. */
  verify(ranges: ScoreRange[], lexRanges: LexRange[]): void {
    const t = this.tree;
    t.check();
    const sorted = this.sorted();
    assert.equal(t.length, sorted.length);
    const order: number[] = [];
    for (let e = t.first(); e !== NIL; e = t.next(e)) order.push(e);
    assert.deepEqual(order.map((e) => [t.member(e), t.score(e)]), sorted, 'order');
    const back: number[] = [];
    for (let e = t.last(); e !== NIL; e = t.prev(e)) back.push(e);
    assert.deepEqual(back.reverse(), order, 'reverse order');
    order.forEach((e, r) => {
      assert.equal(e, this.ids.get(t.member(e)), 'entry id kept');
      assert.equal(t.rankOf(e), r, 'rankOf');
      assert.equal(t.at(r), e, 'at');
    });
    assert.equal(t.at(sorted.length), NIL);
    assert.equal(t.at(-1), NIL);
    for (const r of ranges) {
      const sel = sorted.filter((x) => inScore(x[1], r));
      const f = t.firstInRange(r), l = t.lastInRange(r);
      assert.equal(f === NIL ? null : t.member(f), sel.length > 0 ? sel[0]![0] : null, `firstInRange ${JSON.stringify(r)}`);
      assert.equal(l === NIL ? null : t.member(l), sel.length > 0 ? sel[sel.length - 1]![0] : null, `lastInRange ${JSON.stringify(r)}`);
    }
    // Lex ranges are defined when all scores are equal (as in Redis); check them on that subset.
    if (sorted.every((x) => x[1] === sorted[0]![1])) {
      for (const r of lexRanges) {
        const sel = sorted.filter((x) => inLex(x[0], r));
        const f = t.firstInLexRange(r), l = t.lastInLexRange(r);
        assert.equal(f === NIL ? null : t.member(f), sel.length > 0 ? sel[0]![0] : null, 'firstInLexRange');
        assert.equal(l === NIL ? null : t.member(l), sel.length > 0 ? sel[sel.length - 1]![0] : null, 'lastInLexRange');
      }
    }
  }
}

function randomRange(rand: () => number, scores: number): ScoreRange {
  const a = Math.floor(rand() * (scores + 2)) - 1;
  return { min: a, max: a + Math.floor(rand() * 6) - 1, minex: rand() < 0.5, maxex: rand() < 0.5 };
}

function bound(rand: () => number, members: number): LexBound {
  const x = rand();
  if (x < 0.1) return { value: '', inf: -1, exclusive: false };
  if (x < 0.2) return { value: '', inf: 1, exclusive: false };
  return { value: 'm' + Math.floor(rand() * members), inf: 0, exclusive: rand() < 0.5 };
}

/** A random workload: `size` distinct members, scores 0..scores-1, `ops` operations. */
function workload(seed: number, size: number, scores: number, ops: number, deleteShare: number): Harness {
  const rand = rng(seed);
  const h = new Harness();
  const ranges = Array.from({ length: 20 }, () => randomRange(rand, scores));
  const lexRanges = Array.from({ length: 20 }, () => ({ min: bound(rand, size), max: bound(rand, size) }));
  for (let i = 0; i < ops; i++) {
    const member = 'm' + Math.floor(rand() * size);
    const op = rand();
    if (op < deleteShare) h.del(member);
    else if (op < deleteShare + 0.002) h.delScore(randomRange(rand, scores));
    else if (op < deleteShare + 0.004) {
      const start = Math.floor(rand() * (h.model.size + 1));
      const end = Math.min(h.model.size - 1, start + Math.floor(rand() * 40));
      if (start <= end) h.delRank(start, end);
    } else if (op < deleteShare + 0.005 && scores === 1) h.delLex({ min: bound(rand, size), max: bound(rand, size) });
    else h.set(member, Math.floor(rand() * scores), rand() < 0.5);
    if (i % 5000 === 4999) h.verify(ranges, lexRanges);
  }
  h.verify(ranges, lexRanges);
  return h;
}

describe('ZTree against a sorted array', () => {
  it('random inserts, moves and deletes on thousands of members, ties by member', () => {
    for (const [seed, scores] of [[1, 1_000_000], [2, 50], [3, 3]] as const) {
      const h = workload(seed, 20_000, scores, 60_000, 0.2);
      // Few distinct scores: each score range deletion takes a large share of the set.
      if (scores > 1000) assert.ok(h.tree.check() >= 2, 'two inner levels');
      else assert.ok(h.tree.check() >= 1);
    }
  });

  it('heavy deletion from three inner levels: leaves and inner nodes merge and borrow, the root collapses', () => {
    const h = workload(4, 60_000, 1000, 80_000, 0.1);
    assert.equal(h.tree.check(), 3, 'three inner levels');
    const rand = rng(5);
    const members = [...h.model.keys()];
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    for (let i = 0; i < members.length; i++) {
      h.del(members[i]!);
      if (i % 2000 === 0) h.tree.check();
    }
    h.verify([], []);
    assert.equal(h.tree.length, 0);
    assert.equal(h.tree.first(), NIL);
    assert.equal(h.tree.last(), NIL);
  });

  it('all scores equal: lex ranges and deleteRangeByLex', () => {
    workload(6, 3000, 1, 20_000, 0.3);
  });

  it('pops from the low end (ZPOPMIN) and deletes by rank', () => {
    const h = workload(7, 5000, 100_000, 10_000, 0);
    while (h.model.size > 0) {
      const e = h.tree.first();
      h.del(h.tree.member(e));
      if (h.model.size % 1000 === 0) h.tree.check();
    }
    const g = workload(8, 5000, 100_000, 10_000, 0);
    while (g.model.size > 0) g.delRank(Math.floor(g.model.size / 3), Math.floor(g.model.size / 3) + 40 > g.model.size - 1 ? g.model.size - 1 : Math.floor(g.model.size / 3) + 40);
    g.verify([], []);
  });

  it('a clone is independent and keeps entry ids', () => {
    const h = workload(9, 4000, 500, 8000, 0.1);
    const before = h.sorted();
    const copy = h.tree.clone();
    const ids = new Map(h.ids);
    for (let i = 0; i < 2000; i++) h.set('m' + i, i, true);
    for (let i = 2000; i < 3000; i++) h.del('m' + i);
    h.verify([], []);
    copy.check();
    const seen: Entry[] = [];
    for (let e = copy.first(); e !== NIL; e = copy.next(e)) {
      seen.push([copy.member(e), copy.score(e)]);
      assert.equal(ids.get(copy.member(e)), e);
    }
    assert.deepEqual(seen, before);
  });

  it('setScoreInPlace writes the score where the element is', () => {
    const t = new ZTree();
    const a = t.insert(-0, 'a');
    const b = t.insert(1, 'b');
    t.setScoreInPlace(a, 0);
    assert.ok(Object.is(t.score(a), 0));
    t.check();
    assert.equal(t.next(a), b);
  });
});

describe('ZTree against the skip list', () => {
  const member = fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', '\x00', '\xff') });
  const score = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(-Infinity, Infinity, 0.5, -0.5));
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), member, score }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('del' as const), member }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delScore' as const), range: fc.record({ min: score, max: score, minex: fc.boolean(), maxex: fc.boolean() }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delRank' as const), a: fc.nat(30), b: fc.nat(30) }) },
  );

  it('same order, ranks, range ends and removals as the skip list', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.array(fc.record({ min: score, max: score, minex: fc.boolean(), maxex: fc.boolean() }), { maxLength: 8 }), (ops, ranges) => {
        const t = new ZTree();
        const l = new SkipList(6);
        const tn = new Map<string, number>();
        const ln = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            const a = tn.get(o.member);
            if (a === undefined) {
              tn.set(o.member, t.insert(o.score, o.member));
              ln.set(o.member, l.insert(o.score, o.member));
            } else {
              t.updateScore(a, o.score, o.member);
              l.updateScore(ln.get(o.member)!, o.score, o.member);
            }
          } else if (o.kind === 'del') {
            const a = tn.get(o.member);
            if (a !== undefined) {
              t.deleteNode(a);
              l.deleteNode(ln.get(o.member)!);
              tn.delete(o.member);
              ln.delete(o.member);
            }
          } else if (o.kind === 'delScore') {
            const gone: string[] = [];
            const lgone: string[] = [];
            t.deleteRangeByScore(o.range, (m) => gone.push(m));
            l.deleteRangeByScore(o.range, (m) => lgone.push(m));
            assert.deepEqual(gone, lgone);
            for (const m of gone) {
              tn.delete(m);
              ln.delete(m);
            }
          } else {
            const start = Math.min(o.a, o.b), end = Math.min(Math.max(o.a, o.b), t.length - 1);
            if (start > end) continue;
            const gone: string[] = [];
            const lgone: string[] = [];
            t.deleteRangeByRank(start, end, (m) => gone.push(m));
            l.deleteRangeByRank(start + 1, end + 1, (m) => lgone.push(m));
            assert.deepEqual(gone, lgone);
            for (const m of gone) {
              tn.delete(m);
              ln.delete(m);
            }
          }
        }
        t.check();
        assert.equal(t.length, l.length);
        let r = 0;
        for (let a = t.first(), b = l.first(); a !== NIL || b !== NIL; a = t.next(a), b = l.next(b), r++) {
          assert.equal(t.member(a), l.member(b));
          assert.ok(Object.is(t.score(a), l.score(b)));
          assert.equal(t.rankOf(a), l.rank(l.score(b), l.member(b)) - 1);
          assert.equal(t.member(t.at(r)), l.member(l.byRank(r + 1)));
        }
        for (const range of ranges) {
          const f = t.firstInRange(range), g = l.firstInRange(range);
          assert.equal(f === NIL ? null : t.member(f), g === NIL ? null : l.member(g));
          const x = t.lastInRange(range), y = l.lastInRange(range);
          assert.equal(x === NIL ? null : t.member(x), y === NIL ? null : l.member(y));
        }
      }),
      { numRuns: 300 },
    );
  });
});
