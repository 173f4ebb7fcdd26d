/**
 * The fork-child stand-in (src/persistence/child-handle.ts): while a BGSAVE, an AOF rewrite or
 * a full sync runs, the server has one child process an operator can find (`pgrep -P`), read
 * (/proc/<pid>/oom_score_adj) and kill; killing it ends the job as Redis ends a job whose
 * child died by a signal. Also oom-score-adj for the server itself (server/oom-score.ts).
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/conditions.js';
import type { Redis } from 'ioredis';

/** The server's children, as `pgrep -P` (what Redis's test suite runs) lists them. */
function children(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'latin1' }).split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z ');
  } catch {
    return false;
  }
}

function info(text: string, field: string): string {
  const m = new RegExp(`^${field}:(.*)\\r?$`, 'm').exec(text);
  assert.ok(m, `INFO has no ${field}`);
  return m[1]!;
}

async function onlyChild(n: RunningServer): Promise<number> {
  let kids: number[] = [];
  await waitFor('the job child', async () => (kids = children(n.proc.pid!)).length === 1);
  return kids[0]!;
}

function oomScore(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'latin1').trim());
}

async function slowSave(c: Redis): Promise<void> {
  await c.call('DEBUG', 'POPULATE', '200');
  await c.config('SET', 'rdb-key-save-delay', '100000');
}

describe('child handle of background jobs', () => {
  after(stopAll);

  it('BGSAVE has one child named for the job, writing temp-<child pid>.rdb; killing it fails the save', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes', '--save', '3600 1'] });
    const c = n.client();
    await slowSave(c);
    assert.deepEqual(children(n.proc.pid!), []);
    assert.equal(await c.bgsave(), 'Background saving started');
    const child = await onlyChild(n);
    assert.equal(fs.readFileSync(`/proc/${child}/cmdline`, 'latin1').split('\0')[0], 'nodis-rdb-bgsave');
    await n.waitForLog(`Background saving started by pid ${child}`);
    const temp = path.join(n.dir, `temp-${child}.rdb`);
    await waitFor('the temp file', async () => fs.existsSync(temp));
    process.kill(child, 'SIGKILL');
    await n.waitForLog('Background saving terminated by signal 9');
    const persistence = await c.info('persistence');
    assert.equal(info(persistence, 'rdb_bgsave_in_progress'), '0');
    assert.equal(info(persistence, 'rdb_last_bgsave_status'), 'err');
    assert.equal(fs.existsSync(temp), false);
    // stop-writes-on-bgsave-error with save points: writes are refused until a save succeeds.
    await assert.rejects(c.set('x', 'y'), /MISCONF/);
    await c.config('SET', 'rdb-key-save-delay', '0');
    assert.equal(await c.bgsave(), 'Background saving started');
    await n.waitForLog('Background saving terminated with success');
    await waitFor('the child to go', async () => children(n.proc.pid!).length === 0);
    assert.equal(await c.set('x', 'y'), 'OK');
    assert.ok(fs.existsSync(path.join(n.dir, 'dump.rdb')));
  });

  it('a save the server stops itself (SHUTDOWN NOSAVE) removes its temp file and its child', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    await slowSave(c);
    await c.bgsave();
    const child = await onlyChild(n);
    const temp = path.join(n.dir, `temp-${child}.rdb`);
    await waitFor('the temp file', async () => fs.existsSync(temp));
    await c.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    await new Promise<void>((resolve) => (n.proc.exitCode !== null ? resolve() : n.proc.once('exit', () => resolve())));
    assert.equal(fs.existsSync(temp), false);
    await waitFor('the child to exit', async () => !alive(child));
  });

  it('killing the AOF rewrite child fails the rewrite and removes temp-rewriteaof-bg-<pid>.aof', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes', '--appendonly', 'yes'] });
    const c = n.client();
    await slowSave(c);
    assert.equal(await c.call('BGREWRITEAOF'), 'Background append only file rewriting started');
    const child = await onlyChild(n);
    assert.equal(fs.readFileSync(`/proc/${child}/cmdline`, 'latin1').split('\0')[0], 'nodis-aof-rewrite');
    await n.waitForLog(`Background append only file rewriting started by pid ${child}`);
    process.kill(child, 'SIGKILL');
    await n.waitForLog('Background AOF rewrite terminated by signal 9');
    const persistence = await c.info('persistence');
    assert.equal(info(persistence, 'aof_rewrite_in_progress'), '0');
    assert.equal(info(persistence, 'aof_last_bgrewrite_status'), 'err');
    assert.equal(fs.existsSync(path.join(n.dir, `temp-rewriteaof-bg-${child}.aof`)), false);
  });

  it('three killed rewrites in a row limit automatic rewrites (aofRewriteLimited)', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes', '--appendonly', 'yes'] });
    const c = n.client();
    await slowSave(c);
    for (let i = 1; i <= 3; i++) {
      await c.call('BGREWRITEAOF');
      process.kill(await onlyChild(n), 'SIGKILL');
      await waitFor('the rewrite to end', async () => info(await c.info('persistence'), 'aof_rewrite_in_progress') === '0');
    }
    assert.equal(info(await c.info('persistence'), 'aof_rewrites_consecutive_failures'), '3');
    await c.config('SET', 'auto-aof-rewrite-percentage', '1', 'auto-aof-rewrite-min-size', '1kb');
    await c.set('x', 'x'.repeat(2048));
    await n.waitForLog('Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes');
    assert.equal(info(await c.info('persistence'), 'aof_rewrite_in_progress'), '0');
    assert.deepEqual(children(n.proc.pid!), []);
  });

  it('killing a full sync child drops the waiting replica; the child dies with its server', async () => {
    const master = await startServer({ args: ['--enable-debug-command', 'yes', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'] });
    const m = master.client();
    await slowSave(m);
    const replica = await startServer();
    await replica.client().call('REPLICAOF', '127.0.0.1', String(master.port));
    const child = await onlyChild(master);
    assert.equal(fs.readFileSync(`/proc/${child}/cmdline`, 'latin1').split('\0')[0], 'nodis-rdb-to-slaves');
    await master.waitForLog(`Background RDB transfer started by pid ${child}`);
    process.kill(child, 'SIGKILL');
    await master.waitForLog('Background transfer terminated by signal 9');
    await waitFor('the job to end', async () => info(await m.info('persistence'), 'rdb_bgsave_in_progress') === '0');
    // The replica retries: a new job, a new child; the master dies, so does that child.
    const next = await onlyChild(master);
    master.proc.kill('SIGKILL');
    await waitFor('the orphaned child to exit', async () => !alive(next));
  });

  it('FLUSHALL stops a full sync as Redis kills its RDB child (SIGUSR1); the replica syncs again, empty', async () => {
    const master = await startServer({ args: ['--enable-debug-command', 'yes', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'] });
    const m = master.client();
    await slowSave(m);
    const replica = await startServer({ args: ['--repl-diskless-load', 'swapdb'] });
    const r = replica.client();
    await r.call('REPLICAOF', '127.0.0.1', String(master.port));
    const child = await onlyChild(master);
    await master.waitForLog(`Background RDB transfer started by pid ${child}`);
    // FLUSHALL while the transfer is still slowed (lifting the delay first let a loaded CI
    // machine finish the transfer before FLUSHALL arrived); the next sync has no keys to delay.
    assert.equal(await m.flushall(), 'OK');
    await m.config('SET', 'rdb-key-save-delay', '0');
    await master.waitForLog('Background transfer terminated by signal 10');
    await waitFor('the next transfer', async () => (master.output().match(/Background RDB transfer started by pid/g) ?? []).length >= 2);
    await waitFor('the replica in sync', async () => info(await r.info('replication'), 'master_link_status') === 'up');
    assert.equal(await r.dbsize(), 0);
  });

  it('oom-score-adj: the server follows its class, the job child takes the background-child class', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    const pid = n.proc.pid!;
    const base = oomScore(pid);
    await c.config('SET', 'oom-score-adj-values', '10 20 30');
    assert.equal(oomScore(pid), base, 'oom-score-adj no leaves the score alone');
    await c.config('SET', 'oom-score-adj', 'yes');
    assert.equal(oomScore(pid), base + 10);
    await c.call('REPLICAOF', '127.0.0.1', '1');
    assert.equal(oomScore(pid), base + 20);
    await c.call('REPLICAOF', 'NO', 'ONE');
    assert.equal(oomScore(pid), base + 10);
    await slowSave(c);
    await c.bgsave();
    assert.equal(oomScore(await onlyChild(n)), base + 30);
    await c.config('SET', 'oom-score-adj', 'absolute');
    assert.equal(oomScore(pid), 10);
    await c.config('SET', 'oom-score-adj', 'no');
    assert.equal(oomScore(pid), base, 'turning it off restores the original score');
    assert.deepEqual(await c.config('GET', 'oom-score-adj'), ['oom-score-adj', 'no']);
  });
});
