/**
 * AOF rewrites under load, where a thread-pool round trip (open, unlink) can take long:
 *  - A failed rewrite removes its temp INCR file "in the background" as Redis's bg_unlink
 *    does: the name goes at once and only the freeing of the contents is left to a thread.
 *    nodis used to queue the whole unlink on libuv's thread pool; under load it ran after the
 *    next rewrite had created a new temp INCR of the same name and removed that one, so the
 *    next rewrite failed to rename it (ENOENT) and Redis's integration/aof-multi-part "AOF will
 *    open a temporary INCR AOF … when AOF is dynamically enabled" counted one failure too many.
 *  - A rewrite takes its snapshot when it starts, as Redis's fork does, not once its temp file
 *    is open: writes made in between went to the BASE and the new INCR both (an INCR counted
 *    twice after a reload), and total_forks lagged the start (the same Redis test read it too
 *    early, took a killed rewrite's late count for the next one's, and found no manifest).
 *
 * An in-process server, so the test can hold the thread pool busy (opens of FIFOs that no
 * one writes yet) exactly across the moments that matter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { waitFor, info } from './helpers/conditions.js';
import { startInProcess, holdThreadPool } from './helpers/in-process.js';
import { SystemClock } from '../src/core/clock.js';
import { aofOf } from '../src/persistence/aof.js';

/** Runs `body` with what it registers in `cleanups` undone after it, in reverse order. */
async function scoped(body: (cleanups: (() => Promise<void> | void)[]) => Promise<void>): Promise<void> {
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    await body(cleanups);
  } finally {
    for (const f of cleanups.reverse()) await f();
  }
}

test("a failed rewrite's temp INCR removal never removes the next rewrite's temp INCR", () =>
  scoped(async (cleanups) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-aof-temp-incr-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const { server, r, stop } = await startInProcess(new SystemClock(), {
      dir,
      'aof-use-rdb-preamble': 'yes',
      // The first rewrite takes 10 s per key: it is still running when its child is killed.
      'rdb-key-save-delay': '10000000',
    });
    cleanups.push(stop);
    const aof = aofOf(server)!;
    await r.set('before', '1');
    // AOF enabled at run time: writes go to temp-appendonly.aof.incr until a rewrite succeeds.
    assert.equal(await r.config('SET', 'appendonly', 'yes'), 'OK');
    assert.equal(aof.rewriteInProgress, true);
    assert.ok(fs.existsSync(path.join(dir, 'appendonlydir', 'temp-appendonly.aof.incr')));
    await r.config('SET', 'rdb-key-save-delay', '0');

    const release = holdThreadPool(dir);
    let released = false;
    cleanups.push(() => {
      if (!released) release();
    });
    // Kill the rewrite's child, as the Redis test does: the rewrite fails and is retried.
    const child = execFileSync('pgrep', ['-P', String(process.pid), '-f', 'nodis-aof-rewrite'], { encoding: 'latin1' }).trim();
    process.kill(Number(child), 'SIGKILL');
    await waitFor('the retried rewrite to start', async () => aof.rewrites === 2 && aof.rewriteInProgress);
    assert.equal(aof.consecutiveFailures, 1);
    await r.set('during', '2');
    // The pool runs again: whatever the failure left queued runs now, before the new rewrite's I/O.
    release();
    released = true;
    await waitFor('the retried rewrite to end', async () => !aof.rewriteInProgress);

    const p = await info(r, 'persistence');
    assert.equal(p.aof_last_bgrewrite_status, 'ok');
    const manifest = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'latin1');
    assert.equal(manifest, 'file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n');
    // The write made while the retry ran is in the INCR file it renamed into place.
    assert.match(fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'latin1'), /\$6\r\nduring\r\n/);
    assert.equal(fs.existsSync(path.join(dir, 'appendonlydir', 'temp-appendonly.aof.incr')), false);
  }));

test('a rewrite snapshots the dataset when it starts: a write made before its temp file is open is in the INCR only', () =>
  scoped(async (cleanups) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-aof-snapshot-point-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const { server, r, stop } = await startInProcess(new SystemClock(), { dir, 'enable-debug-command': 'yes' });
    cleanups.push(stop);
    const aof = aofOf(server)!;
    assert.equal(await r.config('SET', 'appendonly', 'yes'), 'OK');
    await waitFor('the first rewrite to end', async () => !aof.rewriteInProgress);
    await r.incr('counter');
    const forks = Number((await info(r, 'stats')).total_forks);
    const release = holdThreadPool(dir);
    let released = false;
    cleanups.push(() => {
      if (!released) release();
    });
    assert.equal(await r.bgrewriteaof(), 'Background append only file rewriting started');
    // Counted when it starts, as Redis counts the fork.
    assert.equal(Number((await info(r, 'stats')).total_forks), forks + 1);
    await r.incr('counter');
    release();
    released = true;
    await waitFor('the rewrite to end', async () => !aof.rewriteInProgress);
    assert.equal((await info(r, 'persistence')).aof_last_bgrewrite_status, 'ok');
    assert.equal(await r.call('DEBUG', 'LOADAOF'), 'OK');
    assert.equal(await r.get('counter'), '2');
  }));

