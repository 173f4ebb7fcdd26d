/**
 * Seeded, randomized: snapshots taken while clients run every kind of write must hold exactly
 * the dataset of their start, and replicas synced from them must end equal to their master.
 *
 * Per seed: a master with a few hundred keys of every type and a crawling snapshot walk
 * (rdb-key-save-delay); clients run plain writes, MULTI/EXEC, EVAL and FCALL, blocking pops and
 * moves that get served, short TTLs (expiries), evictions (volatile-random under maxmemory:
 * keys with a TTL go, so the lists blocked moves push to are never evicted),
 * SORT … STORE, set/zset STORE, RENAME/COPY/MOVE and stream consumer groups, while
 *   1. a replica full-syncs from disk (repl-diskless-sync no),
 *   2. a second replica full-syncs diskless,
 *   3. a BGSAVE runs, started with DEBUG DIGEST (the digest at its start) while writes are paused.
 * Then master and both replicas have the same DEBUG DIGEST, and the BGSAVE's RDB, loaded by a
 * fresh server (as a replica, so keys that expired since are kept), has the digest of the start.
 *
 * Seeds: NODIS_RANDOM_SEEDS (comma-separated) or three fresh ones per run; every failure message
 * starts with its seed, so `NODIS_RANDOM_SEEDS=<seed> node --test dist/test/executor-random.test.js`
 * replays it (the interleaving with the walk still varies with timing; the operations do not).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { Random } from '../src/core/clock.js';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { caughtUp, info, waitFor } from './helpers/conditions.js';

after(stopAll);

const BASE = ['--enable-debug-command', 'yes', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];
const KEYS = 60;
const FILLER = 300;
const WORKERS = 3;

/** A seeded source of numbers in [0, 1) (the server's own generator, src/core/clock.ts). */
function rng(seed: number): () => number {
  const r = new Random(seed);
  return () => r.next();
}

const LIBRARY = `#!lua name=randlib
redis.register_function('bump', function(keys, args)
  redis.call('INCRBY', keys[1], args[1])
  return redis.call('RPUSH', keys[2], args[1])
end)`;

const SCRIPT = `redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('DEL', KEYS[3]) end
return redis.call('ZINCRBY', 'z:' .. (tonumber(ARGV[1]) % 5), 1, ARGV[1])`;

/** One random write (or a few, as a transaction or script), on keys of a small key space. */
function randomCommand(r: () => number): (string | number)[][] {
  const n = (k: number): number => Math.floor(r() * k);
  const key = (t: string): string => `${t}:${n(KEYS / 6)}`;
  const v = String(n(1000));
  const ops: (() => (string | number)[][])[] = [
    () => [['SET', key('s'), v]],
    () => [['SET', key('s'), v, 'PX', 1 + n(150)]],
    () => [['INCRBY', key('s'), n(10)]],
    () => [['APPEND', key('s'), v]],
    () => [['DEL', key('s'), key('l')]],
    () => [['PEXPIRE', key(['s', 'l', 'h', 'z'][n(4)]!), 1 + n(200)]],
    () => [['LPUSH', key('l'), v, v]],
    () => [['RPUSH', key('l'), v]],
    () => [['LPOP', key('l')]],
    () => [['LMOVE', key('l'), key('l'), 'LEFT', 'RIGHT']],
    () => [['SADD', key('t'), v, String(n(20))]],
    () => [['SREM', key('t'), v]],
    () => [['SINTERSTORE', key('t'), key('t'), key('t')]],
    () => [['SUNIONSTORE', key('t'), key('t'), key('t')]],
    () => [['ZADD', key('z'), n(100), v]],
    () => [['ZINCRBY', key('z'), 1, v]],
    () => [['ZUNIONSTORE', key('z'), 2, key('z'), key('z')]],
    () => [['ZRANGESTORE', key('z'), key('z'), 0, n(5)]],
    () => [['HSET', key('h'), `f${n(8)}`, v]],
    () => [['HINCRBY', key('h'), `f${n(8)}`, n(5)]],
    () => [['SORT', key('l'), 'ALPHA', 'STORE', key('l')]],
    () => [['RENAME', key('s'), key('s')]],
    () => [['COPY', key('h'), key('h'), 'REPLACE']],
    () => [['MOVE', key('s'), String(1 + n(2))]],
    () => [['XADD', key('x'), '*', 'f', v]],
    () => [['XGROUP', 'CREATE', key('x'), 'g', '0', 'MKSTREAM']],
    () => [['XREADGROUP', 'GROUP', 'g', `c${n(3)}`, 'COUNT', 2, 'STREAMS', key('x'), '>']],
    () => [['XACK', key('x'), 'g', `${n(5)}-0`]],
    () => [['XAUTOCLAIM', key('x'), 'g', `c${n(3)}`, 0, '0-0', 'COUNT', 2]],
    () => [['XTRIM', key('x'), 'MAXLEN', n(10)]],
    // The sources blocked clients wait on (usually empty): pushes serve them.
    () => [['LPUSH', `bl:${n(3)}`, v]],
    () => [['ZADD', `bz:${n(3)}`, n(9), v]],
    () => [['MULTI'], ['INCR', key('s')], ['LPUSH', key('l'), v], ['ZADD', key('z'), n(50), v], ['EXEC']],
    () => [['EVAL', SCRIPT, 3, key('s'), key('t'), key('h'), v]],
    () => [['FCALL', 'bump', 2, key('s'), key('l'), n(9)]],
  ];
  return ops[n(ops.length)]!();
}

/** Clients writing until stopped; errors (WRONGTYPE, OOM …) are part of the mix. */
function startWorkload(master: RunningServer, seed: number): { stop: () => Promise<number> } {
  let running = true;
  let done = 0;
  const loops: Promise<void>[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const r = rng(seed * 31 + w);
    const c = master.client();
    loops.push(
      (async () => {
        while (running) {
          const cmds = randomCommand(r);
          if (cmds.length === 1) await c.call(...(cmds[0] as [string, ...(string | number)[]])).catch(() => null);
          else {
            const p = c.pipeline();
            for (const cmd of cmds) p.call(...(cmd as [string, ...(string | number)[]]));
            await p.exec().catch(() => null);
          }
          done++;
        }
      })(),
    );
  }
  // Blocked clients, served by the writes above: BLMOVE onto lists nothing else writes (so
  // the move is their first change since a snapshot started), BLPOP, BZPOPMIN, XREADGROUP BLOCK.
  const br = rng(seed * 17);
  for (let b = 0; b < 3; b++) {
    const c = master.client();
    loops.push(
      (async () => {
        while (running) {
          const n = (k: number): number => Math.floor(br() * k);
          // Two clients only move (they keep `bl:*` drained, so a push finds one blocked).
          const which = b < 2 ? 0 : 1 + n(3);
          const wait = 0.05 + n(3) / 10;
          if (which === 0) await c.blmove(`bl:${n(3)}`, `bd:${n(6)}`, 'LEFT', 'RIGHT', wait).catch(() => null);
          else if (which === 1) await c.call('BLPOP', `bl:${n(3)}`, `bl:${n(3)}`, wait).catch(() => null);
          else if (which === 2) await c.call('BZPOPMIN', `bz:${n(3)}`, wait).catch(() => null);
          else await c.call('XREADGROUP', 'GROUP', 'g', 'blocker', 'BLOCK', Math.round(wait * 1000), 'STREAMS', `x:${n(KEYS / 6)}`, '>').catch(() => null);
          done++;
        }
      })(),
    );
  }
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return done;
    },
  };
}

async function populate(m: Redis): Promise<void> {
  await m.call('FUNCTION', 'LOAD', LIBRARY);
  const p = m.pipeline();
  for (let i = 0; i < FILLER; i++) {
    const t = i % 5;
    if (t === 0) p.set(`f:s:${i}`, String(i));
    else if (t === 1) p.rpush(`f:l:${i}`, 'a', 'b', String(i));
    else if (t === 2) p.sadd(`f:t:${i}`, 'a', String(i));
    else if (t === 3) p.zadd(`f:z:${i}`, i, 'm');
    else p.hset(`f:h:${i}`, 'f', String(i));
  }
  for (let i = 0; i < 6; i++) p.rpush(`bd:${i}`, 'start');
  for (let i = 0; i < KEYS / 6; i++) {
    p.rpush(`l:${i}`, 'x', 'y');
    p.zadd(`z:${i}`, 1, 'a', 2, 'b');
    p.xadd(`x:${i}`, '*', 'f', 'v');
    p.call('XGROUP', 'CREATE', `x:${i}`, 'g', '0');
  }
  await p.exec();
}

async function replicaOf(master: RunningServer, diskless: boolean): Promise<RunningServer> {
  const m = master.client();
  await m.config('SET', 'repl-diskless-sync', diskless ? 'yes' : 'no');
  const syncsBefore = Number((await info(m, 'stats')).sync_full);
  const replica = await startServer({ args: BASE });
  const r = replica.client();
  await r.replicaof('127.0.0.1', String(master.port));
  await waitFor('the full sync to start', async () => Number((await info(m, 'stats')).sync_full) > syncsBefore);
  return replica;
}

function seeds(): number[] {
  const env = process.env.NODIS_RANDOM_SEEDS;
  if (env !== undefined && env !== '') return env.split(',').map(Number);
  return [0, 1, 2].map(() => Math.floor(Math.random() * 2 ** 31));
}

/** The syncs and the BGSAVE while `work` runs, then the comparisons. */
async function runScenario(tag: string, master: RunningServer, m: Redis, work: { stop: () => Promise<number> }, seed: number): Promise<void> {
  const disk = await replicaOf(master, false);
  await caughtUp(m, disk.client());
  const diskless = await replicaOf(master, true);
  await caughtUp(m, diskless.client());
  // The digest at the BGSAVE's start: writes paused around both (no write, expiry or eviction
  // happens meanwhile; a BGSAVE inside EXEC would only be scheduled, as in Redis).
  await m.call('CLIENT', 'PAUSE', '60000', 'WRITE');
  const digestAtStart = await m.call('DEBUG', 'DIGEST');
  assert.equal(await m.bgsave(), 'Background saving started', tag);
  await m.call('CLIENT', 'UNPAUSE');
  await waitFor('the BGSAVE to finish', async () => (await info(m, 'persistence')).rdb_bgsave_in_progress === '0');
  const writes = await work.stop();
  assert.ok(writes > 100, `${tag}: only ${writes} writes ran`);
  assert.equal((await info(m, 'persistence')).rdb_last_bgsave_status, 'ok', `${tag}: ${master.output().split('\n').filter((l) => /Assertion|Background saving error/.test(l)).join('\n')}`);
  // Quiesce: no more expiry or eviction on the master while the digests are compared.
  await m.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  await m.config('SET', 'maxmemory', '0');
  await m.set('marker', seed);
  for (const rs of [disk, diskless]) await caughtUp(m, rs.client());
  const digest = await m.call('DEBUG', 'DIGEST');
  assert.equal(await disk.client().call('DEBUG', 'DIGEST'), digest, `${tag}: the disk-synced replica diverged`);
  assert.equal(await diskless.client().call('DEBUG', 'DIGEST'), digest, `${tag}: the diskless-synced replica diverged`);
  assert.doesNotMatch(master.output(), /Assertion failed/, tag);
  // The RDB, loaded as a replica of nobody (keys that expired since are kept), is the start.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-random-'));
  fs.copyFileSync(path.join(master.dir, 'dump.rdb'), path.join(dir, 'start.rdb'));
  const loaded = await startServer({ args: [...BASE, '--dir', dir, '--replicaof', '127.0.0.1', '1', '--dbfilename', 'start.rdb'] });
  assert.equal(await loaded.client().call('DEBUG', 'DIGEST'), digestAtStart, `${tag}: the RDB is not the dataset of the BGSAVE's start`);
  await loaded.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  await disk.stop();
  await diskless.stop();
  await master.stop();
}

for (const seed of seeds()) {
  test(`seed ${seed}: full syncs (disk, diskless) and a BGSAVE under every kind of write`, async () => {
    const tag = `seed ${seed}`;
    const master = await startServer({ args: [...BASE, '--maxmemory-policy', 'volatile-random'] });
    const m = master.client();
    await populate(m);
    // Room for some growth, then evictions.
    await m.config('SET', 'maxmemory', String(Number((await info(m, 'memory')).used_memory) + 4 * 1024 * 1024));
    await m.config('SET', 'rdb-key-save-delay', '4000');
    const work = startWorkload(master, seed);
    try {
      await runScenario(tag, master, m, work, seed);
    } finally {
      await work.stop();
    }
  });
}
