/**
 * Keyspace notifications: notify-keyspace-events parsing and its canonical CONFIG GET form,
 * keyspace and keyevent channels, class masking, expired / new / keymiss events, and the events
 * of a script touching every data type compared with the real redis-server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, keyEventsOf } from './helpers/redis-compare.js';
import type { Redis } from 'ioredis';

/** Collects `channel message` lines from a pattern subscription. */
async function collector(s: RunningServer, pattern = '*'): Promise<{ events: string[]; waitFor: (n: number) => Promise<void> }> {
  const sub = s.client();
  const events: string[] = [];
  let wake: () => void = () => {};
  sub.on('pmessage', (_p: string, channel: string, message: string) => {
    events.push(`${channel} ${message}`);
    wake();
  });
  await sub.psubscribe(pattern);
  const waitFor = async (n: number): Promise<void> => {
    const deadline = Date.now() + 10000;
    while (events.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${events.length} events: ${events.join(', ')}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return { events, waitFor };
}

describe('keyspace notifications', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('parses notify-keyspace-events and shows it in canonical form', async () => {
    const cases: [string, string][] = [
      ['gKE', 'gKE'],
      ['$lshzxeKE', '$lshzxeKE'],
      ['KA', 'AK'],
      ['EA', 'AE'],
      ['Ezg$', 'g$zE'],
      ['AnmKE', 'AKEm'],
      ['', ''],
    ];
    for (const [given, shown] of cases) {
      await r.config('SET', 'notify-keyspace-events', given);
      assert.deepEqual(await r.config('GET', 'notify-keyspace-events'), ['notify-keyspace-events', shown]);
    }
    await assert.rejects(
      r.config('SET', 'notify-keyspace-events', 'KQ'),
      /Invalid event class character. Use 'Ag\$lshzxeKEtmdn'./,
    );
  });

  it('publishes keyspace and keyevent messages, masked by class', async () => {
    await r.config('SET', 'notify-keyspace-events', 'KEl');
    const c = await collector(s);
    await r.set('ks:str', 'v'); // string class is off
    await r.lpush('ks:list', 'a');
    await c.waitFor(2);
    assert.deepEqual(c.events, ['__keyspace@0__:ks:list lpush', '__keyevent@0__:lpush ks:list']);
    await r.select(3);
    await r.rpush('ks:list', 'b');
    await r.select(0);
    await c.waitFor(4);
    assert.deepEqual(c.events.slice(2), ['__keyspace@3__:ks:list rpush', '__keyevent@3__:rpush ks:list']);
  });

  it('reports expired keys, new keys and key misses', async () => {
    await r.config('SET', 'notify-keyspace-events', 'Exnm');
    const c = await collector(s, '__keyevent@0__:*');
    await r.set('nk', '1');
    await r.set('nk', '2'); // not new the second time
    await r.get('missing');
    await r.set('exp', '1', 'PX', 20);
    await c.waitFor(4);
    assert.deepEqual(c.events, [
      '__keyevent@0__:new nk',
      '__keyevent@0__:keymiss missing',
      '__keyevent@0__:new exp',
      '__keyevent@0__:expired exp',
    ]);
    await r.config('SET', 'notify-keyspace-events', '');
  });

  it('sends nothing when notifications are off', async () => {
    await r.config('SET', 'notify-keyspace-events', '');
    const c = await collector(s);
    await r.set('quiet', '1');
    await r.publish('marker', 'end');
    await c.waitFor(1);
    assert.deepEqual(c.events, ['marker end']);
  });

  const script: string[][] = [
    ['SET', '@s', '1'],
    ['INCRBY', '@s', '5'],
    ['APPEND', '@s', 'x'],
    ['EXPIRE', '@s', '100'],
    ['PERSIST', '@s'],
    ['RENAME', '@s', '@s2'],
    ['COPY', '@s2', '@s3'],
    ['GETDEL', '@s3'],
    ['DEL', '@s2', '@nothing'],
    ['LPUSH', '@l', 'a', 'b', 'c'],
    ['RPOP', '@l'],
    ['LSET', '@l', '0', 'z'],
    ['LMOVE', '@l', '@l2', 'LEFT', 'RIGHT'],
    ['LTRIM', '@l', '1', '0'],
    ['HSET', '@h', 'f', '1', 'g', '2'],
    ['HINCRBY', '@h', 'f', '3'],
    ['HDEL', '@h', 'f', 'g'],
    ['SADD', '@set', 'a', 'b'],
    ['SREM', '@set', 'a'],
    ['SMOVE', '@set', '@set2', 'b'],
    ['ZADD', '@z', '1', 'a', '2', 'b'],
    ['ZINCRBY', '@z', '2', 'a'],
    ['ZREM', '@z', 'a'],
    ['ZPOPMIN', '@z'],
  ];

  it('matches redis-server event for event across data types', async () => {
    const args = ['--notify-keyspace-events', 'KEA'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const got = await keyEventsOf(mine.port, 'nt', script);
    const want = await keyEventsOf(theirs.port, 'nt', script);
    assert.deepEqual(got, want);
  });
});
