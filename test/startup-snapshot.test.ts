/**
 * The server's V8 start-up snapshot (src/server/startup-snapshot.ts), through the package's
 * API (dist/pkg/, what `npm i nodis` runs): the first startServer() makes the blob once it is
 * ready, later starts run from it (node's command line says so) and behave as any server —
 * their own PID, run_id and clock —, and every way it can be missing or unusable (a damaged
 * blob, an unwritable cache directory, NODIS_SNAPSHOT=0, other node options) starts the
 * ordinary way. Behaviour only; the time it saves is measured by bench/startup.mjs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type * as Api from '../src/api/index.js';

/** dist/test/ → dist/pkg/api/index.js: the bundles the package ships (built by `npm run build`). */
const PKG_API = fileURLToPath(new URL('../pkg/api/index.js', import.meta.url));
const api = (await import(pathToFileURL(PKG_API).href)) as typeof Api;

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-snap-'));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const blobs = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.blob')) : []);

/** Node's command line of a live process (Linux /proc, where CI runs). */
function cmdline(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first start, which makes the blob in `cache`; resolves once the blob is there and the server stopped. */
async function firstStart(env: NodeJS.ProcessEnv, cache: string): Promise<void> {
  const first = await api.startServer({ env });
  await waitFor('the snapshot blob', () => blobs(cache).length === 1);
  await first.stop();
}

async function info(port: number): Promise<Map<string, string>> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  const text = await c.info('server');
  c.disconnect();
  return new Map(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}

async function roundTrip(port: number, key: string): Promise<string | null> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  await c.set(key, 'v');
  const v = await c.get(key);
  c.disconnect();
  return v;
}

test('the first start makes the snapshot; later starts run from it, each its own process', async () => {
  const cache = path.join(tmpDir(), 'cache');
  const env = { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '' };
  const first = await api.startServer({ env });
  assert.ok(!cmdline(first.pid).includes('--snapshot-blob'), 'no blob yet: the first start runs start.js');
  await waitFor('the snapshot blob', () => blobs(cache).length === 1);
  await first.stop();
  const [blob] = blobs(cache);
  if (process.platform !== 'win32' && typeof process.getuid === 'function') assert.equal(fs.statSync(cache).mode & 0o777, 0o700);
  // No temporary file or lock is left once the blob is in place.
  assert.deepEqual(fs.readdirSync(cache).filter((f) => f.startsWith('server-')), [blob]);

  const a = await api.startServer({ env });
  const b = await api.startServer({ env });
  for (const s of [a, b]) {
    const args = cmdline(s.pid);
    assert.equal(args[args.indexOf('--snapshot-blob') + 1], path.join(cache, blob!), 'started from the blob');
    assert.equal(await roundTrip(s.port, 'k'), 'v');
  }
  const ia = await info(a.port);
  const ib = await info(b.port);
  // Nothing per-process was frozen into the snapshot.
  assert.equal(ia.get('process_id'), String(a.pid));
  assert.equal(ib.get('process_id'), String(b.pid));
  assert.notEqual(ia.get('run_id'), ib.get('run_id'));
  assert.equal(ia.get('tcp_port'), String(a.port));
  assert.ok(Math.abs(Number(ia.get('server_time_usec')) / 1000 - Date.now()) < 60000, 'the clock is the current time');
  // Lua (loaded on first use) works from a snapshot too.
  const c = new Redis({ port: a.port, host: '127.0.0.1' });
  assert.equal(await c.eval("return redis.call('get', KEYS[1])", 1, 'k'), 'v');
  c.disconnect();
  // restart() comes back from the blob, on the same port, with its data.
  await a.restart();
  assert.ok(cmdline(a.pid).includes('--snapshot-blob'));
  await a.stop();
  await b.stop();
  assert.deepEqual(blobs(cache), [blob], 'the blob is reused, not rebuilt');
});

/** CONFIG GET * as a map, without what differs between any two servers (their port and dir). */
async function configOf(port: number): Promise<Map<string, string>> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  const flat = (await c.call('CONFIG', 'GET', '*')) as string[];
  c.disconnect();
  const m = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  m.delete('port');
  m.delete('dir');
  return m;
}

test('the command table and configuration made into the snapshot are those of an ordinary start', async () => {
  const cache = path.join(tmpDir(), 'cache');
  const env = { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '' };
  const ordinary = await api.startServer({ env: { ...env, NODIS_SNAPSHOT: '0' }, config: { 'maxmemory-policy': 'allkeys-lru' } });
  await firstStart(env, cache);
  const snap = await api.startServer({ env, config: { 'maxmemory-policy': 'allkeys-lru' } });
  assert.ok(cmdline(snap.pid).includes('--snapshot-blob'));
  assert.ok(!cmdline(ordinary.pid).includes('--snapshot-blob'));
  const s = new Redis({ port: snap.port, host: '127.0.0.1' });
  const o = new Redis({ port: ordinary.port, host: '127.0.0.1' });
  // Nothing was counted while the snapshot was built: only ioredis's ready check (one INFO).
  assert.deepEqual(((await s.info('commandstats')) as string).match(/cmdstat_[a-z|]+:calls=\d+/g), ['cmdstat_info:calls=1']);
  assert.equal(await s.call('COMMAND', 'COUNT'), await o.call('COMMAND', 'COUNT'));
  assert.deepEqual(await s.call('COMMAND', 'INFO', 'get', 'config', 'xadd'), await o.call('COMMAND', 'INFO', 'get', 'config', 'xadd'));
  assert.deepEqual(await s.call('COMMAND', 'DOCS', 'set'), await o.call('COMMAND', 'DOCS', 'set'));
  // The snapshot's warm-up served a client of its own (main.ts warmUp): ids and counts are as
  // in any start.
  assert.equal(await s.call('CLIENT', 'ID'), await o.call('CLIENT', 'ID'));
  const stat = async (c: Redis, field: string): Promise<string | undefined> => ((await c.info('stats')) as string).match(new RegExp(`${field}:(\\d+)`))?.[1];
  assert.equal(await stat(s, 'total_connections_received'), await stat(o, 'total_connections_received'));
  // The defaults, with what this start set on top of them, and `dir` is this process's own.
  assert.deepEqual(await configOf(snap.port), await configOf(ordinary.port));
  assert.equal(((await s.call('CONFIG', 'GET', 'maxmemory-policy')) as string[])[1], 'allkeys-lru');
  assert.equal(((await s.call('CONFIG', 'GET', 'dir')) as string[])[1], fs.realpathSync(snap.dir));
  s.disconnect();
  o.disconnect();
  await snap.stop();
  await ordinary.stop();
});

test('a server started from the snapshot runs its timers (the snapshot was built with a cron of its own)', async () => {
  const cache = path.join(tmpDir(), 'cache');
  const env = { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '' };
  await firstStart(env, cache);
  // hz 1: the first timer is due a second after start, later than any the build left behind.
  const s = await api.startServer({ env, config: { hz: '1' } });
  assert.ok(cmdline(s.pid).includes('--snapshot-blob'));
  const c = new Redis({ port: s.port, host: '127.0.0.1', commandTimeout: 20000 });
  try {
    // A blocking timeout and the cron's shutdown on SIGTERM both need the server's timers.
    assert.equal(await c.blpop('nothing', 0.2), null);
  } finally {
    c.disconnect();
  }
  await s.stop();
  assert.match(s.log(), /ready to exit, bye bye/, 'SIGTERM shut it down (not the SIGKILL stop() sends 10 s later)');
});

test("a start from the snapshot reads its own environment for the request path (NODIS_SHARED_READS, NODIS_DIRECT_WRITES), not the builder's", async () => {
  const cache = path.join(tmpDir(), 'cache');
  const env = { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '', NODIS_SHARED_READS: '', NODIS_DIRECT_WRITES: '' };
  await firstStart(env, cache);
  const paths = async (extra: NodeJS.ProcessEnv): Promise<string[]> => {
    const s = await api.startServer({ env: { ...env, ...extra }, config: { loglevel: 'verbose' } });
    try {
      assert.ok(cmdline(s.pid).includes('--snapshot-blob'));
      assert.equal(await roundTrip(s.port, 'k'), 'v');
      await waitFor('the request path in the log', () => /Client writes: /.test(s.log()));
      return s.log().split('\n').filter((l) => /Client (reads|writes): /.test(l)).map((l) => l.replace(/^.* - /, ''));
    } finally {
      await s.stop();
    }
  };
  assert.deepEqual(await paths({}), ['Client reads: one shared buffer (bare connection)', 'Client writes: to the socket handle']);
  assert.deepEqual(await paths({ NODIS_SHARED_READS: '0', NODIS_DIRECT_WRITES: '0' }), ["Client reads: 'data' events", 'Client writes: socket.write (NODIS_DIRECT_WRITES=0)']);
});

test('a damaged blob: the start falls back to start.js, the blob is removed and made again', async () => {
  const cache = path.join(tmpDir(), 'cache');
  const env = { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '' };
  await firstStart(env, cache);
  const file = path.join(cache, blobs(cache)[0]!);
  fs.writeFileSync(file, Buffer.alloc(100000, 7));
  const s = await api.startServer({ env });
  assert.ok(!cmdline(s.pid).includes('--snapshot-blob'), 'started the ordinary way');
  assert.equal(await roundTrip(s.port, 'x'), 'v');
  // This server (from start.js) makes a good blob again.
  await waitFor('a new blob', () => fs.existsSync(file) && fs.statSync(file).size > 1000000);
  await s.stop();
  const again = await api.startServer({ env });
  assert.ok(cmdline(again.pid).includes('--snapshot-blob'));
  await again.stop();
});

test('an unwritable cache directory, NODIS_SNAPSHOT=0 or other node options: ordinary starts, no blob', async () => {
  const dir = tmpDir();
  // A cache directory that cannot be made (its parent is a file), whoever runs the test.
  fs.writeFileSync(path.join(dir, 'file'), '');
  const cases: NodeJS.ProcessEnv[] = [
    { NODE_COMPILE_CACHE: path.join(dir, 'file', 'cache'), NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '' },
    { NODE_COMPILE_CACHE: path.join(dir, 'off'), NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '0', NODE_OPTIONS: '' },
    { NODE_COMPILE_CACHE: path.join(dir, 'opts'), NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '', NODE_OPTIONS: '--no-deprecation' },
  ];
  for (const env of cases) {
    const s = await api.startServer({ env });
    assert.ok(!cmdline(s.pid).includes('--snapshot-blob'));
    assert.equal(await roundTrip(s.port, 'k'), 'v');
    // A blob would be built right after ready (200 ms); wait well past that.
    await new Promise((r) => setTimeout(r, 1500));
    await s.stop();
    assert.deepEqual(blobs(env.NODE_COMPILE_CACHE!), [], JSON.stringify(env));
  }
});
