import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { compareServers } from './helpers/differential.js';

describe('bitmap commands', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('SETBIT/GETBIT with padding and errors', async () => {
    assert.equal(await r.setbit('b', 7, 1), 0);
    assert.equal(await r.setbit('b', 7, 1), 1);
    assert.deepEqual(await r.getBuffer('b'), Buffer.from([1]));
    assert.equal(await r.setbit('b', 100, 1), 0);
    assert.equal(await r.strlen('b'), 13);
    assert.equal(await r.getbit('b', 100), 1);
    assert.equal(await r.getbit('b', 99), 0);
    assert.equal(await r.getbit('b', 100000), 0);
    assert.equal(await r.getbit('nokey', 5), 0);
    await assert.rejects(r.setbit('b', -1, 1), /ERR bit offset is not an integer or out of range/);
    await assert.rejects(r.setbit('b', 4294967296, 1), /ERR bit offset is not an integer or out of range/);
    await assert.rejects(r.setbit('b', 1, 2), /ERR bit is not an integer or out of range/);
    await assert.rejects(r.call('setbit', 'b', '1', 'x'), /ERR bit is not an integer or out of range/);
    await r.set('num', '1'); // '1' is 0x31 = 00110001
    assert.equal(await r.getbit('num', 2), 1);
    assert.equal(await r.getbit('num', 7), 1);
    await r.rpush('l', 'x');
    await assert.rejects(r.setbit('l', 1, 1), /^ReplyError: WRONGTYPE/);
    await assert.rejects(r.getbit('l', 1), /^ReplyError: WRONGTYPE/);
  });

  it('SETBIT keeps a TTL and many SETBITs stay fast', async () => {
    await r.set('bt', 'x', 'EX', 100);
    await r.setbit('bt', 1000, 1);
    assert.ok((await r.ttl('bt')) > 98);
    const p = r.pipeline();
    for (let i = 0; i < 200000; i += 3) p.setbit('grow', i, 1);
    const start = Date.now();
    await p.exec();
    assert.ok(Date.now() - start < 10000);
    assert.equal(await r.bitcount('grow'), Math.ceil(200000 / 3));
  });

  it('BITOP AND/OR/XOR/NOT and deletion of an empty result', async () => {
    await r.set('x1', Buffer.from([0xff, 0x0f]));
    await r.set('x2', Buffer.from([0x0f]));
    assert.equal(await r.bitop('AND', 'dst', 'x1', 'x2'), 2);
    assert.deepEqual(await r.getBuffer('dst'), Buffer.from([0x0f, 0]));
    assert.equal(await r.bitop('OR', 'dst', 'x1', 'x2'), 2);
    assert.deepEqual(await r.getBuffer('dst'), Buffer.from([0xff, 0x0f]));
    assert.equal(await r.bitop('XOR', 'dst', 'x1', 'x2'), 2);
    assert.deepEqual(await r.getBuffer('dst'), Buffer.from([0xf0, 0x0f]));
    assert.equal(await r.bitop('NOT', 'dst', 'x1'), 2);
    assert.deepEqual(await r.getBuffer('dst'), Buffer.from([0x00, 0xf0]));
    assert.equal(await r.bitop('AND', 'dst', 'none1', 'none2'), 0);
    assert.equal(await r.exists('dst'), 0);
    await assert.rejects(r.bitop('NOT', 'dst', 'x1', 'x2'), /ERR BITOP NOT must be called with a single source key\./);
    await assert.rejects(r.bitop('NAND', 'dst', 'x1'), /ERR syntax error/);
    await assert.rejects(r.bitop('AND', 'dst', 'x1', 'l'), /^ReplyError: WRONGTYPE/);
  });

  it('BITFIELD_RO only allows GET', async () => {
    await r.set('bf', Buffer.from([0xab]));
    assert.deepEqual(await r.call('bitfield_ro', 'bf', 'get', 'u8', '0', 'get', 'u4', '#1'), [0xab, 0xb]);
    await assert.rejects(r.call('bitfield_ro', 'bf', 'set', 'u8', '0', '1'), /ERR BITFIELD_RO only supports the GET subcommand/);
    await assert.rejects(r.call('bitfield', 'bf', 'get', 'u64', '0'), /ERR Invalid bitfield type\. Use something like i16 u8\. Note that u64 is not supported but i64 is\./);
    await assert.rejects(r.call('bitfield', 'bf', 'overflow', 'foo'), /ERR Invalid OVERFLOW type specified/);
  });

  it('property: SETBIT/BITFIELD/BITCOUNT/BITPOS/GETRANGE agree with a bit-array model', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('setbit' as const), offset: fc.nat(200), bit: fc.integer({ min: 0, max: 1 }) }),
            fc.record({ kind: fc.constant('set' as const), offset: fc.nat(180), bits: fc.integer({ min: 1, max: 63 }), value: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }) }),
          ),
          { maxLength: 25 },
        ),
        fc.integer({ min: -30, max: 30 }),
        fc.integer({ min: -30, max: 30 }),
        async (ops, start, end) => {
          const key = 'prop';
          await r.del(key);
          const model: number[] = [];
          const setModelBit = (i: number, v: number): void => {
            while (model.length < Math.ceil((i + 1) / 8) * 8) model.push(0);
            model[i] = v;
          };
          for (const op of ops) {
            if (op.kind === 'setbit') {
              await r.setbit(key, op.offset, op.bit);
              setModelBit(op.offset, op.bit);
            } else {
              const v = op.value & ((1n << BigInt(op.bits)) - 1n);
              await r.call('bitfield', key, 'set', `u${op.bits}`, String(op.offset), v.toString());
              for (let b = 0; b < op.bits; b++) setModelBit(op.offset + b, Number((v >> BigInt(op.bits - 1 - b)) & 1n));
            }
          }
          // Whole-string view and GETBIT/BITCOUNT.
          const bytes = await r.getBuffer(key);
          const got: number[] = [];
          for (const byte of bytes ?? []) for (let b = 7; b >= 0; b--) got.push((byte >> b) & 1);
          assert.deepEqual(got, model);
          assert.equal(await r.bitcount(key), model.filter((x) => x === 1).length);
          // BITCOUNT over a BIT range, with Redis's index normalisation.
          const total = model.length;
          let s0 = start < 0 ? total + start : start;
          let e0 = end < 0 ? total + end : end;
          let expected = 0;
          if (!(start < 0 && end < 0 && start > end)) {
            s0 = Math.max(0, s0);
            e0 = Math.max(0, Math.min(e0, total - 1));
            for (let i = s0; i <= e0; i++) expected += model[i]!;
          }
          assert.equal(await r.call('bitcount', key, String(start), String(end), 'bit'), total === 0 ? 0 : expected);
          // BITPOS 1 with a BIT range.
          if (total > 0) {
            const ps = Math.max(0, start < 0 ? total + start : start);
            const pe = Math.max(0, Math.min(end < 0 ? total + end : end, total - 1));
            let first = -1;
            for (let i = ps; i <= pe; i++) if (model[i] === 1) { first = i; break; }
            assert.equal(await r.call('bitpos', key, '1', String(start), String(end), 'bit'), first);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('bitmap commands compared with redis-server 7.0.15', () => {
  let nodis: Redis;
  let redis: Redis;
  before(async () => {
    nodis = (await startServer()).client();
    redis = (await startServer({ bin: '/usr/bin/redis-server' })).client();
  });
  after(stopAll);

  it('BITPOS/BITCOUNT edge cases match', async () => {
    const values: Buffer[] = [
      Buffer.from([0xff, 0xf0, 0x00]), Buffer.from([0x00, 0xff, 0xf0]), Buffer.from([0xff, 0xff, 0xff]), Buffer.from([0, 0, 0]),
      Buffer.from([]), Buffer.from('foobar'), Buffer.from('12345'), Buffer.from([0x80]), Buffer.from([0x7f, 0xfe]),
    ];
    const ranges: string[][] = [[], ['0'], ['1'], ['-1'], ['0', '-1'], ['2', '-1'], ['1', '1'], ['-2', '-1'], ['5', '3'], ['-1', '-5'], ['100', '200'],
      ['0', '-1', 'bit'], ['7', '15', 'bit'], ['3', '5', 'bit'], ['-3', '-1', 'bit'], ['9', '23', 'bit'], ['1', '-1', 'byte'], ['0', '0', 'foo'], ['a'], ['0', 'b']];
    const cmds: (string | Buffer)[][] = [];
    values.forEach((v, i) => {
      cmds.push(['set', `v${i}`, v]);
      for (const rg of ranges) {
        cmds.push(['bitpos', `v${i}`, '0', ...rg], ['bitpos', `v${i}`, '1', ...rg]);
        if (rg.length !== 1) cmds.push(['bitcount', `v${i}`, ...rg]);
      }
    });
    cmds.push(['bitpos', 'nokey', '0'], ['bitpos', 'nokey', '1', '5'], ['bitpos', 'v0', '2'], ['bitpos', 'v0', 'x'], ['bitcount', 'v0', '1'], ['bitcount', 'nokey', 'a', 'b']);
    cmds.push(['bitpos', 'v0', '1', '0', '1', 'bit', 'extra'], ['bitcount', 'v0', '0', '1', 'bit', 'x']);
    assert.deepEqual(await compareServers(nodis, redis, cmds), []);
  });

  it('BITFIELD results, overflow modes and errors match', async () => {
    const cmds: string[][] = [
      ['bitfield', 'f', 'set', 'i8', '0', '100', 'incrby', 'i8', '0', '100', 'get', 'u4', '0', 'overflow', 'sat', 'incrby', 'i8', '0', '200', 'overflow', 'fail', 'incrby', 'i8', '0', '100', 'set', 'u8', '#1', '-1'],
      ['bitfield', 'f', 'overflow', 'sat', 'set', 'u8', '0', '-1', 'get', 'u8', '0', 'set', 'i64', '8', '-9223372036854775808', 'incrby', 'i64', '8', '-1', 'overflow', 'wrap', 'incrby', 'i64', '8', '-1'],
      ['bitfield', 'f', 'overflow', 'sat', 'incrby', 'u63', '3', '9223372036854775807', 'incrby', 'u63', '3', '1', 'incrby', 'u63', '3', '-9223372036854775808'],
      ['bitfield', 'f', 'overflow', 'wrap', 'incrby', 'u5', '100', '40', 'incrby', 'i5', '100', '-40', 'set', 'i3', '7', '100', 'set', 'u2', '7', '-3'],
      ['bitfield', 'f', 'overflow', 'fail', 'set', 'i4', '0', '8', 'set', 'u4', '0', '16', 'set', 'i4', '0', '-8', 'incrby', 'i64', '0', '9223372036854775807'],
      ['bitfield', 'f', 'get', 'i1', '0', 'get', 'u1', '0', 'get', 'i64', '#0', 'get', 'i63', '1', 'get', 'u63', '#1', 'get', 'u8', '100000'],
      ['get', 'f'],
      ['bitfield', 'g', 'overflow', 'fail', 'incrby', 'u2', '10', '5'], ['get', 'g'], ['exists', 'g'],
      ['bitfield', 'f', 'get', 'u64', '0'], ['bitfield', 'f', 'get', 'i65', '0'], ['bitfield', 'f', 'get', 'x8', '0'], ['bitfield', 'f', 'get', 'i0', '0'],
      ['bitfield', 'f', 'get', 'u8', '-1'], ['bitfield', 'f', 'get', 'u8', '#-1'], ['bitfield', 'f', 'get', 'u8', 'a'], ['bitfield', 'f', 'set', 'u8', '0', 'x'],
      ['bitfield', 'f', 'get', 'u8'], ['bitfield', 'f', 'foo', 'u8', '0'], ['bitfield', 'f', 'overflow'], ['bitfield', 'f', 'overflow', 'xyz'], ['bitfield', 'f'],
      ['bitfield', 'f', 'get', 'u8', '4294967295'], ['bitfield', 'f', 'set', 'u8', '4294967296', '1'], ['bitfield', 'f', 'get', 'i8', '#536870912'],
      ['set', 'n', '12345'], ['bitfield', 'n', 'get', 'u8', '0', 'get', 'i16', '4'], ['bitfield_ro', 'n', 'get', 'u8', '8'], ['bitfield_ro', 'n', 'incrby', 'u8', '0', '1'],
      ['setbit', 'n', '3', '1'], ['get', 'n'], ['bitop', 'not', 'nn', 'n'], ['get', 'nn'], ['bitop', 'xor', 'nn', 'n', 'nn', 'f'], ['get', 'nn'],
    ];
    assert.deepEqual(await compareServers(nodis, redis, cmds), []);
  });
});
