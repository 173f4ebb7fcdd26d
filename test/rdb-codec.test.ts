/**
 * The RDB building blocks on their own: CRC64, LZF, listpack, intset, and value round trips
 * through the encoder and decoder (property-based against the values themselves).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { Crc64, crc64 } from '../src/persistence/crc64.js';
import { lzfCompress, lzfDecompress } from '../src/persistence/lzf.js';
import { decodeListpack, encodeListpack, elementString } from '../src/persistence/listpack.js';
import { decodeIntset, encodeIntset } from '../src/persistence/legacy-encodings.js';
import { RdbEncoder } from '../src/persistence/rdb-encode.js';
import { RdbDecoder } from '../src/persistence/rdb-decode.js';
import { RdbFormatError } from '../src/persistence/bytes.js';
import { ListValue } from '../src/types/list.js';
import { HashValue } from '../src/types/hash.js';
import { SetValue } from '../src/types/set.js';
import { ZSet } from '../src/types/zset.js';

const latin1 = (maxLength = 80): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }).map((a) => Buffer.from(a).toString('latin1'));
/** Strings that often look like integers, to exercise the integer encodings. */
const element = fc.oneof(latin1(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.integer().map(String));

describe('rdb codecs', () => {
  it('crc64 matches Redis (crc64 "123456789" = e9c6d914c4b8d9ca)', () => {
    assert.equal(crc64(Buffer.from('123456789')).hex(), 'e9c6d914c4b8d9ca');
    // crc64.c's own test: the Lorem ipsum text with its terminating NUL (sizeof(li)).
    const li =
      'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna ' +
      'aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis ' +
      'aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint ' +
      'occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.\0';
    assert.equal(crc64(Buffer.from(li, 'latin1')).hex(), 'c7794709e69683b3');
  });

  it('crc64 (eight bytes at a time) equals the bit-by-bit definition over any range and any split', () => {
    // The definition: reflected, polynomial 0x95ac9329ac4bc9b5, init 0, no final xor.
    const reference = (b: Uint8Array): string => {
      let crc = 0n;
      for (const byte of b) {
        crc ^= BigInt(byte);
        for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ 0x95ac9329ac4bc9b5n : crc >> 1n;
      }
      return crc.toString(16).padStart(16, '0');
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), fc.nat(), (bytes, a, b, c) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (b % (bytes.length - start + 1));
        const split = start + (c % (end - start + 1));
        const whole = crc64(bytes, start, end).hex();
        assert.equal(whole, reference(bytes.subarray(start, end)));
        assert.equal(crc64(bytes, start, split).update(bytes, split, end).hex(), whole);
      }),
    );
    // Ranges of 256 bytes and more go through the WebAssembly function (sixteen bytes at a
    // time, in runs of 64 KB): the same value as the JS loop and the definition, from any
    // offset, across run boundaries, continued from any register.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 256, maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, c) => {
        const start = a % 40;
        const split = start + (c % (bytes.length - start + 1));
        const whole = crc64(bytes, start).hex();
        assert.equal(whole, reference(bytes.subarray(start)));
        assert.equal(new Crc64().updateJs(bytes, start).hex(), whole);
        assert.equal(crc64(bytes, start, split).update(bytes, split).hex(), whole);
      }),
      { numRuns: 60 },
    );
    const big = Buffer.alloc(200_000 + 13);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    for (const start of [0, 1, 7, 65_536 - 3]) {
      assert.equal(crc64(big, start).hex(), new Crc64().updateJs(big, start).hex());
    }
  });

  it('lzf round-trips and never exceeds the bound it is given', () => {
    fc.assert(
      fc.property(fc.oneof(latin1(400), fc.string({ maxLength: 400 }).map((s) => s.repeat(3))), (s) => {
        const raw = Buffer.from(s, 'latin1');
        const packed = lzfCompress(raw, raw.length - 4);
        if (packed === null) return;
        assert.ok(packed.length <= raw.length - 4);
        assert.deepEqual(lzfDecompress(packed, raw.length), raw);
      }),
    );
    const repetitive = Buffer.from('abc'.repeat(1000));
    const p = lzfCompress(repetitive, repetitive.length - 4)!;
    assert.ok(p.length < 100);
  });

  it('listpack round-trips strings and integers', () => {
    fc.assert(
      fc.property(fc.array(element, { maxLength: 60 }), (elements) => {
        const back = decodeListpack(encodeListpack(elements)).map(elementString);
        assert.deepEqual(back, elements);
      }),
    );
  });

  it('listpack refuses a damaged buffer', () => {
    const lp = encodeListpack(['hello', '12', 'world']);
    lp[lp.length - 2] = 0x05; // breaks the last entry's backlen
    assert.throws(() => decodeListpack(lp), RdbFormatError);
  });

  it('intset round-trips sorted with the narrowest width', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { minLength: 1, maxLength: 40 }), (ints) => {
        const back = decodeIntset(encodeIntset(ints.map(String))).map(String);
        assert.deepEqual(back, [...ints].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String));
      }),
    );
    // Sixteen digits beyond 2^53 need the bigint path, not a double.
    assert.deepEqual(decodeIntset(encodeIntset(['9110178456371417', '-9007199254740993'])).map(String), ['-9007199254740993', '9110178456371417']);
    assert.equal(encodeIntset(['1', '-5']).readUInt32LE(0), 2);
    assert.equal(encodeIntset(['1', '70000']).readUInt32LE(0), 4);
    // intsetValidateIntegrity refuses an empty intset even without deep validation.
    assert.throws(() => decodeIntset(encodeIntset([])), RdbFormatError);
  });

  const roundTrip = <T>(v: T & object, compress: boolean): unknown => {
    const enc = new RdbEncoder({ compress, listMaxListpackSize: 3, packedThreshold: 1 << 30 });
    enc.typedValue(v as never);
    const buf = enc.take();
    const dec = new RdbDecoder(buf);
    const back = dec.value(dec.r.u8());
    assert.equal(dec.r.pos, buf.length);
    return back;
  };

  it("a string key and value record (keyValue's one-pass path) is the bytes string() writes for each", () => {
    // The one-pass path takes short, non-int-like strings; int-like, long (LZF at > 20 bytes)
    // and expiring ones go the general way. Both must give the same bytes for any pair.
    const sample = fc.oneof(element, latin1(24), fc.constantFrom('', '0', '-', '-1', '007', '2147483648', '12345678901', 'key:12', 'x'.repeat(20), 'x'.repeat(21)));
    for (const compress of [true, false]) {
      const opts = { compress, listMaxListpackSize: -2, packedThreshold: 1 << 30 };
      fc.assert(
        fc.property(sample, sample, (key, value) => {
          const fast = new RdbEncoder(opts, 16);
          fast.keyValue(key, value, -1);
          const general = new RdbEncoder(opts, 16);
          general.byte(0);
          general.string(key);
          general.string(value);
          assert.deepEqual(fast.view(), general.view());
        }),
        { numRuns: 2000 },
      );
    }
  });

  it('lists, hashes, sets and sorted sets survive encode/decode in every encoding', () => {
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 200 }), fc.boolean(), (items, compress) => {
        const l = ListValue.from(items);
        assert.deepEqual((roundTrip(l, compress) as ListValue).toArray(), items);
        const h = HashValue.fromPairs(items.map((x, i) => [x, String(i)] as const));
        const h2 = roundTrip(h, compress) as HashValue;
        assert.deepEqual([...h2.entries()].sort(), [...h.entries()].sort());
        assert.equal(h2.encoding(), h.encoding());
        const s = SetValue.fromMembers(items);
        const s2 = roundTrip(s, compress) as SetValue;
        assert.deepEqual([...s2.values()].sort(), [...s.values()].sort());
        assert.equal(s2.encoding(), s.encoding());
        const z = new ZSet(items.length <= 128);
        items.forEach((m, i) => z.set(m, i % 7 === 0 ? i / 3 : -i));
        const z2 = roundTrip(z, compress) as ZSet;
        assert.deepEqual([...z2.entries()], [...z.entries()]);
      }),
      { numRuns: 60 },
    );
  });
});
