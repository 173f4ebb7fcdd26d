/**
 * Property tests of the stream structures against plain sorted-array models: IdMap (the PEL
 * map), StreamValue's append / range / delete / trim (exact and approximate, with node
 * boundaries), clone independence, and the RDB node codec round trip.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import { IdMap, StreamValue, ID_MAX, makeId, nodeBytes, type StreamID, type StreamLimits } from '../../src/types/stream.js';
import { decodeStreamNode, encodeStreamNode } from '../../src/persistence/stream-codec.js';

const smallId = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 })).map(([ms, seq]) => makeId(BigInt(ms), BigInt(seq)));

describe('IdMap', () => {
  it('agrees with a sorted Map model', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: smallId, v: fc.integer() }),
      fc.record({ kind: fc.constant('del' as const), id: smallId, v: fc.integer() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), smallId, (ops, from) => {
        const m = new IdMap<number>();
        const model = new Map<StreamID, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            m.set(o.id, o.v);
            model.set(o.id, o.v);
          } else {
            assert.equal(m.delete(o.id), model.delete(o.id));
          }
        }
        const sorted = [...model].sort((a, b) => (a[0] < b[0] ? -1 : 1));
        assert.equal(m.size, model.size);
        assert.deepEqual([...m.from()], sorted);
        assert.deepEqual([...m.from(from)], sorted.filter(([k]) => k >= from));
        assert.equal(m.firstKey(), sorted[0]?.[0]);
        assert.equal(m.lastKey(), sorted[sorted.length - 1]?.[0]);
        for (const [k, v] of sorted) assert.equal(m.get(k), v);
      }),
      { numRuns: 200 },
    );
  });
});

describe('StreamValue', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), n: fc.integer({ min: 1, max: 3 }), same: fc.boolean() }),
    fc.record({ kind: fc.constant('del' as const), n: fc.integer({ min: 0, max: 60 }), same: fc.boolean() }),
    fc.record({ kind: fc.constant('maxlen' as const), n: fc.integer({ min: 0, max: 60 }), same: fc.boolean() }),
    fc.record({ kind: fc.constant('minid' as const), n: fc.integer({ min: 0, max: 80 }), same: fc.boolean() }),
  );

  it('agrees with an array model for append, range, delete and trims', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.integer({ min: 1, max: 6 }), (ops, nodeMaxEntries) => {
        const limits: StreamLimits = { nodeMaxEntries, nodeMaxBytes: 4096 };
        const s = new StreamValue(limits);
        let model: { id: StreamID; fields: string[] }[] = [];
        let next = 1;
        for (const o of ops) {
          if (o.kind === 'add') {
            for (let i = 0; i < o.n; i++) {
              const id = makeId(BigInt(next), BigInt(i));
              const fields = o.same ? ['f', String(next * 1000003)] : ['g', 'x'.repeat(next), 'h', String(-i)];
              s.append(id, fields);
              model.push({ id, fields });
            }
            next++;
          } else if (o.kind === 'del') {
            const id = makeId(BigInt(o.n), 0n);
            const had = model.some((e) => e.id === id);
            assert.equal(s.deleteEntry(id), had);
            model = model.filter((e) => e.id !== id);
          } else if (o.kind === 'maxlen') {
            const before = model.length;
            const removed = s.trim('maxlen', o.n, 0n, o.same, 0);
            if (!o.same) assert.equal(s.length, Math.min(before, o.n));
            assert.ok(s.length >= Math.min(before, o.n));
            model = model.slice(removed);
          } else {
            const minid = makeId(BigInt(o.n), 0n);
            const removed = s.trim('minid', 0, minid, o.same, 0);
            if (!o.same) assert.ok(model.slice(removed).every((e) => e.id >= minid));
            model = model.slice(removed);
          }
          assert.equal(s.length, model.length);
          assert.ok(s.nodes.every((n) => n.ids.length > 0 && n.ids.length + n.deleted <= nodeMaxEntries));
        }
        assert.deepEqual([...s.range(0n, ID_MAX, false)], model);
        assert.deepEqual([...s.range(0n, ID_MAX, true)], [...model].reverse());
        if (model.length > 2) {
          const lo = model[1]!.id;
          const hi = model[model.length - 2]!.id;
          assert.deepEqual([...s.range(lo, hi, false)], model.slice(1, -1));
          assert.deepEqual([...s.range(lo + 1n, hi - 1n, true)], model.slice(2, -2).reverse());
        }
        // The RDB node codec round-trips every node.
        for (const n of s.nodes) {
          const back = decodeStreamNode(n.master, encodeStreamNode(n))!;
          assert.deepEqual(back.ids, n.ids);
          assert.deepEqual(back.fields, n.fields);
          // The size bookkeeping (which decides node splits) is the real listpack's size.
          if (n.deleted === 0) assert.equal(nodeBytes(n), encodeStreamNode(n).length);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('clones deeply, groups and PELs included', () => {
    const s = new StreamValue();
    s.append(makeId(1n, 0n), ['a', '1']);
    const g = s.createGroup('g', 0n, -1)!;
    const c = g.createConsumer('alice', 5)!;
    const nack = { consumer: c, deliveryTime: 5, deliveryCount: 1 };
    g.pel.set(makeId(1n, 0n), nack);
    c.pel.set(makeId(1n, 0n), nack);
    const copy = s.clone();
    s.append(makeId(2n, 0n), ['b', '2']);
    nack.deliveryCount = 9;
    assert.equal(copy.length, 1);
    const cg = copy.group('g')!;
    const cn = cg.pel.get(makeId(1n, 0n))!;
    assert.equal(cn.deliveryCount, 1);
    assert.equal(cn.consumer, cg.consumers.get('alice'));
    assert.equal(cg.consumers.get('alice')!.pel.get(makeId(1n, 0n)), cn);
  });
});
