/**
 * The memory model (keyspace/memory.ts): used_memory counts what the keyspace and the clients'
 * buffers hold, so it agrees with MEMORY USAGE, falls back when data or a client goes, makes a
 * small maxmemory usable as in Redis, and the process gives memory back after a big release.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

async function memInfo(c: Redis): Promise<Record<string, number>> {
  const text = (await c.info('memory')) as string;
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    const m = /^(\w+):(\d+)$/.exec(line);
    if (m !== null) out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('memory model', () => {
  let s: RunningServer;
  let c: Redis;
  before(async () => {
    s = await startServer();
    c = s.client();
  });
  after(stopAll);

  it('counts each key as MEMORY USAGE reports it, and FLUSHALL returns to the start', async () => {
    const start = (await memInfo(c)).used_memory!;
    assert.ok(start < 2 * 1024 * 1024, `a fresh server uses about what Redis does (${start})`);
    const p = c.pipeline();
    for (let i = 0; i < 1000; i++) p.set(`k:${i}`, 'v'.repeat(i % 200));
    for (let i = 0; i < 50; i++) p.rpush('list', ...Array.from({ length: 20 }, (_, j) => `e${i}-${j}`));
    p.hset('h', 'a', '1', 'b', '2');
    await p.exec();
    let usage = 0;
    for (let i = 0; i < 1000; i++) usage += Number(await c.call('memory', 'usage', `k:${i}`));
    usage += Number(await c.call('memory', 'usage', 'list')) + Number(await c.call('memory', 'usage', 'h'));
    const used = (await memInfo(c)).used_memory!;
    // What the keys add is what MEMORY USAGE says, plus the dict's 8-byte buckets (1002 keys: 1024 buckets).
    assert.equal(used - start, usage + 8 * 1024, `used_memory grew ${used - start}, MEMORY USAGE sums ${usage}`);
    await c.flushall();
    assert.equal((await memInfo(c)).used_memory, start);
  });

  it('charges a copied collection and an in-place edited string on their own as they change (each value keeps its charge)', async () => {
    const start = (await memInfo(c)).used_memory!;
    await c.rpush('l', ...Array.from({ length: 30 }, (_, i) => `item-${i}`));
    await c.hset('h', ...Array.from({ length: 200 }, (_, i) => [`f${i}`, 'v'.repeat(i % 50)]).flat());
    await c.zadd('z', ...Array.from({ length: 200 }, (_, i) => [i, `m${i}`]).flat().map(String));
    await c.set('s', 'x'.repeat(100));
    await c.setrange('s', 150, 'y'.repeat(10)); // a Buffer edited in place from now on
    for (const k of ['l', 'h', 'z']) await c.call('copy', k, `${k}2`);
    const keys = ['l', 'h', 'z', 's', 'l2', 'h2', 'z2'];
    const check = async (what: string): Promise<void> => {
      let sum = 0;
      for (const k of keys) sum += Number((await c.call('memory', 'usage', k)) ?? 0);
      const live = (await c.dbsize()) as number;
      const buckets = live === 0 ? 0 : 8 * 2 ** Math.ceil(Math.log2(live));
      assert.equal((await memInfo(c)).used_memory! - start, sum + buckets, what);
    };
    await check('after the copies');
    await c.rpush('l2', 'x'.repeat(300));
    await c.hset('h', 'f0', 'w'.repeat(2000));
    await c.zadd('z2', 5, 'm0');
    await c.append('s', 'z'.repeat(40));
    await check('after changing each copy or its original');
    await c.del('l', 'h2', 'z');
    await check('after deleting three of them');
    await c.del('l2', 'h', 'z2', 's');
    assert.equal((await memInfo(c)).used_memory, start);
  });

  it('counts the keys of every database, and nothing for one emptied again', async () => {
    const start = (await memInfo(c)).used_memory!;
    await c.select(3);
    try {
      await c.set('other-db', 'x'.repeat(100));
      const usage = Number(await c.call('memory', 'usage', 'other-db'));
      // The key and its value, and db 3's dict buckets as charged for one key (8 bytes).
      assert.equal((await memInfo(c)).used_memory! - start, usage + 8);
      await c.del('other-db');
      assert.equal((await memInfo(c)).used_memory, start);
    } finally {
      await c.select(0);
    }
  });

  it('makes a small maxmemory usable: writes succeed, then keys are evicted to stay under it', async () => {
    const start = (await memInfo(c)).used_memory!;
    const limit = start + 200 * 1024;
    await c.config('SET', 'maxmemory', String(limit));
    await c.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      for (let i = 0; i < 2000; i++) await c.set(`e:${i}`, 'x'.repeat(100));
      const m = await memInfo(c);
      assert.ok(m.used_memory! <= limit, `used ${m.used_memory} under ${limit}`);
      const evicted = Number(/evicted_keys:(\d+)/.exec((await c.info('stats')) as string)![1]);
      const left = await c.dbsize();
      assert.ok(evicted > 0 && left + evicted === 2000, `evicted ${evicted}, left ${left}`);
    } finally {
      await c.config('SET', 'maxmemory', '0');
      await c.flushall();
    }
  });

  it("does not grow the keyspace's bucket table past maxmemory (dictExpandAllowed), so a write evicts nothing", async () => {
    // unit/maxmemory "Don't rehash if used memory exceeds maxmemory after rehash".
    await c.config('SET', 'maxmemory', '0');
    await c.config('SET', 'maxmemory-policy', 'allkeys-random');
    try {
      const fill = c.pipeline();
      for (let i = 0; i < 4096; i++) fill.set(`key:${i}`, String(i));
      await fill.exec();
      const limit = (await memInfo(c)).used_memory! + 10 * 1024;
      await c.config('SET', 'maxmemory', String(limit));
      await c.set('k1', 'v1'); // the 4097th key: doubling to 8192 buckets (64 KB) would pass the limit
      await c.set('k2', 'v2');
      assert.equal(await c.dbsize(), 4098);
      assert.ok((await memInfo(c)).used_memory! <= limit);
      // Once the limit is lifted the next key grows the table.
      await c.config('SET', 'maxmemory', '0');
      const before = (await memInfo(c)).used_memory!;
      await c.set('k3', 'v3');
      assert.ok((await memInfo(c)).used_memory! - before >= 32 * 1024, 'the table doubled');
    } finally {
      await c.config('SET', 'maxmemory', '0');
      await c.config('SET', 'maxmemory-policy', 'noeviction');
      await c.flushall();
    }
  });

  it('counts lazily freed objects as Redis: UNLINK of a value past 64 allocations, every key of FLUSHALL ASYNC', async () => {
    const lazyfreed = async (): Promise<number> => Number(/lazyfreed_objects:(\d+)/.exec((await c.info('memory')) as string)![1]);
    await c.config('RESETSTAT');
    await c.config('SET', 'stream-node-max-entries', '5');
    try {
      const add = c.pipeline();
      for (let i = 0; i < 1000; i++) add.xadd('stream', '*', 'foo', String(i));
      await add.exec();
      await c.sadd('small', 'a', 'b', 'c');
      await c.unlink('small'); // an intset: one allocation, freed inline
      assert.equal(await lazyfreed(), 0);
      await c.unlink('stream'); // 200 listpack nodes
      assert.equal(await lazyfreed(), 1);
      await c.mset('a', '1', 'b', '2', 'c', '3');
      await c.flushall('ASYNC');
      assert.equal(await lazyfreed(), 4);
      await c.config('RESETSTAT');
      assert.equal(await lazyfreed(), 0);
    } finally {
      await c.config('SET', 'stream-node-max-entries', '100');
    }
  });

  it('gives memory back after a pipelining client that did not read disconnects', async () => {
    await c.set('big', 'x'.repeat(100000));
    const base = await memInfo(c);
    const sock = net.connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.pause(); // never reads: the replies pile up in nodis's output buffer
    sock.write('*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n'.repeat(1500));
    await waitFor(async () => (await memInfo(c)).used_memory! > base.used_memory! + 120e6, 'the output buffer to fill');
    const full = await memInfo(c);
    sock.destroy();
    await waitFor(async () => (await memInfo(c)).used_memory! < base.used_memory! + 1e6, 'used_memory to fall back');
    // The process itself gives the buffers back soon after (a collection after a big release).
    await waitFor(async () => (await memInfo(c)).used_memory_rss! < full.used_memory_rss! - 30e6, `RSS to fall from ${full.used_memory_rss}`);
  });
});

describe('MEMORY USAGE of hashes, sets and sorted sets, compared with redis-server 7.0.15', () => {
  let nodis: Redis;
  let redis: Redis;
  before(async () => {
    nodis = (await startServer()).client();
    redis = (await startServer({ bin: '/usr/bin/redis-server' })).client();
  });
  after(stopAll);

  /** Runs the same writes on both servers. */
  async function both(cmds: (string | number)[][]): Promise<void> {
    for (const c of [nodis, redis]) {
      const p = c.pipeline();
      for (const cmd of cmds) p.call(String(cmd[0]), ...cmd.slice(1).map(String));
      const replies = (await p.exec())!;
      for (const [err] of replies) assert.equal(err, null);
    }
  }

  async function usage(c: Redis, key: string, ...extra: string[]): Promise<number> {
    return Number(await c.call('memory', 'usage', key, ...extra));
  }

  /** nodis's MEMORY USAGE within `tolerance` of Redis's (jemalloc's size classes, skiplist levels). */
  async function assertClose(key: string, extra: string[] = [], tolerance = 0.15): Promise<number> {
    const n = await usage(nodis, key, ...extra);
    const r = await usage(redis, key, ...extra);
    assert.ok(Math.abs(n - r) <= r * tolerance, `MEMORY USAGE ${key} ${extra.join(' ')}: nodis ${n}, redis ${r}`);
    return n;
  }

  const fill = (n: number, make: (i: number) => (string | number)[]): (string | number)[] => Array.from({ length: n }, (_, i) => make(i)).flat();

  it('charges a hash by the size of its fields and values, in both encodings', async () => {
    await both([
      ['hset', 'h:small', ...fill(10, (i) => [`f${i}`, i])],
      ['hset', 'h:big-values', ...fill(300, (i) => [`field:${i}`, 'v'.repeat(1000)])],
      ['hset', 'h:short-values', ...fill(600, (i) => [`field:${i}`, 'v'])], // past hash-max-listpack-entries (512)
    ]);
    assert.equal(await nodis.object('ENCODING', 'h:short-values'), 'hashtable');
    assert.equal(await nodis.object('ENCODING', 'h:small'), 'listpack');
    await assertClose('h:small');
    const big = await assertClose('h:big-values');
    const short = await assertClose('h:short-values');
    // 300 values of 1,000 bytes each: at least 300 KB, where a fixed per-field charge said ~17 KB.
    assert.ok(big > 300 * 1000 && big > 5 * short, `big ${big}, short ${short}`);
  });

  it('samples 5 elements by default, and SAMPLES 0 counts every one', async () => {
    // The five oldest fields are tiny, the other 295 large. nodis samples the oldest fields
    // (insertion order) where Redis samples its dict's hash order, so only SAMPLES 0 compares.
    await both([['hset', 'h:skewed', ...fill(300, (i) => [`field:${i}`, i < 5 ? 'x' : 'y'.repeat(500)])]]);
    const sampled = await usage(nodis, 'h:skewed');
    const all = await assertClose('h:skewed', ['SAMPLES', '0']);
    assert.ok(all > 295 * 500 && sampled < all / 5, `SAMPLES 5 ${sampled}, SAMPLES 0 ${all}`);
    assert.equal(await usage(nodis, 'h:skewed', 'SAMPLES', '300'), all);
    assert.equal(await usage(nodis, 'h:skewed', 'SAMPLES', '5'), sampled);
    await assert.rejects(nodis.call('memory', 'usage', 'h:skewed', 'SAMPLES', '-1'), /ERR syntax error/);
  });

  it('charges sets (intset and hashtable) and sorted sets (listpack and skiplist) by their members', async () => {
    await both([
      ['sadd', 's:ints', ...fill(100, (i) => [i * 100000])],
      ['sadd', 's:long', ...fill(200, (i) => [`member:${i}:${'m'.repeat(200)}`])],
      ['zadd', 'z:small', ...fill(20, (i) => [i + 0.5, `m${i}`])],
      ['zadd', 'z:long', ...fill(200, (i) => [i, `member:${i}:${'m'.repeat(100)}`])],
    ]);
    assert.equal(await nodis.object('ENCODING', 's:ints'), 'intset');
    await assertClose('s:ints');
    assert.ok((await assertClose('s:long')) > 200 * 200);
    assert.equal(await nodis.object('ENCODING', 'z:small'), 'listpack');
    await assertClose('z:small');
    assert.ok((await assertClose('z:long', ['SAMPLES', '0'])) > 200 * 100);
  });

  it('keeps used_memory equal to the sum of MEMORY USAGE as the collections change', async () => {
    await nodis.flushall();
    const start = (await memInfo(nodis)).used_memory!;
    await nodis.hset('h', ...fill(200, (i) => [`f${i}`, 'v'.repeat(100)]).map(String));
    await nodis.sadd('s', ...fill(200, (i) => [`member-${i}-${'s'.repeat(60)}`]).map(String));
    await nodis.zadd('z', ...fill(200, (i) => [i, `m-${i}-${'z'.repeat(60)}`]).map(String));
    await nodis.hdel('h', 'f0', 'f1');
    await nodis.hset('h', 'f2', 'w'.repeat(5000));
    const sum = (await usage(nodis, 'h')) + (await usage(nodis, 's')) + (await usage(nodis, 'z'));
    // The keys plus the keyspace's bucket table for three keys (4 buckets of 8 bytes).
    assert.equal((await memInfo(nodis)).used_memory! - start, sum + 32);
    await nodis.flushall();
    assert.equal((await memInfo(nodis)).used_memory, start);
  });
});
