/**
 * Master–replica replication between nodis servers: the three ways to set it up, full sync,
 * streaming, READONLY, SLAVEOF NO ONE, partial resync (PSYNC / PSYNC2 after a promotion),
 * chained replicas, WAIT, ROLE, INFO replication, min-replicas and replica-serve-stale-data.
 * Every wait is on a condition (INFO fields, data), never a fixed sleep.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';

after(stopAll);

const FAST = ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];

/** Polls `check` until it returns true (every 20 ms, up to `timeoutMs`). */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function info(c: Redis, section = 'replication'): Promise<Record<string, string>> {
  const text = await c.info(section);
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function linkUp(c: Redis): Promise<void> {
  await waitFor('master_link_status:up', async () => (await info(c)).master_link_status === 'up');
}

/** Waits until the replica applied everything the master has fed so far. */
async function caughtUp(master: Redis, replica: Redis): Promise<void> {
  await linkUp(replica);
  const target = Number((await info(master)).master_repl_offset);
  await waitFor('replica offset', async () => Number((await info(replica)).slave_repl_offset) >= target);
}

/** Every key of every db with its type and a canonical dump of its value. */
async function snapshot(c: Redis): Promise<string[]> {
  const out: string[] = [];
  for (let db = 0; db < 16; db++) {
    await c.select(db);
    const keys = (await c.keys('*')).sort();
    for (const k of keys) {
      const type = await c.type(k);
      let v: unknown;
      if (type === 'string') v = await c.get(k);
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

async function populate(c: Redis, prefix: string): Promise<void> {
  await c.set(`${prefix}:str`, 'hello');
  await c.set(`${prefix}:int`, 12345);
  await c.set(`${prefix}:bin`, Buffer.from([0, 255, 13, 10, 200]));
  await c.rpush(`${prefix}:list`, 'a', 'b', 'c');
  await c.sadd(`${prefix}:set`, 'x', 'y', '1', '2');
  await c.hset(`${prefix}:hash`, 'f1', 'v1', 'f2', 'v2');
  await c.zadd(`${prefix}:zset`, 1, 'one', 2.5, 'two');
  await c.set(`${prefix}:ttl`, 'v', 'EX', 1000);
  await c.select(5);
  await c.set(`${prefix}:db5`, 'five');
  await c.select(0);
}

let master: RunningServer;
let replica: RunningServer;
let m: Redis;
let r: Redis;

test('--replicaof: full sync, then the command stream, across databases', async () => {
  master = await startServer({ args: FAST });
  m = master.client();
  await populate(m, 'before');
  replica = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(master.port)] });
  r = replica.client();
  await linkUp(r);
  await populate(m, 'after');
  await m.incrbyfloat('after:float', 1.5);
  await m.expire('before:str', 5000);
  await m.del('before:int');
  await caughtUp(m, r);
  assert.deepEqual(await snapshot(r), await snapshot(m));
  await replica.waitForLog('MASTER <-> REPLICA sync: Finished with success');
  await master.waitForLog(/Synchronization with replica 127\.0\.0\.1:\d+ succeeded/);
});

test('a replica refuses writes with READONLY and serves reads', async () => {
  await assert.rejects(r.set('mykey', '123'), /^ReplyError: READONLY You can't write against a read only replica\.$/);
  assert.equal(await r.get('before:str'), 'hello');
  assert.deepEqual(await r.lrange('before:list', 0, -1), ['a', 'b', 'c']);
});

test('INFO replication and ROLE on both sides', async () => {
  const mi = await info(m);
  const ri = await info(r);
  assert.equal(mi.role, 'master');
  assert.equal(mi.connected_slaves, '1');
  assert.match(mi.slave0!, new RegExp(`^ip=127\\.0\\.0\\.1,port=${replica.port},state=online,offset=\\d+,lag=\\d+$`));
  assert.equal(ri.role, 'slave');
  assert.equal(ri.master_host, '127.0.0.1');
  assert.equal(ri.master_port, String(master.port));
  assert.equal(ri.master_sync_in_progress, '0');
  assert.equal(ri.slave_priority, '100');
  assert.equal(ri.slave_read_only, '1');
  assert.equal(ri.replica_announced, '1');
  assert.equal(ri.master_replid, mi.master_replid);
  assert.equal(ri.repl_backlog_active, '1');
  for (const f of ['master_last_io_seconds_ago', 'slave_read_repl_offset', 'slave_repl_offset', 'master_replid2', 'second_repl_offset', 'repl_backlog_size', 'repl_backlog_first_byte_offset', 'repl_backlog_histlen']) {
    assert.ok(f in ri, f);
  }
  const role = (await r.call('ROLE')) as unknown[];
  assert.deepEqual(role.slice(0, 4), ['slave', '127.0.0.1', master.port, 'connected']);
  assert.equal(typeof role[4], 'number');
  await caughtUp(m, r);
  const mrole = (await m.call('ROLE')) as [string, number, string[][]];
  assert.equal(mrole[0], 'master');
  assert.equal(mrole[2].length, 1);
  assert.deepEqual(mrole[2][0]!.slice(0, 2), ['127.0.0.1', String(replica.port)]);
});

test('WAIT counts replicas that acknowledged the write; times out with fewer', async () => {
  await m.set('waited', '1');
  assert.equal(await m.call('WAIT', '1', '5000'), 1);
  const t0 = Date.now();
  assert.equal(await m.call('WAIT', '2', '200'), 1);
  assert.ok(Date.now() - t0 >= 190);
  await assert.rejects(r.call('WAIT', '1', '0'), /WAIT cannot be used with replica instances/);
  await assert.rejects(m.call('WAIT', '1', '-1'), /ERR timeout is negative/);
  // string2ll's rules (getLongFromObjectOrReply): no leading zero, no '+', no "-0".
  for (const n of ['01', '+1', '-0', '1.0', ' 1']) await assert.rejects(m.call('WAIT', n, '0'), /^ReplyError: ERR value is not an integer or out of range$/, n);
  for (const t of ['01', '+5', '1.5']) await assert.rejects(m.call('WAIT', '0', t), /^ReplyError: ERR timeout is not an integer or out of range$/, t);
  // Any int64 timeout (the old check refused past 2^53); numreplicas 0 answers at once.
  assert.ok([0, 1].includes((await m.call('WAIT', '0', '9223372036854775807')) as number));
});

test("WAIT waits for the offset of the client's own last write, not the master's current one", async () => {
  const other = master.client();
  await m.set('own-write', '1');
  assert.equal(await m.call('WAIT', '1', '5000'), 1);
  // m's last command now is this INFO: its offset is what m's next WAIT waits for.
  const mine = Number((await info(m)).master_repl_offset);
  const acked = async (): Promise<number> => Number(/offset=(\d+)/.exec((await info(other)).slave0 ?? '')?.[1] ?? 0);
  await waitFor('the replica to ACK offset ' + mine, async () => (await acked()) >= mine);
  replica.proc.kill('SIGSTOP');
  try {
    await other.set('unacked-write', '1');
    // That write moved the master's offset past every ACK, but it is not m's write.
    assert.equal(await m.call('WAIT', '1', '100'), 1);
    assert.equal(await other.call('WAIT', '1', '100'), 0);
  } finally {
    replica.proc.kill('SIGCONT');
  }
  assert.equal(await other.call('WAIT', '1', '5000'), 1);
  other.disconnect();
});

test('a dropped link continues with a partial resync', async () => {
  await m.set('pre-kill', 'x');
  await caughtUp(m, r);
  const before = Number((await info(m, 'stats')).sync_partial_ok);
  await r.client('KILL', 'TYPE', 'master');
  await m.set('during-outage', 'y');
  await linkUp(r);
  await caughtUp(m, r);
  assert.equal(await r.get('during-outage'), 'y');
  assert.equal(Number((await info(m, 'stats')).sync_partial_ok), before + 1);
  await master.waitForLog(/Partial resynchronization request from .* accepted/);
});

test('chained replication: a replica of a replica gets the same stream', async () => {
  const sub = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(replica.port)] });
  const s = sub.client();
  await linkUp(s);
  await m.select(3);
  await m.set('chained', 'yes');
  await m.select(0);
  await m.lpush('chain-list', '1', '2');
  await caughtUp(m, r);
  await caughtUp(r, s);
  assert.deepEqual(await snapshot(s), await snapshot(m));
  // The chain carries the master's history: same id and offsets.
  assert.equal((await info(s)).master_replid, (await info(m)).master_replid);
  await sub.stop();
});

test('SLAVEOF NO ONE keeps the data and accepts writes; PSYNC2 lets the old master follow partially', async () => {
  await caughtUp(m, r);
  const oldId = (await info(m)).master_replid;
  assert.equal(await r.call('SLAVEOF', 'NO', 'ONE'), 'OK');
  const ri = await info(r);
  assert.equal(ri.role, 'master');
  assert.equal(ri.master_replid2, oldId);
  assert.equal(await r.set('name', 'hello'), 'OK');
  assert.equal(await r.get('before:str'), 'hello');
  // The old master becomes a replica of the promoted one and continues with +CONTINUE.
  const partialBefore = Number((await info(r, 'stats')).sync_partial_ok);
  assert.equal(await m.call('REPLICAOF', '127.0.0.1', String(replica.port)), 'OK');
  await caughtUp(r, m);
  assert.equal(await m.get('name'), 'hello');
  assert.equal(Number((await info(r, 'stats')).sync_partial_ok), partialBefore + 1);
  assert.equal(await m.call('REPLICAOF', '127.0.0.1', String(replica.port)), 'OK Already connected to specified master');
  // Back to the original roles for the next tests.
  assert.equal(await m.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(await r.call('REPLICAOF', '127.0.0.1', String(master.port)), 'OK');
  await caughtUp(m, r);
});

test('REPLICAOF argument errors', async () => {
  await assert.rejects(m.call('REPLICAOF', '127.0.0.1', '70000'), /ERR Invalid master port/);
  await assert.rejects(m.call('REPLICAOF', '127.0.0.1', 'abc'), /ERR Invalid master port/);
});

test('slaveof in the config file', async () => {
  const s = await startServer({ config: `slaveof 127.0.0.1 ${master.port}\nrepl-diskless-sync-delay 0\n` });
  const c = s.client();
  await caughtUp(m, c);
  await assert.rejects(c.hset('user:1', 'username', 'guods'), /READONLY/);
  assert.equal(await c.get('waited'), '1');
  await s.stop();
});

test('disk-based transfer ($<len> format) when repl-diskless-sync is off', async () => {
  const mm = await startServer({ args: [...FAST, '--repl-diskless-sync', 'no'] });
  const mc = mm.client();
  await populate(mc, 'disk');
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port)] });
  const c = s.client();
  await caughtUp(mc, c);
  await s.waitForLog(/MASTER <-> REPLICA sync: receiving \d+ bytes from master to disk/);
  assert.deepEqual(await snapshot(c), await snapshot(mc));
  await s.stop();
  await mm.stop();
});

test('min-replicas-to-write refuses writes with NOREPLICAS when too few replicas are good', async () => {
  await m.config('SET', 'min-replicas-to-write', '2');
  await waitFor('NOREPLICAS', async () => {
    try {
      await m.set('x', '1');
      return false;
    } catch (e) {
      return /^ReplyError: NOREPLICAS Not enough good replicas to write\.$/.test(String(e));
    }
  });
  assert.equal((await info(m)).min_slaves_good_slaves, '1');
  // A script without flags is refused at its first write; reads still run.
  await assert.rejects(m.eval("redis.call('set','x','2')", 0), /^ReplyError: NOREPLICAS Not enough good replicas to write\. script: [0-9a-f]{40}, on @user_script:1\.$/);
  assert.equal(await m.eval("return redis.call('get','x')", 0), null);
  await m.config('SET', 'min-replicas-to-write', '1');
  await waitFor('writes accepted', async () => (await m.set('x', '1').catch(() => null)) === 'OK');
  await m.config('SET', 'min-replicas-to-write', '0');
});

test('replica-serve-stale-data no: MASTERDOWN while the link is down', async () => {
  const lonely = await startServer({ args: [...FAST, '--replica-serve-stale-data', 'no'] });
  const c = lonely.client();
  // A master that is not listening: the link stays down.
  await c.call('REPLICAOF', '127.0.0.1', '1');
  await assert.rejects(c.get('k'), /^ReplyError: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'\.$/);
  // Commands flagged `stale` (INFO, REPLICAOF, CONFIG…) still run; in 7.0 PING is not one.
  await assert.rejects(c.ping(), /MASTERDOWN/);
  assert.equal((await info(c)).master_link_status, 'down');
  assert.equal(await c.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(await c.get('k'), null);
  await lonely.stop();
});

test('full sync while the master keeps taking writes (copy-on-write snapshot + held stream)', async () => {
  const mm = await startServer({ args: FAST });
  const mc = mm.client();
  // Enough keys that the snapshot spans many event-loop turns.
  for (let batch = 0; batch < 20; batch++) {
    const args: string[] = [];
    for (let i = 0; i < 1000; i++) args.push(`k${batch * 1000 + i}`, `v${i}`);
    await mc.mset(...args);
  }
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port)] });
  const c = s.client();
  // Writes racing the transfer: overwrite, delete and create keys the snapshot may or may not
  // have reached yet, until the link is up.
  let n = 0;
  for (;;) {
    const p = mc.pipeline();
    for (let i = 0; i < 50; i++, n++) {
      p.set(`k${(n * 7919) % 20000}`, `new${n}`);
      p.del(`k${(n * 104729) % 20000}`);
      p.incr('counter');
    }
    await p.exec();
    if ((await info(c)).master_link_status === 'up') break;
  }
  await caughtUp(mc, c);
  assert.equal(await c.dbsize(), await mc.dbsize());
  assert.equal(await c.get('counter'), await mc.get('counter'));
  const keys = await mc.keys('k*');
  const [mv, rv] = await Promise.all([mc.mget(...keys), c.mget(...keys)]);
  assert.deepEqual(rv, mv);
  await s.stop();
  await mm.stop();
});

test('a replica applies the DEL its master sends for an expired key', async () => {
  await m.set('short', 'v', 'PX', 50);
  await waitFor('master expires the key', async () => (await m.exists('short')) === 0);
  await caughtUp(m, r);
  // The replica received DEL and removed the key for real (not only hidden it).
  // DBSIZE counts logically expired keys that are still stored.
  assert.equal(await r.dbsize(), await m.dbsize());
});

test('FAILOVER hands the master role to a caught-up replica, which continues the same history', async () => {
  const a = await startServer({ args: FAST });
  const ac = a.client();
  await ac.set('before-failover', '1');
  const b = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(a.port)] });
  const bc = b.client();
  await caughtUp(ac, bc);
  await assert.rejects(bc.call('FAILOVER'), /ERR FAILOVER is not valid when server is a replica\./);
  await assert.rejects(ac.call('FAILOVER', 'FORCE'), /ERR FAILOVER with force option requires both a timeout and target HOST and IP\./);
  await assert.rejects(ac.call('FAILOVER', 'TO', '127.0.0.1', '1'), /ERR FAILOVER target HOST and PORT is not a replica\./);
  await assert.rejects(ac.call('FAILOVER', 'TIMEOUT', '0'), /ERR FAILOVER timeout must be greater than 0/);
  await assert.rejects(ac.call('FAILOVER', 'ABORT'), /ERR No failover in progress\./);
  const replid = (await info(ac)).master_replid;
  assert.equal(await ac.call('FAILOVER', 'TO', '127.0.0.1', String(b.port)), 'OK');
  await waitFor('roles swapped', async () => (await info(bc)).role === 'master' && (await info(ac)).master_link_status === 'up');
  assert.equal((await info(ac)).master_failover_state, 'no-failover');
  assert.equal((await info(bc)).master_replid2, replid);
  assert.equal(await bc.set('after-failover', '2'), 'OK');
  await caughtUp(bc, ac);
  assert.equal(await ac.get('after-failover'), '2');
  assert.equal(await ac.get('before-failover'), '1');
  await a.stop();
  await b.stop();
});

test('masterauth: the replica authenticates in the handshake', async () => {
  const mm = await startServer({ args: [...FAST, '--requirepass', 'sekret'] });
  const mc = mm.client({ password: 'sekret' });
  await mc.set('secret-key', 'v');
  const bad = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port), '--masterauth', 'wrong'] });
  await bad.waitForLog('Unable to AUTH to MASTER');
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port), '--masterauth', 'sekret'] });
  const c = s.client();
  await caughtUp(mc, c);
  assert.equal(await c.get('secret-key'), 'v');
  await bad.stop();
  await s.stop();
  await mm.stop();
});

test('partial resync after a master restart from its RDB (replication ids in the AUX fields)', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-repl-restart-'));
  try {
    const first = await startServer({ args: [...FAST, '--dir', dataDir] });
    const port = first.port;
    const mc = first.client();
    const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(port)] });
    const c = s.client();
    await mc.set('durable', '1');
    await caughtUp(mc, c);
    const { master_replid: replid, master_repl_offset: offset } = await info(mc);
    // NOW: no wait for the replica's ACK, whose GETACK would move the offset just read.
    await mc.call('SHUTDOWN', 'SAVE', 'NOW').catch(() => null);
    await new Promise<void>((res) => (first.proc.exitCode !== null ? res() : first.proc.once('exit', () => res())));
    await first.stop();
    const second = await startServer({ port, args: [...FAST, '--dir', dataDir] });
    const mc2 = second.client();
    const mi = await info(mc2);
    assert.equal(mi.master_replid2, replid);
    assert.equal(mi.master_repl_offset, offset);
    assert.equal(mi.second_repl_offset, String(Number(offset) + 1));
    await caughtUp(mc2, c);
    assert.equal((await info(mc2, 'stats')).sync_partial_ok, '1');
    await mc2.set('after-restart', '2');
    await caughtUp(mc2, c);
    assert.equal(await c.get('after-restart'), '2');
    assert.equal(await c.get('durable'), '1');
    await s.stop();
    await second.stop();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('keys a restarted master drops as expired while loading reach the replicas as DELs, partially', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-repl-expire-'));
  try {
    // No replica PINGs from this master: one fed between reading its offset and the shutdown
    // would move the offset the test compares against.
    const first = await startServer({ args: [...FAST, '--dir', dataDir, '--enable-debug-command', 'yes', '--repl-ping-replica-period', '3600'] });
    const port = first.port;
    const mc = first.client();
    const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(port)] });
    const c = s.client();
    await mc.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    for (let db = 0; db < 3; db++) {
      await mc.select(db);
      await mc.set(`short${db}`, 'v', 'PX', 50);
    }
    await mc.select(0);
    await mc.set('kept', '1');
    await caughtUp(mc, c);
    const offset = Number((await info(mc)).master_repl_offset);
    // NOW: no wait for the replica's ACK, whose GETACK would move the offset just read.
    await mc.call('SHUTDOWN', 'SAVE', 'NOW').catch(() => null);
    await new Promise<void>((res) => (first.proc.exitCode !== null ? res() : first.proc.once('exit', () => res())));
    await first.stop();
    // The keys must be past their TTL when the restarted master loads them.
    await waitFor('the TTLs to pass', async () => (await c.pttl('short0')) === -2);
    assert.equal(await c.dbsize(), 2); // logically expired on the replica, not deleted
    const second = await startServer({ port, args: [...FAST, '--dir', dataDir] });
    const mc2 = second.client();
    const mi = await info(mc2);
    assert.equal((await info(mc2, 'persistence')).rdb_last_load_keys_expired, '3');
    assert.equal(Number(mi.master_repl_offset), offset + Number(mi.repl_backlog_histlen));
    assert.ok(Number(mi.repl_backlog_histlen) > 0);
    await caughtUp(mc2, c);
    assert.equal((await info(mc2, 'stats')).sync_partial_ok, '1');
    for (let db = 0; db < 3; db++) {
      await c.select(db);
      assert.equal(await c.dbsize(), db === 0 ? 1 : 0);
    }
    await c.select(0);
    assert.equal(await c.get('kept'), '1');
    await s.stop();
    await second.stop();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('DEBUG REPLICATE feeds a command to the replicas only; their error is logged as CRITICAL', async () => {
  const mm = await startServer({ args: [...FAST, '--enable-debug-command', 'yes'] });
  const mc = mm.client();
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port)] });
  const c = s.client();
  await caughtUp(mc, c);
  assert.equal(await mc.call('DEBUG', 'REPLICATE', 'SET', 'only-on-replica', 'x'), 'OK');
  assert.equal(await mc.call('DEBUG', 'REPLICATE', 'fake-command-1'), 'OK');
  await caughtUp(mc, c);
  assert.equal(await c.get('only-on-replica'), 'x');
  assert.equal(await mc.get('only-on-replica'), null);
  await s.waitForLog("== CRITICAL == This replica is sending an error to its master: 'ERR unknown command 'fake-command-1', with args beginning with: ' after processing the command '<unknown>'");
  assert.equal((await info(c, 'stats')).unexpected_error_replies, '1');
  await s.stop();
  await mm.stop();
});

test('the replica output buffer limit disconnects a replica that stops reading', async () => {
  const mm = await startServer({ args: FAST });
  const mc = mm.client();
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port)] });
  const c = s.client();
  await caughtUp(mc, c);
  await mc.config('SET', 'client-output-buffer-limit', 'replica 1mb 0 0');
  s.proc.kill('SIGSTOP');
  try {
    const big = 'x'.repeat(1024 * 1024);
    // Past what the kernel's socket buffers absorb, so the master's own buffer grows.
    for (let i = 0; i < 64 && !/overcoming of output buffer limits/.test(mm.output()); i++) await mc.set(`big${i}`, big);
    await mm.waitForLog('scheduled to be closed ASAP for overcoming of output buffer limits');
    assert.equal((await info(mc)).connected_slaves, '0');
  } finally {
    s.proc.kill('SIGCONT');
  }
  // The replica reconnects and resynchronises.
  await mc.config('SET', 'client-output-buffer-limit', 'replica 0 0 0');
  await caughtUp(mc, c);
  assert.equal(await c.dbsize(), await mc.dbsize());
  await s.stop();
  await mm.stop();
});

test('a writable replica expires the keys its own clients wrote with a TTL', async () => {
  await r.config('SET', 'replica-read-only', 'no');
  try {
    await r.select(7);
    await r.set('local', 'v', 'PX', 50);
    assert.equal(await r.dbsize(), 1);
    await waitFor('the replica deletes its own expired key', async () => (await r.dbsize()) === 0);
  } finally {
    await r.select(0);
    await r.config('SET', 'replica-read-only', 'yes');
  }
});

test('a restarted replica continues partially from the ids its RDB and CONFIG REWRITE kept', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-replica-restart-'));
  try {
    const mm = await startServer({ args: FAST });
    const mc = mm.client();
    const first = await startServer({ config: 'repl-diskless-sync-delay 0\n', args: ['--dir', dataDir] });
    const c1 = first.client();
    assert.equal(await c1.call('REPLICAOF', '127.0.0.1', String(mm.port)), 'OK');
    await mc.set('kept', '1');
    await caughtUp(mc, c1);
    assert.deepEqual(await c1.config('GET', 'replicaof'), ['replicaof', `127.0.0.1 ${mm.port}`]);
    assert.equal(await c1.config('REWRITE'), 'OK');
    const conf = fs.readFileSync(path.join(first.dir, 'test.conf'), 'latin1');
    assert.match(conf, new RegExp(`^replicaof 127\\.0\\.0\\.1 ${mm.port}$`, 'm'));
    const before = await info(mc, 'stats');
    await c1.call('SHUTDOWN', 'SAVE').catch(() => null);
    await new Promise<void>((res) => (first.proc.exitCode !== null ? res() : first.proc.once('exit', () => res())));
    await first.stop();
    await mc.set('while-restarting', '2');
    const second = await startServer({ config: conf, args: ['--dir', dataDir] });
    const c2 = second.client();
    await caughtUp(mc, c2);
    const after = await info(mc, 'stats');
    assert.equal(Number(after.sync_partial_ok), Number(before.sync_partial_ok) + 1);
    assert.equal(after.sync_full, before.sync_full);
    assert.equal(await c2.get('while-restarting'), '2');
    await second.stop();
    await mm.stop();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('SHUTDOWN waits for lagging replicas (writes paused); SHUTDOWN ABORT cancels; shutdown-timeout bounds the wait', async () => {
  const mm = await startServer({ args: [...FAST, '--shutdown-timeout', '60'] });
  const mc = mm.client();
  const other = mm.client();
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port)] });
  const c = s.client();
  await caughtUp(mc, c);
  await assert.rejects(mc.call('SHUTDOWN', 'ABORT'), /^ReplyError: ERR No shutdown in progress\.$/);
  s.proc.kill('SIGSTOP');
  try {
    await mc.set('before-shutdown', '1');
    const shutdown = mc.call('SHUTDOWN').then(
      () => 'replied',
      (e: Error) => e.message,
    );
    await mm.waitForLog('Waiting for replicas before shutting down.');
    // Writes are paused while the shutdown waits: this one is held until the abort.
    const held = other.set('during-wait', '1');
    assert.equal(await mm.client().call('SHUTDOWN', 'ABORT'), 'OK');
    assert.equal(await shutdown, 'ERR Errors trying to SHUTDOWN. Check logs.');
    assert.equal(await held, 'OK');
    await mm.waitForLog('Shutdown manually aborted.');
  } finally {
    s.proc.kill('SIGCONT');
  }
  // With the replica reading again, the next SHUTDOWN proceeds once it has ACKed everything.
  await caughtUp(mc, c);
  await mc.call('SHUTDOWN', 'NOSAVE').catch(() => null);
  await mm.waitForLog('1 of 1 replicas are in sync when shutting down.');
  await mm.stop();

  const m2 = await startServer({ args: [...FAST, '--shutdown-timeout', '1'] });
  const mc2 = m2.client();
  await c.replicaof('127.0.0.1', String(m2.port));
  await caughtUp(mc2, c);
  s.proc.kill('SIGSTOP');
  try {
    await mc2.set('unacked', '1');
    await mc2.call('SHUTDOWN', 'NOSAVE').catch(() => null);
    await m2.waitForLog(/Lagging replica 127\.0\.0\.1:\d+ reported offset \d+ behind master, lag=\d+, state=online\./);
    await m2.waitForLog('0 of 1 replicas are in sync when shutting down.');
  } finally {
    s.proc.kill('SIGCONT');
  }
  await m2.stop();
  await s.stop();
  other.disconnect();
});

test("a full sync replaces the replica's function libraries with the master's", async () => {
  const mm = await startServer({ args: FAST });
  const mc = mm.client();
  const s = await startServer({ args: FAST });
  const c = s.client();
  const lib = (reply: string): string =>
    `#!lua name=test\nredis.register_function{function_name='test', callback=function() return '${reply}' end, flags={'no-writes'}}`;
  await mc.call('FUNCTION', 'LOAD', lib('from-master'));
  await c.call('FUNCTION', 'LOAD', lib('replica-own'));
  await c.replicaof('127.0.0.1', String(mm.port));
  await caughtUp(mc, c);
  assert.equal(await c.call('FCALL_RO', 'test', '0'), 'from-master');
  await s.stop();
  await mm.stop();
});

/** A master whose snapshots crawl (rdb-key-save-delay), holding 100 keys. */
async function slowMaster(): Promise<{ mm: RunningServer; mc: Redis }> {
  const mm = await startServer({ args: [...FAST, '--repl-diskless-sync', 'yes'] });
  const mc = mm.client();
  for (let i = 0; i < 100; i++) await mc.set(`m:${i}`, 'v');
  return { mm, mc };
}

test('repl-diskless-load swapdb, new history: LOADING during the transfer, the old dataset kept when it fails', async () => {
  const { mm, mc } = await slowMaster();
  await mc.config('SET', 'rdb-key-save-delay', '100000');
  const s = await startServer({ args: [...FAST, '--repl-diskless-load', 'swapdb'] });
  const c = s.client();
  await c.set('mykey', 'myvalue');
  await c.replicaof('127.0.0.1', String(mm.port));
  await waitFor('loading:1', async () => (await info(c, 'persistence')).loading === '1');
  assert.equal((await info(c, 'persistence')).async_loading, '0');
  await assert.rejects(c.get('mykey'), /^ReplyError: LOADING Redis is loading the dataset in memory/);
  await s.waitForLog('MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to parser');
  // While the image streams, the master shows the replica as Redis does (WAIT_BGSAVE_END).
  assert.match((await info(mc)).slave0 ?? '', /,state=wait_bgsave,/);
  // The next attempt must not start at once, so the state between two syncs can be seen.
  await mc.config('SET', 'repl-diskless-sync-delay', '5');
  await mc.call('CLIENT', 'KILL', 'TYPE', 'replica');
  await waitFor('loading:0', async () => (await info(c, 'persistence')).loading === '0');
  assert.equal(await c.get('mykey'), 'myvalue');
  assert.equal(await c.dbsize(), 1);
  // The cut-short image is reported as Redis's loader reports it (tools and the Redis suite
  // watch for "Internal error in RDB").
  await s.waitForLog('Short read or OOM loading DB. Unrecoverable error, aborting now.');
  assert.match(s.output(), /# Internal error in RDB reading offset \d+, function at rdb\.c:3240 -> Unexpected EOF reading RDB file\. Failure loading rdb format from socket, assuming connection error, resuming operation\.\n/);
  assert.match(s.output(), /\* MASTER <-> REPLICA sync: Discarding temporary DB in background\n/);
  await s.stop();
  await mm.stop();
});

test('repl-diskless-load swapdb, same history: async loading serves the old dataset, then swaps', async () => {
  const { mm, mc } = await slowMaster();
  const s = await startServer({ args: [...FAST, '--repl-diskless-load', 'swapdb', '--replica-read-only', 'no'] });
  const c = s.client();
  await c.replicaof('127.0.0.1', String(mm.port));
  await caughtUp(mc, c);
  await c.set('mykey', 'myvalue');
  await mc.config('SET', 'rdb-key-save-delay', '100000');
  // Drop the link and overflow the backlog at once: the replica must full-sync, same replid.
  const tx = mc.multi().call('CLIENT', 'KILL', 'TYPE', 'replica').config('SET', 'repl-backlog-size', '16384');
  for (let i = 0; i < 10; i++) tx.set(`big:${i}`, 'A'.repeat(16384));
  await tx.exec();
  await waitFor('async_loading:1', async () => (await info(c, 'persistence')).async_loading === '1');
  assert.equal((await info(c, 'persistence')).loading, '0');
  assert.equal(await c.get('mykey'), 'myvalue');
  assert.equal(await c.dbsize(), 101);
  await assert.rejects(c.config('SET', 'appendonly', 'no'), /^ReplyError: LOADING/);
  await assert.rejects(c.replicaof('NO', 'ONE'), /^ReplyError: LOADING/);
  await mc.config('SET', 'rdb-key-save-delay', '0');
  await caughtUp(mc, c);
  assert.equal((await info(c, 'persistence')).async_loading, '0', s.output());
  assert.equal(await c.get('mykey'), null);
  assert.equal(await c.dbsize(), 110);
  await s.stop();
  await mm.stop();
});

test('a full sync goes at the pace of the replica socket; a replica stalled past repl-timeout is dropped', async () => {
  const mm = await startServer({ args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '1', '--rdbcompression', 'no', '--repl-timeout', '2'] });
  const mc = mm.client();
  // 24 MB of values: far more than the socket buffers between the two processes hold.
  const value = 'x'.repeat(12_000);
  for (let i = 0; i < 2000; i += 100) {
    const batch: string[] = [];
    for (let j = i; j < i + 100; j++) batch.push(`k:${j}`, value);
    await mc.mset(...batch);
  }
  const s = await startServer({ args: ['--replicaof', '127.0.0.1', String(mm.port)] });
  await mm.waitForLog(/Replica 127\.0\.0\.1:\d+ asked for synchronization/);
  // The replica stops reading before the transfer starts (repl-diskless-sync-delay 1).
  s.proc.kill('SIGSTOP');
  try {
    await mm.waitForLog(/Disconnecting timedout replica \(full sync\): 127\.0\.0\.1:\d+/, 15000);
    await mm.waitForLog('Diskless rdb transfer, last replica dropped, killing fork child.');
    await waitFor('the transfer to stop', async () => (await info(mc, 'persistence')).rdb_bgsave_in_progress === '0');
  } finally {
    s.proc.kill('SIGCONT');
  }
  const c = s.client();
  await caughtUp(mc, c);
  assert.equal(await c.dbsize(), 2000);
  await s.stop();
  await mm.stop();
});

test('a partial resync larger than the replica output buffer limit is kept when within repl-backlog-size', async () => {
  const mm = await startServer({ args: FAST });
  const mc = mm.client();
  await mc.config('SET', 'repl-backlog-size', '100mb');
  await mc.config('SET', 'client-output-buffer-limit', 'replica 512k 0 0');
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(mm.port)] });
  const c = s.client();
  await caughtUp(mc, c);
  const big = 'A'.repeat(2 * 1024 * 1024);
  // The link drops, and 4 MB of stream pile up before the replica can ask to continue.
  await mc.multi().call('CLIENT', 'KILL', 'TYPE', 'replica').set('key', big).set('key', big).exec();
  await caughtUp(mc, c);
  const stats = await info(mc, 'stats');
  assert.equal(stats.sync_full, '1');
  assert.equal(stats.sync_partial_ok, '1');
  assert.equal((await c.get('key'))?.length, big.length);
  await s.stop();
  await mm.stop();
});

test('disk-based full sync: a replica asking while one runs joins it (one snapshot, same image and stream)', async () => {
  const args = [...FAST, '--repl-diskless-sync', 'no', '--enable-debug-command', 'yes'];
  const mst = await startServer({ args });
  const mc = mst.client();
  await mc.call('DEBUG', 'POPULATE', '2000', 'key', '20');
  // ~2,000 keys at 2 ms each: the job runs for seconds, so the second replica asks during it.
  await mc.config('SET', 'rdb-key-save-delay', '2000');
  const first = await startServer({ args: [...args, '--replicaof', '127.0.0.1', String(mst.port)] });
  await mst.waitForLog('Starting BGSAVE for SYNC with target: disk');
  await mc.set('written:during', '1');
  const second = await startServer({ args: [...args, '--replicaof', '127.0.0.1', String(mst.port)] });
  await mst.waitForLog('Waiting for end of BGSAVE for SYNC');
  await mc.set('written:after-join', '2');
  await mc.config('SET', 'rdb-key-save-delay', '0');
  const f = first.client();
  const s = second.client();
  await caughtUp(mc, f);
  await caughtUp(mc, s);
  assert.equal(mst.output().match(/Starting BGSAVE for SYNC/g)?.length, 1);
  assert.equal((await info(mc, 'stats')).total_forks, '1');
  const digest = await mc.call('DEBUG', 'DIGEST');
  assert.equal(await f.call('DEBUG', 'DIGEST'), digest);
  assert.equal(await s.call('DEBUG', 'DIGEST'), digest);
  assert.equal(await s.get('written:during'), '1');
  assert.equal(await s.get('written:after-join'), '2');
  assert.equal(await s.dbsize(), 2002);
  // Both follow the stream afterwards.
  await mc.set('written:later', '3');
  await caughtUp(mc, s);
  assert.equal(await s.get('written:later'), '3');
});

test("a replica link carries no replies: a replica's command that answers drops it; PSYNC with a bad offset is refused", async () => {
  const mst = await startServer({ args: FAST });
  const mc = mst.client();
  const net = await import('node:net');
  /**
   * Sends `first` on a fresh connection, then `then` once the first bytes came back (or at
   * once if empty), and resolves with everything read until the server closes it.
   */
  const session = (first: string, then = ''): Promise<string> =>
    new Promise((resolve, reject) => {
      const sock = net.connect(mst.port, '127.0.0.1');
      let got = '';
      sock.on('data', (d) => {
        const wasEmpty = got === '';
        got += d.toString('latin1');
        if (wasEmpty && then !== '') sock.write(then);
      });
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
      sock.write(first);
    });
  // SYNC, then PING: the PONG never comes, the link is closed.
  const afterSync = await session('SYNC\r\nPING\r\n');
  assert.ok(!afterSync.includes('+PONG'), afterSync.slice(0, 200));
  await mst.waitForLog(/Replica generated a reply to command 'ping', disconnecting it: id=\d+ /);
  // PSYNC, then a keyspace command: refused, and the refusal itself drops the replica.
  const afterPsync = await session('PSYNC replicationid -1\r\n', 'GET foo\r\n');
  assert.match(afterPsync, /^\+FULLRESYNC \w{40} \d+\r\n/);
  await mst.waitForLog("Replica generated a reply to command 'get', disconnecting it:");
  await mst.waitForLog("== CRITICAL == This master is sending an error to its replica: 'ERR Replica can't interact with the keyspace' after processing the command 'get'");
  // A subcommand is named as Redis names it.
  await session('SYNC\r\nSLOWLOG GET\r\n');
  await mst.waitForLog("Replica generated a reply to command 'slowlog|get', disconnecting it:");
  await assert.rejects(mc.call('PSYNC', 'replicationid', 'offset_str'), /^ReplyError: ERR value is not an integer or out of range$/);
  await mst.waitForLog(/Replica .* asks for synchronization but with a wrong offset/);
  assert.equal(await mc.ping(), 'PONG');
});

test('a replica whose master link never came up is down "since ever": master_link_down_since_seconds:-1, as Redis', async () => {
  const closed = await freePort();
  const s = await startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(closed)] });
  const c = s.client();
  // Two failed attempts (one per second): the first one used to start the clock.
  await s.waitForLog('Error condition on socket for SYNC: Connection refused');
  await waitFor('a second connection attempt', async () => (s.output().match(/Error condition on socket for SYNC/g) ?? []).length >= 2);
  const ri = await info(c);
  assert.equal(ri.master_link_status, 'down');
  assert.equal(ri.master_link_down_since_seconds, '-1');
  await s.stop();
});
