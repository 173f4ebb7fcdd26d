import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { OrderedTable } from '../src/keyspace/ordered-table.js';
import { keyHash } from '../src/keyspace/dict.js';

/** Hash functions for the model test: the real one, and weak ones that force tag and slot collisions. */
const HASHES: Record<string, (key: string) => number> = {
  keyHash,
  constant: () => 0x12345678,
  fewBits: (key) => keyHash(key) & 0x300,
  negative: (key) => keyHash(key) | 0x80000000,
};

type Op =
  | { op: 'set'; k: number; v: number }
  | { op: 'del'; k: number; take: boolean }
  | { op: 'iter' }
  | { op: 'step'; it: number; n: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), k: fc.integer({ min: 0, max: 80 }), v: fc.integer() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('del' as const), k: fc.integer({ min: 0, max: 80 }), take: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('iter' as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('step' as const), it: fc.nat(), n: fc.integer({ min: 1, max: 5 }) }) },
);

describe('OrderedTable', () => {
  it('behaves like a Map, its live iterators step for step like a Map iterator (model-based)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(HASHES)), fc.array(opArb, { minLength: 20, maxLength: 600, size: 'max' }), (hashName, ops) => {
        const hash = HASHES[hashName]!;
        const t = new OrderedTable<number>();
        const model = new Map<string, number>();
        const iters: [Iterator<[string, number]>, Iterator<[string, number]>][] = [];
        for (const o of ops) {
          if (o.op === 'set') {
            const key = `key:${o.k}`;
            assert.equal(t.set(key, hash(key), o.v), model.get(key));
            model.set(key, o.v);
          } else if (o.op === 'del') {
            const key = `key:${o.k}`;
            // remove() answers the value deleted (undefined when absent), delete() whether there was one.
            if (o.take) assert.equal(t.remove(key, hash(key)), model.get(key));
            else assert.equal(t.delete(key, hash(key)), model.has(key));
            model.delete(key);
          } else if (o.op === 'iter') {
            iters.push([t.entries(), model.entries()]);
          } else if (iters.length > 0) {
            const [mine, theirs] = iters[o.it % iters.length]!;
            for (let i = 0; i < o.n; i++) assert.deepEqual(mine.next(), theirs.next());
          }
          assert.equal(t.size, model.size);
        }
        for (let k = 0; k <= 80; k++) {
          const key = `key:${k}`;
          assert.equal(t.get(key, hash(key)), model.get(key));
          assert.equal(t.has(key, hash(key)), model.has(key));
        }
        assert.deepEqual([...t.entries()], [...model.entries()]);
        assert.deepEqual([...t.keys()], [...model.keys()]);
        // Every iterator left half way finishes exactly as the Map's does.
        for (const [mine, theirs] of iters) assert.deepEqual([...{ [Symbol.iterator]: () => mine }], [...{ [Symbol.iterator]: () => theirs }]);
      }),
      { numRuns: 400 },
    );
  });

  it('touch() reads the entry of every key it will find, whatever its tag or first slot', () => {
    // touch() answers the lengths of the key and value it read: for a present key, that key's
    // and its value's. A tag with the top bit set makes the slot negative, and a key whose
    // first slot another key holds sits further on: both must be read all the same.
    for (const [name, hash] of Object.entries(HASHES)) {
      const t = new OrderedTable<string>();
      const keys: string[] = [];
      for (let i = 0; i < 2000; i++) keys.push(`key:${String(i).padStart(i % 7, '0')}`);
      for (const k of keys) t.set(k, hash(k), `v${k}`);
      for (const k of keys) {
        if (name === 'constant' || name === 'fewBits') continue; // one tag for all: the first of it
        assert.equal(t.touch(hash(k)), 2 * k.length + 1, `${name}: ${k}`);
      }
    }
  });

  it('grows to many entries and shrinks back, keeping order and every value', () => {
    const t = new OrderedTable<number>();
    const model = new Map<string, number>();
    const it = t.keys();
    const first = it.next();
    assert.equal(first.done, true);
    const walker = t.entries();
    t.set('k0', keyHash('k0'), 0);
    model.set('k0', 0);
    assert.deepEqual(walker.next().value, ['k0', 0]);
    for (let i = 1; i < 20000; i++) {
      const key = `k${i}`;
      t.set(key, keyHash(key), i);
      model.set(key, i);
    }
    // Delete all but every 100th key: the table rebuilds smaller several times under the walker.
    for (let i = 0; i < 20000; i++) {
      if (i % 100 === 0) continue;
      const key = `k${i}`;
      assert.equal(t.delete(key, keyHash(key)), true);
      model.delete(key);
    }
    assert.equal(t.size, 200);
    const rest = [...{ [Symbol.iterator]: () => walker }];
    assert.deepEqual(rest, [...model.entries()].slice(1));
    assert.deepEqual([...t.keys()], [...model.keys()]);
    for (const [k, v] of model) assert.equal(t.get(k, keyHash(k)), v);
  });
});
