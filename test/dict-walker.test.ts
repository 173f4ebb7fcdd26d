/**
 * DictWalker, the snapshot's walk over a KeyDict (keyspace/dict.ts): it must return what
 * entries() returns, step for step, while keys are set and deleted and the dictionary switches
 * between one table and shards; and `passed(key)` — which the snapshot asks instead of
 * remembering every key it wrote — must say exactly whether the walk already returned a key
 * that was present at its start and has not changed since.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { KeyDict, keyHash } from '../src/keyspace/dict.js';

type Op = { op: 'set' | 'del' | 'step'; k: number; n: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom('set' as const, 'set' as const, 'del' as const, 'step' as const, 'step' as const),
  k: fc.integer({ min: 0, max: 120 }),
  n: fc.integer({ min: 1, max: 6 }),
});

describe('DictWalker', () => {
  it('returns what entries() returns, and passed() tells which unchanged keys it returned (model-based)', () => {
    fc.assert(
      fc.property(
        // Small thresholds (shard at 16, back at 4, 8 shards) so that walks cross both switches;
        // and the default ones (one table: its rebuilds on growth and shrinkage).
        fc.boolean(),
        fc.integer({ min: 0, max: 100 }),
        fc.array(opArb, { minLength: 10, maxLength: 400, size: 'max' }),
        (small, initial, ops) => {
          const d = small ? new KeyDict<number>(16, 4, 8) : new KeyDict<number>();
          for (let i = 0; i < initial; i++) d.set(`k${i}`, i);
          // Both start now (a generator reads the tables on its first next(), so it is primed
          // by stepping both once).
          const atStart = new Set(d.keys());
          const walker = d.walker();
          const reference = d.entries();
          const changed = new Set<string>();
          const returned = new Set<string>();
          let ended = false;
          const first = reference.next();
          assert.equal(walker.next(), first.done !== true);
          if (first.done === true) ended = true;
          else {
            assert.deepEqual([walker.key, walker.value], first.value);
            returned.add(walker.key);
          }
          for (const o of ops) {
            const key = `k${o.k}`;
            if (o.op === 'set') {
              changed.add(key);
              d.set(key, o.k + 1000);
            } else if (o.op === 'del') {
              changed.add(key);
              d.delete(key);
            } else {
              for (let i = 0; i < o.n && !ended; i++) {
                const want = reference.next();
                const got = walker.next();
                assert.equal(got, want.done !== true);
                if (!got) {
                  ended = true;
                  break;
                }
                assert.deepEqual([walker.key, walker.value], want.value);
                returned.add(walker.key);
              }
            }
            for (const k of atStart) {
              if (!changed.has(k)) assert.equal(walker.passed(k), returned.has(k), `passed(${k})`);
            }
          }
          // The rest of the walk, still in step; every unchanged key of the start exactly once.
          while (!ended) {
            const want = reference.next();
            const got = walker.next();
            assert.equal(got, want.done !== true);
            if (!got) break;
            assert.deepEqual([walker.key, walker.value], want.value);
            assert.ok(changed.has(walker.key) || !returned.has(walker.key), `${walker.key} returned twice`);
            returned.add(walker.key);
          }
          for (const k of atStart) {
            if (!changed.has(k)) {
              assert.ok(returned.has(k), `${k} never returned`);
              assert.equal(walker.passed(k), true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('passed() on a sharded dictionary of 100,000 keys: behind the walk yes, ahead of it no', () => {
    const d = new KeyDict<number>();
    for (let i = 0; i < 100_000; i++) d.set(`key:${i}`, i);
    assert.equal(d.sharded, true);
    const walker = d.walker();
    const returned: string[] = [];
    for (let i = 0; i < 50_000 && walker.next(); i++) returned.push(walker.key);
    const behind = new Set(returned);
    for (let i = 0; i < 100_000; i++) assert.equal(walker.passed(`key:${i}`), behind.has(`key:${i}`));
  });

  it('hash is keyHash(key) of each key returned: one table, shards, and across the switch to shards', () => {
    for (const n of [1000, 40_000, 32_760]) {
      const d = new KeyDict<number>();
      for (let i = 0; i < n; i++) d.set(`key:${i}`, i);
      const walker = d.walker();
      let returned = 0;
      while (walker.next()) {
        assert.equal(walker.hash, keyHash(walker.key), `${n} keys: the hash of ${walker.key}`);
        // Half way, a burst of new keys (32,760: the dictionary switches to shards mid-walk).
        if (++returned === n >> 1) for (let i = 0; i < 100; i++) d.set(`burst:${i}`, i);
      }
      assert.ok(returned >= n);
    }
  });
});
