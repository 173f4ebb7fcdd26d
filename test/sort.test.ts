/**
 * SORT / SORT_RO against a real nodis-server, compared byte for byte with the real
 * redis-server 7.0.15 (RESP2 and RESP3) when it is installed, plus STORE and error cases.
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

async function session(port: number, cmds: string[][]): Promise<string[]> {
  let req = '';
  for (const cmd of cmds) req += encode(cmd) + encode(['PING']);
  const raw = await rawExchange(port, req, (g) => g.split('+PONG\r\n').length - 1 === cmds.length);
  return raw.split('+PONG\r\n').slice(0, cmds.length);
}

const CASES: string[][] = [
  ['rpush', 'l', '3', '1', '2', '10', '1.5'],
  ['sort', 'l'],
  ['sort', 'l', 'desc'],
  ['sort', 'l', 'alpha'],
  ['sort', 'l', 'limit', '1', '2'],
  ['sort', 'l', 'limit', '-5', '2'],
  ['sort', 'l', 'limit', '10', '2'],
  ['mset', 'w_3', '30', 'w_1', '100', 'w_2', '-5', 'w_10', '7'],
  ['sort', 'l', 'by', 'w_*'],
  ['sort', 'l', 'by', 'w_*', 'alpha'],
  ['sort', 'l', 'by', 'nosort', 'desc', 'limit', '1', '2'],
  ['sort', 'l', 'get', '#', 'get', 'w_*'],
  ['hset', 'h_1', 'f', 'a'],
  ['hset', 'h_3', 'f', 'c'],
  ['sort', 'l', 'by', 'h_*->f', 'alpha', 'get', 'h_*->f', 'get', '#'],
  ['sort', 'l', 'get', 'nostar'],
  ['sort', 'l', 'get', 'w_*', 'store', 'dst'],
  ['lrange', 'dst', '0', '-1'],
  ['sort', 'l', 'limit', '10', '1', 'store', 'dst'],
  ['exists', 'dst'],
  ['rpush', 'bad', 'a', 'b'],
  ['sort', 'bad'],
  ['sort', 'bad', 'alpha'],
  ['sadd', 's', '5', '3', '9', '1'],
  ['sort', 's'],
  ['sort', 's', 'by', 'nosort', 'store', 'sd'],
  ['lrange', 'sd', '0', '-1'],
  ['zadd', 'z', '1', 'c', '2', 'b', '3', 'a'],
  ['sort', 'z', 'alpha'],
  ['sort', 'z', 'by', 'nosort', 'desc', 'limit', '1', '1'],
  ['object', 'encoding', 'z'],
  ['sort', 'nokey'],
  ['set', 'str', 'x'],
  ['sort', 'str'],
  ['sort', 'l', 'foo'],
  ['sort', 'l', 'limit', 'a', 'b'],
  ['sort_ro', 'l', 'store', 'x'],
  ['sort_ro', 'l', 'desc', 'limit', '0', '2'],
  ['command', 'getkeys', 'sort', 'l', 'store', 'a', 'get', 'store', 'store', 'b'],
];

describe('SORT', () => {
  let s: RunningServer;
  let redis: RunningServer;
  before(async () => {
    s = await startServer();
    redis = await startServer({ bin: REDIS });
  });
  after(stopAll);

  for (const proto of [2, 3]) {
    it(`matches redis-server byte for byte (RESP${proto})`, async (t) => {
      const cmds = [['flushall'], ...(proto === 3 ? [['hello', '3']] : []), ...CASES];
      const ours = await session(s.port, cmds);
      const theirs = await session(redis.port, cmds);
      for (let i = 0; i < cmds.length; i++) {
        if (cmds[i]![0] === 'hello') continue;
        assert.equal(JSON.stringify(ours[i]), JSON.stringify(theirs[i]), `reply to ${cmds[i]!.join(' ')}`);
      }
    });
  }

  it('stores a list, replaces the destination and deletes it for an empty result', async () => {
    const c = s.client();
    await c.del('src', 'out');
    await c.rpush('src', 'b', 'a', 'c');
    await c.set('out', 'old');
    await c.expire('out', 100);
    assert.equal(await c.call('sort', 'src', 'alpha', 'store', 'out'), 3);
    assert.deepEqual(await c.lrange('out', 0, -1), ['a', 'b', 'c']);
    assert.equal(await c.ttl('out'), -1);
    assert.equal(await c.call('sort', 'nothing', 'store', 'out'), 0);
    assert.equal(await c.exists('out'), 0);
  });

  it("refuses weights that are not numbers", async () => {
    const c = s.client();
    await c.del('ws');
    await c.rpush('ws', '1', 'x');
    await assert.rejects(c.call('sort', 'ws'), /ERR One or more scores can't be converted into double/);
  });
});
