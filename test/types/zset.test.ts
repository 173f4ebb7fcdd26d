/**
 * Property tests of the sorted-set structure (skip list with spans + member map) against a
 * plain sorted array: after any sequence of inserts, score updates and deletes, order, ranks,
 * element-at-rank, score and lex range ends and range deletions all agree with the model.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { ZSet, NIL, type ScoreRange, type LexRange, type LexBound } from '../../src/types/zset.js';

type Entry = [string, number];

function cmp(a: Entry, b: Entry): number {
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

function modelOf(m: Map<string, number>): Entry[] {
  return [...m.entries()].sort(cmp);
}

const member = fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', 'c', '\x00', '\xff') });
const score = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(-Infinity, Infinity, 0.5, -0.5));
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), member, score }),
  fc.record({ kind: fc.constant('del' as const), member, score }),
);

function inScore(s: number, r: ScoreRange): boolean {
  return (r.minex ? s > r.min : s >= r.min) && (r.maxex ? s < r.max : s <= r.max);
}
function cmpBound(m: string, b: LexBound): number {
  if (b.inf !== 0) return -b.inf;
  return m < b.value ? -1 : m > b.value ? 1 : 0;
}
function inLex(m: string, r: LexRange): boolean {
  const a = cmpBound(m, r.min);
  const b = cmpBound(m, r.max);
  return (r.min.exclusive ? a > 0 : a >= 0) && (r.max.exclusive ? b < 0 : b <= 0);
}

const scoreRange = fc.record({ min: score, max: score, minex: fc.boolean(), maxex: fc.boolean() });
const lexBound: fc.Arbitrary<LexBound> = fc.oneof(
  fc.record({ value: member, inf: fc.constant(0 as const), exclusive: fc.boolean() }),
  fc.constantFrom<LexBound>({ value: '', inf: -1, exclusive: true }, { value: '', inf: 1, exclusive: true }),
);
const lexRange = fc.record({ min: lexBound, max: lexBound });

function build(ops: { kind: 'set' | 'del'; member: string; score: number }[]): { z: ZSet; m: Map<string, number> } {
  const z = new ZSet();
  const m = new Map<string, number>();
  for (const o of ops) {
    if (o.kind === 'set') {
      z.set(o.member, o.score, { maxEntries: 4, maxValue: 2 });
      m.set(o.member, o.score);
    } else {
      assert.equal(z.remove(o.member), m.delete(o.member));
    }
  }
  return { z, m };
}

describe('ZSet structure', () => {
  it('keeps order, ranks and element-at-rank like a sorted array', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const { z, m } = build(ops);
        const model = modelOf(m);
        assert.deepEqual([...z.entries()], model);
        assert.equal(z.size(), model.length);
        model.forEach(([mem], i) => {
          assert.equal(z.rank(mem), i);
          assert.equal(z.rank(mem, true), model.length - 1 - i);
          assert.equal(z.member(z.at(i)), mem);
        });
        assert.equal(z.at(model.length), NIL);
        // backward links
        const rev: Entry[] = [];
        for (let n = z.last(); n !== NIL; n = z.prev(n)) rev.push([z.member(n), z.nodeScore(n)]);
        assert.deepEqual(rev, [...model].reverse());
      }),
    );
  });

  it('finds the ends of score and lex ranges', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), scoreRange, lexRange, (ops, sr, lr) => {
        const { z, m } = build(ops);
        const model = modelOf(m);
        const inS = model.filter(([, s]) => inScore(s, sr));
        const name = (zz: ZSet, n: number): string | undefined => (n === NIL ? undefined : zz.member(n));
        assert.equal(name(z, z.firstInRange(sr)), inS[0]?.[0]);
        assert.equal(name(z, z.lastInRange(sr)), inS[inS.length - 1]?.[0]);
        // lex ranges are only meaningful with equal scores, as in Redis
        const flat = new ZSet();
        for (const [mem] of model) flat.set(mem, 0);
        const lexModel = [...m.keys()].sort();
        const inL = lexModel.filter((x) => inLex(x, lr));
        assert.equal(name(flat, flat.firstInLexRange(lr)), inL[0]);
        assert.equal(name(flat, flat.lastInLexRange(lr)), inL[inL.length - 1]);
        const removed = flat.deleteRangeByLex(lr);
        assert.equal(removed, inL.length);
        assert.deepEqual([...flat.entries()].map((e) => e[0]), lexModel.filter((x) => !inLex(x, lr)));
      }),
    );
  });

  it('deletes ranges by score and rank', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), scoreRange, fc.nat(20), fc.nat(20), (ops, sr, a, b) => {
        const { z, m } = build(ops);
        const z2 = z.clone();
        const model = modelOf(m);
        assert.equal(z.deleteRangeByScore(sr), model.filter(([, s]) => inScore(s, sr)).length);
        assert.deepEqual([...z.entries()], model.filter(([, s]) => !inScore(s, sr)));
        for (const [mem, s] of model) assert.equal(z.score(mem), inScore(s, sr) ? undefined : s);
        const start = Math.min(a, b);
        const end = Math.min(Math.max(a, b), model.length - 1);
        if (start <= end) {
          assert.equal(z2.deleteRangeByRank(start, end), end - start + 1);
          assert.deepEqual([...z2.entries()], [...model.slice(0, start), ...model.slice(end + 1)]);
          assert.equal(z2.size(), model.length - (end - start + 1));
        }
      }),
    );
  });

  it('clones independently and keeps nodes across score changes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(op, { maxLength: 30 }), (ops, more) => {
        const { z, m } = build(ops);
        const before = [...z.entries()];
        const copy = z.clone();
        // a score change keeps the member's node; the copy sees none of the changes
        for (const o of more) {
          const n = copy.find(o.member);
          if (o.kind === 'set' && n !== NIL) {
            copy.set(o.member, o.score);
            assert.equal(copy.find(o.member), n);
            assert.equal(copy.nodeScore(n), o.score);
          } else if (o.kind === 'set') {
            copy.set(o.member, o.score);
          } else {
            copy.remove(o.member);
          }
        }
        assert.deepEqual([...z.entries()], before);
        assert.deepEqual([...z.memberScores()].sort(cmp), modelOf(m));
        assert.deepEqual(new Set(z.members()), new Set(m.keys()));
      }),
    );
  });

  it('tracks the encoding Redis would report', () => {
    const limits = { maxEntries: 2, maxValue: 3 };
    const z = ZSet.forFirstMember(limits, 1);
    z.set('a', 1, limits);
    z.set('b', 2, limits);
    assert.equal(z.encoding(), 'listpack');
    z.set('c', 3, limits);
    assert.equal(z.encoding(), 'skiplist');
    z.remove('c');
    assert.equal(z.encoding(), 'skiplist'); // one-way, as in Redis
    z.convertToCompactIfFits(limits);
    assert.equal(z.encoding(), 'listpack');
    z.set('long', 1, limits);
    assert.equal(z.encoding(), 'skiplist');
    assert.equal(ZSet.forFirstMember(limits, 4).encoding(), 'skiplist');
    assert.equal(ZSet.forFirstMember({ maxEntries: 0, maxValue: 64 }, 1).encoding(), 'skiplist');
  });
});
