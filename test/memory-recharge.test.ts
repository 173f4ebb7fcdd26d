/**
 * The recharge of a written list, hash or set (keyspace/memory.ts rechargeValue) keeps the average its
 * last estimate sampled until the value's headEpoch moves: after any sequence of writes it must
 * still give exactly what a fresh estimate (MEMORY USAGE's objectComputeSize, 5 samples) gives.
 * The sequences change the first fields/members (the sampled ones) in every way a write can —
 * delete, a value of another length, one of the same length, an add while few are there, an
 * add behind them, SPOP — with the first elements' lengths unlike the rest's, so a sample kept
 * past a change answers a different number.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { chargedValueBytes, estimateValueSize, rechargeValue } from '../src/keyspace/memory.js';
import { HashValue } from '../src/types/hash.js';
import { SetValue } from '../src/types/set.js';
import { ListValue } from '../src/types/list.js';
import { Random } from '../src/core/clock.js';

/** What a value is charged after its writes: its first charge plus every recharge. */
function tracker(v: HashValue | SetValue | ListValue): { recharge: () => void; check: (what: string) => void } {
  let charge = chargedValueBytes(v);
  return {
    recharge: () => {
      charge += rechargeValue(v);
    },
    check: (what) => assert.equal(charge, estimateValueSize(v, 5), what),
  };
}

const long = (i: number): string => `field-with-a-long-name-${i}-`.padEnd(40 + (i % 7), 'x');

describe('memory recharge of big hashes and sets', () => {
  it('a hashtable-encoded hash: deletes, value lengths, adds in front and behind', () => {
    const h = new HashValue();
    for (let i = 0; i < 6; i++) h.set(long(i), 'v'.repeat(30 + i));
    for (let i = 6; i < 300; i++) h.set(`f${i}`, 'x');
    assert.equal(h.encoding(), 'hashtable');
    const t = tracker(h);
    const steps: [string, () => void][] = [
      ['a field behind the sample', () => h.set('new-behind', 'y')],
      ['a sampled value of another length', () => h.set(long(0), 'short')],
      ['a sampled value of the same length', () => h.set(long(0), 'SHORT')],
      ['a sampled field deleted', () => h.delete(long(1))],
      ['a field behind deleted', () => h.delete('f100')],
      ['a value behind of another length', () => h.set('f200', 'z'.repeat(500))],
    ];
    for (const [what, step] of steps) {
      step();
      t.recharge();
      t.check(what);
    }
  });

  it('a hashtable-encoded set: SREM, SPOP, SADD', () => {
    const s = new SetValue();
    for (let i = 0; i < 6; i++) s.add(long(i));
    for (let i = 6; i < 300; i++) s.add(`m${i}`);
    assert.equal(s.encoding(), 'hashtable');
    const t = tracker(s);
    const rng = new Random(7);
    const steps: [string, () => void][] = [
      ['a member behind the sample', () => s.add('m-behind')],
      ['a sampled member removed', () => s.delete(long(0))],
      ['a member behind removed', () => s.delete('m100')],
      ['a random member popped', () => s.popRandom(rng)],
    ];
    for (const [what, step] of steps) {
      step();
      t.recharge();
      t.check(what);
    }
  });

  /** Runs random list writes (element lengths from `len`) and checks every recharge. */
  const listWritesProperty = (len: fc.Arbitrary<number>, kinds: string[], maxFill = 40): void => {
    const op = fc.record({ kind: fc.constantFrom(...kinds), i: fc.integer({ min: 0, max: 30 }), len });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 0, max: maxFill }), (ops, fill) => {
        const l = new ListValue();
        // Elements of many lengths (and integers, stored as numbers), so a kept sample of the
        // first five answers another number than a fresh one whenever they changed.
        const element = (i: number, len: number): string => (len % 4 === 0 ? String(i * 1000 + len) : 'e'.repeat(len));
        for (let i = 0; i < fill; i++) l.pushTail(element(i, i % 13));
        const t = tracker(l);
        for (const { kind, i, len } of ops) {
          const n = l.size();
          if (kind === 'lpush') l.pushHead(element(i, len));
          else if (kind === 'rpush') l.pushTail(element(i, len));
          else if (kind === 'lpop') l.popHead();
          else if (kind === 'rpop') l.popTail();
          else if (kind === 'lset') {
            if (n > 0) l.set(i % n, element(i, len));
          } else if (kind === 'linsert') l.insertAt(i % (n + 1), element(i, len));
          else if (kind === 'lrem') l.removeMatching(element(i, len), i % 3, len % 2 === 0);
          else if (kind === 'removeAt') {
            if (n > 0) l.removeAt(i % n);
          } else if (kind === 'ltrim') {
            if (n > 0) l.trim(Math.min(i % 3, n - 1), Math.max(Math.min(i % 3, n - 1), n - 1 - (len % 3)));
          } else l.clear();
          t.recharge();
          t.check(`list after ${kind}`);
        }
      }),
      { numRuns: 300 },
    );
  };
  const listKinds = ['lpush', 'rpush', 'rpush', 'lpop', 'rpop', 'lset', 'linsert', 'lrem', 'removeAt', 'ltrim', 'clear'];

  it('any sequence of writes to a list recharges as a fresh estimate (types19)', () => {
    listWritesProperty(fc.integer({ min: 0, max: 60 }), listKinds);
  });

  it('head pushes and pops of elements of a few lengths keep the sample only when its total is unchanged (types20)', () => {
    // LPUSH/LPOP that swap an element of the sample for one of the same length leave headEpoch
    // (ListValue SAMPLED_HEAD); with three lengths (and integers of one to five digits) that is
    // many of them, and the others must still move it. The lengths are far apart (the charge
    // rounds an average to jemalloc's 16-byte classes), and the lists short, so pops cross five.
    listWritesProperty(fc.constantFrom(3, 23, 47, 8), ['lpush', 'lpush', 'lpop', 'lpop', 'rpush', 'rpop', 'linsert', 'lset'], 8);
  });

  it('a head push of an element as long as the one it moves out of the sample keeps the epoch', () => {
    const l = new ListValue();
    for (let i = 0; i < 10; i++) l.pushTail('x'.repeat(i + 1));
    const t = tracker(l);
    let epoch = l.headEpoch;
    l.pushHead('abcde'); // the 5th element, 'xxxxx', leaves the sample: the same length
    assert.equal(l.headEpoch, epoch);
    t.recharge();
    t.check('lpush of an equal length');
    l.pushHead('ab'); // 'xxxx' leaves: another length
    assert.notEqual(l.headEpoch, epoch);
    t.recharge();
    t.check('lpush of another length');
    epoch = l.headEpoch;
    l.pushHead('7'); // stored as the number 7, against 'xxx'
    assert.notEqual(l.headEpoch, epoch);
    t.recharge();
    t.check('lpush of an integer of another length');
    epoch = l.headEpoch;
    l.pushHead('42'); // the number 42 against 'xx'
    assert.equal(l.headEpoch, epoch);
    t.recharge();
    t.check('lpush of an integer of the same length');
    l.popHead(); // 42 out, 'xx' in
    assert.equal(l.headEpoch, epoch);
    t.recharge();
    t.check('lpop of an equal length');
    l.popHead(); // 7 out, 'xxx' in
    assert.notEqual(l.headEpoch, epoch);
    t.recharge();
    t.check('lpop of an equal length');
  });

  it('any sequence of writes to a small-then-big hash or set recharges as a fresh estimate', () => {
    const op = fc.record({
      kind: fc.constantFrom('hset', 'hdel', 'sadd', 'srem', 'spop'),
      i: fc.integer({ min: 0, max: 40 }),
      len: fc.integer({ min: 0, max: 90 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 0, max: 200 }), (ops, fill) => {
        const h = new HashValue();
        const s = new SetValue();
        for (let i = 0; i < fill; i++) {
          h.set(`pre${i}`, 'p'.repeat(i % 5));
          s.add(`pre${i}`);
        }
        const th = tracker(h);
        const ts = tracker(s);
        const rng = new Random(1);
        for (const { kind, i, len } of ops) {
          const name = i < 10 ? `pre${i}` : `k${i}`.padEnd(len % 50, '-');
          if (kind === 'hset') h.set(name, 'v'.repeat(len));
          else if (kind === 'hdel') h.delete(name);
          else if (kind === 'sadd') s.add(i % 3 === 0 ? String(i * len) : name);
          else if (kind === 'srem') s.delete(name);
          else if (s.size() > 0) s.popRandom(rng);
          th.recharge();
          ts.recharge();
          th.check(`hash after ${kind}`);
          ts.check(`set after ${kind}`);
        }
      }),
      { numRuns: 150 },
    );
  });
});
