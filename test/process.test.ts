/**
 * nodis-server as a process: command line, config from stdin and include, fatal config errors,
 * daemonize + pidfile, unix sockets, maxclients, idle timeout, maxmemory OOM, busy ports,
 * signals — compared with what redis-server does.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startServer, stopAll, freePort, rawExchange, NODIS_SERVER } from './helpers/server.js';
import { heapFlags, semiSpaceMb } from '../src/server/heap.js';

after(stopAll);

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-proc-'));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function cli(args: string[]): string {
  return spawnSync('/usr/bin/redis-cli', args, { encoding: 'utf8' }).stdout.trim();
}

async function waitFor(check: () => boolean, timeoutMs = 10000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('--version and an unknown directive fail like redis-server', () => {
  const v = spawnSync(NODIS_SERVER, ['--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^nodis-server v=\d+\.\d+\.\d+ \(Redis 7\.0\.15 compatible\) sha=\S+ malloc=\S+ bits=64 build=[0-9a-f]+\n$/);
  const dir = tmpDir();
  const conf = path.join(dir, 'bad.conf');
  fs.writeFileSync(conf, 'port 0\nfoo bar\n');
  const r = spawnSync(NODIS_SERVER, [conf], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'foo bar'\nBad directive or wrong number of arguments\n");
  const m = spawnSync(NODIS_SERVER, ['--port', '0', '--maxmemory', '10xb'], { encoding: 'utf8' });
  assert.equal(m.status, 1);
  assert.match(m.stderr, />>> 'maxmemory "10xb"'\nargument must be a memory value\n$/);
  const missing = spawnSync(NODIS_SERVER, [path.join(dir, 'none.conf')], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, /# Fatal error, can't open config file '.*none\.conf': No such file or directory/);
});

test('a busy port: "Failed listening on port", exit 1', async () => {
  const blocker = net.createServer();
  const port = await freePort();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  try {
    const r = spawnSync(NODIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', ''], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 1);
    assert.match(r.stdout, new RegExp(`Could not create server TCP listening socket 127\\.0\\.0\\.1:${port}: bind: Address already in use`));
    assert.match(r.stdout, new RegExp(`Failed listening on port ${port} \\(TCP\\), aborting\\.`));
  } finally {
    blocker.close();
  }
});

test('config from stdin, include and rename-command', async () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'inc.conf'), 'maxmemory 5mb\nrename-command flushall ""\nrename-command dbsize mysize\n');
  const port = await freePort();
  const proc = spawn(NODIS_SERVER, ['-', '--port', String(port), '--save', ''], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  after(() => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stdin.end(`include ${path.join(dir, 'inc.conf')}\nhz 20\n`);
  await waitFor(() => out.includes('Ready to accept connections'));
  assert.match(out, /# Reading config from stdin/);
  assert.equal(cli(['-p', String(port), 'config', 'get', 'maxmemory']), 'maxmemory\n5242880');
  assert.equal(cli(['-p', String(port), 'config', 'get', 'hz']), 'hz\n20');
  assert.match(cli(['-p', String(port), 'flushall']), /unknown command 'flushall'/);
  assert.equal(cli(['-p', String(port), 'mysize']), '0');
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  assert.match(out, /signal-handler \(\d+\) Received SIGTERM scheduling shutdown\.\.\./);
  assert.match(out, /# User requested shutdown\.\.\./);
  assert.match(out, /# nodis is now ready to exit, bye bye\.\.\./);
  assert.equal(proc.exitCode, 0);
});

test('daemonize: the parent returns, the pidfile holds the daemon PID, SHUTDOWN removes it', async () => {
  const dir = tmpDir();
  const port = await freePort();
  const pidfile = path.join(dir, 'nodis.pid');
  const logfile = path.join(dir, 'nodis.log');
  const r = spawnSync(NODIS_SERVER, ['--port', String(port), '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', logfile, '--save', '', '--dir', dir], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 0);
  await waitFor(() => fs.existsSync(logfile) && fs.readFileSync(logfile, 'utf8').includes('Ready to accept connections'));
  const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
  after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  assert.ok(pid > 0);
  assert.match(fs.readFileSync(logfile, 'utf8'), new RegExp(`pid=${pid}, just started`));
  assert.equal(cli(['-p', String(port), 'config', 'get', 'daemonize']), 'daemonize\nyes');
  cli(['-p', String(port), 'shutdown']);
  await waitFor(() => !fs.existsSync(pidfile));
  await waitFor(() => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
});

test('port 0 with a unix socket and unixsocketperm, used by redis-cli -s', async () => {
  const dir = tmpDir();
  const sock = path.join(dir, 'nodis.sock');
  const s = await startServer({ args: ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700'] });
  assert.equal((fs.statSync(sock).mode & 0o777).toString(8), '700');
  assert.equal(cli(['-s', sock, 'set', 'k', 'v']), 'OK');
  assert.equal(cli(['-s', sock, 'get', 'k']), 'v');
  assert.equal(cli(['-s', sock, 'config', 'get', 'unixsocketperm']), 'unixsocketperm\n700');
  assert.equal(cli(['-s', sock, 'config', 'get', 'port']), 'port\n0');
  await s.stop();
  assert.equal(fs.existsSync(sock), false);
});

test('maxclients refuses the extra connection with -ERR max number of clients reached', async () => {
  const s = await startServer({ args: ['--maxclients', '1'] });
  const first = s.client();
  assert.equal(await first.ping(), 'PONG');
  const reply = await rawExchange(s.port, 'PING\r\n', (r) => r.includes('\r\n'));
  assert.equal(reply, '-ERR max number of clients reached\r\n');
});

test('timeout closes idle clients from the cron', async () => {
  const s = await startServer({ args: ['--timeout', '1', '--hz', '100'] });
  const sock = net.connect(s.port, '127.0.0.1');
  const closed = new Promise<number>((r) => {
    const start = Date.now();
    sock.on('close', () => r(Date.now() - start));
  });
  sock.on('error', () => {});
  const elapsed = await closed;
  assert.ok(elapsed >= 900, `closed after ${elapsed} ms`);
});

test('maxmemory with noeviction answers OOM once data fills it', async () => {
  const s = await startServer();
  const c = s.client();
  const used = Number(/used_memory:(\d+)/.exec((await c.call('info', 'memory')) as string)?.[1] ?? '0');
  assert.ok(used > 0);
  assert.equal(await c.call('config', 'set', 'maxmemory', String(used + 4 * 1024 * 1024)), 'OK');
  const big = 'x'.repeat(64 * 1024);
  let oom: Error | null = null;
  for (let i = 0; i < 2000 && oom === null; i++) {
    try {
      await c.call('set', `key:${i}`, big);
    } catch (e) {
      oom = e as Error;
    }
  }
  assert.ok(oom !== null, 'a write was refused');
  assert.equal(oom.message, "OOM command not allowed when used memory > 'maxmemory'.");
  // Reads still work, and raising the limit lets writes through again.
  assert.equal(await c.call('get', 'key:0'), big);
  assert.equal(await c.call('config', 'set', 'maxmemory', '0'), 'OK');
  assert.equal(await c.call('set', 'after', '1'), 'OK');
});

test('the heap nodis-server needs follows maxmemory (docs/OPERATIONS.md)', () => {
  const machine = { machineMb: 16000, heapOverride: undefined };
  assert.deepEqual(heapFlags(['--maxmemory', '1gb'], machine), ['--max-old-space-size=2304', '--max-semi-space-size=16']);
  assert.deepEqual(heapFlags(['--maxmemory', '10mb'], machine), ['--max-old-space-size=512', '--max-semi-space-size=4']);
  assert.deepEqual(heapFlags(['--port', '0'], machine), ['--max-old-space-size=16000', '--max-semi-space-size=4']);
  // The config file's last maxmemory line, then a later option, as in Redis.
  const conf = (f: string): string => (f === 'x.conf' ? 'maxmemory 100mb\nmaxmemory 64mb\n' : '');
  assert.deepEqual(heapFlags(['x.conf'], { ...machine, readFile: conf }), ['--max-old-space-size=512', '--max-semi-space-size=8']);
  assert.deepEqual(heapFlags(['x.conf', '--maxmemory', '4gb'], { ...machine, readFile: conf }), ['--max-old-space-size=8448', '--max-semi-space-size=16']);
  assert.deepEqual(heapFlags(['--maxmemory', '4gb'], { ...machine, machineMb: 6000 }), ['--max-old-space-size=6000', '--max-semi-space-size=16']);
  assert.deepEqual(heapFlags([], { machineMb: 16000, heapOverride: '300' }), ['--max-old-space-size=300', '--max-semi-space-size=4']);
  // Semi-spaces: 4 MB without maxmemory; with one, an eighth of it within 4–16 MB.
  assert.deepEqual([null, 10, 32, 64, 100, 128, 1024].map(semiSpaceMb), [4, 4, 4, 8, 12, 16, 16]);
});

/**
 * The young generation's size (MB, both semi-spaces) in a node started with `nodeArgs` after
 * `capYoungGeneration(semiMb)` (null: not called), once 400,000 new objects that all survive
 * have been made, 10,000 per turn of the event loop (a load's shape).
 */
function youngGenerationAfterLoad(nodeArgs: string[], semiMb: number | null, env: NodeJS.ProcessEnv = {}): number {
  const heapModule = new URL('../src/server/heap.js', import.meta.url).href;
  const script = `
    const v8 = require('node:v8');
    import(${JSON.stringify(heapModule)}).then(async ({ capYoungGeneration }) => {
      if (${semiMb !== null}) capYoungGeneration(${semiMb});
      const kept = new Map();
      for (let i = 0; i < 400000; i++) {
        kept.set('key:' + i, { value: 'val:' + i });
        if (i % 10000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      process.stdout.write(String(young.space_size / 1048576) + ' ' + kept.size);
    });`;
  const r = spawnSync(process.execPath, [...nodeArgs, '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', NODIS_HEAP_MB: '', ...env } });
  assert.equal(r.status, 0, r.stderr);
  const [mb, kept] = r.stdout.split(' ').map(Number);
  assert.equal(kept, 400000);
  return mb!;
}

test('the server holds the young generation at its semi-space size when node was not given one (heap.ts)', () => {
  // Without the cap V8 grows the semi-spaces to its default maximum (16 MB each) under a load.
  assert.ok(youngGenerationAfterLoad([], null) >= 16);
  const four = youngGenerationAfterLoad([], 4);
  assert.ok(four > 4 && four <= 8, `capped at 4 MB semi-spaces: ${four} MB`);
  assert.ok(youngGenerationAfterLoad([], 1) <= 2);
  // A size given to node, and NODIS_HEAP_MB=node (Node's own limits), are left alone.
  const given = youngGenerationAfterLoad(['--max-semi-space-size=2'], 4);
  assert.ok(given <= 4, `--max-semi-space-size=2: ${given} MB`);
  assert.ok(youngGenerationAfterLoad([], 4, { NODIS_HEAP_MB: 'node' }) >= 16);
});

test('the young generation grows back to its semi-space size after V8 shrinks it in an idle spell (heap.ts)', () => {
  // A load takes the semi-spaces to 4 MB; after 10 idle seconds V8's allocation rate is low and
  // a collection shrinks them to 1 MB; another load must take them back to 4 MB (with the growth
  // factor left at 1 they stayed at 1 MB: 3–4× the scavenges per request from then on).
  const heapModule = new URL('../src/server/heap.js', import.meta.url).href;
  const script = `
    const v8 = require('node:v8');
    const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    import(${JSON.stringify(heapModule)}).then(async ({ capYoungGeneration }) => {
      capYoungGeneration(4);
      const kept = new Map();
      const load = async (from, sizes) => {
        for (let i = from; i < from + 400000; i++) {
          kept.set('key:' + i, { value: 'val:' + i });
          if (i % 1000 === 0) sizes?.add(young());
          if (i % 10000 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await load(0);
      const loaded = young();
      await new Promise((resolve) => setTimeout(resolve, 10000));
      global.gc();
      let smallest = young();
      let garbage = [];
      for (let i = 0; i < 300000; i++) {
        garbage.push({ x: 'g' + i });
        if (garbage.length > 1000) garbage = [];
      }
      smallest = Math.min(smallest, young());
      const sizes = new Set();
      await load(400000, sizes);
      process.stdout.write(loaded + ' ' + smallest + ' ' + young() + ' ' + [...sizes].join(','));
    });`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '', NODIS_HEAP_MB: '' } });
  assert.equal(r.status, 0, r.stderr);
  const [loadedText, smallestText, reloadedText, seen] = r.stdout.split(' ');
  const [loaded, smallest, reloaded] = [loadedText, smallestText, reloadedText].map(Number);
  assert.equal(loaded, 8, r.stdout);
  assert.ok(smallest! < 8, `V8 shrank the young generation while idle: ${r.stdout}`);
  // Back to at least the 4 MB semi-spaces. V8 can take them one step past (seen under load: from
  // 1.25 MB × 4 to 5 MB, or a second growth before the observer's callback set the factor back
  // to 1), which costs memory, not scavenges; what the fix guards is that they do not stay small.
  assert.ok(reloaded >= 8 && reloaded <= 16, `grown back to 4 MB semi-spaces: ${r.stdout}`);
  // In one growth: never at the 2 MB semi-spaces (4) between V8's 1 MB and the 4 MB kept,
  // before the 4 MB semi-spaces are first reached. (The idle size may be below 1 MB semi-spaces,
  // seen as 1 in CI, so the first size seen can be 2. Later in the load V8 may shrink and grow
  // again, seen under load as 2, 8, 4, 16: a collection's choice, not the growth the fix guards.)
  const sizesSeen = seen!.split(',').map(Number);
  const reached = sizesSeen.findIndex((mb) => mb >= 8);
  assert.ok(reached >= 0 && !sizesSeen.slice(0, reached).includes(4), `sizes seen while loading again (MB): ${seen}`);
});

/** The young generation's committed size (MB) of a bin/nodis-server started with `args` after 300,000 SETs. */
async function serverYoungGenerationAfterLoad(args: string[]): Promise<number> {
  // A probe loaded into the server's node writes the young generation's committed size to a file.
  const dir = tmpDir();
  const probe = path.join(dir, 'probe.cjs');
  const report = path.join(dir, 'young');
  fs.writeFileSync(probe, `const v8 = require('node:v8'); const fs = require('node:fs');
    setInterval(() => fs.writeFileSync(${JSON.stringify(report)}, String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)), 50).unref();`);
  const s = await startServer({ args, env: { NODE_OPTIONS: `--require ${probe}` } });
  const c = s.client();
  try {
    for (let batch = 0; batch < 30; batch++) {
      const p = c.pipeline();
      for (let i = 0; i < 10000; i++) p.set(`key:${batch}:${i}`, `value:${i}`);
      await p.exec();
    }
    assert.equal(await c.dbsize(), 300000);
    const loaded = Date.now();
    await waitFor(() => fs.statSync(report).mtimeMs > loaded);
    return Number(fs.readFileSync(report, 'utf8')) / 1048576;
  } finally {
    await s.stop();
  }
}

test("bin/nodis-server's young generation stays at 4 MB semi-spaces under a load of 300,000 keys", async () => {
  const young = await serverYoungGenerationAfterLoad([]);
  assert.ok(young > 0 && young <= 8, `young generation ${young} MB`);
});

test("with maxmemory, bin/nodis-server's semi-spaces are an eighth of it (64mb: 8 MB)", async () => {
  const young = await serverYoungGenerationAfterLoad(['--maxmemory', '64mb']);
  assert.ok(young > 8 && young <= 16, `young generation ${young} MB`);
});

/** Starts bin/nodis-server with a pidfile; resolves with the launcher's PID and the pidfile's. */
async function launch(args: string[]): Promise<{ launcher: number; server: number; stop: () => Promise<void> }> {
  const dir = tmpDir();
  const pidfile = path.join(dir, 'nodis.pid');
  const proc = spawn(NODIS_SERVER, ['--port', String(await freePort()), '--save', '', '--dir', dir, '--pidfile', pidfile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => proc.once('exit', r));
  await waitFor(() => out.includes('Ready to accept connections'));
  return {
    launcher: proc.pid!,
    server: Number(fs.readFileSync(pidfile, 'utf8')),
    stop: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

test('bin/nodis-server keeps the PID the server\'s, or runs a linked child when maxmemory needs a larger heap', async () => {
  const plain = await launch([]);
  assert.equal(plain.server, plain.launcher);
  await plain.stop();
  // A small maxmemory runs in the launcher's process: the server holds its young generation
  // at its semi-spaces itself (heap.ts capYoungGeneration).
  const small = await launch(['--maxmemory', '10mb']);
  assert.equal(small.server, small.launcher);
  await small.stop();
  // On a Node without process.execve, a heap larger than Node's default needs a child.
  const large = await launch(['--maxmemory', '20gb']);
  if ('execve' in process) {
    assert.equal(large.server, large.launcher);
  } else {
    assert.notEqual(large.server, large.launcher);
    assert.match(fs.readFileSync(`/proc/${large.server}/cmdline`, 'latin1'), /--max-old-space-size=\d+\0--max-semi-space-size=16\0/);
    // The child dies with its launcher, even when the launcher is killed outright.
    process.kill(large.launcher, 'SIGKILL');
    await waitFor(() => {
      try {
        process.kill(large.server, 0);
        return false;
      } catch {
        return true;
      }
    });
  }
  await large.stop();
});

test("the logo's ' PID: <pid>' line, Redis's test suite's readiness signal, comes after the port accepts", async () => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-ready-'));
  const proc = spawn(NODIS_SERVER, ['--port', String(port), '--dir', dir, '--save', '', '--always-show-logo', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (out.includes(` PID: ${proc.pid}`)) resolve();
      });
      proc.once('exit', () => reject(new Error(`exited before the PID line:\n${out}`)));
    });
    // The moment the line is there (what tests/support/server.tcl waits for), a connection works.
    const reply = await rawExchange(port, 'PING\r\n', (g) => g.endsWith('\r\n'));
    assert.equal(reply, '+PONG\r\n');
  } finally {
    proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
