/**
 * Sorted-set commands against a real nodis-server, with deterministic replies compared byte for
 * byte with the real redis-server 7.0.15 (RESP2 and RESP3) when it is installed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';

const REDIS = '/usr/bin/redis-server';

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return s;
}

/** Sends commands one connection, returns the raw reply bytes of each. */
async function rawReplies(port: number, cmds: string[][]): Promise<string[]> {
  const out: string[] = [];
  for (const cmd of cmds) {
    // PING after each command marks the end of its reply.
    const r = await rawExchange(port, encode(cmd) + encode(['PING']), (g) => g.endsWith('+PONG\r\n'));
    out.push(r.slice(0, -'+PONG\r\n'.length));
  }
  return out;
}

/** A session on one connection (state like HELLO 3 persists); replies split by a PING marker. */
async function session(port: number, cmds: string[][]): Promise<string[]> {
  let req = '';
  for (const cmd of cmds) req += encode(cmd) + encode(['PING']);
  const raw = await rawExchange(port, req, (g) => g.split('+PONG\r\n').length - 1 === cmds.length);
  return raw.split('+PONG\r\n').slice(0, cmds.length);
}

const DETERMINISTIC: string[][] = [
  ['zadd', 'z', '1', 'a', '2', 'b', '3', 'c', '-inf', 'lo', '+inf', 'hi'],
  ['zadd', 'z', 'nx', 'xx', '1', 'a'],
  ['zadd', 'z', 'gt', 'lt', '1', 'a'],
  ['zadd', 'z', 'nx', 'gt', '1', 'a'],
  ['zadd', 'z', 'incr', '1', 'a', '2', 'b'],
  ['zadd', 'z', 'abc', 'a'],
  ['zadd', 'z', '1'],
  ['zadd', 'z', 'ch', 'gt', '5', 'a', '0', 'b', '7', 'new'],
  ['zadd', 'z', 'xx', 'incr', '1', 'missing'],
  ['zincrby', 'z', '0.1', 'c'],
  ['zadd', 'nan', 'inf', 'x'],
  ['zincrby', 'nan', '-inf', 'x'],
  ['zrange', 'z', '0', '-1', 'withscores'],
  // Integer scores: parsed digit by digit (padded, signed, -0, 15 digits; 16 go the long way)
  // and replied without formatting (ZPOPMIN and the ranges write a safe integer's digits).
  ['zadd', 'ints', '000000012345', 'pad', '-7', 'neg', '-0', 'negzero', '0', 'zero', '123456789012345', 'd15',
    '-999999999999999', 'n15', '1234567890123456', 'd16', '9007199254740993', 'big', '1e3', 'exp', '+5', 'plus', '0x10', 'hex'],
  ['zadd', 'ints', '12a', 'bad'],
  ['zadd', 'ints', '-', 'bad'],
  // A bad score after a good one (the first pair's score is parsed apart from the rest): nothing
  // is added, not even the first pair.
  ['zadd', 'pairs', '1', 'a', 'x', 'b'],
  ['exists', 'pairs'],
  ['zadd', 'pairs', '1', 'a', '2', 'b', '3', 'c', 'nan', 'd'],
  ['exists', 'pairs'],
  ['zadd', 'pairs', '3', 'a', '2', 'b', '1', 'c'],
  ['zadd', 'pairs', 'ch', '3', 'a', '5', 'b'],
  ['zadd', 'pairs', '4', 'c'],
  ['zrange', 'pairs', '0', '-1', 'withscores'],
  ['zrange', 'ints', '0', '-1', 'withscores'],
  ['zscore', 'ints', 'd16'],
  ['zpopmin', 'ints', '3'],
  ['zpopmax', 'ints'],
  ['zpopmin', 'ints'],
  ['zpopmin', 'nosuchkey'],
  ['zpopmin', 'nosuchkey', '2'],
  ['zpopmin', 'ints', '0'],
  ['zpopmin', 'ints', '100'],
  ['exists', 'ints'],
  ['zrange', 'z', '(1', '+inf', 'byscore', 'limit', '1', '2', 'withscores'],
  ['zrange', 'z', '+inf', '-inf', 'byscore', 'rev', 'withscores'],
  ['zrange', 'z', '0', '1', 'limit', '0', '1'],
  ['zrange', 'z', '-', '+', 'bylex', 'withscores'],
  ['zrange', 'z', 'a', 'b', 'bylex'],
  ['zrange', 'z', 'x', 'y', 'byscore'],
  ['zrevrange', 'z', '0', '2', 'withscores'],
  ['zrangebyscore', 'z', '2', '(5', 'withscores'],
  ['zrevrangebyscore', 'z', '5', '2'],
  ['zcount', 'z', '(2', '+inf'],
  ['zrank', 'z', 'c'],
  ['zrevrank', 'z', 'c'],
  ['zrank', 'z', 'none'],
  ['zscore', 'z', 'c'],
  ['zmscore', 'z', 'a', 'none', 'lo'],
  ['zcard', 'z'],
  ['zadd', 'lex', '0', 'a', '0', 'b', '0', 'c', '0', 'd'],
  ['zrangebylex', 'lex', '(a', '[c'],
  ['zrevrangebylex', 'lex', '+', '-', 'limit', '1', '2'],
  ['zlexcount', 'lex', '[b', '+'],
  ['zremrangebylex', 'lex', '-', '(b'],
  ['zremrangebyrank', 'lex', '-1', '-1'],
  ['zremrangebyscore', 'lex', '-inf', '+inf'],
  ['exists', 'lex'],
  ['zadd', 'p', '1', 'a', '2', 'b', '3', 'c', '4', 'd', '5', 'e'],
  ['zpopmin', 'p'],
  ['zpopmax', 'p', '2'],
  ['zpopmin', 'p', '-1'],
  ['zmpop', '2', 'none', 'p', 'min', 'count', '1'],
  ['zmpop', '1', 'none', 'max'],
  ['zmpop', '0', 'p', 'max'],
  ['bzpopmax', 'p', '0.01'],
  ['bzpopmin', 'p', '0.01'],
  ['zadd', 'u1', '1', 'a', '2', 'b'],
  ['zadd', 'u2', '10', 'b', '20', 'c'],
  ['sadd', 'set', 'a', 'c', 'q'],
  ['zunion', '3', 'u1', 'u2', 'set', 'weights', '1', '2', '3', 'withscores'],
  ['zinter', '2', 'u1', 'u2', 'aggregate', 'max', 'withscores'],
  ['zdiff', '2', 'set', 'u1', 'withscores'],
  ['zunionstore', 'dst', '2', 'u1', 'u2', 'aggregate', 'min'],
  ['zrange', 'dst', '0', '-1', 'withscores'],
  ['zinterstore', 'dst', '2', 'u1', 'none'],
  ['exists', 'dst'],
  ['zintercard', '2', 'u1', 'u2', 'limit', '-1'],
  ['zintercard', '3', 'u1', 'u2', 'set'],
  ['zunion', '0', 'u1'],
  ['zrangestore', 'dst', 'u2', '(10', '+inf', 'byscore'],
  ['zrange', 'dst', '0', '-1', 'withscores'],
  ['zrandmember', 'u1', '5', 'withscores'],
  ['zrandmember', 'u1', '-9223372036854775808'],
  ['zscan', 'u1', '0'],
  ['zscan', 'u1', 'x'],
  ['set', 'str', 'x'],
  ['zadd', 'str', '1', 'a'],
  ['zrange', 'str', '0', '1'],
  ['zunion', '1', 'str'],
];

describe('sorted sets', () => {
  let s: RunningServer;
  let redis: RunningServer;
  before(async () => {
    s = await startServer();
    redis = await startServer({ bin: REDIS });
  });
  after(stopAll);

  for (const proto of [2, 3]) {
    it(`matches redis-server byte for byte (RESP${proto})`, async (t) => {
      const cmds = [['flushall'], ...(proto === 3 ? [['hello', '3']] : []), ...DETERMINISTIC];
      const ours = await session(s.port, cmds);
      const theirs = await session(redis.port, cmds);
      for (let i = 0; i < cmds.length; i++) {
        if (cmds[i]![0] === 'hello') continue;
        assert.equal(JSON.stringify(ours[i]), JSON.stringify(theirs[i]), `reply to ${cmds[i]!.join(' ')}`);
      }
    });
  }

  it('answers ZADD/ZINCRBY options as Redis 7.0', async () => {
    const c = s.client();
    await c.del('k');
    assert.equal(await c.zadd('k', '1', 'a', '2', 'b'), 2);
    await assert.rejects(c.call('zadd', 'k', 'nx', 'xx', '1', 'a'), /ERR XX and NX options at the same time are not compatible/);
    await assert.rejects(c.call('zadd', 'k', 'gt', 'nx', '1', 'a'), /ERR GT, LT, and\/or NX options/);
    await assert.rejects(c.call('zadd', 'k', 'incr', '1', 'a', '1', 'b'), /INCR option supports a single increment-element pair/);
    assert.equal(await c.call('zadd', 'k', 'xx', 'ch', '5', 'a', '9', 'zz'), 1);
    assert.equal(await c.call('zadd', 'k', 'nx', 'incr', '1', 'a'), null);
    assert.equal(await c.call('zadd', 'k', 'incr', '1.5', 'a'), '6.5');
    assert.equal(await c.call('zadd', 'k', 'lt', 'ch', '10', 'b'), 0);
    await c.zadd('k', 'inf', 'x');
    await assert.rejects(c.call('zincrby', 'k', '-inf', 'x'), /ERR resulting score is not a number \(NaN\)/);
    await assert.rejects(c.call('zadd', 'k', '1e400', 'x'), /ERR value is not a valid float/);
  });

  it('deletes emptied keys and reports WRONGTYPE', async () => {
    const c = s.client();
    await c.del('e');
    await c.zadd('e', '1', 'a');
    assert.equal(await c.zrem('e', 'a', 'b'), 1);
    assert.equal(await c.exists('e'), 0);
    await c.set('e', 'x');
    await assert.rejects(c.call('zadd', 'e', '1', 'a'), /^ReplyError: WRONGTYPE/);
    await assert.rejects(c.call('zscore', 'e', 'a'), /WRONGTYPE/);
  });

  it('reports encodings with the listpack thresholds', async () => {
    const c = s.client();
    await c.del('enc');
    await c.zadd('enc', '1', 'a');
    assert.equal(await c.call('object', 'encoding', 'enc'), 'listpack');
    await c.zadd('enc', '1', 'x'.repeat(65));
    assert.equal(await c.call('object', 'encoding', 'enc'), 'skiplist');
    await c.zrem('enc', 'x'.repeat(65));
    assert.equal(await c.call('object', 'encoding', 'enc'), 'skiplist');
    await c.zunionstore('enc2', 1, 'enc');
    assert.equal(await c.call('object', 'encoding', 'enc2'), 'listpack');
  });

  it('keeps ranks and ranges right on a large set', async () => {
    const c = s.client();
    await c.del('big');
    const args: string[] = [];
    for (let i = 0; i < 1000; i++) args.push(String(i % 97), `m${String(i).padStart(4, '0')}`);
    await c.zadd('big', ...args);
    const all = (await c.zrange('big', 0, -1, 'WITHSCORES')) as string[];
    const pairs: [string, number][] = [];
    for (let i = 0; i < all.length; i += 2) pairs.push([all[i]!, Number(all[i + 1])]);
    const sorted = [...pairs].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    assert.deepEqual(pairs, sorted);
    assert.equal(await c.zrank('big', sorted[500]![0]), 500);
    assert.equal(await c.zrevrank('big', sorted[500]![0]), 499);
    assert.equal(await c.zcount('big', '10', '(20'), sorted.filter(([, x]) => x >= 10 && x < 20).length);
    assert.equal(await c.zremrangebyscore('big', '(50', '+inf'), sorted.filter(([, x]) => x > 50).length);
    assert.equal(await c.call('object', 'encoding', 'big'), 'skiplist');
  });

  it('ZSCAN walks a big set completely and a small one in one call', async () => {
    const c = s.client();
    await c.del('sc');
    for (let i = 0; i < 300; i++) await c.zadd('sc', String(i), `m${i}`);
    const seen = new Set<string>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, items] = (await c.zscan('sc', cursor, 'COUNT', 50)) as [string, string[]];
      for (let i = 0; i < items.length; i += 2) {
        seen.add(items[i]!);
        assert.equal(items[i + 1], items[i]!.slice(1));
      }
      cursor = next;
      calls++;
    } while (cursor !== '0');
    assert.equal(seen.size, 300);
    assert.ok(calls > 1);
    await c.del('small');
    await c.zadd('small', '1', 'aa', '2', 'ab', '3', 'b');
    assert.deepEqual(await c.zscan('small', '0', 'MATCH', 'a*'), ['0', ['aa', '1', 'ab', '2']]);
  });

  it('serves BZPOPMIN/BZMPOP waiters when members arrive, in order', async () => {
    const c = s.client();
    const w1 = s.client();
    const w2 = s.client();
    await c.del('bq', 'bq2');
    const p1 = w1.call('bzpopmin', 'bq', 'bq2', '0');
    await waitBlocked(c, 1);
    const p2 = w2.call('bzmpop', '0', '1', 'bq', 'max', 'count', '5');
    await waitBlocked(c, 2);
    await c.zadd('bq', '1', 'a', '2', 'b', '3', 'c');
    assert.deepEqual(await p1, ['bq', 'a', '1']);
    assert.deepEqual(await p2, ['bq', [['c', '3'], ['b', '2']]]);
    assert.equal(await c.exists('bq'), 0);
    assert.deepEqual(await w1.call('bzpopmax', 'bq', '0.01'), null);
  });

  it('answers blocking pops in MULTI as timed out', async () => {
    const c = s.client();
    await c.del('none');
    const r = await c.multi().call('bzpopmin', 'none', '0').call('bzmpop', '0', '1', 'none', 'min').exec();
    assert.deepEqual(r, [[null, null], [null, null]]);
  });

  it('ZMPOP with a count beyond the size pops everything and deletes the key', async () => {
    const c = s.client();
    await c.del('pr');
    await c.zadd('pr', '1', 'a', '2', 'b');
    assert.deepEqual(await c.call('zmpop', '1', 'pr', 'min', 'count', '10'), ['pr', [['a', '1'], ['b', '2']]]);
    assert.equal(await c.exists('pr'), 0);
  });

  it('prints scores as %.17g', async () => {
    const rs = await rawReplies(s.port, [
      ['del', 'fmt'],
      ['zadd', 'fmt', '0.1', 'a', '1e100', 'b', '123456789012345678', 'c', '-0', 'd'],
      ['zrange', 'fmt', '0', '-1', 'withscores'],
    ]);
    assert.equal(rs[2], '*8\r\n$1\r\nd\r\n$1\r\n0\r\n$1\r\na\r\n$19\r\n0.10000000000000001\r\n$1\r\nc\r\n$22\r\n1.2345678901234568e+17\r\n$1\r\nb\r\n$6\r\n1e+100\r\n');
  });
});

/** Waits until INFO clients reports at least `n` blocked clients. */
async function waitBlocked(c: ReturnType<RunningServer['client']>, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const m = /blocked_clients:(\d+)/.exec(String(await c.info('clients')));
    if (m !== null && Number(m[1]) >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never saw ${n} blocked clients`);
}
