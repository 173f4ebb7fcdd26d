/**
 * Replication between nodis and Debian's redis-server 7.0.15, in both roles: a nodis replica
 * of a Redis master, a Redis replica of a nodis master, a mixed chain, partial resync after a
 * dropped link and after a promotion — data compared key by key. Plus the seed's walkthrough
 * driven by the real redis-cli.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

after(stopAll);

const REDIS = '/usr/bin/redis-server';
const FAST = ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function info(c: Redis, section = 'replication'): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await c.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function caughtUp(master: Redis, replica: Redis): Promise<void> {
  await waitFor('link up', async () => (await info(replica)).master_link_status === 'up');
  const target = Number((await info(master)).master_repl_offset);
  await waitFor('replica offset', async () => Number((await info(replica)).slave_repl_offset) >= target);
}

async function snapshot(c: Redis): Promise<string[]> {
  const out: string[] = [];
  for (const db of [0, 2, 9]) {
    await c.select(db);
    for (const k of (await c.keys('*')).sort()) {
      const type = await c.type(k);
      let v: unknown;
      if (type === 'string') v = await c.getBuffer(k).then((b) => b?.toString('hex'));
      else if (type === 'list') v = await c.lrange(k, 0, -1);
      else if (type === 'set') v = (await c.smembers(k)).sort();
      else if (type === 'hash') v = Object.entries(await c.hgetall(k)).sort();
      else if (type === 'zset') v = await c.zrange(k, 0, -1, 'WITHSCORES');
      const ttl = await c.pttl(k);
      out.push(`${db} ${k} ${type} ${JSON.stringify(v)} ${ttl > 0 ? 'ttl' : ttl}`);
    }
  }
  await c.select(0);
  return out;
}

/** Writes every type, in several dbs, with small and big (non-listpack) encodings. */
async function workload(c: Redis, p: string): Promise<void> {
  await c.set(`${p}:s`, 'v');
  await c.set(`${p}:n`, '-42');
  await c.set(`${p}:big`, 'x'.repeat(5000));
  await c.set(`${p}:bin`, Buffer.from([0, 1, 2, 255, 254, 13, 10]));
  await c.rpush(`${p}:l`, ...Array.from({ length: 300 }, (_, i) => `e${i}`));
  await c.sadd(`${p}:iset`, 1, 2, 3, 99);
  await c.sadd(`${p}:set`, ...Array.from({ length: 200 }, (_, i) => `m${i}`));
  await c.hset(`${p}:h`, 'a', '1', 'b', '2');
  await c.hset(`${p}:bigh`, ...Array.from({ length: 300 }, (_, i) => [`f${i}`, `v${i}`]).flat());
  await c.zadd(`${p}:z`, 1, 'a', 2, 'b', -3.25, 'c');
  await c.zadd(`${p}:bigz`, ...Array.from({ length: 200 }, (_, i) => [i * 1.5, `z${i}`]).flat());
  await c.set(`${p}:ttl`, 'v', 'PX', 1_000_000);
  await c.select(2);
  await c.set(`${p}:db2`, 'two');
  await c.select(9);
  await c.lpush(`${p}:db9`, 'nine');
  await c.select(0);
  await c.incrbyfloat(`${p}:f`, 3.25);
  await c.expire(`${p}:s`, 100000);
  await c.spop(`${p}:iset`);
  await c.del(`${p}:n`);
}

test('a nodis replica of a Redis master: full sync, stream, partial resync', async () => {
  const redis = await startServer({ bin: REDIS, args: FAST });
  const rm = redis.client();
  await workload(rm, 'pre');
  const nodis = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(redis.port)] });
  const nr = nodis.client();
  await caughtUp(rm, nr);
  await workload(rm, 'post');
  await caughtUp(rm, nr);
  assert.deepEqual(await snapshot(nr), await snapshot(rm));
  const before = Number((await info(rm, 'stats')).sync_partial_ok);
  await nr.client('KILL', 'TYPE', 'master');
  await rm.set('while-down', '1');
  await caughtUp(rm, nr);
  assert.equal(await nr.get('while-down'), '1');
  assert.equal(Number((await info(rm, 'stats')).sync_partial_ok), before + 1);
  assert.deepEqual(await snapshot(nr), await snapshot(rm));
  await nodis.stop();
  await redis.stop();
});

test('a Redis replica of a nodis master, in both transfer formats', async () => {
  for (const diskless of ['yes', 'no']) {
    const nodis = await startServer({ args: [...FAST, '--repl-diskless-sync', diskless] });
    const nm = nodis.client();
    await workload(nm, 'pre');
    const redis = await startServer({ bin: REDIS, args: [...FAST, '--replicaof', '127.0.0.1', String(nodis.port)] });
    const rr = redis.client();
    await caughtUp(nm, rr);
    await workload(nm, 'post');
    await caughtUp(nm, rr);
    assert.deepEqual(await snapshot(rr), await snapshot(nm));
    const before = Number((await info(nm, 'stats')).sync_partial_ok);
    await rr.client('KILL', 'TYPE', 'master');
    await nm.set('while-down', '1');
    await caughtUp(nm, rr);
    assert.equal(Number((await info(nm, 'stats')).sync_partial_ok), before + 1);
    await assert.rejects(rr.call('WAIT', '0', '0'), /ERR WAIT cannot be used with replica instances/);
    assert.equal(await nm.call('WAIT', '1', '5000'), 1);
    assert.deepEqual(await snapshot(rr), await snapshot(nm));
    await redis.stop();
    await nodis.stop();
  }
});

test('a mixed chain nodis → Redis → nodis, then promotion of the Redis node', async () => {
  const top = await startServer({ args: FAST });
  const t = top.client();
  await workload(t, 'a');
  const mid = await startServer({ bin: REDIS, args: [...FAST, '--replicaof', '127.0.0.1', String(top.port)] });
  const m = mid.client();
  const leaf = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mid.port)] });
  const l = leaf.client();
  await caughtUp(t, m);
  await caughtUp(m, l);
  await workload(t, 'b');
  await caughtUp(t, m);
  await caughtUp(m, l);
  const expected = await snapshot(t);
  assert.deepEqual(await snapshot(m), expected);
  assert.deepEqual(await snapshot(l), expected);
  // Promote the Redis node; the old nodis master follows it with a partial resync (PSYNC2).
  assert.equal(await m.call('SLAVEOF', 'NO', 'ONE'), 'OK');
  await m.set('after-promotion', '1');
  const partial = Number((await info(m, 'stats')).sync_partial_ok);
  assert.equal(await t.call('SLAVEOF', '127.0.0.1', String(mid.port)), 'OK');
  await caughtUp(m, t);
  await caughtUp(m, l);
  assert.equal(await t.get('after-promotion'), '1');
  assert.equal(await l.get('after-promotion'), '1');
  assert.ok(Number((await info(m, 'stats')).sync_partial_ok) > partial);
  await leaf.stop();
  await mid.stop();
  await top.stop();
});

/** Runs the real redis-cli with tty-style output, as the seed shows it. */
function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['--no-raw', '-p', String(port), ...args], { encoding: 'latin1' }).trimEnd();
}

test("the seed's walkthrough with redis-cli: all three ways", async () => {
  const master: RunningServer = await startServer({ args: FAST });
  assert.equal(cli(master.port, 'sadd', 'myset', 'a'), '(integer) 1');
  assert.equal(cli(master.port, 'rpush', 'mylist', 'x'), '(integer) 1');

  // Way 1: --slaveof on the command line.
  const r1 = await startServer({ args: [...FAST, '--slaveof', '127.0.0.1', String(master.port)] });
  await r1.waitForLog('MASTER <-> REPLICA sync: Finished with success');
  const keys = cli(r1.port, 'keys', '*').split('\n').map((l) => l.replace(/^\d+\) /, '')).sort();
  assert.deepEqual(keys, ['"mylist"', '"myset"']);
  assert.equal(cli(r1.port, 'set', 'mykey', '123'), "(error) READONLY You can't write against a read only replica.");

  // Way 2: SLAVEOF at run time, then SLAVEOF NO ONE keeps the data and takes writes.
  const r2 = await startServer({ args: FAST });
  assert.equal(cli(r2.port, 'set', 'mykey', '123'), 'OK');
  assert.equal(cli(r2.port, 'slaveof', '127.0.0.1', String(master.port)), 'OK');
  await r2.waitForLog('MASTER <-> REPLICA sync: Finished with success');
  assert.equal(cli(r2.port, 'set', 'newkey', '456'), "(error) READONLY You can't write against a read only replica.");
  assert.equal(cli(r2.port, 'keys', '*').split('\n').length, 2);
  assert.equal(cli(r2.port, 'slaveof', 'no', 'one'), 'OK');
  assert.equal(cli(r2.port, 'set', 'name', 'hello'), 'OK');
  assert.equal(cli(r2.port, 'smembers', 'myset'), '1) "a"');

  // Way 3: slaveof in the config file.
  const r3 = await startServer({ config: `slaveof 127.0.0.1 ${master.port}\nrepl-diskless-sync-delay 0\n` });
  await r3.waitForLog('MASTER <-> REPLICA sync: Finished with success');
  assert.equal(cli(r3.port, 'hset', 'user:1', 'username', 'guods'), "(error) READONLY You can't write against a read only replica.");
  assert.match(cli(r3.port, 'info', 'replication'), /master_link_status:up/);
  await r1.stop();
  await r2.stop();
  await r3.stop();
  await master.stop();
});
