// What the side-by-side benchmarks share: options, free ports, starting and stopping a
// nodis-server or redis-server in a scratch dir, redis-cli calls, memory figures, a pipelined
// key loader, medians, and writing a section of docs/PERFORMANCE.md between its markers.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `--name value` from the command line, or `dflt`. */
export function option(args, name, dflt) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `bin` on a free port with no persistence, in a fresh scratch dir, and waits for
 * "Ready to accept connections". `kind` names it in errors and the dir.
 */
export async function startServer(kind, bin, extraArgs = []) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind}-`));
  const proc = spawn(bin, ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${kind} did not start:\n${out}`)), 20000);
    const onData = (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
  });
  return { kind, port, proc, dir };
}

export async function stopServer(s) {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await exited;
  fs.rmSync(s.dir, { recursive: true, force: true });
}

/**
 * Starts a benchmark variant `{ name, cmd, pre, env? }` — a nodis build under node with its
 * flags, or redis-server — on a free port in a fresh scratch dir, with no persistence, and waits
 * for "Ready to accept connections". Its output is collected in `out` while it runs.
 */
export async function startVariant(v, serverArgs = []) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${v.name}-`));
  const proc = spawn(v.cmd, [...v.pre, '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, ...serverArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(v.env ?? {}) },
  });
  const s = { port, proc, dir, out: '' };
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${v.name} did not start:\n${s.out}`)), 20000);
    const onData = (d) => {
      s.out += d;
      if (s.out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
  });
  return s;
}

/**
 * Stops a startVariant server and removes its dir. SIGTERM lets a server run with --cpu-prof
 * write its profile (SIGKILL after 5 s if it has not exited by then).
 */
export async function stopVariant(s, signal = 'SIGKILL') {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill(signal);
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
  fs.rmSync(s.dir, { recursive: true, force: true });
}

export function cli(port, ...cmd) {
  return spawnSync('redis-cli', ['-p', String(port), ...cmd], { encoding: 'latin1' }).stdout.trim();
}

/** A server's own CPU seconds so far, all its threads (INFO used_cpu_user + used_cpu_sys). */
export function serverCpuSeconds(port) {
  const text = cli(port, 'info', 'cpu');
  const f = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return f('used_cpu_user') + f('used_cpu_sys');
}

/** used_memory after MEMORY PURGE (a full GC in nodis, so garbage is not counted as data). */
export function usedMemory(port) {
  cli(port, 'memory', 'purge');
  return Number(/used_memory:(\d+)/.exec(cli(port, 'info', 'memory'))?.[1] ?? NaN);
}

export function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The `v=` version a server binary reports with --version. */
export function serverVersion(bin) {
  return spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim().split(' ').find((w) => w.startsWith('v='))?.slice(2) ?? '?';
}

/** Loads `count` keys `key:<9 digits>` = `val:<i>` through a raw pipelined connection. */
export function loadKeys(port, count) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let acked = 0;
    let sent = 0;
    const batch = 10000;
    sock.on('error', reject);
    sock.on('data', (d) => {
      for (const b of d) if (b === 10) acked++;
      if (acked >= count) {
        sock.end();
        resolve();
      } else if (acked >= sent - batch) pump();
    });
    const pump = () => {
      let s = '';
      const end = Math.min(count, sent + batch);
      for (; sent < end; sent++) {
        const k = `key:${String(sent).padStart(9, '0')}`;
        const v = `val:${sent}`;
        s += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
      }
      if (s) sock.write(s);
    };
    sock.on('connect', () => {
      pump();
      pump();
    });
  });
}

/** Replaces (or appends) the `section` of docs/PERFORMANCE.md between its BEGIN/END markers. */
export function writeSection(section, md) {
  const file = path.join(root, 'docs/PERFORMANCE.md');
  const begin = `<!-- BEGIN ${section} -->`;
  const end = `<!-- END ${section} -->`;
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Performance\n';
  const block = `${begin}\n${md}${end}`;
  if (doc.includes(begin)) doc = doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), () => block);
  else doc += `\n## ${section}\n\n${block}\n`;
  fs.writeFileSync(file, doc);
}

/**
 * An in-process server from a build's `dist` (no sockets), with a hidden client: for the
 * dispatch and stage benchmarks. Returns { server, client, load } (load imports from dist).
 */
export async function inProcessServer(dist) {
  const { pathToFileURL } = await import('node:url');
  const load = (p) => import(pathToFileURL(path.join(dist, p)).href);
  const { ConfigRegistry } = await load('src/config/registry.js');
  const { DIRECTIVES } = await load('src/config/directives.js');
  // Builds from before the layering move (73b20ef, the pre-executor base) kept it in commands/.
  const { CommandTable } = await load('src/server/command-table.js').catch(() => load('src/commands/registry.js'));
  const { allCommandHandlers } = await load('src/commands/index.js');
  const { Logger } = await load('src/server/log.js');
  const { Server } = await load('src/server/server.js');
  const { SystemClock, Random } = await load('src/core/clock.js');
  const { installModules } = await load('src/server/modules.js');
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  config.set('save', [''], 'args');
  // The start-up tasks run as in a real server (NODIS_INPROC_STARTUP=0: not), in a directory of
  // its own with nothing to load: until the replication task has run, every write's READONLY
  // check reads `replicaof` from the config (willBeReplica), ~0.05–0.1 µs a write that a started
  // server does not pay (docs/PERFORMANCE.md, "types20").
  const startup = process.env.NODIS_INPROC_STARTUP !== '0';
  if (startup) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-inproc-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    config.set('dir', [dir], 'args');
  }
  const server = new Server({ clock, random: new Random(1), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  if (startup && typeof server.startup === 'function') await server.startup();
  return { server, client: server.createFakeClient(), load, Random };
}

/**
 * Feeds one RESP chunk to `parser` and runs every command in it through processCommand on the
 * in-process client `c`, dropping the replies (bench/evalsha-stages.mjs --loop, evalsha-ab.mjs).
 */
export function runChunk(server, c, parser, chunk) {
  parser.feed(chunk);
  for (let a = parser.next(); a !== null; a = parser.next()) {
    c.argv = a;
    server.processCommand(c);
  }
  c.reply.len = 0;
}

/** RESP multibulk of `argv`. */
export const resp = (argv) => `*${argv.length}\r\n${argv.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;

/** `count` commands from `make()` as RESP reads of `pipeline` commands each (latin1 Buffers). */
export function pipelinedReads(make, count, pipeline = 16) {
  const reads = [];
  for (let i = 0; i < count; i += pipeline) {
    let s = '';
    for (let j = 0; j < pipeline; j++) s += resp(make());
    reads.push(Buffer.from(s, 'latin1'));
  }
  return reads;
}

/**
 * Runs reads[from, to) through an in-process server's client as a socket's reads would (its
 * parser, then Server.processInput: prefetch, parse, dispatch, admission, the executor, the
 * reply), dropping the replies (bench/inproc-ab.mjs, bench/inproc-loop.mjs).
 */
export function runReads({ server, client: c }, reads, from = 0, to = reads.length) {
  for (let i = from; i < to; i++) {
    const chunk = reads[i];
    c.parser.feed(chunk);
    server.processInput(c);
    c.parser.release(chunk);
    c.reply.len = 0;
  }
}

/**
 * `n` commands from `make()`, sent as 16-command RESP chunks through a fresh `RespParser` (from
 * the build under test), so each argv is made of fresh strings as from a socket.
 */
export function parsedCommands(RespParser, n, make) {
  const parser = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
  const argvs = [];
  for (let i = 0; i < n; i += 16) {
    let s = '';
    for (let j = 0; j < 16; j++) s += resp(make());
    parser.feed(Buffer.from(s, 'latin1'));
    for (let a = parser.next(); a !== null; a = parser.next()) argvs.push(a);
  }
  return argvs;
}

/**
 * redis-benchmark -r 100000's commands, per test, as it sends them (same names, keys and values;
 * from redis-benchmark.c 7.0): LPUSH/RPUSH/LPOP/RPOP on one list `mylist`, SADD/SPOP on one set,
 * HSET on one hash, ZADD/ZPOPMIN on one sorted set, each growing to ~100k elements or more.
 */
export function benchmarkCommands(Random, seed = 7) {
  const rnd = new Random(seed);
  /** redis-benchmark's __rand_int__: 12 digits. */
  const r = () => String(Math.floor(rnd.next() * 100000)).padStart(12, '0');
  return {
    set: () => ['SET', `key:${r()}`, 'xxx'],
    get: () => ['GET', `key:${r()}`],
    incr: () => ['INCR', `counter:${r()}`],
    lpush: () => ['LPUSH', 'mylist', 'xxx'],
    rpush: () => ['RPUSH', 'mylist', 'xxx'],
    lpop: () => ['LPOP', 'mylist'],
    rpop: () => ['RPOP', 'mylist'],
    sadd: () => ['SADD', 'myset', `element:${r()}`],
    hset: () => ['HSET', 'myhash', `element:${r()}`, 'xxx'],
    spop: () => ['SPOP', 'myset'],
    zadd: () => ['ZADD', 'myzset', r(), `element:${r()}`],
    zpopmin: () => ['ZPOPMIN', 'myzset'],
    lrange_100: () => ['LRANGE', 'mylist', '0', '99'],
    mset: () => { const a = ['MSET']; for (let i = 0; i < 10; i++) a.push(`key:${r()}`, 'xxx'); return a; },
  };
}

/** bench/jobs.mjs, jobs-gc.mjs: a client that sends INCR one at a time while `run` lasts and records each round trip. */
export function incrPacer(port) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  const cmd = Buffer.from('*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n');
  let sentAt = 0n;
  let lat = null;
  let done = null;
  let stop = false;
  sock.on('data', (d) => {
    // One reply per command (":<n>\r\n"), and only one command in flight.
    if (d[d.length - 1] !== 10) return;
    const now = process.hrtime.bigint();
    lat.push(Number(now - sentAt) / 1e6);
    if (stop) {
      done();
      return;
    }
    sentAt = process.hrtime.bigint();
    sock.write(cmd);
  });
  const ready = new Promise((r) => sock.once('connect', r));
  return {
    /** Runs until `until` resolves; returns the rate (commands/s) and the latencies (ms). */
    async run(until) {
      await ready;
      lat = [];
      stop = false;
      const t0 = process.hrtime.bigint();
      const finished = new Promise((r) => (done = r));
      sentAt = process.hrtime.bigint();
      sock.write(cmd);
      await until;
      stop = true;
      await finished;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      return { rate: lat.length / (ms / 1000), lat };
    },
    close: () => sock.destroy(),
  };
}

/**
 * CPU a process has used so far: all its threads' run time from the scheduler (ns, exact:
 * /proc/<pid>/task/<tid>/schedstat) and the process's user and system time (s, in 10 ms ticks).
 */
export function processCpu(pid) {
  let runNs = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      runNs += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { runNs, userS: Number(rest[11]) / 100, sysS: Number(rest[12]) / 100 }; // USER_HZ
}

/**
 * `redis-benchmark <argv>` with its stdout collected: the child (for its pid) and a promise of
 * the whole output when it closes.
 */
export function redisBenchmark(argv) {
  const child = spawn('redis-benchmark', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return { child, output: new Promise((resolve) => child.once('close', () => resolve(out))) };
}
