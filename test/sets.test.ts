/**
 * Set commands against a real nodis-server, and side by side with redis-server 7.0.15 for every
 * deterministic reply (byte-exact, RESP2 and RESP3). Intset-encoded sets reply in numeric order
 * in Redis, which makes most multi-set replies deterministic; random commands (SPOP,
 * SRANDMEMBER) are checked for their properties and distributions.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, diffAgainstRedis, runRaw, keyEventsOf } from './helpers/redis-compare.js';

const ints = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

const scripts: Record<string, string[][]> = {
  'SADD / SREM / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS (intset)': [
    ['sadd', '@s', '3', '1', '2', '-5', '100'],
    ['sadd', '@s', '1', '2'],
    ['smembers', '@s'],
    ['scard', '@s'],
    ['sismember', '@s', '2'],
    ['sismember', '@s', '7'],
    ['smismember', '@s', '1', '7', '3'],
    ['smismember', '@missing', 'a', 'b'],
    ['srem', '@s', '1', '7', '1'],
    ['smembers', '@s'],
    ['srem', '@missing', 'x'],
    ['srem', '@s', '2', '3', '-5', '100', '999'],
    ['exists', '@s'],
    ['smembers', '@missing'],
    ['scard', '@missing'],
    ['sismember', '@missing', 'x'],
    ['sadd', '@big', '9223372036854775807', '-9223372036854775808', '0'],
    ['smembers', '@big'],
    ['object', 'encoding', '@big'],
    ['sadd', '@over', '9223372036854775808'],
    ['object', 'encoding', '@over'],
    ['sadd', '@z', '01'],
    ['object', 'encoding', '@z'],
  ],
  'WRONGTYPE everywhere': [
    ['set', '@str', 'x'],
    ['sadd', '@set', '1'],
    ['sadd', '@str', 'a'],
    ['srem', '@str', 'a'],
    ['smembers', '@str'],
    ['sismember', '@str', 'a'],
    ['smismember', '@str', 'a'],
    ['scard', '@str'],
    ['spop', '@str'],
    ['spop', '@str', '2'],
    ['spop', '@str', '0'],
    ['srandmember', '@str'],
    ['srandmember', '@str', '2'],
    ['smove', '@str', '@set', 'a'],
    ['smove', '@set', '@str', '1'],
    ['smove', '@missing', '@str', '1'],
    ['sinter', '@set', '@str'],
    ['sinter', '@missing', '@str'],
    ['sinterstore', '@dst', '@set', '@str'],
    ['sintercard', '2', '@set', '@str'],
    ['sunion', '@set', '@str'],
    ['sunionstore', '@dst', '@set', '@str'],
    ['sdiff', '@set', '@str'],
    ['sdiff', '@missing', '@str'],
    ['sdiffstore', '@dst', '@str', '@set'],
  ],
  'SINTER / SUNION / SDIFF and STORE forms (intsets)': [
    ['sadd', '@a', ...ints(0, 30)],
    ['sadd', '@b', ...ints(20, 50)],
    ['sadd', '@c', ...ints(25, 27), '999'],
    ['sinter', '@a', '@b'],
    ['sinter', '@a', '@b', '@c'],
    ['sinter', '@a', '@missing'],
    ['sinter', '@a', '@a'],
    ['sunion', '@a', '@c'],
    ['sunion', '@missing', '@c', '@missing2'],
    ['sdiff', '@a', '@b'],
    ['sdiff', '@a', '@b', '@c'],
    ['sdiff', '@a', '@a'],
    ['sdiff', '@missing', '@a'],
    ['sdiff', '@a', '@missing'],
    ['sinterstore', '@d1', '@a', '@b'],
    ['smembers', '@d1'],
    ['sunionstore', '@d2', '@a', '@b', '@c'],
    ['scard', '@d2'],
    ['sdiffstore', '@d3', '@b', '@a'],
    ['smembers', '@d3'],
    ['sintercard', '2', '@a', '@b'],
    ['sintercard', '2', '@a', '@b', 'limit', '5'],
    ['sintercard', '2', '@a', '@b', 'LIMIT', '0'],
    ['sintercard', '3', '@a', '@b', '@c'],
    ['sintercard', '2', '@a', '@missing'],
    ['sintercard', '1', '@missing'],
  ],
  'STORE of an empty result deletes the destination': [
    ['sadd', '@a', '1', '2'],
    ['sadd', '@b', '3'],
    ['set', '@d1', 'string-to-replace'],
    ['sinterstore', '@d1', '@a', '@b'],
    ['exists', '@d1'],
    ['sadd', '@d2', 'x'],
    ['sinterstore', '@d2', '@a', '@missing'],
    ['exists', '@d2'],
    ['sadd', '@d3', 'x'],
    ['sdiffstore', '@d3', '@a', '@a'],
    ['exists', '@d3'],
    ['sadd', '@d4', 'x'],
    ['sunionstore', '@d4', '@missing', '@missing2'],
    ['exists', '@d4'],
    ['sunionstore', '@d5', '@a', '@b'],
    ['type', '@d5'],
    ['smembers', '@d5'],
    ['sinterstore', '@a', '@a', '@a'],
    ['smembers', '@a'],
  ],
  'mixed encodings intersect by value': [
    ['sadd', '@i', '1', '2', '3'],
    ['sadd', '@h', 'a', '2', '3', '4'],
    ['sinter', '@i', '@h'],
    ['sinterstore', '@d', '@h', '@i'],
    ['object', 'encoding', '@d'],
    ['smembers', '@d'],
    ['sdiffstore', '@d2', '@h', '@i'],
    ['object', 'encoding', '@d2'],
    ['sunionstore', '@d3', '@i', '@i'],
    ['object', 'encoding', '@d3'],
  ],
  'SINTERCARD argument errors': [
    ['sintercard', '0', '@a'],
    ['sintercard', '-1', '@a'],
    ['sintercard', 'x', '@a'],
    ['sintercard', '3', '@a', '@b'],
    ['sintercard', '1', '@a', 'limit'],
    ['sintercard', '1', '@a', 'limit', '-1'],
    ['sintercard', '1', '@a', 'limit', 'x'],
    ['sintercard', '1', '@a', 'foo', '1'],
    ['sintercard', '2', '@a', 'limit', '1'],
  ],
  'SPOP / SRANDMEMBER deterministic cases': [
    ['spop', '@missing'],
    ['spop', '@missing', '3'],
    ['spop', '@missing', '-1'],
    ['spop', '@missing', 'x'],
    ['spop', '@missing', '1', '2'],
    ['srandmember', '@missing'],
    ['srandmember', '@missing', '3'],
    ['srandmember', '@missing', '-3'],
    ['srandmember', '@missing', '0'],
    ['srandmember', '@missing', 'x'],
    ['srandmember', '@missing', '1', '2'],
    ['sadd', '@one', 'only'],
    ['srandmember', '@one'],
    ['srandmember', '@one', '-4'],
    ['srandmember', '@one', '0'],
    ['srandmember', '@one', '9223372036854775807'],
    ['srandmember', '@one', '-9223372036854775808'],
    ['spop', '@one', '0'],
    ['spop', '@one', '9223372036854775807'],
    ['exists', '@one'],
    ['sadd', '@ints', '5', '3', '1', '4', '2'],
    ['srandmember', '@ints', '10'],
    ['srandmember', '@ints', '5'],
    ['spop', '@ints', '5'],
    ['exists', '@ints'],
    ['sadd', '@single', '7'],
    ['spop', '@single'],
    ['exists', '@single'],
  ],
  'SMOVE': [
    ['sadd', '@src', '1', '2', 'a'],
    ['sadd', '@dst', '3'],
    ['smove', '@src', '@dst', '1'],
    ['smove', '@src', '@dst', 'nope'],
    ['smove', '@src', '@dst', 'a'],
    ['object', 'encoding', '@dst'],
    ['smembers', '@src'],
    ['smove', '@src', '@src', '2'],
    ['smove', '@src', '@src', '9'],
    ['smove', '@missing', '@dst', '2'],
    ['smove', '@src', '@new', '2'],
    ['exists', '@src'],
    ['smembers', '@new'],
    ['object', 'encoding', '@new'],
    ['sadd', '@src2', 'x'],
    ['smove', '@src2', '@new2', 'x'],
    ['object', 'encoding', '@new2'],
    ['sadd', '@src3', '5'],
    ['sadd', '@dst3', '5'],
    ['smove', '@src3', '@dst3', '5'],
    ['exists', '@src3'],
    ['smembers', '@dst3'],
  ],
  'intset size limit': [
    ['sadd', '@s', ...ints(1, 512)],
    ['object', 'encoding', '@s'],
    ['sadd', '@s', '513'],
    ['object', 'encoding', '@s'],
    ['srem', '@s', '513'],
    ['object', 'encoding', '@s'],
    ['scard', '@s'],
  ],
  'SSCAN of an intset': [
    ['sadd', '@s', '5', '-1', '3', '100', '33'],
    ['sscan', '@s', '0'],
    ['sscan', '@s', '0', 'match', '3*'],
    ['sscan', '@s', '0', 'count', '1'],
    ['sscan', '@s', '0', 'count', '0'],
    ['sscan', '@s', '0', 'bar', 'x'],
    ['sscan', '@s', 'abc'],
    ['sscan', '@missing', '0'],
    ['set', '@str', 'x'],
    ['sscan', '@str', '0'],
  ],
  'binary-safe members': [
    ['sadd', '@b', '\x00', '\xff\xfe', '', 'a\r\nb'],
    ['scard', '@b'],
    ['sismember', '@b', ''],
    ['sismember', '@b', '\xff\xfe'],
    ['smismember', '@b', '\x00', 'a\r\nb', 'x'],
  ],
};

/** Keyspace events of set writes (deterministic ones), including no-ops that must not notify. */
const eventScript: string[][] = [
  ['sadd', '@s', '1', '2', '3'],
  ['sadd', '@s', '1'],
  ['srem', '@s', '9'],
  ['srem', '@s', '1'],
  ['smove', '@s', '@t', '2'],
  ['smove', '@s', '@t', '9'],
  ['smove', '@s', '@t', '3'],
  ['sadd', '@u', 'x'],
  ['sadd', '@v', 'x'],
  ['smove', '@u', '@v', 'x'],
  ['sadd', '@a', '1', '2'],
  ['sadd', '@b', '2', '3'],
  ['sinterstore', '@d', '@a', '@b'],
  ['sunionstore', '@d', '@a', '@b'],
  ['sdiffstore', '@d', '@a', '@b'],
  ['sinterstore', '@d', '@a', '@missing'],
  ['sinterstore', '@d', '@a', '@missing'],
  ['sdiffstore', '@d', '@a', '@a'],
  ['sunionstore', '@d', '@missing'],
  ['sadd', '@p', 'only'],
  ['spop', '@p'],
  ['sadd', '@q', '1', '2'],
  ['spop', '@q', '5'],
  ['spop', '@q', '0'],
  ['sadd', '@r', '1', '2', '3'],
  ['spop', '@r', '0'],
  ['srem', '@r', '1', '2', '3'],
];

describe('set commands', () => {
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

  it('emits the same keyspace events as redis-server', async () => {
    const args = ['--notify-keyspace-events', 'KEA'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const got = await keyEventsOf(mine.port, 'ev', eventScript);
    assert.notEqual(got, null);
    assert.deepEqual(got, await keyEventsOf(theirs.port, 'ev', eventScript));
  });

  it('SPOP with a count pops distinct members through every strategy', async () => {
    const c = s.client();
    for (const [size, count] of [
      [100, 3], // few popped: one by one
      [100, 95], // most popped: survivors moved to a new set
      [1000, 1000], // all popped
    ] as const) {
      const key = `pop:${size}:${count}`;
      const members = Array.from({ length: size }, (_, i) => `m${i}`);
      await c.sadd(key, ...members);
      const popped = (await c.call('spop', key, String(count))) as string[];
      assert.equal(popped.length, count);
      assert.equal(new Set(popped).size, count);
      const left = await c.smembers(key);
      assert.equal(left.length, size - count);
      const all = new Set([...popped, ...left]);
      assert.equal(all.size, size);
    }
  });

  it('SPOP with a count replies a RESP3 set', async () => {
    await s.client().sadd('pop3', 'a', 'b', 'c', 'd', 'e', 'f');
    const [reply] = await runRaw(s.port, [['spop', 'pop3', '2']], 3);
    assert.match(reply!, /^~2\r\n(\$1\r\n[a-f]\r\n){2}$/);
  });

  it('SRANDMEMBER with a count covers all four strategies', async () => {
    const c = s.client();
    const members = Array.from({ length: 100 }, (_, i) => `m${i}`);
    await c.sadd('rand', ...members);
    for (const count of [1, 10, 40, 90, 100, 200]) {
      const got = (await c.call('srandmember', 'rand', String(count))) as string[];
      assert.equal(got.length, Math.min(count, 100));
      assert.equal(new Set(got).size, got.length);
      for (const m of got) assert.ok(members.includes(m));
    }
    const repeated = (await c.call('srandmember', 'rand', '-1000')) as string[];
    assert.equal(repeated.length, 1000);
    assert.ok(new Set(repeated).size > 90);
  });

  it('SRANDMEMBER distributions are uniform (chi-square, as Redis tests)', async () => {
    const c = s.client();
    const members = Array.from({ length: 50 }, (_, i) => String(i));
    await c.sadd('dist', ...members);
    for (const count of ['-1000', '10', '40']) {
      const counts = new Map<string, number>();
      let total = 0;
      for (let round = 0; round < (count === '-1000' ? 10 : 300); round++) {
        for (const m of (await c.call('srandmember', 'dist', count)) as string[]) {
          counts.set(m, (counts.get(m) ?? 0) + 1);
          total++;
        }
      }
      const expected = total / 50;
      let chi = 0;
      for (const m of members) chi += ((counts.get(m) ?? 0) - expected) ** 2 / expected;
      // 49 degrees of freedom: p = 1e-5 at ~104 (Wilson–Hilferty), so a uniform picker fails
      // this about once in 30,000 runs, while a biased one lands far beyond it.
      assert.ok(chi < 104, `chi-square ${chi} for count ${count}`);
    }
  });

  it('SPOP empties a set member by member and deletes the key', async () => {
    const c = s.client();
    await c.sadd('drain', 'a', 'b', 'c', '1', '2');
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) seen.add((await c.spop('drain'))!);
    assert.equal(seen.size, 5);
    assert.equal(await c.exists('drain'), 0);
    assert.equal(await c.spop('drain'), null);
  });

  it('SSCAN walks a large set completely, with MATCH', async () => {
    const c = s.client();
    const members = Array.from({ length: 2000 }, (_, i) => `m${i}`);
    await c.sadd('scanned', ...members);
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, items] = (await c.call('sscan', 'scanned', cursor, 'count', '150')) as [string, string[]];
      for (const m of items) seen.add(m);
      // Deleting during the scan must not make the scan miss members that stay.
      if (cursor === '0') await c.srem('scanned', 'm1999');
      cursor = next;
    } while (cursor !== '0');
    for (const m of members.slice(0, 1999)) assert.ok(seen.has(m), m);
    const [, matched] = (await c.call('sscan', 'scanned', '0', 'match', 'm1', 'count', '100000')) as [string, string[]];
    assert.deepEqual(matched, ['m1']);
  });

  it('handles a large set', async () => {
    const c = s.client();
    const members = Array.from({ length: 20000 }, (_, i) => `member:${i}`);
    for (let i = 0; i < members.length; i += 5000) await c.sadd('large', ...members.slice(i, i + 5000));
    assert.equal(await c.scard('large'), 20000);
    assert.equal(await c.sismember('large', 'member:19999'), 1);
    assert.equal((await c.smembers('large')).length, 20000);
    for (let i = 0; i < 100; i++) await c.spop('large');
    assert.equal(await c.scard('large'), 19900);
  });
});
