/**
 * HyperLogLog commands side by side with Debian's redis-server 7.0.15: every reply compared
 * byte for byte in RESP2 and RESP3, the raw HLL bytes (GET) included, so sparse opcodes, the
 * promotion to dense, cached cardinalities and error texts must all be Redis's. Also corrupted
 * values (a seeded fuzz), DUMP/RESTORE in both directions, keyspace events, dirty counts and
 * WATCH, and replication in both directions.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, diffAgainstRedis, runRaw, keyEventsOf } from './helpers/redis-compare.js';

after(stopAll);

/** A small deterministic PRNG so the generated scripts are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8;
}

function batch(prefix: string, from: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${from + i}`);
}

/** A sparse header with a stale cached cardinality (opcodes follow). */
const HEADER = 'HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80';

/** Scripts run on both servers; `@name` keys get a per-script prefix. */
const scripts: Record<string, string[][]> = {
  basics: [
    ['PFADD', '@h'],
    ['PFADD', '@h'],
    ['EXISTS', '@h'],
    ['GET', '@h'],
    ['PFCOUNT', '@h'],
    ['GET', '@h'],
    ['PFADD', '@h', 'a', 'b', 'c'],
    ['PFADD', '@h', 'a', 'b', 'c'],
    ['PFADD', '@h', ''],
    ['GETRANGE', '@h', '15', '15'],
    ['PFCOUNT', '@h'],
    ['GETRANGE', '@h', '15', '15'],
    ['PFADD', '@h', '\x00\xff\x80binary\r\n', 'x'.repeat(1000)],
    ['PFDEBUG', 'DECODE', '@h'],
    ['PFDEBUG', 'ENCODING', '@h'],
    ['PFCOUNT', '@h'],
    ['GET', '@h'],
    ['PFCOUNT', '@missing'],
    ['EXISTS', '@missing'],
    ['PFADD', '@ttl', 'a'],
    ['EXPIRE', '@ttl', '1000'],
    ['PFADD', '@ttl', 'b', 'c', 'd'],
    ['TTL', '@ttl'],
  ],
  growth: [
    ...Array.from({ length: 40 }, (_, i) => [
      ['PFADD', '@g', ...batch('el-', i * 60, 60)],
      ['PFCOUNT', '@g'],
      ['PFDEBUG', 'ENCODING', '@g'],
      ['STRLEN', '@g'],
    ]).flat(),
    ['GET', '@g'],
    ['PFDEBUG', 'GETREG', '@g'],
    ['PFADD', '@small', ...batch('s', 0, 30)],
    ['PFDEBUG', 'GETREG', '@small'],
    ['PFDEBUG', 'ENCODING', '@small'],
    ['GET', '@small'],
    ['PFADD', '@t', 'x'],
    ['PFDEBUG', 'TODENSE', '@t'],
    ['PFDEBUG', 'TODENSE', '@t'],
    ['PFCOUNT', '@t'],
    ['GET', '@t'],
  ],
  'small sparse limit': [
    ['CONFIG', 'SET', 'hll-sparse-max-bytes', '60'],
    ...Array.from({ length: 12 }, (_, i) => [
      ['PFADD', '@p', `e${i}`, `f${i}`],
      ['PFDEBUG', 'ENCODING', '@p'],
      ['GET', '@p'],
    ]).flat(),
    ['CONFIG', 'SET', 'hll-sparse-max-bytes', '0'],
    ['PFADD', '@q', 'a'],
    ['PFADD', '@q', 'b'],
    ['PFDEBUG', 'ENCODING', '@q'],
    ['CONFIG', 'SET', 'hll-sparse-max-bytes', '3000'],
  ],
  merge: [
    ['PFADD', '@a', 'a', 'b', 'c'],
    ['PFADD', '@b', 'b', 'c', 'd'],
    ['PFADD', '@c', 'c', 'd', 'e'],
    ['PFMERGE', '@m', '@a', '@b', '@c'],
    ['PFDEBUG', 'ENCODING', '@m'],
    ['GET', '@m'],
    ['PFCOUNT', '@m'],
    ['PFCOUNT', '@a', '@b', '@c', '@nothing'],
    ['PFCOUNT', '@nothing', '@other'],
    ['PFADD', '@big', ...batch('big', 0, 3000)],
    ['PFMERGE', '@m', '@big'],
    ['PFDEBUG', 'ENCODING', '@m'],
    ['GET', '@m'],
    ['PFCOUNT', '@m'],
    ['PFCOUNT', '@m', '@a', '@big'],
    ['PFMERGE', '@only'],
    ['GET', '@only'],
    ['PFMERGE', '@only2', '@none'],
    ['GET', '@only2'],
    ['PFADD', '@self', 'q', 'r'],
    ['PFCOUNT', '@self'],
    ['PFMERGE', '@self'],
    ['GET', '@self'],
    ['PFMERGE', '@sp', '@a'],
    ['PFMERGE', '@sp', '@b', '@c'],
    ['PFDEBUG', 'ENCODING', '@sp'],
    ['GET', '@sp'],
  ],
  errors: [
    ['SET', '@s', 'bar'],
    ['PFADD', '@s', '1'],
    ['PFCOUNT', '@s'],
    ['PFMERGE', '@x', '@s'],
    ['PFMERGE', '@s', '@x'],
    ['EXISTS', '@x'],
    ['SET', '@n', '12345'],
    ['PFCOUNT', '@n'],
    ['SET', '@n', '1234567890123456789'],
    ['PFCOUNT', '@n'],
    ['RPUSH', '@l', 'x'],
    ['PFADD', '@l', 'a'],
    ['PFCOUNT', '@l'],
    ['PFADD', '@ok', 'a'],
    ['PFCOUNT', '@ok', '@l'],
    ['PFMERGE', '@l'],
    ['PFDEBUG', 'GETREG', '@l'],
    ['PFDEBUG', 'GETREG', '@missing'],
    ['PFDEBUG', 'NOPE', '@missing'],
    ['PFDEBUG', 'NOPE', '@ok'],
    ['PFDEBUG', 'NOPE\r\nX', '@ok'],
    ['PFDEBUG', 'TODENSE', '@ok'],
    ['PFDEBUG', 'DECODE', '@ok'],
    ['PFDEBUG', 'GETREG', '@ok', 'extra'],
    ['PFADD'],
    ['PFCOUNT'],
    ['PFMERGE'],
    ['PFDEBUG', 'GETREG'],
    ['PFSELFTEST', 'x'],
    // Corrupted values (the suite's cases).
    ['PFADD', '@c1', 'a', 'b', 'c'],
    ['APPEND', '@c1', 'hello'],
    ['PFCOUNT', '@c1'],
    ['PFCOUNT', '@c1', '@ok'],
    ['PFMERGE', '@m', '@c1'],
    ['PFDEBUG', 'TODENSE', '@c1'],
    ['PFDEBUG', 'DECODE', '@c1'],
    ['PFADD', '@c1', 'zzz'],
    ['GET', '@c1'],
    ['PFADD', '@c2', 'a', 'b', 'c'],
    ['SETRANGE', '@c2', '0', '0123'],
    ['PFCOUNT', '@c2'],
    ['PFADD', '@c3', 'a', 'b', 'c'],
    ['SETRANGE', '@c3', '4', 'x'],
    ['PFCOUNT', '@c3'],
    ['PFADD', '@c4', 'a', 'b', 'c'],
    ['SETRANGE', '@c4', '4', '\x00'],
    ['PFCOUNT', '@c4'],
    ['PFADD', '@c5', 'a'],
    ['SETRANGE', '@c5', '15', '\x00'],
    ['PFCOUNT', '@c5'],
    ['GETRANGE', '@c5', '8', '15'],
    ['SET', '@c6', 'HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80'],
    ['PFCOUNT', '@c6'],
    ['PFADD', '@c6', 'a'],
    // Opcodes running past the last register (CVE-2025-32023, fixed in Debian's build).
    ['SET', '@o1', `${HEADER}\x7f\xff\x7f\xff\xff`],
    ['PFCOUNT', '@o1', '@o1'],
    ['PFCOUNT', '@o1'],
    ['PFDEBUG', 'GETREG', '@o1'],
    ['PFMERGE', '@o1m', '@o1'],
    ['SET', '@o2', `${HEADER}\x7f\xff\x3f`],
    ['PFCOUNT', '@o2', '@o2'],
    ['PFCOUNT', '@o2'],
    ['PFDEBUG', 'TODENSE', '@o2'],
    ['SET', '@o3', `${HEADER}\x7f\xfe\x80\x80`],
    ['PFCOUNT', '@o3', '@o3'],
    ['PFCOUNT', '@o3'],
    ['PFDEBUG', 'TODENSE', '@o3'],
    ['PFADD', '@o3', 'x', 'y'],
    // Crafted dense registers: all 63 makes the estimate infinite (llroundl's overflow value).
    ['SET', '@max', `HYLL${'\x00'.repeat(12)}${'\xff'.repeat(12288)}`],
    ['PFCOUNT', '@max', '@max'],
    ['PFCOUNT', '@max'],
    ['GETRANGE', '@max', '8', '15'],
    ['PFCOUNT', '@max'],
    ['SET', '@max2', `HYLL${'\x00'.repeat(11)}\x80${'\xff'.repeat(12288)}`],
    ['PFCOUNT', '@max2'],
    ['GETRANGE', '@max2', '8', '15'],
    ['PFCOUNT', '@max2'],
    ['SET', '@half', `HYLL${'\x00'.repeat(11)}\x80${'\xcb'.repeat(12288)}`],
    ['PFCOUNT', '@half', '@half'],
    ['PFCOUNT', '@half'],
    ['GET', '@half'],
  ],
  watch: [
    ['PFADD', '@w', 'a', 'b'],
    ['WATCH', '@w'],
    ['PFCOUNT', '@w'],
    ['MULTI'],
    ['PING'],
    ['EXEC'],
    ['WATCH', '@w'],
    ['PFCOUNT', '@w'],
    ['MULTI'],
    ['PING'],
    ['EXEC'],
    ['WATCH', '@w'],
    ['PFADD', '@w', 'a'],
    ['MULTI'],
    ['PING'],
    ['EXEC'],
  ],
};

describe('HyperLogLog against redis-server 7.0.15', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  let n: Redis;
  let r: Redis;

  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startRedis()]);
    n = nodis.client();
    r = redis.client();
  });

  for (const [name, script] of Object.entries(scripts)) {
    for (const proto of [2, 3] as const) {
      it(`${name} (RESP${proto})`, async () => {
        const diff = await diffAgainstRedis(nodis.port, redis.port, `${name.replace(/ /g, '-')}-${proto}`, script, proto);
        assert.equal(diff, null, diff ?? '');
      });
    }
  }

  it('corrupted values: a seeded fuzz of byte edits gives the same replies and bytes', async () => {
    const rand = lcg(7);
    for (let round = 0; round < 150; round++) {
      const key = `fz:${round}`;
      const items = batch(`r${round}-`, 0, rand() % (round % 3 === 0 ? 2500 : 300));
      await Promise.all([r, n].map((c) => (items.length > 0 ? c.pfadd(key, ...items) : c.pfadd(key))));
      const len = await r.strlen(key);
      assert.equal(await n.strlen(key), len);
      const edits: string[][] = [];
      const nEdits = 1 + (rand() % 4);
      for (let i = 0; i < nEdits; i++) {
        // Mostly inside the opcodes; sometimes the header, sometimes just past the end.
        const pos = rand() % 10 === 0 ? rand() % 16 : 16 + (rand() % Math.max(1, len - 14));
        edits.push(['SETRANGE', '@h', String(pos), String.fromCharCode(rand() & 0xff)]);
      }
      const script = [
        ...edits.map((e) => e.map((a) => (a === '@h' ? key : a))),
        ['PFCOUNT', key],
        ['PFADD', key, `more${round}`, 'a', 'b'],
        ['PFCOUNT', key, 'fz:none'],
        ['PFMERGE', `fz:m${round}`, key],
        ['PFDEBUG', 'ENCODING', key],
        ['GET', key],
        ['GET', `fz:m${round}`],
      ];
      const diff = await diffAgainstRedis(nodis.port, redis.port, 'fuzz', script, 2);
      assert.equal(diff, null, `round ${round}: ${diff}`);
    }
  });

  it('DUMP from redis-server RESTOREs into nodis (and back) with the same bytes and counts', async () => {
    for (const [key, size] of [['dr:sparse', 50], ['dr:dense', 5000], ['dr:empty', 0]] as const) {
      const items = batch(`${key}-`, 0, size);
      await (items.length > 0 ? r.pfadd(key, ...items) : r.pfadd(key));
      const payload = await r.dumpBuffer(key);
      await n.del(key);
      assert.equal(await n.restore(key, 0, payload), 'OK');
      assert.deepEqual(await n.getBuffer(key), await r.getBuffer(key));
      assert.equal(await n.pfcount(key), await r.pfcount(key));
      // Writes to a restored value behave like writes to the original.
      const more = batch(`${key}-more-`, 0, 40);
      assert.equal(await n.pfadd(key, ...more), await r.pfadd(key, ...more));
      assert.equal(await n.pfcount(key), await r.pfcount(key));
      assert.deepEqual(await n.getBuffer(key), await r.getBuffer(key));

      // And the other way: nodis's DUMP restores into redis-server.
      const back = `${key}:back`;
      await n.pfadd(back, ...batch('b', 0, size + 10));
      const ours = await n.dumpBuffer(back);
      await r.del(back);
      assert.equal(await r.restore(back, 0, ours), 'OK');
      assert.deepEqual(await r.getBuffer(back), await n.getBuffer(back));
      assert.equal(await r.pfcount(back), await n.pfcount(back));
      assert.deepEqual(await r.getBuffer(back), await n.getBuffer(back));
    }
  });

  it('a value SET from redis-server\'s bytes works as an HLL (latin1 string representation)', async () => {
    await r.pfadd('raw:src', ...batch('raw', 0, 2000));
    const bytes = (await r.getBuffer('raw:src'))!;
    await Promise.all([n.set('raw:copy', bytes), r.set('raw:copy', bytes)]);
    const script = [['PFCOUNT', 'raw:copy'], ['PFADD', 'raw:copy', 'new1', 'new2'], ['PFCOUNT', 'raw:copy'], ['GET', 'raw:copy']];
    const diff = await diffAgainstRedis(nodis.port, redis.port, 'raw', script, 2);
    assert.equal(diff, null, diff ?? '');
  });

  it('dirties the dataset as Redis does (rdb_changes_since_last_save)', async () => {
    const changes = async (c: Redis): Promise<number> => Number(/rdb_changes_since_last_save:(\d+)/.exec(await c.info('persistence'))![1]);
    const steps: [string, ...string[]][] = [
      ['PFADD', 'dt:h', 'a', 'b', 'c'],
      ['PFADD', 'dt:h', 'a'],
      ['PFADD', 'dt:h', 'd', 'e', 'f', 'g'],
      ['PFCOUNT', 'dt:h'],
      ['PFCOUNT', 'dt:h'],
      ['PFCOUNT', 'dt:h', 'dt:none'],
      ['PFMERGE', 'dt:m', 'dt:h'],
      ['PFMERGE', 'dt:m'],
      ['PFDEBUG', 'ENCODING', 'dt:m'],
      ['PFDEBUG', 'GETREG', 'dt:m'],
      ['PFDEBUG', 'TODENSE', 'dt:m'],
      ['PFDEBUG', 'TODENSE', 'dt:h'],
    ];
    for (const step of steps) {
      const [nb, rb] = await Promise.all([changes(n), changes(r)]);
      await Promise.all([runRaw(nodis.port, [step]), runRaw(redis.port, [step])]);
      const [na, ra] = await Promise.all([changes(n), changes(r)]);
      assert.equal(na - nb, ra - rb, step.join(' '));
    }
  });

  it('keyspace events: pfadd for PFADD and PFMERGE, none for PFCOUNT and PFDEBUG', async () => {
    await Promise.all([n, r].map((c) => c.config('SET', 'notify-keyspace-events', 'KEA')));
    const script = [
      ['PFADD', '@a', 'x'],
      ['PFADD', '@a', 'x'],
      ['PFADD', '@a', 'y', 'z'],
      ['PFCOUNT', '@a'],
      ['PFMERGE', '@b', '@a'],
      ['PFMERGE', '@b'],
      ['PFDEBUG', 'TODENSE', '@b'],
      ['PFDEBUG', 'GETREG', '@a'],
      ['SET', '@s', 'x'],
      ['PFADD', '@s', 'x'],
    ];
    const mine = await keyEventsOf(nodis.port, 'ev', script);
    const theirs = await keyEventsOf(redis.port, 'ev', script);
    assert.deepEqual(mine, theirs);
    assert.deepEqual(mine, ['pfadd ev:a', 'pfadd ev:a', 'pfadd ev:b', 'pfadd ev:b', 'set ev:s']);
    await Promise.all([n, r].map((c) => c.config('SET', 'notify-keyspace-events', '')));
  });
});

describe('HyperLogLog replication with redis-server', () => {
  const FAST = ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];

  async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 15000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  /** Runs writes on the master and checks the replica ends up with the same bytes. */
  async function check(master: Redis, replica: Redis): Promise<void> {
    await waitFor('link up', async () => /master_link_status:up/.test(await replica.info('replication')));
    await master.pfadd('rp:h', ...batch('x', 0, 100));
    await master.pfcount('rp:h'); // rewrites the cached cardinality: must propagate
    await master.pfadd('rp:d', ...batch('y', 0, 4000));
    await master.pfmerge('rp:m', 'rp:h', 'rp:d');
    await master.pfcount('rp:m');
    await master.pfadd('rp:s', 'a');
    await master.call('PFDEBUG', 'TODENSE', 'rp:s');
    await master.set('rp:end', '1');
    await waitFor('replica caught up', async () => (await replica.exists('rp:end')) === 1);
    for (const key of ['rp:h', 'rp:d', 'rp:m', 'rp:s']) {
      assert.deepEqual(await replica.getBuffer(key), await master.getBuffer(key), key);
    }
    assert.equal((await replica.getrange('rp:h', 15, 15)).charCodeAt(0) & 0x80, 0, 'cached cardinality replicated');
  }

  it('nodis master, redis-server replica', async () => {
    const master = await startServer({ args: FAST });
    const replica = await startRedis([...FAST, '--replicaof', '127.0.0.1', String(master.port)]);
    await check(master.client(), replica.client());
  });

  it('redis-server master, nodis replica', async () => {
    const master = await startRedis(FAST);
    const replica = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(master.port)] });
    await check(master.client(), replica.client());
  });
});
