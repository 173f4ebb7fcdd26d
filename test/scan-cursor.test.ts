import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { CursorRegistry, parseCursor, scanStep } from '../src/keyspace/scan.js';
import { KeyDict } from '../src/keyspace/dict.js';

/** Runs a full scan, applying `mutate` between steps; returns every element emitted. */
function fullScan<T>(
  owner: object,
  makeIter: () => Iterator<T>,
  count: number,
  registry: CursorRegistry,
  mutate: (step: number) => void,
  size = Infinity,
): T[] {
  const seen: T[] = [];
  let cursor = 0n;
  for (let step = 0; step < 100000; step++) {
    const next = scanStep(owner, cursor, makeIter, count, (x) => seen.push(x), size, registry);
    if (next === '0') return seen;
    cursor = parseCursor(next)!;
    mutate(step);
  }
  throw new Error('scan did not terminate');
}

describe('parseCursor (strtoul rules)', () => {
  it('accepts what Redis accepts', () => {
    assert.equal(parseCursor('0'), 0n);
    assert.equal(parseCursor(''), 0n);
    assert.equal(parseCursor('007'), 7n);
    assert.equal(parseCursor('+3'), 3n);
    assert.equal(parseCursor('-1'), 2n ** 64n - 1n);
    assert.equal(parseCursor('18446744073709551615'), 2n ** 64n - 1n);
  });
  it('refuses what Redis refuses', () => {
    for (const bad of ['-', '+', ' 1', '1 ', 'x', '1x', '0x10', '18446744073709551616']) {
      assert.equal(parseCursor(bad), null, bad);
    }
  });
});

describe('scanStep', () => {
  it('walks a collection in COUNT-sized steps and ends with cursor 0', () => {
    const reg = new CursorRegistry();
    const set = new Set(Array.from({ length: 95 }, (_, i) => i));
    const sizes: number[] = [];
    let cursor = 0n;
    for (;;) {
      let n = 0;
      const next = scanStep(set, cursor, () => set.values(), 10, () => n++, Infinity, reg);
      sizes.push(n);
      if (next === '0') break;
      assert.notEqual(next, '0');
      cursor = BigInt(next);
    }
    assert.deepEqual(sizes, [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    assert.equal(reg.size, 0, 'a finished iteration leaves no open cursor');
  });

  it('returns every element present throughout, under random concurrent changes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 600 })), { maxLength: 400 }),
        (initial, count, ops) => {
          const reg = new CursorRegistry();
          const map = new Map<number, number>();
          for (let i = 0; i < initial; i++) map.set(i, i);
          const touched = new Set<number>();
          let opIndex = 0;
          const seen = fullScan(map, () => map.keys(), count, reg, () => {
            // A few random inserts/deletes between steps (deletes force V8 rehashes).
            for (let k = 0; k < 5 && opIndex < ops.length; k++, opIndex++) {
              const [add, key] = ops[opIndex]!;
              touched.add(key);
              if (add) map.set(key, key);
              else map.delete(key);
            }
          }, map.size);
          const seenSet = new Set(seen);
          for (let i = 0; i < initial; i++) if (!touched.has(i)) assert.ok(seenSet.has(i), `missing ${i}`);
          // Live iterators never return an element twice unless it was re-added.
          assert.ok(seen.length - seenSet.size <= touched.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('terminates while inserts outrun it, still returning every original element', () => {
    const reg = new CursorRegistry();
    const set = new Set<number>();
    for (let i = 0; i < 100; i++) set.add(i);
    let next = 1000;
    const seen = new Set(
      fullScan(set, () => set.values(), 3, reg, () => {
        for (let k = 0; k < 50; k++) set.add(next++);
        set.delete(next - 100);
      }, set.size),
    );
    for (let i = 0; i < 100; i++) assert.ok(seen.has(i));
  });

  it('falls back to a positional restart for an unknown or evicted cursor', () => {
    const reg = new CursorRegistry(2);
    const arr = new Set(Array.from({ length: 100 }, (_, i) => i));
    const first: number[] = [];
    const c1 = scanStep(arr, 0n, () => arr.values(), 30, (x) => first.push(x), Infinity, reg);
    // Open three more cursors on other owners: c1 is evicted (limit 2).
    for (let i = 0; i < 3; i++) scanStep({}, 0n, () => arr.values(), 1, () => {}, Infinity, reg);
    assert.equal(reg.size, 2);
    const rest: number[] = [];
    let cursor = BigInt(c1);
    for (;;) {
      const next = scanStep(arr, cursor, () => arr.values(), 30, (x) => rest.push(x), Infinity, reg);
      if (next === '0') break;
      cursor = BigInt(next);
    }
    assert.deepEqual([...first, ...rest], [...arr]);
  });

  it('treats a cursor of another owner as unknown', () => {
    const reg = new CursorRegistry();
    const a = new Set([1, 2, 3, 4]);
    const b = new Set([5, 6, 7, 8]);
    const c = scanStep(a, 0n, () => a.values(), 2, () => {}, Infinity, reg);
    const got: number[] = [];
    scanStep(b, BigInt(c), () => b.values(), 10, (x) => got.push(x), Infinity, reg);
    assert.deepEqual(got, [7, 8]);
  });

  it('answers a retried (already used) cursor positionally', () => {
    const reg = new CursorRegistry();
    const s = new Set([1, 2, 3, 4, 5, 6]);
    const c = BigInt(scanStep(s, 0n, () => s.values(), 2, () => {}, Infinity, reg));
    const once: number[] = [];
    const twice: number[] = [];
    scanStep(s, c, () => s.values(), 2, (x) => once.push(x), Infinity, reg);
    scanStep(s, c, () => s.values(), 2, (x) => twice.push(x), Infinity, reg);
    assert.deepEqual(once, [3, 4]);
    assert.deepEqual(twice, [3, 4]);
  });
});

describe('KeyDict chaining', () => {
  it('behaves like a Map across many small segments (model-based)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.constantFrom('set', 'del'), fc.integer({ min: 0, max: 60 })), { maxLength: 500 }),
        (limit, ops) => {
          const d = new KeyDict<number>(limit);
          const model = new Map<string, number>();
          for (const [op, k] of ops) {
            const key = `k${k}`;
            if (op === 'set') assert.equal(d.set(key, k), !model.has(key));
            else assert.equal(d.delete(key), model.delete(key));
            if (op === 'set') model.set(key, k);
            assert.equal(d.size, model.size);
          }
          for (const [k, v] of model) assert.equal(d.get(k), v);
          assert.deepEqual(new Set(d.keys()), new Set(model.keys()));
          assert.equal([...d.keys()].length, model.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the SCAN guarantee while segments are created and dropped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 300 }), (limit, ops) => {
        const d = new KeyDict<number>(limit);
        for (let i = 0; i < 50; i++) d.set(`stable${i}`, i);
        const reg = new CursorRegistry();
        let at = 0;
        const seen = new Set(
          fullScan(d, () => d.keys(), 3, reg, () => {
            for (let k = 0; k < 4 && at < ops.length; k++, at++) {
              const key = `churn${ops[at]! % 40}`;
              if (ops[at]! >= 100) d.set(key, 0);
              else d.delete(key);
            }
          }, d.size),
        );
        for (let i = 0; i < 50; i++) assert.ok(seen.has(`stable${i}`));
      }),
      { numRuns: 200 },
    );
  });

  it('drops emptied middle segments and iterators carry on past them', () => {
    const d = new KeyDict<number>(2);
    for (let i = 0; i < 10; i++) d.set(`k${i}`, i);
    assert.equal(d.segmentCount, 6);
    const it = d.keys();
    assert.equal(it.next().value, 'k0');
    // Empty the segment the iterator stands in and the next one.
    for (const k of ['k0', 'k1', 'k2', 'k3']) d.delete(k);
    assert.equal(d.segmentCount, 4);
    assert.deepEqual([...{ [Symbol.iterator]: () => it }], ['k4', 'k5', 'k6', 'k7', 'k8', 'k9']);
  });
});
