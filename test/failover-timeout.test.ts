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
import { RawConnection } from './helpers/raw-connection.js';
import { info, waitFor } from './helpers/conditions.js';
import { startInProcess } from './helpers/in-process.js';
import { ManualClock } from '../src/core/clock.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

test('FAILOVER TO … TIMEOUT 500 aborts at the next hz tick after the timeout, not at the next 1 s replication cron', async () => {
  const clock = new ManualClock();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-failover-timeout-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { server, port, r, stop } = await startInProcess(clock, { dir, 'repl-diskless-sync': 'no' });
  cleanups.push(stop);

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
