/**
 * Redis 7's shared replication buffer (integration/replication-buffer's observations): the
 * stream is stored once for the backlog and every replica, so replicas waiting for their RDB do
 * not multiply its memory; the backlog's history outgrows repl-backlog-size while a replica
 * still needs it, serves a partial resync from there, and shrinks when nobody needs it.
 * Every wait is on a condition, never a fixed sleep.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

after(stopAll);

const FAST = ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '100', '--enable-debug-command', 'yes'];

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function info(c: Redis, section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await c.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const num = async (c: Redis, section: string, field: string): Promise<number> => Number((await info(c, section))[field]);

/** 1 MB of SETs (1024 values of 1 KB), pipelined. */
async function writeMegabyte(m: Redis, prefix: string): Promise<void> {
  const p = m.pipeline();
  for (let i = 0; i < 1024; i++) p.set(`${prefix}:${i}`, 'A'.repeat(1024));
  await p.exec();
}

/** A master (16 KB backlog, no replica output limit) and one replica streaming from it. */
async function masterAndReplica(): Promise<{ m: Redis; master: RunningServer; r: Redis }> {
  const master = await startServer({ args: FAST });
  const m = master.client();
  await m.config('SET', 'repl-backlog-size', '16384');
  await m.config('SET', 'client-output-buffer-limit', 'replica 0 0 0');
  const replica = await startServer({ args: FAST });
  const r = replica.client();
  await r.replicaof('127.0.0.1', String(master.port));
  await waitFor('the replica online', async () => (await info(r, 'replication')).master_link_status === 'up');
  for (let i = 0; i < 100; i++) await m.set(`k${i}`, 'v');
  return { m, master, r };
}

test('replicas waiting for their RDB share one copy of the stream; it is freed when none needs it', async () => {
  const { m, master } = await masterAndReplica();
  // Two more replicas whose full sync takes ~100 s: they are owed every byte fed meanwhile.
  await m.config('SET', 'rdb-key-save-delay', '1000000');
  await m.config('SET', 'repl-diskless-sync-max-replicas', '2');
  await m.config('SET', 'repl-diskless-sync-delay', '5');
  const r1 = await startServer({ args: FAST });
  const r2 = await startServer({ args: FAST });
  await r1.client().replicaof('127.0.0.1', String(master.port));
  await r2.client().replicaof('127.0.0.1', String(master.port));
  await waitFor('both replicas in their full sync', async () => {
    const rep = await info(m, 'replication');
    return rep.connected_slaves === '3' && rep.slave1?.includes('state=online') === false && (await num(m, 'persistence', 'rdb_bgsave_in_progress')) === 1;
  });
  const before = await num(m, 'memory', 'used_memory');
  await writeMegabyte(m, 'big');
  const buffers = await num(m, 'memory', 'mem_total_replication_buffers');
  // One copy of the 1 MB+ stream, not one per replica.
  assert.ok(buffers > 1024 * 1024 && buffers < 1.5 * 1024 * 1024, `mem_total_replication_buffers ${buffers}`);
  // The new data itself is 1 MB; replicas add no copy of their own (Redis's check).
  assert.ok((await num(m, 'memory', 'used_memory')) - before - 1024 * 1024 < 2 * buffers);
  assert.ok((await num(m, 'replication', 'repl_backlog_histlen')) > 1024 * 1024);
  // A waiting replica's output buffer is what it is owed from the shared buffer.
  const list = String(await m.call('CLIENT', 'LIST', 'TYPE', 'replica'));
  const omems = [...list.matchAll(/omem=(\d+)/g)].map((x) => Number(x[1]));
  assert.equal(omems.filter((x) => x > 1024 * 1024).length, 2, list);
  // One of them leaves: the other still needs the same bytes.
  await r1.stop();
  await waitFor('two replicas', async () => (await info(m, 'replication')).connected_slaves === '2');
  assert.equal(await num(m, 'memory', 'mem_total_replication_buffers'), buffers);
  // The last one leaves: only the backlog's 16 KB (in 16 KB blocks) stay.
  await r2.stop();
  await waitFor('one replica', async () => (await info(m, 'replication')).connected_slaves === '1');
  assert.ok((await num(m, 'memory', 'mem_total_replication_buffers')) <= 3 * 16384);
  assert.ok((await num(m, 'replication', 'repl_backlog_histlen')) <= 16384);
});

test('a replica continues partially from history kept beyond repl-backlog-size', async () => {
  const { m, master, r: f } = await masterAndReplica();
  // A replica stuck in its full sync holds the history from its start on.
  await m.config('SET', 'rdb-key-save-delay', '1000000');
  const slow = await startServer({ args: FAST });
  await slow.client().replicaof('127.0.0.1', String(master.port));
  await waitFor('the slow replica in its full sync', async () => (await num(m, 'persistence', 'rdb_bgsave_in_progress')) === 1);
  // The stream is in db 9 when the follower leaves; a +CONTINUE goes on in that db, even after
  // a detour to another master (the cached master state keeps its db).
  await m.select(9);
  await m.set('in-db-9', '1');
  await waitFor('the follower in db 9', async () => (await num(f, 'replication', 'master_repl_offset')) === (await num(m, 'replication', 'master_repl_offset')));
  // The follower loses its link (to a master that never answers) while 3 MB are written.
  await f.replicaof('127.0.0.1', String(slow.port));
  for (let i = 0; i < 3; i++) await writeMegabyte(m, `w${i}`);
  assert.ok((await num(m, 'replication', 'repl_backlog_histlen')) > 3 * 1024 * 1024);
  await f.replicaof('127.0.0.1', String(master.port));
  await waitFor('the follower caught up', async () => (await num(f, 'replication', 'master_repl_offset')) === (await num(m, 'replication', 'master_repl_offset')));
  assert.equal(await num(m, 'stats', 'sync_partial_ok'), 1);
  assert.equal(await f.call('DEBUG', 'DIGEST'), await m.call('DEBUG', 'DIGEST'));
});
