/**
 * The RDB value decoder against corrupt input, without a server: payloads from Redis's own
 * corrupt-dump suite (each refused with Redis's reason, including those Redis accepts without
 * deep validation), the checks nodis makes beyond Redis's, and fast-check mutations of valid
 * encodings of every type. Whatever the bytes, the decoder either refuses them with
 * RdbFormatError or returns a value that re-encodes and decodes again to the same thing: it
 * never keeps part of a damaged value.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { corrupt, mutation, withFooter } from './helpers/payload-mutation.js';
import { RdbEncoder } from '../src/persistence/rdb-encode.js';
import { RdbDecoder, defaultLoadLimits, decodeDumpPayload } from '../src/persistence/rdb-decode.js';
import { RdbFormatError } from '../src/persistence/bytes.js';
import { ListValue } from '../src/types/list.js';
import { HashValue } from '../src/types/hash.js';
import { SetValue } from '../src/types/set.js';
import { ZSet } from '../src/types/zset.js';
import { StreamValue, makeId, nodeBytes } from '../src/types/stream.js';
import { encodeListpack } from '../src/persistence/listpack.js';
import { encodeStreamNode } from '../src/persistence/stream-codec.js';
import type { RedisValue } from '../src/types/value.js';

/** A DUMP payload from hex (as in Redis's corrupt-dump.tcl, the footer included). */
const payload = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

/** Decodes a DUMP payload's value; returns the value, or the error's message. */
function decode(p: Buffer): { value: RedisValue | null } | string {
  try {
    return { value: decodeDumpPayload(p, defaultLoadLimits()) };
  } catch (e) {
    if (!(e instanceof RdbFormatError)) throw e;
    return e.message;
  }
}

function encode(v: RedisValue, compress = false): Buffer {
  const enc = new RdbEncoder({ compress, listMaxListpackSize: 3, packedThreshold: 1 << 30 });
  enc.typedValue(v);
  return withFooter(enc.take());
}

describe('corrupt payloads from Redis corrupt-dump.tcl', () => {
  // [test name, payload, reason]
  const refused: [string, string, string][] = [
    ['hash with valid zip list header, invalid entry len', '0D1B1B00000016000000040000026100040262000414630004026400FF0900D910549215F55F52', 'Hash ziplist integrity check failed.'],
    ['invalid zlbytes header', '0D1B2500000016000000040000026100040262000402630004026400FF0900B7F76E9F434314C6', 'Hash ziplist integrity check failed.'],
    ['quicklist big ziplist prev len', '0E0113130000000E0000000200000261000E026200FF0900499730B20DA1EDAA', 'Ziplist integrity check failed.'],
    ['#3080 - ziplist', '0A8000000010414141414141414102000080414141410700395B49E0C1C6DD76', 'List ziplist integrity check failed.'],
    ['hash empty zipmap', '090200FF0900C0F1B8674C16ACE3', 'Zipmap integrity check failed.'],
    ['quicklist listpack entry start with EOF', '1201020B0B0000000100816102FFFF0A007ED8DE5B0DD770B8', 'Listpack integrity check failed.'],
    ['zset ziplist entry lensize is 0', '0C3D3D0000003A000000140000F102F102025F3104F202F302F302025F3304F402EE02F502025F3504F602F702F702025F3704F802F902F902025F3904FAFF0900AEF9772A472433F6', 'Zset ziplist integrity check failed.'],
    ['fuzzer findings - empty intset', '02C0C006025F39C002025F33C000025F31C004C008025F37025F350900C5D46DBAAD14B7E7', 'unexpected encoded length'],
    ['stream with duplicate consumers', '0F0000000001076D7967726F757000000002046E616D652A4CAA9A7D01000000046E616D652B4CAA9A7D010000000A00CCED8CA762EEC7C8', 'Duplicate stream consumer detected.'],
  ];
  for (const [name, hex, reason] of refused) {
    it(`refuses "${name}" with Redis's reason`, () => {
      assert.equal(decode(payload(hex)), reason);
    });
  }

  it('refuses a stream entry whose lp-count is wrong (Redis accepts it without deep validation)', () => {
    // The stream node listpack of "stream bad lp_count": the first entry's lp-count says 86.
    const badLpCount = payload(
      '0F011000000173DEDF7D9B00000000000000004042420000001800030100010201846974656D058576616C75650600010201000100010101000156010201220100010101825F3103050102012C010001010102010501FF038100000173DEDF7DC70001076D7967726F75708100000173DEDF7D9B000100000173DEDF7D9B0000000000000000F97DDFDE73010000010105416C696365EB7DDFDE730100000100000173DEDF7D9B00000000000000000900B2A8A75F1B6172D5',
    );
    assert.equal(decode(badLpCount), 'Stream listpack integrity check failed.');
  });

  it('refuses a hash listpack with a repeated field', () => {
    assert.equal(decode(payload('101717000000040082610003826200038261000382640003FF0A00C0CFA687E5A7C5BE')), 'Hash listpack integrity check failed.');
  });

  it('refuses an intset out of order or with a repeated member', () => {
    for (const members of [[5, 1, 7], [1, 5, 5]]) {
      const intset = Buffer.alloc(8 + members.length * 2);
      intset.writeUInt32LE(2, 0);
      intset.writeUInt32LE(members.length, 4);
      members.forEach((v, i) => intset.writeInt16LE(v, 8 + i * 2));
      assert.equal(decode(withFooter(Buffer.concat([Buffer.of(11, intset.length), intset]))), 'Intset integrity check failed.');
    }
  });

  it('refuses a zset listpack score that is not a number (Redis reads 0)', () => {
    const lp = encodeListpack(['member', 'not a number']);
    assert.equal(decode(withFooter(Buffer.concat([Buffer.of(17, lp.length), lp]))), 'Zset listpack integrity check failed.');
  });

  it('an LZF string claiming more than LZF can expand to is refused before allocating it', () => {
    // type string, LZF: compressed length 2, uncompressed length 2^30.
    const p = withFooter(Buffer.from([0, 0xc3, 0x02, 0x80, 0x40, 0, 0, 0, 0x01, 0x41]));
    assert.equal(decode(p), 'Invalid LZF compressed string');
  });
});

// ---- stream checks nodis makes beyond Redis's ---------------------------------------------------

describe('streams whose parts disagree', () => {
  /** A stream of `n` entries, one per node when `perNode` is 1, with a group whose alice holds the first two. */
  function stream(n: number, perNode = 100): StreamValue {
    const s = new StreamValue({ nodeMaxEntries: perNode, nodeMaxBytes: 4096 });
    for (let i = 1; i <= n; i++) s.append(makeId(BigInt(i), 0n), ['f', String(i)]);
    const g = s.createGroup('group', s.lastId, s.length)!;
    const c = g.createConsumer('alice', 5)!;
    for (const e of [...s].slice(0, 2)) {
      const nack = { consumer: c, deliveryTime: 77, deliveryCount: 1 };
      g.pel.set(e.id, nack);
      c.pel.set(e.id, nack);
    }
    return s;
  }

  it('an intact one decodes to itself', () => {
    for (const perNode of [1, 100]) {
      const got = decode(encode(stream(4, perNode)));
      assert.ok(typeof got !== 'string', String(got));
      assert.equal(canonical(got.value), canonical(stream(4, perNode)));
    }
  });

  it('refuses entry IDs out of order, within a node or across nodes', () => {
    const within = stream(4);
    within.nodes[0]!.ids.reverse();
    assert.equal(decode(encode(within)), 'Stream listpack integrity check failed.');
    const across = stream(4, 1);
    across.nodes.reverse();
    assert.equal(decode(encode(across)), 'Stream listpack integrity check failed.');
  });

  it('refuses a stored length that is not the number of entries', () => {
    const s = stream(4);
    s.length = 3;
    assert.equal(decode(encode(s)), 'Stream length inconsistent with its entries');
  });

  it('refuses a last ID smaller than the last entry', () => {
    const s = stream(4);
    s.lastId = makeId(2n, 0n);
    assert.equal(decode(encode(s)), 'Stream last ID is smaller than its last entry');
  });

  it('refuses a pending entry owned by two consumers', () => {
    const s = stream(4);
    const g = s.group('group')!;
    const bob = g.createConsumer('bob', 5)!;
    const [id, nack] = [...g.pel.from()][0]!;
    bob.pel.set(id, nack);
    assert.equal(decode(encode(s)), 'Stream PEL entry owned by two consumers');
  });
});

// ---- fast-check: mutations of valid payloads ----------------------------------------------------

const bytes = (maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }).map((a) => Buffer.from(a).toString('latin1'));
const element = fc.oneof(bytes(12), fc.integer({ min: -70000, max: 70000 }).map(String), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String));

/** Values of every type and encoding (compact and not), streams with groups and PELs. */
const value: fc.Arbitrary<RedisValue> = fc.oneof(
  bytes(40),
  fc.array(element, { minLength: 1, maxLength: 12 }).map((xs) => ListValue.from(xs)),
  fc.uniqueArray(element, { minLength: 1, maxLength: 150 }).map((xs) => HashValue.fromPairs(xs.map((x, i) => [x, String(i)] as const))),
  fc.uniqueArray(element, { minLength: 1, maxLength: 20 }).map((xs) => SetValue.fromMembers(xs)),
  fc.uniqueArray(fc.integer({ min: -1000, max: 1000 }).map(String), { minLength: 1, maxLength: 20 }).map((xs) => SetValue.fromMembers(xs)),
  fc.tuple(fc.uniqueArray(element, { minLength: 1, maxLength: 150 }), fc.boolean()).map(([xs, compact]) => {
    const z = new ZSet(compact && xs.length <= 128);
    xs.forEach((m, i) => z.set(m, i % 3 === 0 ? i / 4 : -i));
    return z;
  }),
  fc.tuple(fc.array(fc.array(element, { minLength: 2, maxLength: 4 }), { minLength: 0, maxLength: 12 }), fc.nat(5)).map(([entries, pending]) => {
    const s = new StreamValue();
    entries.forEach((fv, i) => s.append(makeId(1000n + BigInt(i >> 1), BigInt(i)), fv.length % 2 === 0 ? fv : fv.slice(1)));
    const g = s.createGroup('group', s.lastId, s.length)!;
    const c = g.createConsumer('alice', 5)!;
    for (const e of [...s].slice(0, pending)) {
      const nack = { consumer: c, deliveryTime: 77, deliveryCount: 2 };
      g.pel.set(e.id, nack);
      c.pel.set(e.id, nack);
    }
    return s;
  }),
);

/** A value's contents, whatever its encoding (for comparing what two decodes produced). */
function canonical(v: RedisValue | null): string {
  if (v === null) return 'null';
  if (typeof v !== 'object' || Buffer.isBuffer(v)) return JSON.stringify(['string', String(v)]);
  if (v instanceof ListValue) return JSON.stringify(['list', v.toArray()]);
  if (v instanceof HashValue) return JSON.stringify(['hash', [...v.entries()].sort()]);
  if (v instanceof SetValue) return JSON.stringify(['set', [...v.values()].sort()]);
  if (v instanceof ZSet) return JSON.stringify(['zset', [...v.entries()]]);
  if (v instanceof StreamValue) {
    const groups = v.sortedGroups().map(([name, g]) => [
      name,
      String(g.lastId),
      g.entriesRead,
      [...g.pel.from()].map(([id, n]) => [String(id), n.consumer?.name ?? null, n.deliveryTime, n.deliveryCount]),
      g.sortedConsumers().map((c) => [c.name, c.seenTime, [...c.pel.from()].map(([id]) => String(id))]),
    ]);
    const entries = [...v].map((e) => [String(e.id), e.fields]);
    return JSON.stringify(['stream', entries, String(v.lastId), String(v.firstId), String(v.maxDeletedId), v.entriesAdded, groups]);
  }
  throw new Error('unknown value type');
}

describe('corrupt payloads generated by mutation', () => {
  it('are refused with RdbFormatError or decode to a value that round-trips', () => {
    const outcomes = { decoded: 0, refused: 0 };
    fc.assert(
      fc.property(value, fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 3 }), (v, compress, muts) => {
        const got = decode(corrupt(encode(v, compress), muts));
        if (typeof got === 'string') {
          outcomes.refused++;
          return;
        }
        outcomes.decoded++;
        if (got.value === null) return;
        if (got.value instanceof StreamValue) {
          // Size bookkeeping: a node measures as written (plus entries flagged deleted).
          for (const n of got.value.nodes) {
            const written = encodeStreamNode(n).length;
            assert.ok(n.deleted === 0 ? nodeBytes(n) === written : nodeBytes(n) > written);
          }
        }
        // What was accepted is a whole, consistent value: it encodes and decodes to itself.
        const again = decode(encode(got.value));
        assert.ok(typeof again !== 'string', `re-encoded value refused: ${String(again)}`);
        assert.equal(canonical(again.value), canonical(got.value));
      }),
      { numRuns: 3000 },
    );
    // Both outcomes happen (a mutation inside a string's bytes leaves a valid payload).
    assert.ok(outcomes.decoded > 50 && outcomes.refused > 50, JSON.stringify(outcomes));
  });

  it('an intact payload decodes to the value that was encoded', () => {
    fc.assert(
      fc.property(value, fc.boolean(), (v, compress) => {
        const got = decode(encode(v, compress));
        assert.ok(typeof got !== 'string', String(got));
        assert.equal(canonical(got.value), canonical(v));
        if (v instanceof StreamValue) {
          // Node size bookkeeping (stream-node-max-bytes) matches the nodes that were written.
          const sizes = (x: StreamValue): number[][] => x.nodes.map((n) => [n.bodyBytes, n.deleted]);
          assert.deepEqual(sizes(got.value as StreamValue), sizes(v));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a decoder given a truncated payload never reads past its end', () => {
    const p = encode(HashValue.fromPairs([['a', '1'], ['b', '2']]));
    for (let cut = 1; cut < p.length - 10; cut++) {
      const d = new RdbDecoder(p, defaultLoadLimits(), 0, cut);
      assert.throws(() => d.value(d.r.u8()), RdbFormatError);
    }
  });
});
