/**
 * Durable acknowledgment (`durable-writes yes`, src/replication/durable.ts), from the user's
 * side: real nodis-server processes (and a redis-server replica) on free ports, ioredis and raw
 * RESP clients. Off by default and invisible then; on, a write's reply waits for a majority of
 * the replica set, a write without one gets -NOREPLICAS, replies keep their order through
 * pipelines, MULTI/EXEC and scripts, and the failover fence works.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { waitFor, info } from './helpers/conditions.js';
import { Lock } from '../src/lock/index.js';

after(stopAll);

const FAST = ['--repl-diskless-sync-delay', '0'];
const DURABLE = ['--durable-writes', 'yes', '--durable-replicas', '2', '--durable-timeout', '800', '--durable-lease', '500'];
const LEASE_REFUSAL = 'NOREPLICAS Not enough good replicas to write.';

async function online(m: Redis, n: number): Promise<void> {
  await waitFor(`${n} replicas online`, async () => ((await m.info('replication')).match(/state=online/g) ?? []).length === n);
}

async function withReplicas(n: number, replicaBin?: string): Promise<{ master: RunningServer; m: Redis; replicas: RunningServer[] }> {
  const master = await startServer({ args: [...FAST, ...DURABLE] });
  const m = master.client();
  const replicas: RunningServer[] = [];
  for (let i = 0; i < n; i++) {
    const args = ['--replicaof', '127.0.0.1', String(master.port), ...FAST];
    replicas.push(await startServer(replicaBin === undefined ? { args: [...args, ...DURABLE] } : { bin: replicaBin, args }));
  }
  await online(m, n);
  // The lease is renewed by the first GETACK the replicas answer.
  await waitFor('lease', async () => Number((await info(m, 'replication')).durable_lease_ms_left) > 0);
  return { master, m, replicas };
}

/** Sends raw RESP and collects what arrives within `ms`. */
function rawFor(port: number, data: string, ms: number): Promise<{ chunks: { at: number; text: string }[]; sock: net.Socket }> {
  return new Promise((resolve) => {
    const chunks: { at: number; text: string }[] = [];
    const t0 = Date.now();
    const sock = net.connect(port, '127.0.0.1', () => sock.write(data));
    sock.on('data', (d) => chunks.push({ at: Date.now() - t0, text: d.toString('latin1') }));
    sock.on('error', () => {});
    setTimeout(() => resolve({ chunks, sock }), ms);
  });
}

test('off by default: no durable_ INFO fields, writes without replicas are acknowledged as by Redis', async () => {
  const s = await startServer();
  const c = s.client();
  const got = (await c.config('GET', 'durable-*')) as string[];
  const conf = Object.fromEntries(got.flatMap((v, i) => (i % 2 === 0 ? [[v, got[i + 1]]] : [])));
  assert.deepEqual(conf, { 'durable-lease': '500', 'durable-replicas': '2', 'durable-timeout': '1000', 'durable-writes': 'no' });
  // durable-fenced (read-only state) answers only to its exact name, as Redis's hidden configs.
  assert.deepEqual(await c.config('GET', 'durable-fenced'), ['durable-fenced', 'no']);
  assert.equal(await c.set('k', 'v'), 'OK');
  assert.ok(!(await c.info('replication')).includes('durable_'));
  await s.stop();
});

test('on, without replicas: writes refused with -NOREPLICAS before they run, reads served', async () => {
  const s = await startServer({ args: DURABLE });
  const c = s.client();
  await assert.rejects(c.set('k', 'v'), (e: Error) => e.message === LEASE_REFUSAL);
  assert.equal(await c.exists('k'), 0);
  assert.equal(await c.get('k'), null);
  const i = await info(c, 'replication');
  assert.equal(i.durable_writes, '1');
  assert.equal(i.durable_lease_ms_left, '0');
  assert.equal(Number(i.durable_writes_refused) >= 1, true);
  // Off at run time: Redis behaviour again, the fields gone.
  await c.config('SET', 'durable-writes', 'no');
  assert.equal(await c.set('k', 'v'), 'OK');
  assert.ok(!(await c.info('replication')).includes('durable_'));
  await s.stop();
});

test('on, with two replicas: acknowledged writes are on a replica; pipelines, MULTI/EXEC, scripts, WAIT, BLPOP keep their replies in order', async () => {
  const { master, m, replicas } = await withReplicas(2);
  assert.equal(await m.set('a', '1'), 'OK');
  const i = await info(m, 'replication');
  assert.ok(Number(i.durable_acked_offset) > 0 && Number(i.durable_lease_ms_left) > 0, JSON.stringify(i));
  assert.equal(i.durable_replicas_needed, '1');
  // Acknowledged means a replica has it already.
  const r0 = replicas[0]!.client();
  const r1 = replicas[1]!.client();
  for (let k = 0; k < 20; k++) {
    await m.set(`x${k}`, String(k));
    const got = await Promise.all([r0.get(`x${k}`), r1.get(`x${k}`)]);
    assert.ok(got.includes(String(k)), `x${k} on no replica when acknowledged`);
  }
  // A pipeline of writes and reads: every reply, in order.
  const p = m.pipeline();
  for (let k = 0; k < 200; k++) p.incr('n').get('n');
  const res = (await p.exec())!;
  for (let k = 0; k < 200; k++) {
    assert.deepEqual(res[2 * k], [null, k + 1]);
    assert.deepEqual(res[2 * k + 1], [null, String(k + 1)]);
  }
  assert.deepEqual(await m.multi().set('t', 'x').incr('n').exec(), [
    [null, 'OK'],
    [null, 201],
  ]);
  assert.equal(await m.eval("return redis.call('incr', KEYS[1])", 1, 'n'), 202);
  assert.equal(await m.call('WAIT', '2', '1000'), 2);
  // A blocked pop served by another client's push: both replies arrive.
  const b = master.client();
  const popped = b.blpop('q', 5);
  await waitFor('blocked', async () => Number((await info(m, 'clients')).blocked_clients) === 1);
  assert.equal(await m.rpush('q', 'job'), 1);
  assert.deepEqual(await popped, ['q', 'job']);
  assert.equal(Number((await info(m, 'replication')).durable_replies_held), 0);
  await Promise.all([master.stop(), ...replicas.map((r) => r.stop())]);
});

test('a write no replica acknowledges: the reply is held, then -NOREPLICAS at the timeout; the lapsed lease refuses the next', async () => {
  const { master, m, replicas } = await withReplicas(2);
  for (const r of replicas) r.proc.kill('SIGSTOP');
  try {
    const { chunks, sock } = await rawFor(master.port, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n', 2500);
    sock.destroy();
    const text = chunks.map((c) => c.text).join('');
    // The lease may lapse first (a refusal before running), or the write waits its 800 ms.
    if (text.startsWith('-NOREPLICAS Not enough replicas acknowledged')) {
      assert.ok(chunks[0]!.at >= 700, `replied after ${chunks[0]!.at} ms`);
    } else {
      assert.ok(text.startsWith(`-${LEASE_REFUSAL}`), text);
    }
    assert.ok(text.endsWith('+PONG\r\n'), text);
    await assert.rejects(m.set('k2', 'v'), (e: Error) => e.message === LEASE_REFUSAL);
  } finally {
    for (const r of replicas) r.proc.kill('SIGCONT');
  }
  await waitFor('lease back', async () => Number((await info(m, 'replication')).durable_lease_ms_left) > 0);
  assert.equal(await m.set('k3', 'v'), 'OK');
  await Promise.all([master.stop(), ...replicas.map((r) => r.stop())]);
});

test('a held reply goes out when a replica acknowledges, not before', async () => {
  const { master, m, replicas } = await withReplicas(2, undefined);
  await m.config('SET', 'durable-timeout', '5000');
  await m.config('SET', 'durable-lease', '4000');
  await waitFor('long lease', async () => Number((await info(m, 'replication')).durable_lease_ms_left) > 3000);
  for (const r of replicas) r.proc.kill('SIGSTOP');
  const pending = rawFor(master.port, '*3\r\n$3\r\nSET\r\n$1\r\nh\r\n$1\r\nv\r\n', 1500);
  await new Promise((r) => setTimeout(r, 600));
  replicas[0]!.proc.kill('SIGCONT');
  const { chunks, sock } = await pending;
  sock.destroy();
  replicas[1]!.proc.kill('SIGCONT');
  assert.equal(chunks.map((c) => c.text).join(''), '+OK\r\n');
  assert.ok(chunks[0]!.at >= 550, `OK after ${chunks[0]!.at} ms, before the replica could acknowledge`);
  await Promise.all([master.stop(), ...replicas.map((r) => r.stop())]);
});

test('redis-server replicas acknowledge promptly too (REPLCONF GETACK in the stream)', async () => {
  const { master, m, replicas } = await withReplicas(2, '/usr/bin/redis-server');
  const t0 = performance.now();
  for (let k = 0; k < 50; k++) assert.equal(await m.set(`r${k}`, 'v'), 'OK');
  // Far below the once-a-second periodic ACK.
  assert.ok(performance.now() - t0 < 5000);
  assert.equal(await replicas[0]!.client().get('r49'), 'v');
  await Promise.all([master.stop(), ...replicas.map((r) => r.stop())]);
});

test('CONFIG REWRITE keeps the directives; REPLCONF DURABLE-FENCE takes a replica off its master until lifted or re-pointed, and answers its offset', async () => {
  const { master, m, replicas } = await withReplicas(1);
  await m.set('f', '1');
  const r = replicas[0]!.client();
  await assert.rejects(m.call('REPLCONF', 'DURABLE-FENCE', '1000'), /DURABLE-FENCE is for replicas/);
  const [off, id] = (await r.call('REPLCONF', 'DURABLE-FENCE', '3000')) as [number, string];
  const ri = await info(r, 'replication');
  assert.equal(String(off), ri.slave_repl_offset);
  assert.equal(id, ri.master_replid);
  assert.equal((await info(r, 'replication')).master_link_status, 'down');
  // Fenced: writes on the master are not acknowledged by it (the lease lapses), and it stays down.
  await waitFor('lease lapsed', async () => (await info(m, 'replication')).durable_lease_ms_left === '0');
  assert.equal((await info(r, 'replication')).master_link_status, 'down');
  // The fence does not expire (one that did let an old master back in before a slow
  // reconfiguration): still down long after, INFO telling for how long.
  await waitFor('fence held 3.5 s', async () => Number((await info(r, 'replication')).durable_fenced_ms ?? 0) > 3500, 20000);
  assert.equal((await info(r, 'replication')).master_link_status, 'down');
  // A sentinel lifts it (DURABLE-FENCE 0): the link comes back, the field goes.
  const [off2, id2] = (await r.call('REPLCONF', 'DURABLE-FENCE', '0')) as [number, string];
  assert.equal(id2, id);
  assert.ok(off2 >= off);
  await waitFor('link back', async () => (await info(r, 'replication')).master_link_status === 'up', 20000);
  assert.equal((await info(r, 'replication')).durable_fenced_ms, undefined);
  // Fenced again, then re-pointed (REPLICAOF): the new link is not fenced.
  await r.call('REPLCONF', 'DURABLE-FENCE', '1');
  assert.equal((await info(r, 'replication')).master_link_status, 'down');
  assert.equal(await r.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(await r.call('REPLICAOF', '127.0.0.1', String(master.port)), 'OK');
  await waitFor('link back after REPLICAOF', async () => (await info(r, 'replication')).master_link_status === 'up', 20000);
  await Promise.all([master.stop(), ...replicas.map((x) => x.stop())]);
  // CONFIG REWRITE writes the directives like any other.
  const s = await startServer({ config: 'durable-writes yes\n' });
  const c = s.client();
  await c.config('SET', 'durable-lease', '700');
  assert.equal(await c.config('REWRITE'), 'OK');
  const text = fs.readFileSync(path.join(s.dir, 'test.conf'), 'utf8');
  assert.match(text, /^durable-writes yes$/m);
  assert.match(text, /^durable-lease 700$/m);
  await s.stop();
});

test('a fenced replica restarted keeps its fence (durable-fenced, written by CONFIG REWRITE), until re-pointed', async () => {
  const master = await startServer({ args: [...FAST, ...DURABLE] });
  const conf = [`replicaof 127.0.0.1 ${master.port}`, 'durable-writes yes', 'durable-replicas 2', 'durable-timeout 800', 'durable-lease 500', ''].join('\n');
  const first = await startServer({ config: conf, args: FAST });
  const r1 = first.client();
  await waitFor('link up', async () => (await info(r1, 'replication')).master_link_status === 'up');
  await r1.call('REPLCONF', 'DURABLE-FENCE', '1');
  assert.equal(await r1.config('GET', 'durable-fenced').then((v) => (v as string[])[1]), 'yes');
  await assert.rejects(r1.config('SET', 'durable-fenced', 'no'), /can't set immutable config/);
  assert.equal(await r1.config('REWRITE'), 'OK');
  const saved = fs.readFileSync(path.join(first.dir, 'test.conf'), 'utf8');
  assert.match(saved, /^durable-fenced yes$/m);
  await first.stop();
  // Restarted from that file: it does not go back to the master.
  // (Its own dir: the first one's goes with it.)
  const again = await startServer({ config: saved.replace(/^dir .*$/m, ''), args: FAST });
  const r2 = again.client();
  await again.waitForLog('Link to the master fenced by a durable failover.');
  const ri = await info(r2, 'replication');
  assert.equal(ri.master_link_status, 'down');
  assert.ok(ri.durable_fenced_ms !== undefined);
  assert.equal(await r2.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(await r2.call('REPLICAOF', '127.0.0.1', String(master.port)), 'OK');
  await waitFor('link up once re-pointed', async () => (await info(r2, 'replication')).master_link_status === 'up', 20000);
  assert.equal(await r2.config('REWRITE'), 'OK');
  assert.match(fs.readFileSync(path.join(again.dir, 'test.conf'), 'utf8'), /^durable-fenced no$/m);
  await Promise.all([master.stop(), again.stop()]);
});

test('nodis/lock in durable mode: grants need no WAIT', async () => {
  const { master, m, replicas } = await withReplicas(2);
  await m.config('RESETSTAT');
  const lock = new Lock(m, 'job');
  const held = await lock.acquire({ wait: 1000 });
  await held.release();
  const stats = await m.info('commandstats');
  assert.ok(!stats.includes('cmdstat_wait:'), stats);
  await Promise.all([master.stop(), ...replicas.map((r) => r.stop())]);
});
