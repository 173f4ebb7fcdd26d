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
import { FieldTable } from '../../src/types/field-table.js';
import { collectGarbage } from '../../src/server/gc.js';

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

  it('keeps fields of any length, binary values and empty strings once hashtable-encoded', () => {
    const h = new HashValue({ maxListpackEntries: 0, maxListpackValue: 64 });
    // Field lengths around the one-char header's limit (254) and far beyond it.
    const fields = ['', 'a', '\x00\xff', 'f'.repeat(254), 'g'.repeat(255), 'h'.repeat(256), 'i'.repeat(70000)];
    for (const [i, f] of fields.entries()) assert.equal(h.set(f, `${i}\xff\x00`.repeat(i)), true);
    assert.equal(h.encoding(), 'hashtable');
    for (const [i, f] of fields.entries()) {
      assert.equal(h.get(f), `${i}\xff\x00`.repeat(i));
      assert.equal(h.valueLength(f), 3 * i);
    }
    // A field that is a prefix of another, or the other's field + value run together, is not it.
    assert.equal(h.get('g'.repeat(254)), undefined);
    assert.equal(h.get('f'.repeat(255)), undefined);
    assert.equal(h.get('a1'), undefined);
    assert.deepEqual([...h.keys()], fields);
    assert.equal(h.set('g'.repeat(255), ''), false);
    assert.equal(h.get('g'.repeat(255)), '');
    // The same value again keeps the entry; one of the same length, or ending alike, replaces it.
    assert.equal(h.set('a', '1\xff\x00'), false);
    assert.equal(h.get('a'), '1\xff\x00');
    assert.equal(h.set('a', '1\xff\x01'), false);
    assert.equal(h.get('a'), '1\xff\x01');
    assert.equal(h.set('a', '\xff\x01'), false);
    assert.equal(h.get('a'), '\xff\x01');
  });

  it('iterates a hashtable-encoded hash live, as HSCAN needs, across rebuilds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.record({ del: fc.boolean(), field: fc.integer({ min: 0, max: 80 }), steps: fc.integer({ min: 0, max: 3 }) }), { maxLength: 60 }),
        (initial, ops) => {
          const table = new FieldTable();
          for (const f of initial) table.set(`f${f}`, `v${f}`);
          const touched = new Set<string>();
          const iter = table.entries();
          const seen: string[] = [];
          for (const o of ops) {
            for (let i = 0; i < o.steps; i++) {
              const r = iter.next();
              if (r.done === true) break;
              seen.push(r.value[0]);
              assert.equal(table.get(r.value[0]), r.value[1]);
            }
            const f = `f${o.field}`;
            touched.add(f);
            if (o.del) table.delete(f);
            else table.set(f, `w${o.field}`);
          }
          for (let r = iter.next(); r.done !== true; r = iter.next()) seen.push(r.value[0]);
          // Never a field twice; every field present throughout exactly once.
          assert.equal(new Set(seen).size, seen.length);
          for (const f of new Set(initial.map((i) => `f${i}`))) if (!touched.has(f)) assert.ok(seen.includes(f), f);
        },
      ),
    );
  });

  it('picks random fields of a hashtable-encoded hash uniformly, holes and all', () => {
    const rng = new Random(11);
    const h = new HashValue({ maxListpackEntries: 4, maxListpackValue: 64 });
    for (let i = 0; i < 40; i++) h.set(`f${i}`, 'v');
    for (let i = 0; i < 40; i += 4) h.delete(`f${i}`); // holes in the store
    const counts = new Map<string, number>();
    for (let i = 0; i < 30000; i++) {
      const f = h.randomField(rng);
      counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    assert.equal(counts.size, 30);
    for (const [f, n] of counts) {
      assert.ok(h.has(f), f);
      assert.ok(n > 700 && n < 1300, `${f}: ${n}`);
    }
  });

  it('holds a big hash in one string and one pointer per field on the V8 heap (a Map: ~100 bytes)', () => {
    const fields = 200000;
    // The V8 heap only: the index's typed arrays (12 bytes a field) live outside it, and their
    // replaced backing stores are freed after the collection, so arrayBuffers would lag.
    const heap = (): number => {
      collectGarbage();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const h = new HashValue();
    // Fresh strings, as the parser makes them: `member:<9 digits>` (16 bytes) → `value:<n>`.
    for (let i = 0; i < fields; i++) h.set(Buffer.from(`member:${String(i).padStart(9, '0')}`).latin1Slice(), Buffer.from(`value:${i}`).latin1Slice());
    const perField = (heap() - before) / fields;
    assert.equal(h.size(), fields);
    // A 48-byte string and 8 bytes of pointer at 2^18 room: ~59; a Map's two 32-byte strings
    // and its table: ~100.
    assert.ok(perField < 75, `${perField.toFixed(1)} bytes per field`);
  });
});
