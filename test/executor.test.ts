/**
 * The seams of execution: every way a command runs (a client, EXEC, a script, a blocked client
 * being served, the AOF, the master's stream) goes through one executor, so none skips the
 * snapshot's copy-on-write, propagation or the admission checks.
 *
 * The BLMOVE case: a client blocked on `BLMOVE src dst` is served by an `LPUSH src` while a
 * snapshot (a replica's full sync, disk or diskless, or a BGSAVE) has not reached `dst` yet.
 * Serving it changes `dst` in place; unless `dst` is copied first, the image holds the moved
 * element and the replication stream delivers it a second time.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll } from './helpers/server.js';
import { caughtUp, info, waitFor } from './helpers/conditions.js';

after(stopAll);

const FAST = ['--enable-debug-command', 'yes', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];
/** Keys inserted before `dst`: the snapshot walks them at rdb-key-save-delay each first. */
const FILLER = 60;
/** µs per key: the walk cannot reach `dst` before FILLER × this (6 s) after it starts. */
const KEY_DELAY_US = 100_000;

/** A master with FILLER keys, then `dst = [a]` (walked last), and a client blocked on BLMOVE. */
async function masterWithBlockedMove(extra: string[]): Promise<{ m: Redis; blocked: Promise<unknown>; stop: () => Promise<void> }> {
  const master = await startServer({ args: [...FAST, ...extra] });
  const m = master.client();
  const batch: string[] = [];
  for (let i = 0; i < FILLER; i++) batch.push(`filler:${i}`, 'v');
  await m.mset(...batch);
  await m.rpush('dst', 'a');
  const b = master.client();
  const blocked = b.blmove('src', 'dst', 'LEFT', 'RIGHT', 0);
  await waitFor('the BLMOVE to block', async () => (await info(m, 'clients')).blocked_clients === '1');
  return { m, blocked, stop: () => master.stop() };
}

/** Pushes while the snapshot is running and has not reached `dst`, then lets it finish. */
async function pushDuringWalk(m: Redis, blocked: Promise<unknown>): Promise<void> {
  const before = await info(m, 'persistence');
  assert.equal(before.rdb_bgsave_in_progress, '1');
  await m.lpush('src', 'x');
  assert.equal(await blocked, 'x');
  // The walk had not reached `dst` (it is the last key) when the push was served.
  const after = await info(m, 'persistence');
  assert.equal(after.rdb_bgsave_in_progress, '1');
  assert.ok(Number(after.current_save_keys_processed) < FILLER, `walk already at ${after.current_save_keys_processed}`);
  await m.config('SET', 'rdb-key-save-delay', '0');
  assert.deepEqual(await m.lrange('dst', 0, -1), ['a', 'x']);
  assert.equal(await m.exists('src'), 0);
}

for (const diskless of ['no', 'yes']) {
  test(`a blocked BLMOVE served during a full sync (diskless ${diskless}): the replica does not diverge`, async () => {
    const { m, blocked, stop } = await masterWithBlockedMove(['--repl-diskless-sync', diskless]);
    await m.config('SET', 'rdb-key-save-delay', String(KEY_DELAY_US));
    const replica = await startServer({ args: FAST });
    const r = replica.client();
    await r.replicaof('127.0.0.1', String((await info(m, 'server')).tcp_port));
    await waitFor('the full sync to start', async () => (await info(m, 'persistence')).rdb_bgsave_in_progress === '1');
    await pushDuringWalk(m, blocked);
    await caughtUp(m, r);
    assert.deepEqual(await r.lrange('dst', 0, -1), ['a', 'x']);
    assert.equal(await r.call('DEBUG', 'DIGEST'), await m.call('DEBUG', 'DIGEST'));
    await replica.stop();
    await stop();
  });
}

test('a blocked BLMOVE served during a BGSAVE: the RDB holds the dataset as of the start', async () => {
  const { m, blocked, stop } = await masterWithBlockedMove([]);
  const digestAtStart = await m.call('DEBUG', 'DIGEST');
  await m.config('SET', 'rdb-key-save-delay', String(KEY_DELAY_US));
  await m.bgsave();
  await pushDuringWalk(m, blocked);
  await waitFor('the BGSAVE to finish', async () => (await info(m, 'persistence')).rdb_bgsave_in_progress === '0');
  assert.equal((await info(m, 'persistence')).rdb_last_bgsave_status, 'ok');
  await m.call('DEBUG', 'RELOAD', 'NOSAVE');
  assert.deepEqual(await m.lrange('dst', 0, -1), ['a']);
  assert.equal(await m.call('DEBUG', 'DIGEST'), digestAtStart);
  await stop();
});
