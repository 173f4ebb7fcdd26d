/**
 * Property tests of the typed-array skip list itself (src/types/skiplist.ts) against a sorted
 * array, with tiny pages so records fill many pages and land on page boundaries: after any
 * sequence of inserts, deletes, score updates and range deletions, every level's links and spans,
 * the backward links, the tail, the level count, ranks, element-at-rank and range ends agree
 * with the model; records never straddle a page; freed records are reused; a score change keeps
 * the node's address; clones are independent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { SkipList, NIL, SKIPLIST_MAXLEVEL, type ScoreRange } from '../../src/types/skiplist.js';

type Entry = [string, number];

function cmp(a: Entry, b: Entry): number {
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Checks every structural invariant of `l` against the sorted `model`; returns node → rank. */
function check(l: SkipList, model: Entry[], pageShift: number): Map<number, number> {
  const pageSize = 1 << pageShift;
  assert.equal(l.length, model.length);
  const rankOf = new Map<number, number>();
  const order: number[] = [];
  let prev = NIL;
  let maxLevel = 1;
  for (let n = l.first(), r = 1; n !== NIL; n = l.next(n), r++) {
    assert.equal(l.prev(n), prev, 'backward link');
    assert.deepEqual([l.member(n), l.score(n)], model[r - 1], 'order');
    const level = l.levelOf(n);
    assert.ok(level >= 1 && level <= SKIPLIST_MAXLEVEL);
    assert.ok((n & (pageSize - 1)) + 2 + level <= pageSize, 'record straddles a page');
    maxLevel = Math.max(maxLevel, level);
    rankOf.set(n, r);
    order.push(n);
    prev = n;
  }
  assert.equal(order.length, model.length);
  assert.equal(l.last(), prev, 'tail');
  assert.equal(l.level, maxLevel, 'level');
  // Each level: the nodes with that many levels, in order, and spans = rank differences.
  for (let i = 0; i < SKIPLIST_MAXLEVEL; i++) {
    const expected = order.filter((n) => l.levelOf(n) > i);
    let x = NIL;
    let rank = 0;
    const seen: number[] = [];
    for (let f = l.forward(x, i); f !== NIL; f = l.forward(x, i)) {
      const r = rankOf.get(f)!;
      assert.equal(l.span(x, i), r - rank, `span at level ${i}`);
      seen.push(f);
      x = f;
      rank = r;
    }
    assert.deepEqual(seen, expected, `links at level ${i}`);
    // As in Redis, the last link of a level in use spans to one past the end.
    if (i < l.level) assert.equal(l.span(x, i), model.length - rank, `last span at level ${i}`);
  }
  return rankOf;
}

const member = fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', '\x00', '\xff') });
const score = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(-Infinity, Infinity, 0.5, -0.5));
type Op =
  | { kind: 'set'; member: string; score: number }
  | { kind: 'del'; member: string }
  | { kind: 'delScore'; range: ScoreRange }
  | { kind: 'delRank'; a: number; b: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), member, score }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('del' as const), member }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delScore' as const), range: fc.record({ min: score, max: score, minex: fc.boolean(), maxex: fc.boolean() }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delRank' as const), a: fc.nat(30), b: fc.nat(30) }) },
);

function inScore(s: number, r: ScoreRange): boolean {
  return (r.minex ? s > r.min : s >= r.min) && (r.maxex ? s < r.max : s <= r.max);
}

/** Applies `ops` to a list and a Map model, checking each step's effect. */
function run(ops: Op[], pageShift: number): { l: SkipList; nodes: Map<string, number>; model: Map<string, number> } {
  const l = new SkipList(pageShift);
  const nodes = new Map<string, number>();
  const model = new Map<string, number>();
  for (const o of ops) {
    if (o.kind === 'set') {
      const n = nodes.get(o.member);
      if (n === undefined) {
        nodes.set(o.member, l.insert(o.score, o.member));
      } else {
        // with and without the caller's copy of the member
        l.updateScore(n, o.score, o.member.length % 2 === 0 ? o.member : null);
        assert.equal(l.score(n), o.score);
        assert.equal(l.member(n), o.member, 'a score change keeps the node');
      }
      model.set(o.member, o.score);
    } else if (o.kind === 'del') {
      const n = nodes.get(o.member);
      if (n !== undefined) {
        l.deleteNode(n, o.member.length % 2 === 1 ? o.member : null);
        nodes.delete(o.member);
        model.delete(o.member);
      }
    } else if (o.kind === 'delScore') {
      const gone: string[] = [];
      const count = l.deleteRangeByScore(o.range, (m) => gone.push(m));
      const expected = [...model].sort(cmp).filter(([, s]) => inScore(s, o.range)).map(([m]) => m);
      assert.deepEqual(gone, expected);
      assert.equal(count, expected.length);
      for (const m of gone) {
        nodes.delete(m);
        model.delete(m);
      }
    } else {
      const sorted = [...model].sort(cmp);
      const start = Math.min(o.a, o.b) + 1;
      const end = Math.min(Math.max(o.a, o.b) + 1, sorted.length);
      if (start > end) continue;
      const gone: string[] = [];
      assert.equal(l.deleteRangeByRank(start, end, (m) => gone.push(m)), end - start + 1);
      assert.deepEqual(gone, sorted.slice(start - 1, end).map(([m]) => m));
      for (const m of gone) {
        nodes.delete(m);
        model.delete(m);
      }
    }
  }
  return { l, nodes, model };
}

describe('SkipList (typed-array records)', () => {
  for (const pageShift of [6, 7, 16]) {
    it(`keeps links, spans, ranks and range ends like a sorted array (pages of 2^${pageShift})`, () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 150 }), score, score, (ops, lo, hi) => {
          const { l, nodes, model } = run(ops, pageShift);
          const sorted = [...model].sort(cmp);
          const rankOf = check(l, sorted, pageShift);
          sorted.forEach(([m, s], i) => {
            assert.equal(l.rank(s, m), i + 1);
            assert.equal(rankOf.get(nodes.get(m)!), i + 1);
            assert.equal(l.byRank(i + 1), nodes.get(m));
          });
          assert.equal(l.byRank(sorted.length + 1), NIL);
          assert.equal(l.rank(lo, 'zzzz'), 0);
          const range = { min: Math.min(lo, hi), max: Math.max(lo, hi), minex: false, maxex: lo === hi };
          const inR = sorted.filter(([, s]) => inScore(s, range));
          const name = (n: number): string | undefined => (n === NIL ? undefined : l.member(n));
          assert.equal(name(l.firstInRange(range)), inR[0]?.[0]);
          assert.equal(name(l.lastInRange(range)), inR[inR.length - 1]?.[0]);
        }),
      );
    });
  }

  it('spreads records over many small pages without straddling', () => {
    const l = new SkipList(6);
    const model: Entry[] = [];
    // 20000 members: many record pages, and more than one page of members (8192 slots each)
    for (let i = 0; i < 20000; i++) {
      const m = `m${i}`;
      const s = (i * 7919) % 1000;
      l.insert(s, m);
      model.push([m, s]);
    }
    model.sort(cmp);
    assert.ok(l.pageCount > 500, `only ${l.pageCount} pages`);
    check(l, model, 6);
  });

  it('keeps tall records (2+ levels) in pages of their own once the first page is full, through churn and clones', () => {
    const shift = 8;
    const l = new SkipList(shift);
    const live = new Map<string, number>();
    for (let i = 0; i < 4000; i++) live.set(`m${i}`, l.insert((i * 7919) % 1000, `m${i}`));
    // churn: deletes, moves and inserts reuse records of the same level
    for (let i = 0; i < 4000; i += 3) {
      l.deleteNode(live.get(`m${i}`)!);
      live.delete(`m${i}`);
    }
    for (let i = 1; i < 4000; i += 3) l.updateScore(live.get(`m${i}`)!, -i);
    const c = l.clone();
    for (let i = 4000; i < 6000; i++) {
      live.set(`m${i}`, l.insert(i % 500, `m${i}`));
      c.insert(i % 500, `m${i}`);
    }
    for (const list of [l, c]) {
      const tall = new Map<number, boolean>();
      let pages = 0;
      for (let n = list.first(); n !== NIL; n = list.next(n)) {
        const page = n >>> shift;
        if (page === 0) continue;
        const isTall = list.levelOf(n) >= 2;
        const seen = tall.get(page);
        if (seen === undefined) {
          tall.set(page, isTall);
          pages++;
        } else assert.equal(seen, isTall, `page ${page} mixes tall and short records`);
      }
      assert.ok([...tall.values()].includes(true) && [...tall.values()].includes(false), `${pages} pages`);
    }
    check(l, [...live.keys()].map((m): Entry => [m, l.score(live.get(m)!)]).sort(cmp), shift);
  });

  it('reuses a freed record for the next insert of the same level', () => {
    const l = new SkipList(6);
    const nodes: number[] = [];
    for (let i = 0; i < 200; i++) nodes.push(l.insert(i, `m${i}`));
    for (const victim of [nodes[17]!, nodes[42]!, nodes[150]!]) {
      const level = l.levelOf(victim);
      l.deleteNode(victim);
      let reused = NIL;
      for (let i = 0; reused === NIL && i < 10_000; i++) {
        const n = l.insert(1000 + i, `v${victim}-${i}`);
        if (l.levelOf(n) === level) reused = n;
      }
      assert.equal(reused, victim);
    }
  });

  it('keeps its storage bounded under delete/insert churn and score updates', () => {
    const l = new SkipList(8);
    const live = new Map<string, number>();
    for (let i = 0; i < 1000; i++) live.set(`m${i}`, l.insert(i, `m${i}`));
    const pages = l.pageCount;
    for (let round = 0; round < 20; round++) {
      for (let i = round % 2; i < 1000; i += 2) {
        const m = `m${i}`;
        l.deleteNode(live.get(m)!);
        live.set(m, l.insert(i + round, m));
      }
      for (const [m, n] of live) {
        l.updateScore(n, (l.score(n) * 31 + round) % 997);
        assert.equal(live.get(m), n);
      }
    }
    assert.ok(l.pageCount <= Math.ceil(pages * 1.25), `${pages} pages grew to ${l.pageCount}`);
    check(l, [...live.keys()].map((m): Entry => [m, l.score(live.get(m)!)]).sort(cmp), 8);
  });

  it('updates a score in place when the order allows, and moves the same record otherwise', () => {
    const l = new SkipList(6);
    const a = l.insert(1, 'a');
    const b = l.insert(2, 'b');
    const c = l.insert(3, 'c');
    l.updateScore(b, 2.5);
    assert.deepEqual([l.first(), l.next(a), l.next(b)], [a, b, c]);
    l.updateScore(b, 0);
    assert.deepEqual([l.first(), l.next(b), l.next(a), l.last()], [b, a, c, c]);
    l.updateScore(b, 3); // a tie with c: member order puts b first
    assert.deepEqual([l.first(), l.next(a), l.next(b), l.last()], [a, b, c, c]);
    l.updateScore(a, 9);
    assert.deepEqual([l.first(), l.next(b), l.next(c), l.last(), l.prev(a)], [b, c, a, a, c]);
  });

  it('clones independently, at the same addresses', () => {
    const l = new SkipList(6);
    const nodes: number[] = [];
    for (let i = 0; i < 300; i++) nodes.push(l.insert(i % 17, `m${i}`));
    const before: Entry[] = [];
    for (let n = l.first(); n !== NIL; n = l.next(n)) before.push([l.member(n), l.score(n)]);
    const c = l.clone();
    for (let i = 0; i < 300; i += 3) c.deleteNode(nodes[i]!);
    for (let i = 1; i < 300; i += 3) c.updateScore(nodes[i]!, -i);
    c.insert(5, 'new');
    check(l, before, 6);
    const expected = new Map(before);
    for (let i = 0; i < 300; i += 3) expected.delete(`m${i}`);
    for (let i = 1; i < 300; i += 3) expected.set(`m${i}`, -i);
    expected.set('new', 5);
    check(c, [...expected].sort(cmp), 6);
    // the original still grows on its own
    l.insert(100, 'x');
    assert.equal(c.rank(100, 'x'), 0);
  });
});
