/**
 * Property tests of the hash structure against a plain Map model: contents, insertion order,
 * the encoding Redis would report (listpack until a limit is crossed, then hashtable for good),
 * random field picks, and clone independence.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { HashValue, type HashLimits } from '../../src/types/hash.js';
import { Random } from '../../src/core/clock.js';

const text = fc.string({ maxLength: 6, unit: fc.constantFrom('a', 'b', '1', '\x00', '\xff') });
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), field: text, value: text }),
  fc.record({ kind: fc.constant('del' as const), field: text, value: text }),
);

describe('HashValue', () => {
  it('agrees with a Map model and converts encodings like Redis', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 6 }), (ops, maxEntries, maxValue) => {
        const limits: HashLimits = { maxListpackEntries: maxEntries, maxListpackValue: maxValue };
        const h = new HashValue(limits);
        const model = new Map<string, string>();
        let converted = false;
        for (const o of ops) {
          if (o.kind === 'set') {
            const isNew = !model.has(o.field);
            assert.equal(h.set(o.field, o.value), isNew);
            model.set(o.field, o.value);
            if (o.field.length > maxValue || o.value.length > maxValue || model.size > maxEntries) converted = true;
          } else {
            assert.equal(h.delete(o.field), model.delete(o.field));
          }
          assert.equal(h.encoding(), converted ? 'hashtable' : 'listpack');
        }
        assert.equal(h.size(), model.size);
        assert.deepEqual([...h.entries()], [...model.entries()]);
        for (const [f, v] of model) {
          assert.equal(h.get(f), v);
          assert.ok(h.has(f));
        }
      }),
    );
  });

  it('picks random fields uniformly and keeps the sample index exact across changes', () => {
    const rng = new Random(7);
    const h = new HashValue();
    for (let i = 0; i < 10; i++) h.set(`f${i}`, 'v');
    h.randomField(rng); // builds the index
    h.set('f10', 'v'); // appended to the index
    h.delete('f0'); // invalidates it
    const counts = new Map<string, number>();
    for (let i = 0; i < 20000; i++) {
      const f = h.randomField(rng);
      assert.ok(h.has(f));
      counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    assert.equal(counts.size, 10);
    for (const n of counts.values()) assert.ok(n > 1600 && n < 2400, `count ${n}`);
  });

  it('clones deeply, keeping the encoding', () => {
    const h = new HashValue({ maxListpackEntries: 1, maxListpackValue: 64 });
    h.set('a', '1');
    h.set('b', '2');
    const copy = h.clone();
    assert.equal(copy.encoding(), 'hashtable');
    copy.set('c', '3');
    assert.equal(h.size(), 2);
    assert.equal(copy.size(), 3);
  });

  it('fromPairs chooses the encoding afresh', () => {
    assert.equal(HashValue.fromPairs([['a', '1']]).encoding(), 'listpack');
    assert.equal(HashValue.fromPairs([['a', 'x'.repeat(65)]]).encoding(), 'hashtable');
  });
});
