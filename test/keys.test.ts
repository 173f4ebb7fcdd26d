import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

/** Polls `check` until it returns true (bounded), so tests never sleep-and-hope. */
async function until(check: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error reply');
}

describe('keys commands', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('DEL/UNLINK count deleted keys; EXISTS counts duplicates; TOUCH counts existing', async () => {
    await r.mset('a', '1', 'b', '2', 'c', '3');
    assert.equal(await r.call('exists', 'a', 'a', 'zz', 'b'), 3);
    assert.equal(await r.call('del', 'a', 'a', 'zz'), 1);
    assert.equal(await r.call('unlink', 'b', 'c', 'b'), 2);
    assert.equal(await r.call('touch', 'a', 'b'), 0);
  });

  it('TYPE answers with a status reply, none for a missing key', async () => {
    await r.set('s', 'x');
    assert.equal(await r.call('type', 's'), 'string');
    assert.equal(await r.call('type', 'missing'), 'none');
  });

  it('KEYS matches glob patterns on binary keys and hides expired keys', async () => {
    await r.call('flushall');
    const bin = Buffer.from([0xff, 0x00, 0x61]);
    await r.set(bin, '1');
    await r.mset('key:1', 'x', 'key:2', 'y', 'other', 'z');
    assert.deepEqual((await r.call('keys', 'key:*') as string[]).sort(), ['key:1', 'key:2']);
    assert.deepEqual(await r.call('keys', 'key:[^1]'), ['key:2']);
    const all = (await r.keysBuffer('*')).map((b) => b.toString('latin1'));
    assert.ok(all.includes(bin.toString('latin1')));
    assert.equal(all.length, 4);
    await r.call('pexpire', 'other', '1');
    await until(async () => !((await r.call('keys', '*')) as string[]).includes('other'));
  });

  it('SCAN returns every key exactly once under no writes, honouring COUNT, MATCH and TYPE', async () => {
    await r.call('flushall');
    const pipe = r.pipeline();
    for (let i = 0; i < 1000; i++) pipe.set(`key:${i}`, i);
    pipe.rpush('alist', 'x');
    await pipe.exec();
    const collect = async (...opts: string[]): Promise<string[]> => {
      const out: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = (await r.call('scan', cursor, ...opts)) as [string, string[]];
        out.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      return out;
    };
    const all = await collect('count', '7');
    assert.equal(all.length, 1001);
    assert.equal(new Set(all).size, 1001);
    assert.equal((await collect('match', 'key:1??')).length, 100);
    assert.deepEqual(await collect('type', 'LIST'), ['alist']);
    assert.equal((await collect('type', 'string', 'match', 'key:*', 'count', '10')).length, 1000);
  });

  it('SCAN guarantees under writes: every key present throughout is returned', async () => {
    await r.call('flushall');
    for (let i = 0; i < 200; i++) await r.set(`k${i}`, i);
    const seen = new Set<string>();
    let cursor = '0';
    let step = 0;
    do {
      const [next, keys] = (await r.call('scan', cursor, 'count', '5')) as [string, string[]];
      keys.forEach((k) => seen.add(k));
      cursor = next;
      // Churn: add and delete other keys between steps.
      for (let j = 0; j < 10; j++) await r.set(`added:${step * 10 + j}`, 1);
      await r.del(`added:${step * 5}`);
      step++;
    } while (cursor !== '0');
    for (let i = 0; i < 200; i++) assert.ok(seen.has(`k${i}`), `k${i}`);
  });

  it('SCAN errors are Redis\'s', async () => {
    assert.equal(await errorOf(r.call('scan', 'x')), 'ERR invalid cursor');
    assert.equal(await errorOf(r.call('scan', ' 1')), 'ERR invalid cursor');
    assert.equal(await errorOf(r.call('scan', '0', 'count', '0')), 'ERR syntax error');
    assert.equal(await errorOf(r.call('scan', '0', 'count', 'x')), 'ERR value is not an integer or out of range');
    assert.equal(await errorOf(r.call('scan', '0', 'match')), 'ERR syntax error');
    // An unknown cursor still makes progress and terminates.
    const [next] = (await r.call('scan', '123456789', 'count', '1000000')) as [string, string[]];
    assert.equal(next, '0');
  });

  it('RANDOMKEY returns nil on an empty db and an existing key otherwise', async () => {
    await r.call('flushall');
    assert.equal(await r.call('randomkey'), null);
    await r.mset('foo', 1, 'bar', 2);
    const seen = new Set<unknown>();
    for (let i = 0; i < 100 && seen.size < 2; i++) seen.add(await r.call('randomkey'));
    assert.deepEqual([...seen].sort(), ['bar', 'foo']);
  });

  it('RENAME moves the value and its TTL; same-key and missing-key cases', async () => {
    await r.call('flushall');
    await r.set('src', 'v', 'EX', 100);
    assert.equal(await r.call('rename', 'src', 'src'), 'OK');
    assert.equal(await r.call('rename', 'src', 'dst'), 'OK');
    assert.equal(await r.get('dst'), 'v');
    assert.equal(await r.exists('src'), 0);
    const ttl = (await r.ttl('dst')) as number;
    assert.ok(ttl > 90 && ttl <= 100);
    assert.equal(await errorOf(r.call('rename', 'nope', 'x')), 'ERR no such key');
    await r.set('plain', '1');
    await r.call('rename', 'plain', 'dst');
    assert.equal(await r.ttl('dst'), -1, 'overwriting drops the old TTL');
    await r.set('other', '2');
    assert.equal(await r.call('renamenx', 'other', 'dst'), 0);
    assert.equal(await r.call('renamenx', 'other', 'other'), 0);
    assert.equal(await r.call('renamenx', 'other', 'fresh'), 1);
  });

  it('MOVE and COPY across databases', async () => {
    await r.call('flushall');
    await r.set('m', 'v', 'PX', 100000);
    assert.equal(await errorOf(r.call('move', 'm', '0')), 'ERR source and destination objects are the same');
    assert.equal(await errorOf(r.call('move', 'm', '99')), 'ERR DB index is out of range');
    assert.equal(await errorOf(r.call('move', 'm', 'x')), 'ERR value is not an integer or out of range');
    assert.equal(await r.call('move', 'missing', '1'), 0);
    assert.equal(await r.call('move', 'm', '1'), 1);
    const db1 = s.client({ db: 1 });
    assert.equal(await db1.get('m'), 'v');
    assert.ok(((await db1.pttl('m')) as number) > 90000);
    assert.equal(await db1.call('move', 'm', '0'), 1);
    await db1.set('m', 'there');
    assert.equal(await r.call('move', 'm', '1'), 0, 'target exists');

    assert.equal(await errorOf(r.call('copy', 'm', 'm')), 'ERR source and destination objects are the same');
    assert.equal(await r.call('copy', 'm', 'm', 'db', '1'), 0);
    assert.equal(await r.call('copy', 'm', 'm', 'db', '1', 'replace'), 1);
    assert.equal(await db1.get('m'), 'v');
    assert.equal(await errorOf(r.call('copy', 'm', 'n', 'bogus')), 'ERR syntax error');
    assert.equal(await r.call('copy', 'missing', 'n'), 0);
    // A copy is independent of its source, even for strings edited in place.
    await r.set('big', 'x'.repeat(100));
    assert.equal(await r.call('copy', 'big', 'big2'), 1);
    await r.setrange('big', 0, 'CHANGED');
    assert.equal(await r.get('big2'), 'x'.repeat(100));
  });

  it('SWAPDB swaps contents and validates its arguments', async () => {
    await r.call('flushall');
    await r.set('in0', '0');
    const db1 = s.client({ db: 1 });
    await db1.set('in1', '1');
    assert.equal(await r.call('swapdb', '0', '1'), 'OK');
    assert.equal(await r.get('in1'), '1');
    assert.equal(await db1.get('in0'), '0');
    assert.equal(await errorOf(r.call('swapdb', 'x', '1')), 'ERR invalid first DB index');
    assert.equal(await errorOf(r.call('swapdb', '0', 'x')), 'ERR invalid second DB index');
    assert.equal(await errorOf(r.call('swapdb', '0', '100')), 'ERR DB index is out of range');
  });

  it('EXPIRE family: options, errors, overflow, and past times deleting the key', async () => {
    await r.call('flushall');
    await r.set('k', 'v');
    assert.equal(await errorOf(r.call('expire', 'k', '10', 'nx', 'xx')), 'ERR NX and XX, GT or LT options at the same time are not compatible');
    assert.equal(await errorOf(r.call('expire', 'k', '10', 'gt', 'lt')), 'ERR GT and LT options at the same time are not compatible');
    assert.equal(await errorOf(r.call('expire', 'k', '10', 'foo')), 'ERR Unsupported option foo');
    assert.equal(await errorOf(r.call('expire', 'k', '9223372036854775807')), "ERR invalid expire time in 'expire' command");
    assert.equal(await errorOf(r.call('pexpire', 'k', '9223372036854775807')), "ERR invalid expire time in 'pexpire' command");
    assert.equal(await r.call('expire', 'k', '100', 'xx'), 0);
    assert.equal(await r.call('expire', 'k', '100', 'gt'), 0, 'no TTL is infinite for GT');
    assert.equal(await r.call('expire', 'k', '100', 'nx'), 1);
    assert.equal(await r.call('expire', 'k', '200', 'nx'), 0);
    assert.equal(await r.call('expire', 'k', '50', 'gt'), 0);
    assert.equal(await r.call('expire', 'k', '200', 'gt'), 1);
    assert.equal(await r.call('expire', 'k', '300', 'lt'), 0);
    assert.equal(await r.call('expire', 'k', '150', 'lt'), 1);
    assert.equal(await r.ttl('k'), 150);
    const pexpiretime = (await r.call('pexpiretime', 'k')) as number;
    assert.equal(await r.call('expiretime', 'k'), Math.floor((pexpiretime + 500) / 1000));
    assert.equal(await r.call('pexpireat', 'k', String(pexpiretime + 1000)), 1);
    assert.equal(await r.call('pexpiretime', 'k'), pexpiretime + 1000);
    assert.equal(await r.call('expire', 'missing', '10'), 0);
    assert.equal(await r.call('expire', 'k', '-1'), 1);
    assert.equal(await r.exists('k'), 0);
    assert.equal(await r.ttl('k'), -2);
    await r.set('k', 'v');
    assert.equal(await r.ttl('k'), -1);
    assert.equal(await r.call('expireat', 'k', '1'), 1);
    assert.equal(await r.exists('k'), 0);
  });

  it('PERSIST removes a TTL, and replies 0 without one', async () => {
    await r.set('p', 'v', 'EX', 100);
    assert.equal(await r.persist('p'), 1);
    assert.equal(await r.ttl('p'), -1);
    assert.equal(await r.persist('p'), 0);
    assert.equal(await r.persist('missing'), 0);
  });

  it('publishes generic keyspace events with Redis names', async () => {
    await r.call('config', 'set', 'notify-keyspace-events', 'KEA');
    const sub = s.client();
    const events: string[] = [];
    sub.on('pmessage', (_p: string, channel: string, msg: string) => events.push(`${channel.replace('__keyspace@', '').replace('__:', ' ')}=${msg}`));
    await sub.psubscribe('__keyspace@*');
    await r.set('e1', 'v');
    await r.call('expire', 'e1', '100');
    await r.call('persist', 'e1');
    await r.call('rename', 'e1', 'e2');
    await r.call('copy', 'e2', 'e3');
    await r.call('move', 'e3', '1');
    await r.call('del', 'e2');
    await r.set('e4', 'v');
    await r.call('expire', 'e4', '0');
    await until(async () => events.includes('0 e4=del'));
    assert.deepEqual(events, [
      '0 e1=set', '0 e1=expire', '0 e1=persist', '0 e1=rename_from', '0 e2=rename_to', '0 e3=copy_to',
      '0 e3=move_from', '1 e3=move_to', '0 e2=del', '0 e4=set', '0 e4=del',
    ]);
    await r.call('config', 'set', 'notify-keyspace-events', '');
  });
});

describe('expiry', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer({ args: ['--hz', '100', '--enable-debug-command', 'yes'] });
    r = s.client();
  });
  after(stopAll);

  it('the active cycle deletes expired keys without them being accessed', async () => {
    const pipe = r.pipeline();
    for (let i = 0; i < 2000; i++) pipe.set(`v${i}`, 'x', 'PX', 50);
    pipe.set('stays', 'x');
    await pipe.exec();
    // DBSIZE does not expire keys; only the active cycle can bring it down.
    await until(async () => (await r.dbsize()) === 1);
    const info = (await r.info('stats')) as string;
    assert.match(info, /expired_keys:2000/);
  });

  it('DEBUG SET-ACTIVE-EXPIRE 0 stops the active cycle; lazy expiry still applies', async () => {
    await r.call('debug', 'set-active-expire', '0');
    await r.set('lazy', 'x', 'PX', 20);
    const start = Date.now();
    await until(async () => Date.now() - start > 200);
    assert.equal(await r.dbsize(), 2, 'still counted: nobody removed it');
    assert.equal(await r.get('lazy'), null);
    assert.equal(await r.dbsize(), 1);
    await r.call('debug', 'set-active-expire', '1');
  });
});
