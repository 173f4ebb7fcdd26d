/**
 * MULTI/EXEC/DISCARD/WATCH against a real nodis-server, plus the propagation of transactions
 * checked on an in-process server with a recording propagation target.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, freePort, type RunningServer } from './helpers/server.js';
import { runRaw } from './helpers/redis-compare.js';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { SystemClock } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';
import type { PropagationTarget } from '../src/server/propagate.js';
import { Redis } from 'ioredis';

/**
 * Clients for transactions skip ioredis's INFO ready check: under load it was seen landing
 * inside a MULTI begun right after connecting, as a queued command of the transaction.
 */
const NO_READY_CHECK = { enableReadyCheck: false };

/** Runs a command and returns its reply or its error text. */
async function run(c: Redis, ...args: (string | number)[]): Promise<unknown> {
  try {
    return await c.call(String(args[0]), ...args.slice(1).map(String));
  } catch (e) {
    return (e as Error).message;
  }
}

/** Waits until `ms` milliseconds of wall time have passed (for TTLs to run out). */
async function waitMs(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((r) => setTimeout(r, Math.max(1, until - Date.now())));
}

describe('transactions', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('queues commands and runs them at EXEC, errors included, without rollback', async () => {
    const replies = await runRaw(s.port, [['MULTI'], ['SET', 'tk', '1'], ['LPUSH', 'tk', 'x'], ['INCR', 'tk'], ['EXEC']]);
    assert.deepEqual(replies.slice(0, 4), ['+OK\r\n', '+QUEUED\r\n', '+QUEUED\r\n', '+QUEUED\r\n']);
    assert.equal(replies[4], '*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n');
    assert.equal(await r.get('tk'), '2');
  });

  it('answers the MULTI state errors with Redis texts', async () => {
    const replies = await runRaw(s.port, [
      ['EXEC'],
      ['DISCARD'],
      ['MULTI'],
      ['MULTI'],
      ['WATCH', 'x'],
      ['PING'],
      ['EXEC'],
    ]);
    assert.deepEqual(replies, [
      '-ERR EXEC without MULTI\r\n',
      '-ERR DISCARD without MULTI\r\n',
      '+OK\r\n',
      '-ERR MULTI calls can not be nested\r\n',
      '-ERR WATCH inside MULTI is not allowed\r\n',
      '+QUEUED\r\n',
      '*1\r\n+PONG\r\n',
    ]);
  });

  it('aborts EXEC after a queueing error (unknown command, arity, no_multi)', async () => {
    for (const bad of [['NOSUCHCMD'], ['GET'], ['SHUTDOWN']]) {
      const replies = await runRaw(s.port, [['MULTI'], ['SET', 'ab', '1'], bad, ['SET', 'ab2', '2'], ['EXEC'], ['PING']]);
      assert.match(replies[2]!, /^-ERR /);
      if (bad[0] === 'SHUTDOWN') assert.equal(replies[2], '-ERR Command not allowed inside a transaction\r\n');
      assert.equal(replies[3], '+QUEUED\r\n');
      assert.equal(replies[4], '-EXECABORT Transaction discarded because of previous errors.\r\n');
      assert.equal(replies[5], '+PONG\r\n', 'the client left MULTI');
      assert.equal(await r.exists('ab', 'ab2'), 0);
    }
  });

  it('DISCARD drops the queue', async () => {
    await r.del('dq');
    const replies = await runRaw(s.port, [['MULTI'], ['SET', 'dq', '1'], ['DISCARD'], ['GET', 'dq']]);
    assert.deepEqual(replies, ['+OK\r\n', '+QUEUED\r\n', '+OK\r\n', '$-1\r\n']);
  });

  it('EXEC answers null when a WATCHed key was modified (null array, `_` in RESP3)', async () => {
    const c = s.client(NO_READY_CHECK);
    await c.set('w', '1');
    assert.equal(await run(c, 'watch', 'w'), 'OK');
    await r.set('w', '2');
    assert.equal(await run(c, 'multi'), 'OK');
    assert.equal(await run(c, 'incr', 'w'), 'QUEUED');
    assert.equal(await run(c, 'exec'), null);
    assert.equal(await r.get('w'), '2');
    // After a failed EXEC nothing is watched any more.
    await run(c, 'multi');
    await run(c, 'incr', 'w');
    assert.deepEqual(await run(c, 'exec'), [3]);

    const raw = async (proto: 2 | 3): Promise<string> => {
      const outs = await runRaw(s.port, [['WATCH', 'w'], ['SET', 'w', 'mine'], ['MULTI'], ['PING'], ['EXEC']], proto);
      return outs[4]!;
    };
    assert.equal(await raw(2), '*-1\r\n');
    assert.equal(await raw(3), '_\r\n');
  });

  it('WATCH sees writes from other databases as different keys, and FLUSHALL as a touch', async () => {
    const c = s.client(NO_READY_CHECK);
    await c.set('wd', '1');
    await run(c, 'watch', 'wd');
    await r.select(1);
    await r.set('wd', 'other');
    await r.select(0);
    await run(c, 'multi');
    await run(c, 'ping');
    assert.deepEqual(await run(c, 'exec'), ['PONG']);

    await run(c, 'watch', 'wd');
    await r.flushall();
    await run(c, 'multi');
    await run(c, 'ping');
    assert.equal(await run(c, 'exec'), null);

    // A missing key stays missing through FLUSHALL: no change.
    await run(c, 'watch', 'never');
    await r.flushall();
    await run(c, 'multi');
    await run(c, 'ping');
    assert.deepEqual(await run(c, 'exec'), ['PONG']);
  });

  it('a WATCHed key that expires before EXEC fails the transaction', async () => {
    const c = s.client(NO_READY_CHECK);
    await c.set('wx', '1', 'PX', 30);
    await run(c, 'watch', 'wx');
    await waitMs(40);
    await run(c, 'multi');
    await run(c, 'ping');
    assert.equal(await run(c, 'exec'), null);
  });

  it('UNWATCH and RESET forget watched keys, RESET ends MULTI', async () => {
    const c = s.client(NO_READY_CHECK);
    for (const forget of [['unwatch'], ['reset']]) {
      await c.set('wu', '1');
      await run(c, 'watch', 'wu');
      await r.set('wu', '2');
      assert.ok(['OK', 'RESET'].includes(String(await run(c, ...forget))));
      await run(c, 'multi');
      await run(c, 'ping');
      assert.deepEqual(await run(c, 'exec'), ['PONG']);
    }
    const replies = await runRaw(s.port, [['MULTI'], ['SET', 'rs', '1'], ['RESET'], ['EXEC']]);
    assert.deepEqual(replies, ['+OK\r\n', '+QUEUED\r\n', '+RESET\r\n', '-ERR EXEC without MULTI\r\n']);
  });

  it('checks OOM at EXEC time only for transactions holding a denyoom command', async () => {
    const c = s.client(NO_READY_CHECK);
    await r.set('oomk', 'v');
    await run(c, 'multi');
    await run(c, 'get', 'oomk');
    await r.config('SET', 'maxmemory', '1');
    try {
      assert.deepEqual(await run(c, 'exec'), ['v']);
      await run(c, 'multi');
      assert.match(String(await run(c, 'set', 'oomk', 'x')), /^OOM command not allowed/);
      assert.match(String(await run(c, 'exec')), /^EXECABORT/);
    } finally {
      await r.config('SET', 'maxmemory', '0');
    }
    await run(c, 'multi');
    await run(c, 'set', 'oomk', 'y');
    await r.config('SET', 'maxmemory', '1');
    try {
      assert.equal(await run(c, 'exec'), "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.");
    } finally {
      await r.config('SET', 'maxmemory', '0');
    }
    assert.equal(await r.get('oomk'), 'v');
    assert.equal(await run(c, 'ping'), 'PONG');
  });

  it('blocking commands inside EXEC answer as timed out', async () => {
    const replies = await runRaw(s.port, [['MULTI'], ['BLPOP', 'nolist', '0'], ['EXEC']]);
    assert.equal(replies[2], '*1\r\n*-1\r\n');
  });

  it('EXEC runs SUBSCRIBE (allowed in MULTI) and reports it in the array', async () => {
    const replies = await runRaw(s.port, [['MULTI'], ['SUBSCRIBE', 'inmulti'], ['EXEC']]);
    assert.equal(replies[2], '*1\r\n*3\r\n$9\r\nsubscribe\r\n$7\r\ninmulti\r\n:1\r\n');
  });
});

describe('transaction propagation', () => {
  let server: Server;
  let port: number;
  const fed: string[] = [];
  const aofFed: string[] = [];
  before(async () => {
    port = await freePort();
    const clock = new SystemClock();
    const logger = new Logger(() => clock.now());
    logger.level = 'warning';
    const config = new ConfigRegistry(DIRECTIVES);
    config.set('port', [String(port)], 'args');
    config.set('bind', ['127.0.0.1'], 'args');
    server = new Server({ clock, config, commands: new CommandTable(allCommandHandlers()), logger });
    installModules(server);
    await server.listen();
    const replica: PropagationTarget = { feed: (db, argv) => fed.push(`${db}:${argv.join(' ')}`) };
    const aof: PropagationTarget = { kind: 'aof', feed: (db, argv) => aofFed.push(`${db}:${argv.join(' ')}`) };
    server.propagator.addTarget(replica);
    server.propagator.addTarget(aof);
  });
  after(async () => {
    await server.shutdown({ save: false, now: true, force: true, signal: true });
  });

  const exchange = async (cmds: string[][]): Promise<{ repl: string[]; aof: string[] }> => {
    fed.length = 0;
    aofFed.length = 0;
    await runRaw(port, cmds);
    return { repl: [...fed], aof: [...aofFed] };
  };

  it('a single write propagates bare, several are wrapped in MULTI/EXEC', async () => {
    assert.deepEqual((await exchange([['MULTI'], ['SET', 'a', '1'], ['GET', 'a'], ['EXEC']])).repl, ['0:SET a 1']);
    assert.deepEqual((await exchange([['MULTI'], ['SET', 'a', '1'], ['SELECT', '2'], ['SET', 'b', '2'], ['EXEC']])).repl, [
      '0:MULTI',
      '0:SET a 1',
      '2:SET b 2',
      '2:EXEC',
    ]);
  });

  it('empty, read-only and no-op transactions propagate nothing', async () => {
    assert.deepEqual((await exchange([['MULTI'], ['EXEC']])).repl, []);
    assert.deepEqual((await exchange([['MULTI'], ['GET', 'a'], ['EXEC']])).repl, []);
    assert.deepEqual((await exchange([['MULTI'], ['DEL', 'nokey'], ['EXEC']])).repl, []);
    assert.deepEqual((await exchange([['MULTI'], ['SET', 'x', '1'], ['EXEC']]).then(() => exchange([['MULTI'], ['SET', 'x', '1'], ['NOSUCH'], ['EXEC']]))).repl, []);
  });

  it('PUBLISH reaches replicas but not the AOF, inside MULTI too', async () => {
    const plain = await exchange([['PUBLISH', 'ch', 'hello']]);
    assert.deepEqual(plain.repl, ['0:PUBLISH ch hello']);
    assert.deepEqual(plain.aof, []);
    const tx = await exchange([['MULTI'], ['PUBLISH', 'ch', 'm'], ['SET', 'p', '1'], ['EXEC']]);
    assert.deepEqual(tx.repl, ['0:MULTI', '0:PUBLISH ch m', '0:SET p 1', '0:EXEC']);
    assert.deepEqual(tx.aof, ['0:SET p 1']);
  });
});
