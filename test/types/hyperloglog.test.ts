/**
 * The HyperLogLog algorithm on its own: MurmurHash64A against vectors from Redis's C function
 * and a BigInt model, register packing against a bit-level model, sparse and dense encodings
 * agreeing register for register, corruption detection, the cached cardinality, and the
 * estimator's error on large sets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import {
  HLL_DENSE,
  HLL_DENSE_SIZE,
  HLL_HASH_SEED,
  HLL_REGISTERS,
  HLL_SPARSE,
  HllEditor,
  cacheIsValid,
  cardinalityReply,
  createDenseHll,
  createHll,
  decodeSparse,
  denseGetRegister,
  denseRegisters,
  denseSetRegister,
  estimateFromHistogram,
  hllCount,
  hllCountRaw,
  hllEncoding,
  hllMerge,
  hllPatLen,
  hllSelfTest,
  hllSigma,
  hllTau,
  invalidateCache,
  isHllString,
  murmurHash64A,
  readCachedCardinality,
  writeCachedCardinality,
} from '../../src/types/hyperloglog.js';
import { allocOwned } from '../../src/types/string-ops.js';

const MASK64 = (1n << 64n) - 1n;
const M = 0xc6a4a7935bd1e995n;

/** A direct transcription of MurmurHash64A in BigInt: the model the fast version must match. */
function murmurModel(data: Uint8Array, seed: number): bigint {
  const len = data.length;
  let h = (BigInt(seed >>> 0) ^ (BigInt(len) * M)) & MASK64;
  const blocks = len - (len & 7);
  for (let i = 0; i < blocks; i += 8) {
    let k = 0n;
    for (let b = 7; b >= 0; b--) k = (k << 8n) | BigInt(data[i + b]!);
    k = (k * M) & MASK64;
    k ^= k >> 47n;
    k = (k * M) & MASK64;
    h ^= k;
    h = (h * M) & MASK64;
  }
  const tail = len & 7;
  if (tail > 0) {
    for (let b = tail - 1; b >= 0; b--) h ^= BigInt(data[blocks + b]!) << BigInt(8 * b);
    h = (h * M) & MASK64;
  }
  h ^= h >> 47n;
  h = (h * M) & MASK64;
  h ^= h >> 47n;
  return h;
}

/** Register index and run length from the model hash, as hllPatLen defines them. */
function patLenModel(ele: Uint8Array): [number, number] {
  const hash = murmurModel(ele, HLL_HASH_SEED);
  const index = Number(hash & 0x3fffn);
  let rest = (hash >> 14n) | (1n << 50n);
  let count = 1;
  while ((rest & 1n) === 0n) {
    count++;
    rest >>= 1n;
  }
  return [index, count];
}

/** Register `r` read bit by bit: bit i of the register is global bit r*6+i, LSB first per byte. */
function registerModel(buf: Uint8Array, r: number): number {
  let v = 0;
  for (let i = 0; i < 6; i++) {
    const bit = r * 6 + i;
    if ((buf[16 + (bit >> 3)]! >> (bit & 7)) & 1) v |= 1 << i;
  }
  return v;
}

function emptyDense(): HllEditor {
  const e = new HllEditor(createHll(), 3000);
  assert.ok(e.toDense());
  return e;
}

/** Sparse opcodes covering exactly 16384 registers, as DECODE prints them. */
function decodedSpan(buf: Uint8Array): number {
  let n = 0;
  for (const op of decodeSparse(buf).split(' ')) {
    const [kind, rest] = op.split(':') as [string, string];
    n += kind === 'v' ? Number(rest.split(',')[1]) : Number(rest);
  }
  return n;
}

describe('MurmurHash64A', () => {
  it('matches vectors computed with Redis\'s C function', () => {
    // (input, hash with Redis's seed 0xadc83b19, hash with seed 0), from hyperloglog.c compiled.
    const vectors: [string, bigint, bigint][] = [
      ['', 0xd8dfea6585bc9732n, 0x0000000000000000n],
      ['a', 0x53d2470a9b43b1a7n, 0x071717d2d36b6b11n],
      ['ab', 0x0eaed676437142cfn, 0x62be85b2fe53d1f8n],
      ['abc', 0x77ec90aeb374e502n, 0x9cc9c33498a95efbn],
      ['hello', 0x0f656f01eecfe400n, 0x1e68d17c457bf117n],
      ['1234567', 0x85563db163632857n, 0xae9ebd2095279402n],
      ['12345678', 0x95ebb86389132953n, 0x758f67d162b2d202n],
      ['123456789', 0x217532cb09f2a44dn, 0x4977490251674330n],
      ['The quick brown fox jumps over the lazy dog', 0x51606c5c5b561acen, 0x5589ca33042a861bn],
      ['\xff\x00\x80\x7f\xfe\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a', 0x5f9187eea1178116n, 0xd1b09a27f3e0d986n],
    ];
    for (const [input, seeded, unseeded] of vectors) {
      assert.equal(murmurHash64A(input, HLL_HASH_SEED), seeded, JSON.stringify(input));
      assert.equal(murmurHash64A(Buffer.from(input, 'latin1'), 0), unseeded, JSON.stringify(input));
    }
  });

  it('agrees with a BigInt model on arbitrary bytes and seeds, as bytes or latin1 text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, seed) => {
        const expected = murmurModel(bytes, seed);
        assert.equal(murmurHash64A(bytes, seed), expected);
        assert.equal(murmurHash64A(Buffer.from(bytes).toString('latin1'), seed), expected);
      }),
      { numRuns: 500 },
    );
  });

  it('hllPatLen takes the low 14 bits as the register and counts the 000…1 run above them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        assert.deepEqual(hllPatLen(bytes), patLenModel(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('dense registers', () => {
  it('pack 6 bits per register LSB first, without disturbing neighbours', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: HLL_REGISTERS - 1 }), fc.integer({ min: 0, max: 63 })), { maxLength: 200 }), (writes) => {
        const buf = createDenseHll();
        const model = new Uint8Array(HLL_REGISTERS);
        for (const [r, v] of writes) {
          denseSetRegister(buf, r, v);
          model[r] = v;
        }
        for (const [r] of writes) {
          for (const n of [r - 1, r, r + 1]) {
            if (n < 0 || n >= HLL_REGISTERS) continue;
            assert.equal(denseGetRegister(buf, n), model[n]);
            assert.equal(registerModel(buf, n), model[n]);
          }
        }
        assert.equal(buf.length, HLL_DENSE_SIZE);
        assert.deepEqual(denseRegisters(buf), model);
      }),
      { numRuns: 100 },
    );
  });

  it('handle the last register (whose spill byte would be the sds terminator)', () => {
    const buf = createDenseHll();
    denseSetRegister(buf, HLL_REGISTERS - 1, 63);
    assert.equal(denseGetRegister(buf, HLL_REGISTERS - 1), 63);
    assert.equal(buf[HLL_DENSE_SIZE - 1], 0xfc);
    assert.equal(denseGetRegister(buf, HLL_REGISTERS - 2), 0);
  });
});

describe('sparse and dense encodings', () => {
  const elements = fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 })), { maxLength: 400 });

  it('an empty HLL is one XZERO opcode and counts 0', () => {
    const buf = createHll();
    assert.equal(buf.toString('hex'), '48594c4c01000000000000000000000' + '07fff');
    assert.equal(decodeSparse(buf), 'Z:16384');
    assert.equal(hllCount(buf), 0);
    assert.ok(isHllString(buf));
  });

  it('hold the same registers for the same elements, and count the same', () => {
    fc.assert(
      fc.property(elements, fc.integer({ min: 20, max: 3000 }), (eles, maxBytes) => {
        const sparse = new HllEditor(createHll(), maxBytes);
        const dense = emptyDense();
        const model = new Uint8Array(HLL_REGISTERS);
        for (const e of eles) {
          const [index, count] = patLenModel(typeof e === 'string' ? Buffer.from(e, 'latin1') : e);
          const changed = count > model[index]! ? 1 : 0;
          if (changed) model[index] = count;
          assert.equal(sparse.add(e), changed);
          assert.equal(dense.add(e), changed);
          assert.ok(sparse.bytes.length <= Math.max(maxBytes, 18) || hllEncoding(sparse.bytes) === HLL_DENSE);
        }
        if (hllEncoding(sparse.bytes) === HLL_SPARSE) assert.equal(decodedSpan(sparse.bytes), HLL_REGISTERS);
        assert.equal(hllCount(sparse.bytes), hllCount(dense.bytes));
        assert.deepEqual(denseRegisters(dense.bytes), model);
        const raw = new Uint8Array(HLL_REGISTERS);
        assert.ok(hllMerge(raw, sparse.bytes));
        assert.deepEqual(raw, model);
        assert.equal(hllCountRaw(raw), hllCount(dense.bytes));
        assert.ok(sparse.toDense());
        assert.deepEqual(sparse.bytes.subarray(16), dense.bytes.subarray(16));
      }),
      { numRuns: 60 },
    );
  });

  it('promote to dense past hll-sparse-max-bytes or for a value above 32', () => {
    const hll = new HllEditor(createHll(), 40);
    let i = 0;
    while (hllEncoding(hll.bytes) === HLL_SPARSE) hll.add(`e${i++}`);
    assert.ok(i > 3 && i < 40, `promoted after ${i}`);
    assert.equal(hll.bytes.length, HLL_DENSE_SIZE);

    const big = new HllEditor(createHll(), 3000);
    assert.equal(big.set(5, 32), 1);
    assert.equal(hllEncoding(big.bytes), HLL_SPARSE);
    assert.equal(decodeSparse(big.bytes), 'z:5 v:32,1 Z:16378');
    assert.equal(big.set(5, 33), 1);
    assert.equal(hllEncoding(big.bytes), HLL_DENSE);
    assert.equal(denseGetRegister(big.bytes, 5), 33);
  });

  it('split and merge VAL runs the way Redis does', () => {
    const hll = new HllEditor(createHll(), 3000);
    for (let r = 100; r < 104; r++) hll.set(r, 2);
    assert.equal(decodeSparse(hll.bytes), 'Z:100 v:2,4 Z:16280');
    hll.set(101, 3);
    assert.equal(decodeSparse(hll.bytes), 'Z:100 v:2,1 v:3,1 v:2,2 Z:16280');
    assert.equal(hll.set(101, 3), 0);
    assert.equal(hll.set(101, 1), 0);
  });

  it('shrinking in place leaves the spare capacity zeroed (string-ops invariant)', () => {
    const hll = new HllEditor(createHll(), 3000);
    for (let r = 0; r < 40; r++) hll.set(r * 2, 1 + (r % 3));
    for (let r = 0; r < 40; r++) hll.set(r * 2 + 1, 1 + (r % 3));
    const store = new Uint8Array(hll.bytes.buffer, 0, hll.bytes.buffer.byteLength);
    assert.ok(store.subarray(hll.bytes.length).every((b) => b === 0));
  });
});

describe('validation and corruption', () => {
  it('isHllString applies isHLLObjectOrReply\'s checks', () => {
    const sparse = createHll();
    const dense = emptyDense().bytes;
    assert.ok(isHllString(sparse));
    assert.ok(isHllString(dense));
    assert.ok(isHllString(sparse.toString('latin1')));
    assert.ok(!isHllString(12345));
    assert.ok(!isHllString('HYLL'));
    assert.ok(!isHllString('XYLL' + sparse.toString('latin1').slice(4)));
    const badEncoding = Buffer.from(sparse);
    badEncoding[4] = 2;
    assert.ok(!isHllString(badEncoding));
    assert.ok(!isHllString(dense.subarray(0, HLL_DENSE_SIZE - 1)));
    // A sparse value may be any length: its opcodes are checked only when read.
    assert.ok(isHllString(Buffer.concat([sparse, Buffer.from('junk')])));
  });

  it('sparse values that do not cover exactly 16384 registers are reported', () => {
    const good = new HllEditor(createHll(), 3000);
    good.add('a');
    for (const bad of [Buffer.concat([good.bytes, Buffer.from('hello')]), good.bytes.subarray(0, good.bytes.length - 1)]) {
      const copy = allocOwned(bad.length);
      bad.copy(copy);
      assert.equal(hllCount(copy), -1);
      assert.equal(hllMerge(new Uint8Array(HLL_REGISTERS), copy), false);
      assert.equal(new HllEditor(copy, 3000).toDense(), false);
    }
    const noOpcodes = allocOwned(16);
    createHll().copy(noOpcodes, 0, 0, 16);
    assert.equal(new HllEditor(noOpcodes, 3000).add('x'), -1);
  });
});

describe('cardinality', () => {
  it('caches the estimate little endian with the stale flag in the top bit', () => {
    const buf = emptyDense().bytes;
    assert.ok(cacheIsValid(buf));
    writeCachedCardinality(buf, 0x0102030405);
    assert.equal(buf.subarray(8, 16).toString('hex'), '0504030201000000');
    assert.equal(readCachedCardinality(buf), 0x0102030405);
    invalidateCache(buf);
    assert.ok(!cacheIsValid(buf));
    // Past the long long range llroundl yields 0x8000000000000000 (which also reads as stale).
    writeCachedCardinality(buf, Infinity);
    assert.equal(buf.subarray(8, 16).toString('hex'), '0000000000000080');
    assert.equal(readCachedCardinality(buf), -(2n ** 63n));
    assert.equal(cardinalityReply(Infinity), -(2n ** 63n));
    assert.equal(cardinalityReply(2 ** 63), -(2n ** 63n));
    assert.equal(cardinalityReply(2 ** 60), 2n ** 60n);
    assert.equal(cardinalityReply(12345), 12345);
  });

  it('Ertl\'s sigma and tau edge cases', () => {
    assert.equal(hllSigma(1), Infinity);
    assert.equal(hllSigma(0), 0);
    assert.equal(hllTau(0), 0);
    assert.equal(hllTau(1), 0);
    const histo = new Array<number>(64).fill(0);
    histo[0] = HLL_REGISTERS;
    assert.equal(estimateFromHistogram(histo), 0);
  });

  it('estimates large random sets within six standard errors (Redis\'s self-test bound)', () => {
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const relerr = 1.04 / Math.sqrt(HLL_REGISTERS);
    const hll = new HllEditor(createHll(), 3000);
    const ele = Buffer.alloc(12);
    let n = 0;
    for (const checkpoint of [10, 100, 1000, 10000, 100000, 1000000]) {
      for (; n < checkpoint; n++) {
        ele.writeUInt32LE(n, 0);
        ele.writeUInt32LE(next(), 4);
        ele.writeUInt32LE(next(), 8);
        hll.add(ele);
      }
      const estimate = hllCount(hll.bytes);
      const maxerr = checkpoint === 10 ? 1 : Math.ceil(relerr * 6 * checkpoint);
      assert.ok(Math.abs(estimate - checkpoint) <= maxerr, `n=${checkpoint} estimate=${estimate}`);
    }
  });

  it('PFSELFTEST\'s own test passes', () => {
    let seed = 99;
    const rand = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 1;
    assert.equal(hllSelfTest(rand, 3000), null);
  });
});
