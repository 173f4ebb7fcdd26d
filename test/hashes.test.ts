/**
 * Hash commands against a real nodis-server, and side by side with redis-server 7.0.15 for
 * every deterministic reply (byte-exact, RESP2 and RESP3): replies, errors, edge cases, reply
 * types. Random replies (HRANDFIELD) are checked for their properties instead.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, diffAgainstRedis, runRaw, keyEventsOf } from './helpers/redis-compare.js';

const long65 = 'x'.repeat(65);

/** Deterministic scripts; `@k` names a key (prefixed per run). */
const scripts: Record<string, string[][]> = {
  'HSET / HGET / HMGET / HGETALL basics': [
    ['hset', '@h', 'f1', 'v1', 'f2', 'v2'],
    ['hset', '@h', 'f1', 'v1b', 'f3', 'v3'],
    ['hget', '@h', 'f1'],
    ['hget', '@h', 'nope'],
    ['hget', '@missing', 'f1'],
    ['hmget', '@h', 'f1', 'nope', 'f3'],
    ['hmget', '@missing', 'a', 'b'],
    ['hgetall', '@h'],
    ['hgetall', '@missing'],
    ['hkeys', '@h'],
    ['hvals', '@h'],
    ['hkeys', '@missing'],
    ['hvals', '@missing'],
    ['hlen', '@h'],
    ['hlen', '@missing'],
    ['hexists', '@h', 'f2'],
    ['hexists', '@h', 'nope'],
    ['hexists', '@missing', 'f'],
    ['hstrlen', '@h', 'f1'],
    ['hstrlen', '@h', 'nope'],
    ['hstrlen', '@missing', 'x'],
  ],
  'HSET arity and HMSET': [
    ['hset', '@h', 'a'],
    ['hset', '@h', 'a', 'b', 'c'],
    ['hmset', '@h', 'a', 'b', 'c'],
    ['hmset', '@h', 'a', '1', 'b', '2'],
    ['hgetall', '@h'],
  ],
  'HSETNX': [
    ['hsetnx', '@h', 'a', '1'],
    ['hsetnx', '@h', 'a', '2'],
    ['hsetnx', '@h', 'b', '3'],
    ['hgetall', '@h'],
  ],
  'HDEL and key removal': [
    ['hset', '@h', 'a', '1', 'b', '2', 'c', '3'],
    ['hdel', '@h', 'a', 'zz'],
    ['hdel', '@h', 'zz'],
    ['hdel', '@missing', 'a'],
    ['hdel', '@h', 'b', 'c', 'b'],
    ['exists', '@h'],
    ['hgetall', '@h'],
  ],
  'WRONGTYPE everywhere': [
    ['set', '@s', 'x'],
    ['hset', '@s', 'a', 'b'],
    ['hsetnx', '@s', 'a', 'b'],
    ['hmset', '@s', 'a', 'b'],
    ['hget', '@s', 'a'],
    ['hmget', '@s', 'a'],
    ['hgetall', '@s'],
    ['hkeys', '@s'],
    ['hvals', '@s'],
    ['hdel', '@s', 'a'],
    ['hlen', '@s'],
    ['hexists', '@s', 'a'],
    ['hstrlen', '@s', 'a'],
    ['hincrby', '@s', 'a', '1'],
    ['hincrbyfloat', '@s', 'a', '1'],
    ['hrandfield', '@s'],
    ['hrandfield', '@s', '2'],
    ['hincrby', '@s', 'a', 'x'],
    ['hrandfield', '@s', 'x'],
  ],
  'HINCRBY': [
    ['hincrby', '@h', 'n', '5'],
    ['hincrby', '@h', 'n', '-10'],
    ['hincrby', '@h', 'n', 'x'],
    ['hincrby', '@h', 'n', '1.5'],
    ['hincrby', '@h', 'n', ' 1'],
    ['hset', '@h', 's', 'abc', 'sp', ' 1', 'big', '9223372036854775807', 'neg', '-9223372036854775808'],
    ['hincrby', '@h', 's', '1'],
    ['hincrby', '@h', 'sp', '1'],
    ['hincrby', '@h', 'big', '1'],
    ['hincrby', '@h', 'big', '0'],
    ['hincrby', '@h', 'neg', '-1'],
    ['hincrby', '@h', 'neg', '9223372036854775807'],
    ['hincrby', '@h', 'new', '9223372036854775807'],
    ['hincrby', '@h', 'x', '9223372036854775808'],
    ['hgetall', '@h'],
  ],
  'HINCRBYFLOAT': [
    ['hincrbyfloat', '@h', 'f', '10.5'],
    ['hincrbyfloat', '@h', 'f', '0.1'],
    ['hincrbyfloat', '@h', 'f', '-5e1'],
    ['hincrbyfloat', '@h', 'f', 'abc'],
    ['hincrbyfloat', '@h', 'f', 'inf'],
    ['hincrbyfloat', '@h', 'f', 'nan'],
    ['hincrbyfloat', '@big', 'f', '1.7e308'],
    ['hincrbyfloat', '@big', 'f', '1.7e308'],
    ['hgetall', '@big'],
    ['hincrbyfloat', '@h', 'i', '3'],
    ['hincrby', '@h', 'i', '2'],
    ['hset', '@h', 's', 'hello', 'sp', ' 1'],
    ['hincrbyfloat', '@h', 's', '1'],
    ['hincrbyfloat', '@h', 'sp', '1'],
    ['hincrbyfloat', '@h', 'x', '1.1e2'],
    ['hincrbyfloat', '@h', 'y', '0x10'],
    ['hgetall', '@h'],
  ],
  'HRANDFIELD deterministic cases': [
    ['hrandfield', '@missing'],
    ['hrandfield', '@missing', '3'],
    ['hrandfield', '@missing', '-3', 'withvalues'],
    ['hset', '@one', 'only', 'val'],
    ['hrandfield', '@one'],
    ['hrandfield', '@one', '0'],
    ['hrandfield', '@one', '1'],
    ['hrandfield', '@one', '-3'],
    ['hrandfield', '@one', '-3', 'withvalues'],
    ['hrandfield', '@one', '5', 'WITHVALUES'],
    ['hset', '@h', 'a', '1', 'b', '2', 'c', '3'],
    ['hrandfield', '@h', '3'],
    ['hrandfield', '@h', '10', 'withvalues'],
    ['hrandfield', '@h', '1', 'withvalue'],
    ['hrandfield', '@h', '1', 'withvalues', 'x'],
    ['hrandfield', '@h', 'x'],
    ['hrandfield', '@h', '-9223372036854775808'],
    ['hrandfield', '@h', '-9223372036854775808', 'withvalues'],
    ['hrandfield', '@h', '-9223372036854775807', 'withvalues'],
    ['hrandfield', '@h', '4611686018427387904', 'withvalues'],
    ['hrandfield', '@h', '9223372036854775808'],
  ],
  'binary-safe fields and values': [
    ['hset', '@h', '\x00\xff\r\n', '\xfe\x00', '', 'empty-field', 'empty-value', ''],
    ['hgetall', '@h'],
    ['hget', '@h', ''],
    ['hstrlen', '@h', '\x00\xff\r\n'],
  ],
  'HSCAN of a small hash': [
    ['hset', '@h', 'a', '1', 'b', '2', 'c', '3', 'ab', '4'],
    ['hscan', '@h', '0'],
    ['hscan', '@h', '0', 'match', 'a*'],
    ['hscan', '@h', '0', 'MATCH', 'a*', 'COUNT', '1'],
    ['hscan', '@h', '0', 'count', '0'],
    ['hscan', '@h', '0', 'count', 'x'],
    ['hscan', '@h', '0', 'foo'],
    ['hscan', '@h', '0', 'match'],
    ['hscan', '@h', 'x'],
    ['hscan', '@h', '-1'],
    ['hscan', '@missing', '0'],
    ['hscan', '@missing', '0', 'foo'],
    ['set', '@str', 'x'],
    ['hscan', '@str', '0'],
    ['hscan', '@str', 'x'],
  ],
  'encoding conversions': [
    ['hset', '@small', 'a', '1'],
    ['object', 'encoding', '@small'],
    ['hset', '@long', 'a', long65],
    ['object', 'encoding', '@long'],
    ['hset', '@longfield', long65, '1'],
    ['object', 'encoding', '@longfield'],
    ['hincrbyfloat', '@f', 'x', '0.0000000000000000000000000000000000000000000000000000000000001'],
    ['object', 'encoding', '@f'],
    ['hdel', '@long', long65],
    ['object', 'encoding', '@long'],
  ],
};

/** Keyspace events of hash writes, including the no-ops that must not notify. */
const eventScript: string[][] = [
  ['hset', '@h', 'a', '1', 'b', '2'],
  ['hset', '@h', 'a', '1'],
  ['hsetnx', '@h', 'a', '2'],
  ['hsetnx', '@h', 'c', '3'],
  ['hmset', '@h', 'd', '4'],
  ['hincrby', '@h', 'n', '1'],
  ['hincrby', '@h', 'a', 'x'],
  ['hincrbyfloat', '@h', 'n', '1.5'],
  ['hdel', '@h', 'zz'],
  ['hdel', '@h', 'a', 'b'],
  ['hdel', '@h', 'c', 'd', 'n'],
  ['hdel', '@h', 'a'],
  ['hget', '@h', 'a'],
];

describe('hash commands', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  describe('compared with redis-server', () => {
    let r: RunningServer;
    before(async () => {
      r = await startRedis();
    });
    let n = 0;
    for (const [name, script] of Object.entries(scripts)) {
      for (const proto of [2, 3] as const) {
        it(`${name} (RESP${proto})`, async () => {
          const diff = await diffAgainstRedis(s.port, r.port, `t${n++}`, script, proto);
          assert.equal(diff, null, diff ?? '');
        });
      }
    }
  });

  it('HSCAN walks a large hash completely, with MATCH and COUNT', async () => {
    const c = s.client();
    const args: string[] = [];
    for (let i = 0; i < 1000; i++) args.push(`f${i}`, `v${i}`);
    await c.hset('scanned', ...args);
    const seen = new Map<string, string>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, items] = (await c.call('hscan', 'scanned', cursor, 'count', '100')) as [string, string[]];
      assert.ok(items.length <= 200);
      for (let i = 0; i < items.length; i += 2) seen.set(items[i]!, items[i + 1]!);
      cursor = next;
      calls++;
    } while (cursor !== '0');
    assert.equal(seen.size, 1000);
    assert.equal(seen.get('f500'), 'v500');
    assert.ok(calls >= 10);
    const matched: string[] = [];
    cursor = '0';
    do {
      const [next, items] = (await c.call('hscan', 'scanned', cursor, 'match', 'f99*')) as [string, string[]];
      for (let i = 0; i < items.length; i += 2) matched.push(items[i]!);
      cursor = next;
    } while (cursor !== '0');
    assert.deepEqual(matched.sort(), ['f99', 'f990', 'f991', 'f992', 'f993', 'f994', 'f995', 'f996', 'f997', 'f998', 'f999']);
  });

  it('emits the same keyspace events as redis-server', async () => {
    const args = ['--notify-keyspace-events', 'KEA'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const got = await keyEventsOf(mine.port, 'ev', eventScript);
    assert.notEqual(got, null);
    assert.deepEqual(got, await keyEventsOf(theirs.port, 'ev', eventScript));
  });

  it('grows past the listpack limit and keeps every field', async () => {
    const c = s.client();
    const args: string[] = [];
    for (let i = 0; i < 1000; i++) args.push(`f${i}`, `v${i}`);
    assert.equal(await c.hset('bighash', ...args), 1000);
    assert.equal(await c.hlen('bighash'), 1000);
    assert.equal(await c.call('object', 'encoding', 'bighash'), 'hashtable');
    const all = (await c.hgetall('bighash')) as Record<string, string>;
    assert.equal(Object.keys(all).length, 1000);
    assert.equal(all.f999, 'v999');
  });

  it('HRANDFIELD returns distinct fields for positive counts and repeats for negative ones', async () => {
    const c = s.client();
    const args: string[] = [];
    for (let i = 0; i < 100; i++) args.push(`f${i}`, `v${i}`);
    await c.hset('rh', ...args);
    for (const count of [5, 40, 90]) {
      const got = (await c.call('hrandfield', 'rh', String(count))) as string[];
      assert.equal(got.length, count);
      assert.equal(new Set(got).size, count);
      for (const f of got) assert.match(f, /^f\d+$/);
    }
    const withValues = (await c.call('hrandfield', 'rh', '7', 'withvalues')) as string[];
    assert.equal(withValues.length, 14);
    for (let i = 0; i < 14; i += 2) assert.equal(withValues[i + 1], `v${withValues[i]!.slice(1)}`);
    const repeated = (await c.call('hrandfield', 'rh', '-500')) as string[];
    assert.equal(repeated.length, 500);
    assert.ok(new Set(repeated).size < 100 + 1);
    assert.ok(new Set(repeated).size > 50, 'negative counts sample the whole hash');
    const single = (await c.call('hrandfield', 'rh')) as string;
    assert.match(single, /^f\d+$/);
  });

  it('HRANDFIELD WITHVALUES replies pairs in RESP3', async () => {
    await s.client().hset('rh3', 'a', '1', 'b', '2', 'c', '3', 'd', '4');
    const [neg] = await runRaw(s.port, [['hrandfield', 'rh3', '-2', 'withvalues']], 3);
    assert.match(neg!, /^\*2\r\n(\*2\r\n\$1\r\n[a-d]\r\n\$1\r\n[1-4]\r\n){2}$/);
    const [pos] = await runRaw(s.port, [['hrandfield', 'rh3', '2', 'withvalues']], 3);
    assert.match(pos!, /^\*2\r\n(\*2\r\n\$1\r\n[a-d]\r\n\$1\r\n[1-4]\r\n){2}$/);
    const [flat] = await runRaw(s.port, [['hrandfield', 'rh3', '2', 'withvalues']], 2);
    assert.match(flat!, /^\*4\r\n(\$1\r\n[a-d]\r\n\$1\r\n[1-4]\r\n){2}$/);
  });

  it('HRANDFIELD picks fields uniformly', async () => {
    const c = s.client();
    await c.hset('uni', 'a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5');
    const picks = (await c.call('hrandfield', 'uni', '-5000')) as string[];
    const counts = new Map<string, number>();
    for (const p of picks) counts.set(p, (counts.get(p) ?? 0) + 1);
    assert.equal(counts.size, 5);
    for (const n of counts.values()) assert.ok(n > 800 && n < 1200, `count ${n}`);
  });

  it('HINCRBYFLOAT result keeps the key TTL-free semantics of HSET (key stays)', async () => {
    const c = s.client();
    assert.equal(await c.hincrbyfloat('hf', 'x', '1.5'), '1.5');
    assert.equal(await c.hget('hf', 'x'), '1.5');
    assert.equal(await c.call('type', 'hf'), 'hash');
  });

  it('an error in HINCRBY on a missing key does not create the key', async () => {
    const c = s.client();
    await assert.rejects(c.call('hincrby', 'nokey', 'f', 'abc'), /not an integer/);
    assert.equal(await c.exists('nokey'), 0);
  });
});
