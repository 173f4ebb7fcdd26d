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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { SystemClock, Random } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';
import { startServer, stopAll, freePort } from './helpers/server.js';
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

test('a handler that throws after changing data: an error reply, and the key state propagated whole', async () => {
  // An in-process master whose RPUSH handler is made to throw after it pushed (a nodis bug),
  // with a real replica: the command is not replayed there (it could throw, or not, on its
  // own); the key's whole state is, so both hold the same data.
  const port = await freePort();
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  const logged: string[] = [];
  logger.level = 'warning';
  logger.warning = (line: string) => void logged.push(line);
  const config = new ConfigRegistry(DIRECTIVES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-throw-'));
  for (const [k, v] of [['port', String(port)], ['bind', '127.0.0.1'], ['save', ''], ['enable-debug-command', 'yes'], ['dir', dir], ['repl-diskless-sync-delay', '0']]) {
    config.set(k!, [v!], 'args');
  }
  const server = new Server({ clock, random: new Random(1), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  await server.listen();
  const fed: string[] = [];
  server.propagator.addTarget({ kind: 'aof', feed: (db, argv) => fed.push(`${db}:${argv[0]} ${argv[1]}`) });
  const replica = await startServer({ args: ['--enable-debug-command', 'yes', '--replicaof', '127.0.0.1', String(port)] });
  const m = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const r = replica.client();
  try {
    await m.rpush('list', 'a', 'b');
    await m.set('ttl', 'v', 'PX', 100000);
    await caughtUp(m, r);
    const rpush = server.commands.lookup('rpush')!;
    const realHandler = rpush.handler!;
    rpush.handler = (c) => {
      realHandler(c);
      throw new Error('boom after the write');
    };
    fed.length = 0;
    await assert.rejects(m.rpush('list', 'c'), /^ReplyError: ERR internal error executing 'rpush': boom after the write$/);
    // Throwing without a change (after answering WRONGTYPE) propagates nothing.
    await assert.rejects(m.rpush('ttl', 'x'), /^ReplyError: ERR internal error executing 'rpush'/);
    rpush.handler = realHandler;
    assert.deepEqual(fed, ['0:RESTORE list']);
    assert.ok(logged.some((l) => l.includes("Internal error executing 'rpush' (the command was aborted)")));
    assert.deepEqual(await m.lrange('list', 0, -1), ['a', 'b', 'c']);
    await caughtUp(m, r);
    assert.deepEqual(await r.lrange('list', 0, -1), ['a', 'b', 'c']);
    assert.equal(await r.call('DEBUG', 'DIGEST'), await m.call('DEBUG', 'DIGEST'));
    assert.ok(!logged.some((l) => l.includes('Assertion failed')), logged.join('\n'));
  } finally {
    m.disconnect();
    await replica.stop();
    await server.shutdown({ save: false, now: true, force: true, signal: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
