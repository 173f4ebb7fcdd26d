/**
 * Persistence without stalling: start-up loading (RDB and AOF) runs in slices while clients
 * connect and get -LOADING with INFO's loading fields; an AOF rewrite in AOF format
 * (aof-use-rdb-preamble no) is a copy-on-write snapshot taken while clients keep writing.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer as start, stopAll, type RunningServer, type StartOptions } from './helpers/server.js';
import type { Redis } from 'ioredis';

after(stopAll);

/** Every server here needs DEBUG (POPULATE, DIGEST, LOADAOF). */
function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  return start({ ...opts, args: ['--enable-debug-command', 'yes', ...(opts.args ?? [])] });
}

function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-loading-'));
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

async function info(c: Redis): Promise<Map<string, string>> {
  const text = (await c.call('info', 'persistence')) as string;
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 30000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a server on `dir` that loads slowly, and checks it answers -LOADING meanwhile. */
async function assertLoadsWhileServing(dir: string, args: string[], expectedKeys: number): Promise<RunningServer> {
  const s = await startServer({
    args: ['--dir', dir, '--key-load-delay', '200', '--loading-process-events-interval-bytes', '1024', ...args],
    ready: /Server initialized/,
  });
  // ioredis's ready check would otherwise hold commands back until loading ends.
  const c = s.client({ enableReadyCheck: false });
  await waitFor(async () => (await info(c)).get('loading') === '1', 'loading:1');
  const during = await info(c);
  assert.ok(Number(during.get('loading_total_bytes')) > 0, 'loading_total_bytes');
  assert.ok(during.has('loading_eta_seconds'));
  await assert.rejects(c.call('ping'), /LOADING Redis is loading the dataset in memory/);
  await assert.rejects(c.call('get', 'key:1'), /^ReplyError: LOADING/);
  await s.waitForLog('Ready to accept connections', 60000);
  assert.equal(await c.call('ping'), 'PONG');
  assert.equal(await c.call('dbsize'), expectedKeys);
  const afterLoad = await info(c);
  assert.equal(afterLoad.get('loading'), '0');
  assert.equal(afterLoad.has('loading_total_bytes'), false);
  return s;
}

describe('sliced start-up loading', () => {
  it('serves INFO and answers -LOADING while dump.rdb loads (key-load-delay)', async () => {
    const a = await startServer();
    const c = a.client();
    await c.call('debug', 'populate', '3000', 'key', '100');
    const digest = await c.call('debug', 'digest');
    await c.call('save');
    const dir = scratchDir();
    fs.copyFileSync(path.join(a.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
    await a.stop();
    const b = await assertLoadsWhileServing(dir, [], 3000);
    assert.equal(await b.client().call('debug', 'digest'), digest);
    assert.match(b.output(), /Done loading RDB, keys loaded: 3000, keys expired: 0\./);
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shuts down on SIGTERM during the load, without saving, exit status 0 (as Redis)', async () => {
    const a = await startServer();
    await a.client().call('debug', 'populate', '3000', 'key', '100');
    await a.client().call('save');
    const dir = scratchDir();
    fs.copyFileSync(path.join(a.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
    const before = fs.statSync(path.join(dir, 'dump.rdb')).mtimeMs;
    await a.stop();
    // A save point: a shutdown that saved would rewrite dump.rdb with the half-loaded dataset.
    const b = await startServer({
      args: ['--dir', dir, '--key-load-delay', '2000', '--loading-process-events-interval-bytes', '1024', '--save', '3600 1'],
      ready: /Server initialized/,
    });
    const c = b.client({ enableReadyCheck: false });
    await waitFor(async () => (await info(c)).get('loading') === '1', 'loading:1');
    const exited = new Promise<number | null>((resolve) => b.proc.once('exit', (code) => resolve(code)));
    b.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(b.output(), /signal-handler \(\d+\) Received shutdown signal during loading, scheduling shutdown\./);
    assert.match(b.output(), /nodis is now ready to exit, bye bye\.\.\./);
    assert.doesNotMatch(b.output(), /Ready to accept connections/);
    assert.equal(fs.statSync(path.join(dir, 'dump.rdb')).mtimeMs, before);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const preamble of ['yes', 'no']) {
    it(`serves clients while the AOF loads (aof-use-rdb-preamble ${preamble})`, async () => {
      const dir = scratchDir();
      const a = await startServer({ args: ['--dir', dir, '--appendonly', 'yes', '--aof-use-rdb-preamble', preamble] });
      const c = a.client();
      await c.call('debug', 'populate', '1500', 'key', '50');
      await c.call('bgrewriteaof');
      await waitFor(async () => (await info(c)).get('aof_rewrite_in_progress') === '0', 'rewrite end');
      // Commands in the INCR file after the BASE.
      for (let i = 0; i < 1500; i++) await c.call('set', `incr:${i}`, String(i));
      const digest = await c.call('debug', 'digest');
      const copy = scratchDir();
      await a.stop();
      copyDir(dir, copy);
      const b = await assertLoadsWhileServing(copy, ['--appendonly', 'yes', '--aof-use-rdb-preamble', preamble], 3000);
      assert.equal(await b.client().call('debug', 'digest'), digest);
      await b.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(copy, { recursive: true, force: true });
    });
  }
});

describe('AOF rewrite in AOF format', () => {
  it('is a point-in-time snapshot while clients write; the AOF reloads to the live dataset', async () => {
    const s = await startServer({ args: ['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no'] });
    const c = s.client();
    await c.call('debug', 'populate', '5000', 'key', '20');
    await c.rpush('list', 'a', 'b', 'c');
    await c.hset('hash', 'f', 'v');
    await c.zadd('zset', '1.5', 'm');
    await c.sadd('set', 'x', 'y');
    await c.set('ttl', 'v', 'PX', 3_600_000);
    // Slow the snapshot down (rdb-key-save-delay, µs per key) so writes land during it.
    await c.call('config', 'set', 'rdb-key-save-delay', '1000');
    await c.call('bgrewriteaof');
    assert.equal((await info(c)).get('aof_rewrite_in_progress'), '1');
    for (let i = 0; i < 5000; i += 50) {
      await c.set(`key:${i}`, 'changed');
      await c.del(`key:${i + 1}`);
      await c.set(`new:${i}`, 'born');
      await c.rpush('list', String(i));
    }
    assert.equal((await info(c)).get('aof_rewrite_in_progress'), '1', 'the writes overlapped the rewrite');
    // FLUSHDB mid-snapshot: what the snapshot still needed is written out first.
    await c.call('flushdb');
    for (let i = 0; i < 100; i++) await c.set(`after:${i}`, String(i));
    await c.call('config', 'set', 'rdb-key-save-delay', '0');
    await waitFor(async () => (await info(c)).get('aof_rewrite_in_progress') === '0', 'rewrite end');
    assert.equal((await info(c)).get('aof_last_bgrewrite_status'), 'ok');
    const aofDir = path.join(s.dir, 'appendonlydir');
    const base = fs.readdirSync(aofDir).find((f) => f.endsWith('.base.aof'));
    assert.ok(base !== undefined);
    const head = fs.readFileSync(path.join(aofDir, base)).subarray(0, 14).toString('latin1');
    assert.equal(head, '*2\r\n$6\r\nSELECT');
    const digest = await c.call('debug', 'digest');
    await c.call('debug', 'loadaof');
    assert.equal(await c.call('debug', 'digest'), digest);
    assert.equal(await c.call('dbsize'), 100);
  });

  it('keeps every key when the rewrite overlaps writes to keys not yet written', async () => {
    const s = await startServer({ args: ['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no'] });
    const c = s.client();
    await c.call('debug', 'populate', '4000', 'key', '20');
    await c.call('config', 'set', 'rdb-key-save-delay', '100');
    await c.call('bgrewriteaof');
    for (let i = 3999; i >= 0; i -= 7) {
      await c.set(`key:${i}`, `v${i}`);
      if (i % 3 === 0) await c.del(`key:${i}`);
    }
    await c.call('config', 'set', 'rdb-key-save-delay', '0');
    await waitFor(async () => (await info(c)).get('aof_rewrite_in_progress') === '0', 'rewrite end');
    const digest = await c.call('debug', 'digest');
    await c.call('debug', 'loadaof');
    assert.equal(await c.call('debug', 'digest'), digest);
  });
});
