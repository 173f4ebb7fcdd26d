import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { CursorRegistry, parseCursor, scanStep } from '../src/keyspace/scan.js';
import { KeyDict, keyHash, SHARD_COUNT } from '../src/keyspace/dict.js';

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

describe('KeyDict sharding', () => {
  /** Small thresholds so that a few dozen keys cross both switches. */
  const small = <V>(): KeyDict<V> => new KeyDict<V>(16, 4, 8);

  it('behaves like a Map while it switches between one Map and shards (model-based)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('set', 'set', 'del', 'clear'), fc.integer({ min: 0, max: 60 })), { maxLength: 500 }),
        (ops) => {
          const d = small<number>();
          const model = new Map<string, number>();
          for (const [op, k] of ops) {
            const key = `k${k}`;
            if (op === 'set') assert.equal(d.set(key, k), !model.has(key));
            else if (op === 'del') assert.equal(d.delete(key), model.delete(key));
            else if (k < 2) {
              d.clear();
              model.clear();
            }
            if (op === 'set') model.set(key, k);
            assert.equal(d.size, model.size);
            assert.equal(d.has(key), model.has(key));
          }
          for (const [k, v] of model) assert.equal(d.get(k), v);
          assert.deepEqual(new Map(d.entries()), model);
          assert.equal([...d.keys()].length, model.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('switches at its thresholds, with hysteresis', () => {
    const d = small<number>();
    for (let i = 0; i < 15; i++) d.set(`k${i}`, i);
    assert.equal(d.sharded, false);
    d.set('k15', 15);
    assert.equal(d.sharded, true);
    for (let i = 15; i > 4; i--) d.delete(`k${i}`);
    assert.equal(d.sharded, true, 'above unshardAt it stays sharded');
    d.delete('k4');
    assert.equal(d.sharded, false);
    assert.deepEqual([...d.keys()].sort(), ['k0', 'k1', 'k2', 'k3']);
  });

  it('spreads keys of one pattern evenly over the shards', () => {
    const d = new KeyDict<number>();
    for (let i = 0; i < 100_000; i++) d.set(`user:${i}:name`, i);
    assert.equal(d.sharded, true);
    // Count per shard through the iteration order (shard by shard): the hash, recomputed.
    const counts = new Map<number, number>();
    for (const k of d.keys()) {
      const s = keyHash(k) & (SHARD_COUNT - 1);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    assert.equal(counts.size, SHARD_COUNT);
    const mean = 100_000 / SHARD_COUNT;
    for (const n of counts.values()) assert.ok(n > mean / 2 && n < mean * 2, `shard of ${n} keys (mean ${mean})`);
  });

  it('keeps the SCAN guarantee, and terminates, across switches and churn', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 300 }), fc.integer({ min: 0, max: 40 }), (ops, stable) => {
        const d = small<number>();
        for (let i = 0; i < stable; i++) d.set(`stable${i}`, i);
        const reg = new CursorRegistry();
        let at = 0;
        const seen = fullScan(d, () => d.keys(), 3, reg, () => {
          for (let k = 0; k < 4 && at < ops.length; k++, at++) {
            const key = `churn${ops[at]! % 40}`;
            if (ops[at]! >= 100) d.set(key, 0);
            else d.delete(key);
          }
        });
        const seenSet = new Set(seen);
        for (let i = 0; i < stable; i++) assert.ok(seenSet.has(`stable${i}`), `missing stable${i}`);
        for (const k of seen) if (k.startsWith('stable')) assert.equal(seen.indexOf(k), seen.lastIndexOf(k), `${k} twice`);
      }),
      { numRuns: 300 },
    );
  });

  it('a scan ends even while every step adds more keys than it reads', () => {
    const d = small<number>();
    for (let i = 0; i < 40; i++) d.set(`k${i}`, i);
    let next = 1000;
    const seen = fullScan(d, () => d.keys(), 2, new CursorRegistry(), () => {
      for (let k = 0; k < 10; k++) d.set(`k${next++}`, 0);
    });
    for (let i = 0; i < 40; i++) assert.ok(seen.includes(`k${i}`));
  });

  it('an iterator from before a switch or a clear() yields only live keys, with current values', () => {
    const d = small<string>();
    for (let i = 0; i < 10; i++) d.set(`k${i}`, 'old');
    const it = d.entries();
    assert.deepEqual(it.next().value, ['k0', 'old']);
    for (let i = 10; i < 20; i++) d.set(`k${i}`, 'new'); // sharded now
    assert.equal(d.sharded, true);
    d.delete('k1');
    d.set('k2', 'changed');
    const rest = [...{ [Symbol.iterator]: () => it }];
    assert.deepEqual(rest, [['k2', 'changed'], ...[3, 4, 5, 6, 7, 8, 9].map((i) => [`k${i}`, 'old'])]);
    const keys = d.keys();
    keys.next();
    d.clear();
    d.set('k5', 'x');
    assert.deepEqual([...{ [Symbol.iterator]: () => keys }].filter((k) => k !== 'k5'), []);
  });

  it('sampleEntries: values beside their keys, no repeat within a call, every key once per lap', () => {
    for (const d of [small<number>(), new KeyDict<number>()]) {
      const n = 200;
      for (let i = 0; i < n; i++) d.set(`k${i}`, i);
      for (let i = 0; i < n; i += 3) d.delete(`k${i}`);
      const live = d.size;
      const keys: string[] = [];
      const values: number[] = [];
      const seen = new Set<string>();
      let x = 0.321;
      const r = (): number => (x = (x * 9301 + 0.49297) % 1);
      // A call walks at most 64 + 5 entries, so 10 laps' worth of calls see every key.
      for (let call = 0; call < Math.ceil((10 * live) / 5); call++) {
        d.sampleEntries(r, 5, keys, values);
        assert.equal(keys.length, 5);
        assert.equal(new Set(keys).size, 5, 'no key twice in one call');
        assert.deepEqual(values, keys.map((k) => d.get(k)));
        for (const k of keys) seen.add(k);
      }
      assert.equal(seen.size, live, 'every live key sampled');
      d.sampleEntries(r, 5, keys, values);
      assert.ok(keys.every((k) => d.has(k)), 'deleted keys are never sampled');
    }
    const tiny = new KeyDict<number>();
    tiny.set('only', 1);
    const keys: string[] = [];
    const values: number[] = [];
    tiny.sampleEntries(() => 0.9, 5, keys, values);
    assert.deepEqual([keys, values], [['only'], [1]]);
    tiny.delete('only');
    tiny.sampleEntries(() => 0.9, 5, keys, values);
    assert.deepEqual([keys, values], [[], []]);
  });

  it('remove answers the deleted value, in one table and sharded', () => {
    for (const d of [small<number>(), new KeyDict<number>()]) {
      for (let i = 0; i < 100; i++) d.set(`k${i}`, i * 10);
      assert.equal(d.remove('k7'), 70);
      assert.equal(d.remove('k7'), undefined);
      assert.equal(d.has('k7'), false);
      assert.equal(d.size, 99);
      for (let i = 0; i < 100; i++) if (i !== 7) assert.equal(d.remove(`k${i}`), i * 10);
      assert.equal(d.size, 0);
    }
  });

  it('sampleEntries keeps sampling live entries while tables are rebuilt under it', () => {
    const d = small<number>();
    for (let i = 0; i < 300; i++) d.set(`k${i}`, i);
    const keys: string[] = [];
    const values: number[] = [];
    let x = 0.77;
    const r = (): number => (x = (x * 9301 + 0.49297) % 1);
    // Churn as eviction does: sample, delete the first sample, add a new key.
    for (let i = 300; i < 3000; i++) {
      d.sampleEntries(r, 5, keys, values);
      assert.equal(keys.length, 5);
      assert.deepEqual(values, keys.map((k) => d.get(k)));
      d.delete(keys[0]!);
      d.set(`k${i}`, i);
    }
    assert.equal(d.size, 300);
  });

  it('RANDOMKEY and sampling reach keys in every shard', () => {
    const d = small<number>();
    for (let i = 0; i < 64; i++) d.set(`k${i}`, i);
    const seen = new Set<string>();
    let x = 0.123;
    for (let i = 0; i < 5000; i++) {
      x = (x * 9301 + 0.49297) % 1;
      seen.add(d.randomKey(x)!);
    }
    assert.equal(seen.size, 64);
    const out: string[] = [];
    const values: number[] = [];
    d.sampleEntries(() => 0.5, 5, out, values);
    assert.equal(out.length, 5);
    assert.deepEqual(values, out.map((k) => d.get(k)));
  });
});
