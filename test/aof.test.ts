/**
 * The append-only file: durability of acknowledged writes across kill -9 (appendfsync always),
 * loading (truncated tails, MULTI blocks, unknown format), BGREWRITEAOF and the multi-part
 * manifest, turning AOF on at runtime, and the manifest codec. Files are checked with the real
 * redis-check-aof.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { parseManifest, AofManifest, ManifestError, splitArgs } from '../src/persistence/manifest.js';

after(stopAll);

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-aof-'));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function resp(...argv: string[]): string {
  return `*${argv.length}\r\n` + argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

function checkAof(dir: string): { ok: boolean; out: string } {
  const r = spawnSync('/usr/bin/redis-check-aof', [path.join(dir, 'appendonlydir', 'appendonly.aof.manifest')], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

/** Writes an AOF dir holding one INCR file with `body`. */
function writeAofDir(dir: string, body: string): void {
  const d = path.join(dir, 'appendonlydir');
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'appendonly.aof.1.incr.aof'), body, 'latin1');
  fs.writeFileSync(path.join(d, 'appendonly.aof.manifest'), 'file appendonly.aof.1.incr.aof seq 1 type i\n');
}

function aofServer(dir: string, extra: string[] = []): Promise<RunningServer> {
  return startServer({ args: ['--dir', dir, '--appendonly', 'yes', '--auto-aof-rewrite-percentage', '0', ...extra] });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGKILLs `s` while `writers` run, stops them, and waits until the process is gone. */
async function killDuringWrites(s: RunningServer, writers: Promise<void>[], stopWriters: () => void): Promise<void> {
  s.proc.kill('SIGKILL');
  stopWriters();
  await Promise.all(writers);
  // Killed by a signal, the process has a signalCode and no exitCode; it may be gone already.
  await new Promise((r) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) r(null);
    else s.proc.once('exit', r);
  });
}

test('appendfsync always: every acknowledged INCR survives kill -9', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir, ['--appendfsync', 'always']);
  const c = s.client();
  let acked = 0;
  let sent = 0;
  let stop = false;
  // Four writers in flight at once, so the kill lands while replies are pending.
  const writer = async (): Promise<void> => {
    while (!stop) {
      sent++;
      try {
        await c.incr('counter');
        acked++;
      } catch {
        return;
      }
    }
  };
  const writers = [writer(), writer(), writer(), writer()];
  // Each acknowledged INCR waited for an fdatasync: on a busy disk a few hundred a second, so
  // the bar is modest and the wait generous.
  await waitFor(async () => acked >= 500, 120_000);
  await killDuringWrites(s, writers, () => {
    stop = true;
  });
  const ackedAtKill = acked;
  const s2 = await aofServer(dir);
  const value = Number(await s2.client().get('counter'));
  assert.ok(value >= ackedAtKill, `lost acknowledged writes: ${value} < ${ackedAtKill}`);
  assert.ok(value <= sent, `more increments than sent: ${value} > ${sent}`);
  await s2.stop();
  assert.ok(checkAof(dir).ok, checkAof(dir).out);
});

test('appendfsync always, eight clients at once (group commit): every acknowledged INCR survives kill -9', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir, ['--appendfsync', 'always']);
  // Separate connections, so that one loop turn holds several clients' writes: their fdatasync
  // runs in the thread pool while the next turn's commands run (persistence/aof.ts).
  const clients = Array.from({ length: 8 }, () => s.client());
  const acked = new Map<string, number>();
  let sent = 0;
  let stop = false;
  const writer = async (c: (typeof clients)[number], key: string): Promise<void> => {
    acked.set(key, 0);
    while (!stop) {
      sent++;
      try {
        await c.incr(key);
        acked.set(key, acked.get(key)! + 1);
      } catch {
        return;
      }
    }
  };
  // Half the clients share one counter, half have their own: both kinds of order are checked.
  const writers = clients.map((c, i) => writer(c, i < 4 ? `own:${i}` : 'shared'));
  const total = (): number => [...acked.values()].reduce((a, b) => a + b, 0);
  await waitFor(async () => total() >= 800, 120_000);
  await killDuringWrites(s, writers, () => {
    stop = true;
  });
  const s2 = await aofServer(dir);
  const c2 = s2.client();
  let onDisk = 0;
  for (const [key, n] of acked) {
    const value = Number(await c2.get(key));
    assert.ok(value >= n, `lost acknowledged writes on ${key}: ${value} < ${n}`);
    onDisk += value;
  }
  assert.ok(onDisk <= sent, `more increments than sent: ${onDisk} > ${sent}`);
  await s2.stop();
  assert.ok(checkAof(dir).ok, checkAof(dir).out);
});

test('restart loads data written across databases and types', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir);
  const c = s.client();
  await c.set('s', 'v\r\nbinary\x00');
  await c.rpush('l', 'a', 'b', 'c');
  await c.hset('h', 'f1', '1', 'f2', '2');
  await c.zadd('z', '1.5', 'm1', '2', 'm2');
  await c.sadd('set', 'x', 'y');
  await c.pexpire('s', 1_000_000);
  await c.select(5);
  await c.set('in5', 'yes');
  await s.stop();
  const s2 = await aofServer(dir);
  const c2 = s2.client();
  assert.equal(await c2.get('s'), 'v\r\nbinary\x00');
  assert.ok((await c2.pttl('s')) > 900_000);
  assert.deepEqual(await c2.lrange('l', 0, -1), ['a', 'b', 'c']);
  assert.deepEqual(await c2.hgetall('h'), { f1: '1', f2: '2' });
  assert.deepEqual(await c2.zrange('z', 0, -1, 'WITHSCORES'), ['m1', '1.5', 'm2', '2']);
  assert.equal(await c2.scard('set'), 2);
  await c2.select(5);
  assert.equal(await c2.get('in5'), 'yes');
  await s2.stop();
});

test('BGREWRITEAOF (AOF-format base) starts a new INCR, writes a BASE and drops history', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir, ['--aof-use-rdb-preamble', 'no']);
  const c = s.client();
  for (let i = 0; i < 200; i++) await c.rpush('list', `item${i}`);
  await c.set('k', 'v');
  assert.equal(await c.bgrewriteaof(), 'Background append only file rewriting started');
  await waitFor(async () => (await c.info('persistence')).includes('aof_rewrite_in_progress:0'));
  await c.set('after', 'rewrite');
  const manifest = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'latin1');
  assert.equal(manifest, 'file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n');
  assert.deepEqual(fs.readdirSync(path.join(dir, 'appendonlydir')).sort(), [
    'appendonly.aof.2.base.aof',
    'appendonly.aof.2.incr.aof',
    'appendonly.aof.manifest',
  ]);
  const base = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.2.base.aof'), 'latin1');
  // 200 items go out as RPUSH batches of 64 (AOF_REWRITE_ITEMS_PER_CMD).
  assert.equal(base.split('RPUSH').length - 1, 4);
  assert.match(await c.info('persistence'), /aof_rewrites:1/);
  await s.stop();
  assert.ok(checkAof(dir).ok, checkAof(dir).out);
  const s2 = await aofServer(dir);
  const c2 = s2.client();
  assert.equal(await c2.llen('list'), 200);
  assert.equal(await c2.get('after'), 'rewrite');
  await s2.stop();
});

test('an AOF-format base rebuilds streams: entries, last id, groups, consumers and their pending entries', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir, ['--aof-use-rdb-preamble', 'no', '--enable-debug-command', 'yes']);
  const c = s.client();
  await c.xadd('st', '1-1', 'a', '1', 'b', '2');
  await c.xadd('st', '2-1', 'c', '3');
  await c.xadd('st', '3-1', 'd', '4');
  await c.xdel('st', '3-1');
  await c.xgroup('CREATE', 'st', 'g1', '0');
  await c.xreadgroup('GROUP', 'g1', 'alice', 'COUNT', '1', 'STREAMS', 'st', '>');
  await c.xgroup('CREATECONSUMER', 'st', 'g1', 'bob');
  await c.xgroup('CREATE', 'st', 'g0', '$');
  await c.xadd('empty', 'MAXLEN', '0', '5-5', 'x', 'y');
  const before = await c.call('DEBUG', 'DIGEST');
  // A consumer's seen-time is the moment it was created again (as after Redis's own reload).
  const info = async (key: string): Promise<string> => JSON.stringify(await c.call('XINFO', 'STREAM', key, 'FULL')).replace(/"seen-time",\d+/g, '"seen-time"');
  const fullBefore = [await info('st'), await info('empty')];
  assert.equal(await c.bgrewriteaof(), 'Background append only file rewriting started');
  await waitFor(async () => (await c.info('persistence')).includes('aof_rewrite_in_progress:0'));
  assert.match(await c.info('persistence'), /aof_last_bgrewrite_status:ok/);
  const base = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.2.base.aof'), 'latin1');
  assert.ok(base.includes(resp('XSETID', 'st', '3-1', 'ENTRIESADDED', '3', 'MAXDELETEDID', '3-1')), base);
  assert.ok(base.includes(resp('XGROUP', 'CREATECONSUMER', 'st', 'g1', 'bob')), base);
  assert.equal(await c.call('DEBUG', 'LOADAOF'), 'OK');
  assert.equal(await c.call('DEBUG', 'DIGEST'), before);
  assert.deepEqual([await info('st'), await info('empty')], fullBefore);
  await s.stop();
});

test('CONFIG SET appendonly yes rewrites the dataset into a fresh AOF; no stops it', async () => {
  const dir = tmpDir();
  const s = await startServer({ args: ['--dir', dir, '--aof-use-rdb-preamble', 'no'] });
  const c = s.client();
  await c.set('before', '1');
  assert.equal(await c.config('SET', 'appendonly', 'yes'), 'OK');
  await waitFor(async () => /aof_enabled:1[\s\S]*aof_rewrite_in_progress:0/.test(await c.info('persistence')));
  await waitFor(async () => fs.existsSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof')));
  await c.set('during', '2');
  assert.equal(await c.config('SET', 'appendonly', 'no'), 'OK');
  await c.set('notlogged', '3');
  await s.stop();
  const s2 = await aofServer(dir);
  const c2 = s2.client();
  assert.equal(await c2.get('before'), '1');
  assert.equal(await c2.get('during'), '2');
  assert.equal(await c2.get('notlogged'), null);
  await s2.stop();
});

test('truncated tail: aof-load-truncated yes truncates and loads, no refuses', async () => {
  const dir = tmpDir();
  const full = resp('incr', 'foo').repeat(3);
  writeAofDir(dir, full + resp('incr', 'foo').slice(0, -1));
  const s = await aofServer(dir, ['--aof-load-truncated', 'yes']);
  assert.equal(await s.client().get('foo'), '3');
  assert.match(s.output(), /!!! Warning: short read while loading the AOF file appendonly\.aof\.1\.incr\.aof!!!/);
  assert.equal(fs.statSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof')).size, full.length);
  await s.stop();

  writeAofDir(dir, resp('set', 'foo', 'hello') + resp('set', 'bar', 'world').slice(0, -1));
  await assert.rejects(aofServer(dir, ['--aof-load-truncated', 'no']), /Unexpected end of file reading the append only file/);
});

test('an unfinished MULTI is reverted; a bad line is a format error', async () => {
  const dir = tmpDir();
  writeAofDir(dir, resp('set', 'foo', 'hello') + resp('multi') + resp('set', 'bar', 'world'));
  const s = await aofServer(dir, ['--aof-load-truncated', 'yes']);
  const c = s.client();
  assert.equal(await c.get('foo'), 'hello');
  assert.equal(await c.get('bar'), null);
  assert.match(s.output(), /Revert incomplete MULTI\/EXEC transaction in AOF file/);
  await s.stop();

  writeAofDir(dir, resp('set', 'a', '1') + resp('multi') + resp('set', 'b', '2') + resp('exec') + resp('pexpireat', 'a', '1000') + resp('rpush', 'a2', 'x'));
  const s2 = await aofServer(dir);
  const c2 = s2.client();
  assert.equal(await c2.get('b'), '2');
  assert.equal(await c2.exists('a'), 0);
  await s2.stop();

  writeAofDir(dir, resp('set', 'foo', 'hello') + '!!!\r\n' + resp('set', 'foo', 'x'));
  await assert.rejects(aofServer(dir), /Bad file format reading the append only file/);
});

test('DEBUG LOADAOF reloads the dataset from the AOF', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir, ['--enable-debug-command', 'yes']);
  const c = s.client();
  await c.set('x', '1');
  await c.incr('x');
  assert.equal(await c.call('debug', 'loadaof'), 'OK');
  assert.equal(await c.get('x'), '2');
  await s.stop();
});

test('lazy-expiry DELs: unwrapped after SCAN/RANDOMKEY, wrapped in MULTI/EXEC after MGET', async () => {
  const dir = tmpDir();
  const s = await aofServer(dir, ['--appendfsync', 'always', '--enable-debug-command', 'yes']);
  const c = s.client();
  assert.equal(await c.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0'), 'OK');
  const serverMs = async (): Promise<number> => {
    const [sec, usec] = (await c.call('TIME')) as [string, string];
    return Number(sec) * 1000 + Number(usec) / 1000;
  };
  const expireTwo = async (a: string, b: string): Promise<void> => {
    await c.set(a, 'v', 'PX', 1);
    await c.set(b, 'v', 'PX', 1);
    const t = await serverMs();
    await waitFor(async () => (await serverMs()) > t + 2);
  };
  await expireTwo('foo1', 'foo2');
  await c.scan(0);
  await expireTwo('bar1', 'bar2');
  await c.randomkey();
  await expireTwo('baz1', 'baz2');
  await c.mget('baz1', 'baz2');
  const aof = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'latin1');
  assert.ok(aof.includes(resp('MULTI') + resp('DEL', 'baz1') + resp('DEL', 'baz2') + resp('EXEC')), aof);
  // Between the SET of foo2 (bar2) and the next SETs: two DELs, no MULTI.
  for (const [k, next] of [['foo2', 'bar1'], ['bar2', 'baz1']] as const) {
    const part = aof.slice(aof.indexOf(`${k}\r\n`), aof.indexOf(`${next}\r\n`));
    assert.equal(part.includes(resp('MULTI')), false, part);
    assert.equal(part.split('$3\r\nDEL\r\n').length - 1, 2, part);
  }
  await s.stop();
});

test('manifest: format and parse round-trip, Redis errors for bad input', () => {
  const m = new AofManifest();
  m.newBase('appendonly.aof', true);
  m.newIncr('appendonly.aof');
  m.newIncr('appendonly.aof');
  m.markRewrittenIncrAsHistory(true);
  const text = m.toString();
  assert.equal(text, 'file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n');
  const back = parseManifest(text);
  assert.equal(back.toString(), text);
  assert.equal(back.currIncrSeq, 2);
  assert.equal(parseManifest('# comment\nfile "a b" seq 1 type b\n').base?.name, 'a b');
  assert.throws(() => parseManifest('file a seq 1 type b\nfile b seq 2 type b\n'), new ManifestError('Found duplicate base file information'));
  assert.throws(() => parseManifest('file a seq 2 type i\nfile b seq 1 type i\n'), new ManifestError('Found a non-monotonic sequence number'));
  assert.throws(() => parseManifest('file a seq 1\n'), new ManifestError('Invalid AOF manifest file format'));
  assert.throws(() => parseManifest('file a/b seq 1 type b\n'), new ManifestError("File can't be a path, just a filename"));
  assert.throws(() => parseManifest('file a seq 1 type x\n'), new ManifestError('Unknown AOF file type'));
  assert.throws(() => parseManifest('file a seq 1 type b'), new ManifestError('The AOF manifest file contains too long line'));
  assert.deepEqual(splitArgs('a "b\\x41" \'c d\''), ['a', 'bA', 'c d']);
  assert.equal(splitArgs('"unterminated'), null);
});
