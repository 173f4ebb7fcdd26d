/**
 * FAILOVER ... TIMEOUT is checked as often as Redis checks it (updateFailoverStatus in
 * beforeSleep: at least once per hz tick), not only in the once-a-second replication cron.
 * Redis's integration/failover "failover with timeout aborts if replica never catches up" gives
 * a TIMEOUT 500 failover 1 s to end; checked once a second, nodis could take 1.5 s, and under
 * load the unit lost that test.
 *
 * An in-process server on a manual clock, with a fake replica (a raw connection that PSYNCs and
 * never ACKs), so time moves only when the test moves it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './helpers/server.js';
import { RawConnection } from './helpers/raw-connection.js';
import { info, waitFor } from './helpers/conditions.js';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { ManualClock, Random } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

test('FAILOVER TO … TIMEOUT 500 aborts at the next hz tick after the timeout, not at the next 1 s replication cron', async () => {
  const port = await freePort();
  const clock = new ManualClock();
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-failover-timeout-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [k, v] of [
    ['port', String(port)],
    ['bind', '127.0.0.1'],
    ['save', ''],
    ['dir', dir],
    ['loglevel', 'warning'],
    ['repl-diskless-sync', 'no'],
  ] as const) {
    config.set(k, [v], 'args');
  }
  const server = new Server({ clock, random: new Random(1), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  await server.listen();
  cleanups.push(async () => {
    await server.shutdown({ save: false, now: true, force: true, signal: true });
  });
  const r = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
  cleanups.push(() => r.disconnect());

  // The fake replica: announces port 7777, full-syncs, and never acknowledges anything.
  const replica = new RawConnection(port);
  cleanups.push(() => replica.close());
  replica.command('REPLCONF', 'listening-port', '7777');
  await replica.until((got) => got === '+OK\r\n');
  replica.command('REPLCONF', 'capa', 'eof', 'capa', 'psync2');
  await replica.until((got) => got === '+OK\r\n+OK\r\n');
  replica.command('PSYNC', '?', '-1');
  await replica.until((got) => /\+FULLRESYNC \w{40} \d+\r\n/.test(got));
  await waitFor(
    'the fake replica to be online',
    async () => {
      // A disk-based sync may wait on the clock's timers; nudge it without crossing a second.
      clock.advance(1);
      return /state=online/.test((await info(r, 'replication')).slave0 ?? '');
    },
    20000,
  );

  // The once-a-second replication cron runs now, so it does not run again in what follows.
  clock.advance(1000);
  server.cron();

  await r.set('CASE', '1');
  assert.equal(await r.call('FAILOVER', 'TO', '127.0.0.1', '7777', 'TIMEOUT', '500'), 'OK');
  assert.equal((await info(r, 'replication')).master_failover_state, 'waiting-for-sync');
  clock.advance(499);
  server.cron();
  assert.equal((await info(r, 'replication')).master_failover_state, 'waiting-for-sync');
  // One hz tick after the timeout is enough, as in Redis.
  clock.advance(100);
  server.cron();
  const ri = await info(r, 'replication');
  assert.equal(ri.master_failover_state, 'no-failover');
  assert.equal(ri.role, 'master');
  // Writes are no longer paused.
  assert.equal(await r.set('after', '1'), 'OK');
});
