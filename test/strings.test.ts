import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { compareServers, rawReply } from './helpers/differential.js';
import { RawConnection } from './helpers/raw-connection.js';

describe('string commands', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('SET/GET round-trips binary values and integers', async () => {
    const bytes = Buffer.from([0, 0xff, 13, 10, 0x80, 32]);
    assert.equal(await r.set('bin', bytes), 'OK');
    assert.deepEqual(await r.getBuffer('bin'), bytes);
    await r.set('int', '12345');
    assert.equal(await r.get('int'), '12345');
    await r.set('notcanon', '0123');
    assert.equal(await r.get('notcanon'), '0123');
    assert.equal(await r.get('missing'), null);
  });

  it('SET options: NX/XX/GET/KEEPTTL and their conflicts', async () => {
    assert.equal(await r.call('set', 'k1', 'a', 'nx'), 'OK');
    assert.equal(await r.call('set', 'k1', 'b', 'nx'), null);
    assert.equal(await r.call('set', 'k2', 'b', 'xx'), null);
    assert.equal(await r.call('set', 'k1', 'c', 'xx', 'get'), 'a');
    assert.equal(await r.call('set', 'k1', 'd', 'nx', 'get'), 'c'); // NX+GET allowed in 7.0
    assert.equal(await r.get('k1'), 'c');
    assert.equal(await r.call('set', 'k3', 'x', 'nx', 'get'), null);
    assert.equal(await r.get('k3'), 'x');
    for (const bad of [['nx', 'xx'], ['ex', '10', 'px', '100'], ['keepttl', 'ex', '10'], ['ex'], ['foo'], ['persist']]) {
      await assert.rejects(r.call('set', 'k1', 'v', ...bad), /^ReplyError: ERR syntax error$/);
    }
    await assert.rejects(r.call('set', 'k1', 'v', 'ex', '0'), /ERR invalid expire time in 'set' command/);
    await assert.rejects(r.call('set', 'k1', 'v', 'px', '-5'), /ERR invalid expire time in 'set' command/);
    await assert.rejects(r.call('set', 'k1', 'v', 'ex', '9223372036854775'), /ERR invalid expire time in 'set' command/);
    await assert.rejects(r.call('set', 'k1', 'v', 'ex', 'abc'), /ERR value is not an integer or out of range/);
    await r.lpush('alist', 'x');
    await assert.rejects(r.call('set', 'alist', 'v', 'get'), /^ReplyError: WRONGTYPE/);
    assert.equal(await r.lrange('alist', 0, -1).then((l) => l.length), 1);
  });

  it('SET drops the TTL unless KEEPTTL; EX/PX/EXAT/PXAT set it', async () => {
    await r.set('t', 'v', 'EX', 100);
    assert.ok((await r.pttl('t')) > 99000);
    await r.call('set', 't', 'w', 'keepttl');
    assert.ok((await r.pttl('t')) > 99000);
    await r.set('t', 'x');
    assert.equal(await r.pttl('t'), -1);
    await r.call('set', 't', 'x', 'pxat', String(Date.now() + 50000));
    const ttl = await r.pttl('t');
    assert.ok(ttl > 40000 && ttl <= 50000);
    await r.call('set', 't', 'x', 'exat', String(Math.floor(Date.now() / 1000) + 1000));
    assert.ok((await r.ttl('t')) > 990);
  });

  it('SETNX, SETEX, PSETEX, GETSET, GETDEL', async () => {
    assert.equal(await r.setnx('sn', 'a'), 1);
    assert.equal(await r.setnx('sn', 'b'), 0);
    assert.equal(await r.setex('se', 100, 'v'), 'OK');
    assert.ok((await r.ttl('se')) > 98);
    await assert.rejects(r.setex('se', 0, 'v'), /ERR invalid expire time in 'setex' command/);
    await assert.rejects(r.psetex('se', -1, 'v'), /ERR invalid expire time in 'psetex' command/);
    assert.equal(await r.psetex('pse', 100000, 'v'), 'OK');
    assert.equal(await r.getset('se', 'new'), 'v');
    assert.equal(await r.ttl('se'), -1);
    assert.equal(await r.getset('nokey', 'x'), null);
    assert.equal(await r.call('getdel', 'nokey'), 'x');
    assert.equal(await r.exists('nokey'), 0);
    assert.equal(await r.call('getdel', 'nokey'), null);
  });

  it('GETEX EX/PX/EXAT/PXAT/PERSIST', async () => {
    await r.set('gx', 'v');
    assert.equal(await r.call('getex', 'gx', 'ex', '100'), 'v');
    assert.ok((await r.ttl('gx')) > 98);
    assert.equal(await r.call('getex', 'gx', 'persist'), 'v');
    assert.equal(await r.ttl('gx'), -1);
    assert.equal(await r.call('getex', 'gx', 'px', '100000'), 'v');
    assert.ok((await r.pttl('gx')) > 90000);
    assert.equal(await r.call('getex', 'gx'), 'v');
    assert.ok((await r.pttl('gx')) > 90000);
    // An absolute time in the past deletes the key.
    assert.equal(await r.call('getex', 'gx', 'pxat', '1'), 'v');
    assert.equal(await r.exists('gx'), 0);
    assert.equal(await r.call('getex', 'gx', 'ex', '10'), null);
    await r.set('gx', 'v');
    await assert.rejects(r.call('getex', 'gx', 'ex', '10', 'persist'), /ERR syntax error/);
    await assert.rejects(r.call('getex', 'gx', 'nx'), /ERR syntax error/);
    await assert.rejects(r.call('getex', 'gx', 'ex', '-1'), /ERR invalid expire time in 'getex' command/);
  });

  it('MGET, MSET, MSETNX', async () => {
    assert.equal(await r.mset('m1', 'a', 'm2', 'b'), 'OK');
    await r.rpush('mlist', 'x');
    assert.deepEqual(await r.mget('m1', 'm2', 'nope', 'mlist'), ['a', 'b', null, null]);
    assert.equal(await r.msetnx('m3', 'c', 'm1', 'z'), 0);
    assert.equal(await r.get('m1'), 'a');
    assert.equal(await r.exists('m3'), 0);
    assert.equal(await r.msetnx('m3', 'c', 'm4', 'd'), 1);
    await assert.rejects(r.call('mset', 'a', 'b', 'c'), /ERR wrong number of arguments for 'mset' command/);
    await assert.rejects(r.call('msetnx', 'a', 'b', 'c'), /ERR wrong number of arguments for 'msetnx' command/);
  });

  it('INCR family: exact int64 and its errors', async () => {
    assert.equal(await r.incr('n'), 1);
    assert.equal(await r.incrby('n', 10), 11);
    assert.equal(await r.decrby('n', 20), -9);
    assert.equal(await r.decr('n'), -10);
    await r.set('n', '9223372036854775806');
    await r.incr('n'); // ioredis turns the integer reply into an inexact JS number
    assert.equal(await r.get('n'), '9223372036854775807');
    await assert.rejects(r.incr('n'), /ERR increment or decrement would overflow/);
    await r.set('n', '-9223372036854775808');
    await assert.rejects(r.decr('n'), /ERR increment or decrement would overflow/);
    await assert.rejects(r.call('decrby', 'x', '-9223372036854775808'), /ERR decrement would overflow/);
    await r.set('n', '9007199254740991');
    await r.incr('n');
    assert.equal(await r.get('n'), '9007199254740992');
    await r.incrby('n', 1);
    assert.equal(await r.get('n'), '9007199254740993');
    for (const bad of [' 1', '1 ', '01', '+1', '1.0', 'abc', '', '-0', '9223372036854775808']) {
      await r.set('bad', bad);
      await assert.rejects(r.incr('bad'), /ERR value is not an integer or out of range/, bad);
    }
    await assert.rejects(r.call('incrby', 'n', '1.5'), /ERR value is not an integer or out of range/);
    await r.sadd('aset', 'x');
    await assert.rejects(r.incr('aset'), /^ReplyError: WRONGTYPE/);
    await r.set('ttlkey', '1', 'EX', 100);
    await r.incr('ttlkey');
    assert.ok((await r.ttl('ttlkey')) > 98);
  });

  it('INCRBYFLOAT formats like long double %.17Lf and keeps TTL', async () => {
    await r.set('f', '10.5');
    assert.equal(await r.incrbyfloat('f', 0.1), '10.6');
    assert.equal(await r.incrbyfloat('ff', '5.0e3'), '5000');
    assert.equal(await r.incrbyfloat('ff', '-5000'), '0');
    assert.equal(await r.call('incrbyfloat', 'fi', '1e17'), '100000000000000000');
    await r.set('ft', '1', 'EX', 100);
    assert.equal(await r.incrbyfloat('ft', 1.5), '2.5');
    assert.ok((await r.ttl('ft')) > 98);
    await assert.rejects(r.call('incrbyfloat', 'f', 'inf'), /ERR increment would produce NaN or Infinity/);
    await assert.rejects(r.call('incrbyfloat', 'f', 'abc'), /ERR value is not a valid float/);
    await assert.rejects(r.call('incrbyfloat', 'f', ' 1'), /ERR value is not a valid float/);
    await r.set('fs', 'hello');
    await assert.rejects(r.call('incrbyfloat', 'fs', '1'), /ERR value is not a valid float/);
  });

  it('APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE', async () => {
    assert.equal(await r.append('ap', 'hello'), 5);
    assert.equal(await r.append('ap', ' world'), 11);
    assert.equal(await r.get('ap'), 'hello world');
    assert.equal(await r.strlen('ap'), 11);
    assert.equal(await r.strlen('nothere'), 0);
    await r.set('api', '123');
    await r.append('api', '4');
    assert.equal(await r.incr('api'), 1235);
    assert.equal(await r.getrange('ap', 0, 4), 'hello');
    assert.equal(await r.getrange('ap', -5, -1), 'world');
    assert.equal(await r.getrange('ap', 5, 3), '');
    assert.equal(await r.getrange('ap', -1, -5), '');
    assert.equal(await r.getrange('ap', 0, 1000), 'hello world');
    assert.equal(await r.call('substr', 'ap', '6', '-1'), 'world');
    assert.equal(await r.getrange('nothere', 0, -1), '');
    assert.equal(await r.setrange('sr', 5, 'x'), 6);
    assert.deepEqual(await r.getBuffer('sr'), Buffer.from([0, 0, 0, 0, 0, 0x78]));
    assert.equal(await r.setrange('sr', 0, ''), 6);
    assert.equal(await r.setrange('srnone', 10, ''), 0);
    assert.equal(await r.exists('srnone'), 0);
    await assert.rejects(r.setrange('sr', -1, 'x'), /ERR offset is out of range/);
    await assert.rejects(r.setrange('sr', 536870911, 'xx'), /ERR string exceeds maximum allowed size \(proto-max-bulk-len\)/);
    await r.set('srint', '12345');
    assert.equal(await r.setrange('srint', 1, '9'), 5);
    assert.equal(await r.get('srint'), '19345');
  });

  it('many APPENDs are linear, not quadratic', async () => {
    const chunk = 'x'.repeat(1000);
    const p = r.pipeline();
    for (let i = 0; i < 5000; i++) p.append('big', chunk);
    const start = Date.now();
    await p.exec();
    assert.ok(Date.now() - start < 5000);
    assert.equal(await r.strlen('big'), 5_000_000);
    assert.equal(await r.getrange('big', 4_999_998, -1), 'xx');
  });

  it('LCS: string, LEN, IDX with MINMATCHLEN and WITHMATCHLEN', async () => {
    await r.mset('la', 'ohmytext', 'lb', 'mynewtext');
    assert.equal(await r.call('lcs', 'la', 'lb'), 'mytext');
    assert.equal(await r.call('lcs', 'la', 'lb', 'len'), 6);
    assert.deepEqual(await r.call('lcs', 'la', 'lb', 'idx'), ['matches', [[[4, 7], [5, 8]], [[2, 3], [0, 1]]], 'len', 6]);
    assert.deepEqual(await r.call('lcs', 'la', 'lb', 'idx', 'minmatchlen', '4', 'withmatchlen'), ['matches', [[[4, 7], [5, 8], 4]], 'len', 6]);
    await assert.rejects(r.call('lcs', 'la', 'lb', 'len', 'idx'), /ERR If you want both the length and indexes, please just use IDX\./);
    await r.rpush('llist', 'x');
    await assert.rejects(r.call('lcs', 'la', 'llist'), /ERR The specified keys must contain string values/);
    assert.equal(await r.call('lcs', 'none1', 'none2'), '');
  });

  it('WRONGTYPE from every string command on a non-string key', async () => {
    await r.rpush('wl', 'x');
    const cmds: string[][] = [
      ['get', 'wl'], ['getex', 'wl'], ['getdel', 'wl'], ['getset', 'wl', 'x'], ['incr', 'wl'], ['incrbyfloat', 'wl', '1'],
      ['append', 'wl', 'x'], ['strlen', 'wl'], ['getrange', 'wl', '0', '1'], ['setrange', 'wl', '0', 'x'],
    ];
    for (const cmd of cmds) await assert.rejects(r.call(cmd[0]!, ...cmd.slice(1)), /^ReplyError: WRONGTYPE Operation against a key holding the wrong kind of value$/, cmd.join(' '));
  });

  it('keyspace notifications use Redis event names', async () => {
    assert.equal(await rawReply(r, ['config', 'set', 'notify-keyspace-events', 'KEA']), 'OK');
    // A raw subscriber connection: what arrives is exactly what the server sent.
    const sub = new RawConnection(s.port);
    sub.command('PSUBSCRIBE', '__keyspace@0__:ev*');
    await sub.until((got) => got.includes(':1\r\n'));
    await r.set('ev1', '1', 'EX', 100);
    await r.incr('ev1');
    await r.incrbyfloat('ev1', 1.5);
    await r.append('ev1', 'x');
    await r.setrange('ev1', 0, 'y');
    await r.call('getex', 'ev1', 'persist');
    await r.call('getdel', 'ev1');
    await r.set('ev2', 'done');
    const received = await sub.until((got) => got.includes('__keyspace@0__:ev2\r\n$3\r\nset\r\n'), 20000);
    sub.close();
    const events = [...received.matchAll(/pmessage\r\n\$\d+\r\n[^\r]*\r\n\$\d+\r\n__keyspace@0__:([^\r]*)\r\n\$\d+\r\n([^\r]*)\r\n/g)].map((m) => `${m[1]} ${m[2]}`);
    assert.deepEqual(events, ['ev1 set', 'ev1 expire', 'ev1 incrby', 'ev1 incrbyfloat', 'ev1 append', 'ev1 setrange', 'ev1 persist', 'ev1 del', 'ev2 set']);
    await r.call('config', 'set', 'notify-keyspace-events', '');
  });
});

describe('string commands compared with redis-server 7.0.15', () => {
  let nodis: Redis;
  let redis: Redis;
  before(async () => {
    nodis = (await startServer()).client();
    redis = (await startServer({ bin: '/usr/bin/redis-server' })).client();
  });
  after(stopAll);

  it('INCRBYFLOAT outputs match for tricky values', async () => {
    const incrs = ['10.5', '0.1', '0.2', '1e17', '5.0e3', '-0.3', '1.1', '3.0e3', '0.00000000000000001', '1e300', '1e300', '-1e300',
      '1.23456789012345678901234', '-0.0000000000000000001', '0x1p3', '12345678901234567.89', '1.5e-7', '-1e-20', '7', '9223372036854775807',
      '.5', '5.', '1E2', '+3', 'infinity', '-inf', 'nan', '1e5000', '1e-5000', '0x', '1e', ' 2', '2 ', '', '1,5'];
    const cmds: string[][] = [];
    for (const [i, x] of incrs.entries()) {
      cmds.push(['incrbyfloat', 'acc', x]);
      cmds.push(['incrbyfloat', `fresh${i}`, x]);
    }
    cmds.push(['set', 'st', '10.50'], ['incrbyfloat', 'st', '0.1'], ['set', 'st', '1e2'], ['incrbyfloat', 'st', '0'], ['set', 'st', '  1'], ['incrbyfloat', 'st', '1']);
    assert.deepEqual(await compareServers(nodis, redis, cmds), []);
  });

  it('SET/GETEX/INCR/LCS/GETRANGE replies and errors match', async () => {
    const cmds: string[][] = [
      ['set', 'a', 'v', 'ex', '0'], ['set', 'a', 'v', 'ex', '1.5'], ['set', 'a', 'v', 'exat', '-1'], ['set', 'a', 'v', 'px', '9223372036854775807'],
      ['set', 'a', 'v', 'ex', '9223372036854775807'], ['set', 'a', 'v', 'keepttl', 'keepttl'], ['set', 'a', 'v', 'get', 'get'], ['set', 'a', 'v', 'xx', 'nx'],
      ['set', 'a', 'v', 'EX'], ['getex', 'a', 'keepttl'], ['getex', 'a', 'persist', 'persist'], ['getex', 'nokey', 'ex', 'bad'], ['getex', 'a', 'ex', 'bad'],
      ['set', 'n', '9223372036854775807'], ['incrby', 'n', '0'], ['incrby', 'n', '1'], ['decrby', 'n', '-1'], ['incrby', 'n', '-9223372036854775808'],
      ['incrby', 'm', '9223372036854775807'], ['incrby', 'm', '-9223372036854775807'], ['get', 'm'],
      ['set', 'x', 'ohmytext'], ['set', 'y', 'ohmyt2ext'], ['lcs', 'x', 'y'], ['lcs', 'x', 'y', 'idx'], ['lcs', 'x', 'y', 'idx', 'withmatchlen'],
      ['lcs', 'x', 'y', 'idx', 'minmatchlen', '2'], ['lcs', 'x', 'y', 'idx', 'minmatchlen', '-3'], ['lcs', 'x', 'y', 'minmatchlen'], ['lcs', 'x', 'y', 'foo'],
      ['set', 'p', 'rosettacode'], ['set', 'q', 'raisethysword'], ['lcs', 'p', 'q', 'idx', 'withmatchlen'], ['lcs', 'p', 'nokey', 'idx'],
      ['getrange', 'x', '-9223372036854775808', '9223372036854775807'], ['getrange', 'x', '2', '-100'], ['getrange', 'x', 'a', '1'],
      ['setrange', 'sr', '536870911', ''], ['setrange', 'sr', '536870912', 'x'], ['setrange', 'sr', '1.5', 'x'], ['append', 'n', 'x'], ['get', 'n'],
      ['set', 'i', '12'], ['append', 'i', '3'], ['incr', 'i'], ['strlen', 'i'], ['getrange', 'i', '0', '0'],
    ];
    assert.deepEqual(await compareServers(nodis, redis, cmds), []);
  });
});
