import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { ListValue } from '../../src/types/list.js';

/** Operations applied both to a ListValue and to a plain array model. */
type Op =
  | { op: 'pushHead' | 'pushTail'; v: string }
  | { op: 'popHead' | 'popTail' }
  | { op: 'insertAt'; i: number; v: string }
  | { op: 'removeAt'; i: number }
  | { op: 'set'; i: number; v: string }
  | { op: 'removeMatching'; v: string; count: number; fromTail: boolean }
  | { op: 'trim'; a: number; b: number }
  | { op: 'clear' };

// Small alphabets so that matches (LREM) and integer-looking values are frequent.
const value = fc.oneof(
  fc.constantFrom('a', 'b', '1', '-7', '01', '', '12345678901234567890', '\u00ff\u0000'),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.string({ maxLength: 5 }),
);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('pushHead' as const, 'pushTail' as const), v: value }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('popHead' as const, 'popTail' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insertAt' as const), i: fc.nat(), v: value }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeAt' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('set' as const), i: fc.nat(), v: value }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('removeMatching' as const), v: value, count: fc.nat({ max: 3 }), fromTail: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('trim' as const), a: fc.nat(), b: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

function apply(l: ListValue, m: string[], o: Op): void {
  switch (o.op) {
    case 'pushHead':
      l.pushHead(o.v);
      m.unshift(o.v);
      break;
    case 'pushTail':
      l.pushTail(o.v);
      m.push(o.v);
      break;
    case 'popHead':
      assert.equal(l.popHead(), m.shift());
      break;
    case 'popTail':
      assert.equal(l.popTail(), m.pop());
      break;
    case 'insertAt': {
      const i = o.i % (m.length + 1);
      l.insertAt(i, o.v);
      m.splice(i, 0, o.v);
      break;
    }
    case 'removeAt':
      if (m.length === 0) break;
      l.removeAt(o.i % m.length);
      m.splice(o.i % m.length, 1);
      break;
    case 'set':
      if (m.length === 0) break;
      l.set(o.i % m.length, o.v);
      m[o.i % m.length] = o.v;
      break;
    case 'removeMatching': {
      const limit = o.count === 0 ? Infinity : o.count;
      let removed = 0;
      const order = [...m.keys()];
      if (o.fromTail) order.reverse();
      const drop = new Set<number>();
      for (const i of order) {
        if (removed < limit && m[i] === o.v) {
          drop.add(i);
          removed++;
        }
      }
      const kept = m.filter((_, i) => !drop.has(i));
      m.length = 0;
      m.push(...kept);
      assert.equal(l.removeMatching(o.v, o.count, o.fromTail), removed);
      break;
    }
    case 'trim': {
      if (m.length === 0) break;
      const a = o.a % m.length;
      const b = a + (o.b % (m.length - a));
      l.trim(a, b);
      const kept = m.slice(a, b + 1);
      m.length = 0;
      m.push(...kept);
      break;
    }
    case 'clear':
      l.clear();
      m.length = 0;
      break;
  }
}

describe('ListValue', () => {
  it('behaves like an array under random operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const l = new ListValue();
        const m: string[] = [];
        for (const o of ops) {
          apply(l, m, o);
          assert.equal(l.length, m.length);
        }
        assert.deepEqual(l.toArray(), m);
        for (let i = 0; i < m.length; i++) assert.equal(l.get(i), m[i]);
        if (m.length > 0) assert.equal(l.indexOf(m[m.length - 1]!), m.indexOf(m[m.length - 1]!));
        assert.deepEqual(l.clone().toArray(), m);
      }),
      { numRuns: 300 },
    );
  });

  // resize() builds the new ring by slice/concat/fill (p16g): the slots past the elements must
  // hold nothing (a stale element there would be kept alive and never freed), the capacity must
  // stay a power of two at least the length, and the elements must be in order from the head.
  it('keeps its ring a power of two with nothing in the free slots across every resize', () => {
    interface Ring { items: unknown[]; head: number; len: number; mask: number }
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const l = new ListValue();
        const m: string[] = [];
        for (const o of ops) {
          apply(l, m, o);
          const r = l as unknown as Ring;
          const cap = r.items.length;
          assert.equal(cap & (cap - 1), 0, 'a power of two');
          assert.ok(cap >= Math.max(4, r.len) && r.mask === cap - 1);
          for (let i = r.len; i < cap; i++) assert.equal(r.items[(r.head + i) & r.mask], undefined, `free slot ${i} of ${cap}`);
        }
        const r = l as unknown as Ring;
        assert.equal(Object.keys(r.items).length, r.items.length, 'no holes');
        assert.deepEqual(l.toArray(), m);
      }),
      { numRuns: 300 },
    );
    // Trims that leave far fewer than a quarter: the shrink halves a ring to more than twice its
    // elements, wrapped or not.
    for (const [size, keep, heads] of [[40, 2, 0], [40, 2, 30], [64, 4, 10], [33, 5, 20], [1000, 6, 900]] as const) {
      const t = new ListValue();
      const tm: string[] = [];
      for (let i = 0; i < size; i++) apply(t, tm, { op: i < heads ? 'pushHead' : 'pushTail', v: `t${i}` });
      const before = (t as unknown as Ring).items.length;
      apply(t, tm, { op: 'trim', a: 1, b: keep });
      const r = t as unknown as Ring;
      assert.ok(r.items.length < before, `${size} → ${keep}: shrunk`);
      assert.equal(r.items.length & (r.items.length - 1), 0, `${size} → ${keep}: ${r.items.length} slots, a power of two`);
      for (let i = r.len; i < r.items.length; i++) assert.equal(r.items[(r.head + i) & r.mask], undefined);
      assert.deepEqual(t.toArray(), tm);
    }
    // A wrapped ring (head past the middle) grown and then shrunk, at sizes where V8 keeps the
    // backing store in large-object space.
    const l = new ListValue();
    const m: string[] = [];
    for (let i = 0; i < 70_000; i++) apply(l, m, { op: i % 3 === 0 ? 'pushTail' : 'pushHead', v: `e${i % 97}` });
    for (let i = 0; i < 60_000; i++) apply(l, m, { op: i % 2 === 0 ? 'popTail' : 'popHead' });
    const r = l as unknown as Ring;
    assert.deepEqual(l.toArray(), m);
    assert.ok(r.items.length <= 4 * r.len, `shrunk: ${r.items.length} slots for ${r.len}`);
    for (let i = r.len; i < r.items.length; i++) assert.equal(r.items[(r.head + i) & r.mask], undefined);
  });

  it('keeps bytes exact: integer-looking values round-trip only when canonical', () => {
    const l = ListValue.from(['1', '01', '-0', '+1', '9007199254740993', '-42', ' 1']);
    assert.deepEqual(l.toArray(), ['1', '01', '-0', '+1', '9007199254740993', '-42', ' 1']);
    assert.equal(l.indexOf('1'), 0);
    assert.equal(l.indexOf('01'), 1);
    assert.equal(l.indexOf('-42'), 5);
    assert.equal(l.indexOf('42'), -1);
  });

  it('grows past 100k elements at both ends and shrinks when drained', () => {
    const l = new ListValue();
    for (let i = 0; i < 150_000; i++) {
      if (i % 2 === 0) l.pushTail(`v${i}`);
      else l.pushHead(String(i));
    }
    assert.equal(l.length, 150_000);
    assert.equal(l.get(0), '149999');
    assert.equal(l.get(149_999), 'v149998');
    for (let i = 0; i < 149_990; i++) l.popHead();
    assert.equal(l.length, 10);
    assert.equal(l.get(9), 'v149998');
  });

  it('reports Redis 7.0 encoding and type', () => {
    const l = ListValue.from(['a']);
    assert.equal(l.type, 'list');
    assert.equal(l.encoding(), 'quicklist');
    assert.equal(l.size(), 1);
  });
});
