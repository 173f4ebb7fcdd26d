/**
 * Property tests of the set structure against a plain Set model: membership, the encoding Redis
 * would report (intset while every member is a canonical int64 and the count is within
 * set-max-intset-entries), numeric order for intsets, random picks and pops.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { SetValue, isIntsetMember, compareIntStrings, type SetLimits } from '../../src/types/set.js';
import { Random } from '../../src/core/clock.js';

const member = fc.oneof(
  fc.integer({ min: -20, max: 20 }).map(String),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.constantFrom('a', '01', '-0', '+1', ' 1', '\x00', '9223372036854775807', '-9223372036854775808', '9223372036854775808'),
);
const op = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), member }),
  fc.record({ kind: fc.constant('del' as const), member }),
  fc.record({ kind: fc.constant('pop' as const), member }),
);

function isInt64(s: string): boolean {
  if (!/^(0|-?[1-9][0-9]*)$/.test(s)) return false;
  const v = BigInt(s);
  return v >= -(2n ** 63n) && v < 2n ** 63n;
}

describe('SetValue', () => {
  it('recognises exactly the members string2ll accepts', () => {
    fc.assert(fc.property(member, (m) => assert.equal(isIntsetMember(m), isInt64(m))));
    fc.assert(fc.property(fc.string(), (m) => assert.equal(isIntsetMember(m), isInt64(m))));
  });

  it('keeps sixteen-digit integers beyond 2^53 exact', () => {
    for (const m of ['9110178456371417', '-9110178456371417', '9007199254740993', '9007199254740991']) {
      assert.equal(isIntsetMember(m), true);
      const s = new SetValue({ maxIntsetEntries: 512 });
      s.add(m);
      assert.deepEqual([...s.values()], [m]);
      assert.equal(s.encoding(), 'intset');
    }
  });

  it('orders canonical integers numerically', () => {
    const ints = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    fc.assert(
      fc.property(ints, ints, (a, b) => {
        assert.equal(Math.sign(compareIntStrings(String(a), String(b))), a < b ? -1 : a > b ? 1 : 0);
      }),
    );
  });

  it('agrees with a Set model and converts encodings like Redis', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 10 }), fc.integer(), (ops, maxEntries, seed) => {
        const limits: SetLimits = { maxIntsetEntries: maxEntries };
        const rng = new Random(seed);
        const s = new SetValue(limits);
        const model = new Set<string>();
        let converted = false;
        for (const o of ops) {
          if (o.kind === 'add') {
            assert.equal(s.add(o.member), !model.has(o.member));
            model.add(o.member);
            if (!isInt64(o.member) || model.size > maxEntries) converted = true;
          } else if (o.kind === 'del') {
            assert.equal(s.delete(o.member), model.delete(o.member));
          } else if (model.size > 0) {
            const popped = s.popRandom(rng);
            assert.ok(model.delete(popped));
          }
          assert.equal(s.encoding(), converted ? 'hashtable' : 'intset');
          assert.equal(s.size(), model.size);
        }
        const values = [...s.values()];
        assert.deepEqual(new Set(values), model);
        assert.equal(values.length, model.size);
        if (!converted) assert.deepEqual(values, [...model].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
        if (model.size > 0) assert.ok(model.has(s.randomMember(rng)));
      }),
    );
  });

  it('pops every member exactly once, uniformly', () => {
    const rng = new Random(11);
    const firsts = new Map<string, number>();
    for (let round = 0; round < 4000; round++) {
      const s = SetValue.fromMembers(['a', 'b', 'c', 'd']);
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add(s.popRandom(rng));
      assert.equal(seen.size, 4);
      assert.equal(s.size(), 0);
      const first = [...seen][0]!;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const n of firsts.values()) assert.ok(n > 800 && n < 1200, `count ${n}`);
  });

  it('chooses the encoding of a new set by its first member and clones deeply', () => {
    assert.equal(SetValue.forFirstMember('12').encoding(), 'intset');
    assert.equal(SetValue.forFirstMember('x').encoding(), 'hashtable');
    const s = SetValue.fromMembers(['3', '1', '2']);
    const copy = s.clone();
    copy.add('x');
    assert.deepEqual([...s.values()], ['1', '2', '3']);
    assert.equal(copy.encoding(), 'hashtable');
    assert.equal(s.encoding(), 'intset');
  });
});
