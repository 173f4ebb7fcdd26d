import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

/** The reply or the error text, so error replies can be compared like values. */
async function run(c: Redis, ...args: (string | number)[]): Promise<unknown> {
  try {
    return await c.call(String(args[0]), ...args.slice(1).map(String));
  } catch (e) {
    return (e as Error).message;
  }
}

describe('list commands', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('pushes at both ends and reports lengths', async () => {
    assert.equal(await run(r, 'rpush', 'l1', 'a', 'b'), 2);
    assert.equal(await run(r, 'lpush', 'l1', 'x', 'y'), 4);
    assert.deepEqual(await run(r, 'lrange', 'l1', 0, -1), ['y', 'x', 'a', 'b']);
    assert.equal(await run(r, 'lpushx', 'nosuch', 'a'), 0);
    assert.equal(await run(r, 'rpushx', 'l1', 'c', 'd'), 6);
    assert.equal(await run(r, 'llen', 'l1'), 6);
    assert.equal(await run(r, 'llen', 'nosuch'), 0);
    assert.equal(await run(r, 'type', 'l1'), 'list');
    assert.equal(await run(r, 'object', 'encoding', 'l1'), 'quicklist');
  });

  it('keeps repeated pushes and big lengths right (shared equal neighbours, integer replies)', async () => {
    // A pushed element equal to the one at that end is stored as the same string, integers as
    // numbers: the list must still read back exactly, and the lengths past 9999 are written
    // digit by digit.
    const many = Array.from({ length: 10005 }, () => 'job');
    assert.equal(await run(r, 'rpush', 'rep', ...many), 10005);
    assert.equal(await run(r, 'lpush', 'rep', 'job', '7', '7', 'job'), 10009);
    assert.equal(await run(r, 'rpush', 'rep', '-12', '-12', 'job2'), 10012);
    assert.deepEqual(await run(r, 'lrange', 'rep', 0, 4), ['job', '7', '7', 'job', 'job']);
    assert.deepEqual(await run(r, 'lrange', 'rep', -4, -1), ['job', '-12', '-12', 'job2']);
    assert.equal(await run(r, 'lset', 'rep', 1, 'x'), 'OK');
    assert.deepEqual(await run(r, 'lrange', 'rep', 0, 2), ['job', 'x', '7']);
    assert.equal(await run(r, 'lrem', 'rep', 0, 'job'), 10007);
    assert.deepEqual(await run(r, 'lrange', 'rep', 0, -1), ['x', '7', '-12', '-12', 'job2']);
    assert.equal(await run(r, 'rpop', 'rep'), 'job2');
    assert.equal(await run(r, 'rpop', 'rep'), '-12');
    const raw = execFileSync('redis-cli', ['-p', String(s.port), '--no-raw', 'rpop', 'rep']).toString();
    assert.equal(raw.trim(), '"-12"');
    assert.equal(await run(r, 'del', 'rep'), 1);
  });

  it('pops with and without count in 7.0 reply shapes', async () => {
    await run(r, 'rpush', 'l2', 'a', 'b', 'c', 'd');
    assert.equal(await run(r, 'lpop', 'l2'), 'a');
    assert.equal(await run(r, 'rpop', 'l2'), 'd');
    assert.deepEqual(await run(r, 'lpop', 'l2', 0), []);
    assert.deepEqual(await run(r, 'rpop', 'l2', 5), ['c', 'b']);
    assert.equal(await run(r, 'exists', 'l2'), 0);
    assert.equal(await run(r, 'lpop', 'l2'), null);
    assert.equal(await run(r, 'lpop', 'l2', 3), null);
    assert.equal(await run(r, 'lpop', 'l2', -1), 'ERR value is out of range, must be positive');
    assert.equal(await run(r, 'lpop', 'l2', 1, 2), "ERR wrong number of arguments for 'lpop' command");
    // RESP2 null array vs null bulk, as the real redis-cli shows them.
    const raw = execFileSync('redis-cli', ['-p', String(s.port), '--no-raw', 'lpop', 'l2', '1']).toString();
    assert.equal(raw.trim(), '(nil)');
  });

  it('answers ranges and indexes with negative positions', async () => {
    await run(r, 'rpush', 'l3', 1, 2, 3, 4, 5);
    assert.deepEqual(await run(r, 'lrange', 'l3', -2, 100), ['4', '5']);
    assert.deepEqual(await run(r, 'lrange', 'l3', 3, 1), []);
    assert.deepEqual(await run(r, 'lrange', 'l3', -100, 0), ['1']);
    assert.equal(await run(r, 'lrange', 'l3', 'a', 1), 'ERR value is not an integer or out of range');
    assert.equal(await run(r, 'lindex', 'l3', -1), '5');
    assert.equal(await run(r, 'lindex', 'l3', 5), null);
    assert.equal(await run(r, 'lindex', 'nosuch', 'x'), null);
    assert.equal(await run(r, 'lindex', 'l3', 'x'), 'ERR value is not an integer or out of range');
  });

  it('LSET, LINSERT, LREM, LTRIM', async () => {
    await run(r, 'rpush', 'l4', 'a', 'b', 'a', 'c', 'a');
    assert.equal(await run(r, 'lset', 'l4', -1, 'z'), 'OK');
    assert.equal(await run(r, 'lset', 'l4', 9, 'z'), 'ERR index out of range');
    assert.equal(await run(r, 'lset', 'nosuch', 0, 'z'), 'ERR no such key');
    assert.equal(await run(r, 'linsert', 'l4', 'before', 'c', 'x'), 6);
    assert.equal(await run(r, 'linsert', 'l4', 'AFTER', 'c', 'y'), 7);
    assert.equal(await run(r, 'linsert', 'l4', 'after', 'nope', 'y'), -1);
    assert.equal(await run(r, 'linsert', 'nosuch', 'after', 'a', 'y'), 0);
    assert.equal(await run(r, 'linsert', 'l4', 'middle', 'a', 'y'), 'ERR syntax error');
    assert.deepEqual(await run(r, 'lrange', 'l4', 0, -1), ['a', 'b', 'a', 'x', 'c', 'y', 'z']);
    assert.equal(await run(r, 'lrem', 'l4', -1, 'a'), 1);
    assert.deepEqual(await run(r, 'lrange', 'l4', 0, -1), ['a', 'b', 'x', 'c', 'y', 'z']);
    assert.equal(await run(r, 'lrem', 'l4', 0, 'a'), 1);
    assert.equal(await run(r, 'ltrim', 'l4', 1, -2), 'OK');
    assert.deepEqual(await run(r, 'lrange', 'l4', 0, -1), ['x', 'c', 'y']);
    assert.equal(await run(r, 'ltrim', 'l4', 5, 10), 'OK');
    assert.equal(await run(r, 'exists', 'l4'), 0);
    await run(r, 'rpush', 'l5', 'q');
    assert.equal(await run(r, 'lrem', 'l5', 0, 'q'), 1);
    assert.equal(await run(r, 'exists', 'l5'), 0);
  });

  it('LPOS with RANK, COUNT and MAXLEN', async () => {
    await run(r, 'rpush', 'l6', 'a', 'b', 'c', 'a', 'b', 'a');
    assert.equal(await run(r, 'lpos', 'l6', 'a'), 0);
    assert.equal(await run(r, 'lpos', 'l6', 'a', 'rank', 2), 3);
    assert.equal(await run(r, 'lpos', 'l6', 'a', 'rank', -1), 5);
    assert.deepEqual(await run(r, 'lpos', 'l6', 'a', 'count', 0), [0, 3, 5]);
    assert.deepEqual(await run(r, 'lpos', 'l6', 'a', 'count', 2, 'rank', -1), [5, 3]);
    assert.deepEqual(await run(r, 'lpos', 'l6', 'a', 'count', 0, 'maxlen', 4), [0, 3]);
    assert.equal(await run(r, 'lpos', 'l6', 'zz'), null);
    assert.deepEqual(await run(r, 'lpos', 'nosuch', 'a', 'count', 1), []);
    assert.equal(
      await run(r, 'lpos', 'l6', 'a', 'rank', 0),
      "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
    );
    assert.equal(await run(r, 'lpos', 'l6', 'a', 'count', -1), "ERR COUNT can't be negative");
    assert.equal(await run(r, 'lpos', 'l6', 'a', 'maxlen', -1), "ERR MAXLEN can't be negative");
    assert.equal(await run(r, 'lpos', 'l6', 'a', 'bogus'), 'ERR syntax error');
  });

  it('LMOVE, RPOPLPUSH and LMPOP', async () => {
    await run(r, 'rpush', 'src', 1, 2, 3);
    assert.equal(await run(r, 'lmove', 'src', 'dst', 'left', 'right'), '1');
    assert.equal(await run(r, 'rpoplpush', 'src', 'dst'), '3');
    assert.deepEqual(await run(r, 'lrange', 'dst', 0, -1), ['3', '1']);
    assert.equal(await run(r, 'lmove', 'src', 'src', 'right', 'left'), '2');
    assert.equal(await run(r, 'lmove', 'nosuch', 'dst', 'left', 'left'), null);
    assert.equal(await run(r, 'lmove', 'src', 'dst', 'up', 'left'), 'ERR syntax error');
    await run(r, 'set', 'str', 'x');
    assert.match(String(await run(r, 'lmove', 'src', 'str', 'left', 'left')), /^WRONGTYPE/);
    assert.deepEqual(await run(r, 'lmpop', 2, 'nosuch', 'dst', 'right', 'count', 10), ['dst', ['1', '3']]);
    assert.equal(await run(r, 'lmpop', 1, 'dst', 'left'), null);
    assert.equal(await run(r, 'lmpop', 0, 'dst', 'left'), 'ERR numkeys should be greater than 0');
    assert.equal(await run(r, 'lmpop', 1, 'dst', 'left', 'count', 0), 'ERR count should be greater than 0');
    assert.equal(await run(r, 'lmpop', 3, 'dst', 'left'), 'ERR syntax error');
    assert.match(String(await run(r, 'lmpop', 1, 'str', 'left')), /^WRONGTYPE/);
  });

  it('answers WRONGTYPE against other types', async () => {
    await run(r, 'set', 'astring', 'v');
    for (const cmd of [
      ['lpush', 'astring', 'a'],
      ['llen', 'astring'],
      ['lrange', 'astring', 0, 1],
      ['lindex', 'astring', 0],
      ['lpop', 'astring'],
      ['blpop', 'astring', 0],
    ]) {
      assert.match(String(await run(r, ...cmd)), /^WRONGTYPE Operation against a key holding the wrong kind of value$/);
    }
    assert.match(String(await run(r, 'get', 'l1')), /^WRONGTYPE/);
  });

  it('keeps elements binary-safe, including integer-looking ones', async () => {
    const bin = Buffer.from([0, 0xff, 13, 10, 0x80]);
    await r.rpush('bin', bin, '007', '7', '-0', '9223372036854775807');
    const got = await r.lrangeBuffer('bin', 0, -1);
    assert.deepEqual(got[0], bin);
    assert.deepEqual(got.slice(1).map(String), ['007', '7', '-0', '9223372036854775807']);
    assert.equal(await run(r, 'lrem', 'bin', 0, '7'), 1);
    assert.equal(await run(r, 'lpos', 'bin', '007'), 1);
  });
});
