/**
 * SIGTERM/SIGINT as Redis handles them: the signal schedules a shutdown that serverCron starts
 * (so DEBUG PAUSE-CRON holds it and SHUTDOWN ABORT cancels it), the final save runs in slices
 * so a second SIGINT still exits at once and removes the save's temp-<pid>.rdb.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopAll } from './helpers/server.js';
import { waitFor } from './helpers/conditions.js';

describe('shutdown on signals', () => {
  after(stopAll);

  it('SHUTDOWN ABORT cancels a SIGTERM that serverCron has not acted on', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    await c.call('DEBUG', 'PAUSE-CRON', '1');
    n.proc.kill('SIGTERM');
    await n.waitForLog('Received SIGTERM scheduling shutdown...');
    assert.equal(await c.call('SHUTDOWN', 'ABORT'), 'OK');
    await n.waitForLog('Shutdown manually aborted.');
    await assert.rejects(c.call('SHUTDOWN', 'ABORT'), /No shutdown in progress/);
    await c.call('DEBUG', 'PAUSE-CRON', '0');
    // Ten cron ticks later the server still runs: the scheduled shutdown is gone.
    const ticks = Number(/uptime_in_seconds:(\d+)/.exec(await c.info('server'))![1]);
    await waitFor('a few cron ticks', async () => Number(/uptime_in_seconds:(\d+)/.exec(await c.info('server'))![1]) > ticks);
    assert.equal(await c.ping(), 'PONG');
    assert.equal(n.proc.exitCode, null);
  });

  it('SIGTERM while loading (serverCron does not run then) shuts down at once, saving nothing', async () => {
    const master = await startServer({ args: ['--enable-debug-command', 'yes'] });
    await master.client().call('DEBUG', 'POPULATE', '2000');
    const replica = await startServer({ args: ['--save', '3600 1', '--key-load-delay', '100000'] });
    const r = replica.client();
    await r.call('REPLICAOF', '127.0.0.1', String(master.port));
    await waitFor('the replica to load', async () => /^loading:1/m.test(await r.info('persistence')));
    const exited = new Promise<number | null>((resolve) => replica.proc.once('exit', (code) => resolve(code)));
    replica.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(replica.output(), /Received shutdown signal during loading, scheduling shutdown\./);
    assert.doesNotMatch(replica.output(), /Saving the final RDB snapshot/);
  });

  it('a second SIGINT during the final save exits at once and removes temp-<pid>.rdb', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes', '--save', '3600 1'] });
    const c = n.client();
    for (let i = 0; i < 20; i++) await c.set(`k${i}`, String(i));
    await c.config('SET', 'rdb-key-save-delay', '100000');
    const temp = path.join(n.dir, `temp-${n.proc.pid}.rdb`);
    const exited = new Promise<number | null>((resolve) => n.proc.once('exit', (code) => resolve(code)));
    n.proc.kill('SIGINT');
    await waitFor('the final save to start', async () => fs.existsSync(temp));
    // Writes wait while the final save runs (nothing acknowledged may miss the file).
    const write = c.set('late', 'x').then(() => 'answered', () => 'dropped');
    n.proc.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.equal(await write, 'dropped');
    assert.match(n.output(), /You insist\.\.\. exiting now\./);
    assert.equal(fs.existsSync(temp), false);
  });
});
