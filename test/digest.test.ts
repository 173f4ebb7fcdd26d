/**
 * DEBUG DIGEST: nodis's own SHA-1 (keyspace/sha1.ts) against node:crypto, and the digest of a
 * dataset of every type against redis-server's for the same commands — a master and a replica
 * of either kind must print the same 40 hex digits for the same data (Redis's replication
 * tests compare exactly that).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import './helpers/property.js';
import { sha1Into } from '../src/keyspace/sha1.js';
import { startServer, stopAll } from './helpers/server.js';
import { startRedis, runRaw } from './helpers/redis-compare.js';

const reference = (b: Buffer): string => createHash('sha1').update(b).digest('hex');

describe('sha1Into', () => {
  it('agrees with node:crypto for bytes and latin1 strings of every length around the block edges', () => {
    const out = Buffer.alloc(20);
    for (let n = 0; n <= 200; n++) {
      const bytes = Buffer.alloc(n);
      for (let i = 0; i < n; i++) bytes[i] = (i * 131 + n) & 255;
      sha1Into(bytes, out);
      assert.equal(out.toString('hex'), reference(bytes), `bytes, length ${n}`);
      sha1Into(bytes.toString('latin1'), out);
      assert.equal(out.toString('hex'), reference(bytes), `string, length ${n}`);
    }
  });

  it('agrees with node:crypto on random inputs, including hashing a buffer into itself', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (arr) => {
        const bytes = Buffer.from(arr);
        const out = Buffer.alloc(20);
        sha1Into(bytes, out);
        assert.equal(out.toString('hex'), reference(bytes));
        const again = Buffer.from(out);
        sha1Into(again, again);
        assert.equal(again.toString('hex'), reference(out));
      }),
    );
  });

  it('hashes a megabyte', () => {
    const big = Buffer.alloc(1 << 20, 0x61);
    const out = Buffer.alloc(20);
    sha1Into(big, out);
    assert.equal(out.toString('hex'), reference(big));
  });
});

describe('DEBUG DIGEST matches redis-server', () => {
  after(stopAll);

  it('for the same dataset of every type (with expiries and several databases)', async () => {
    const args = ['--save', '', '--enable-debug-command', 'yes'];
    const [nodis, redis] = await Promise.all([startServer({ args }), startRedis(args)]);
    const script: string[][] = [
      ['SET', 'str', 'hello'],
      ['SET', 'num', '12345'],
      ['SET', 'bin', '\x00\xff\r\n binary'],
      ['SET', 'long', 'x'.repeat(300)],
      ['SET', 'ttl', 'v', 'PX', '100000000'],
      ['RPUSH', 'list', 'a', 'b', 'c', '1', '2'],
      ['SADD', 'intset', '3', '1', '2'],
      ['SADD', 'set', 'x', 'y', 'z', 'x'.repeat(100)],
      ['ZADD', 'zset', '1', 'a', '2.5', 'b', '-3', 'c'],
      ['HSET', 'hash', 'f1', 'v1', 'f2', 'v2'],
      ['XADD', 'stream', '1-1', 'field', 'value'],
      ['XADD', 'stream', '2-1', 'f', 'v', 'g', 'w'],
      ['SELECT', '3'],
      ['SET', 'other', 'db'],
      ['DEBUG', 'DIGEST'],
      ['DEBUG', 'DIGEST-VALUE', 'other', 'missing'],
      ['SELECT', '0'],
      ['DEBUG', 'DIGEST-VALUE', 'str', 'list', 'set', 'intset', 'zset', 'hash', 'stream', 'bin', 'long'],
    ];
    const [mine, theirs] = await Promise.all([runRaw(nodis.port, script), runRaw(redis.port, script)]);
    assert.deepEqual(mine, theirs);
    // The digest is not the empty one: something was actually hashed.
    assert.notEqual(mine[14], `$40\r\n${'0'.repeat(40)}\r\n`);
  });

  it('for 20,000 keys written by DEBUG POPULATE', async () => {
    const args = ['--save', '', '--enable-debug-command', 'yes'];
    const [nodis, redis] = await Promise.all([startServer({ args }), startRedis(args)]);
    const script = [['DEBUG', 'POPULATE', '20000', 'key:', '10'], ['DEBUG', 'DIGEST']];
    const [mine, theirs] = await Promise.all([runRaw(nodis.port, script, 2, 60000), runRaw(redis.port, script, 2, 60000)]);
    assert.deepEqual(mine, theirs);
  });
});
