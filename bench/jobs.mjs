#!/usr/bin/env node
// Writes while a background job runs, side by side with redis-server: the server holds --keys
// (default 1,000,000) keys from DEBUG POPULATE. The write load is one of (--load):
//   pacer      one client sends INCR one at a time (the next after the reply) and records each
//              round trip;
//   benchmark  redis-benchmark -c 50 -t incr -r 100000 runs throughout; its pace is the server's
//              commands per second (INFO total_commands_processed).
// First --idle-ms of that with nothing else running (the idle pace), then the same while a job
// runs:
//   bgsave   BGSAVE, until rdb_bgsave_in_progress:0
//   aofrw    BGREWRITEAOF, until aof_rewrite_in_progress:0
//   sync     a fresh replica (same server kind, repl-diskless-sync-delay 0) gets REPLICAOF,
//            until its master_link_status is up
// Reported per job: the job's duration, the pace during it as a fraction of the idle pace, the
// write latency p50 / p99 / max during the job (pacer), the server's CPU time during the job
// (the process and its reaped children: Redis's fork child; for sync, master + replica), and
// the load average. Rounds alternate servers. Completion is polled over a connection of our
// own every 5 ms, asynchronously, so the polling never holds up the pacer.
//
// Usage: node bench/jobs.mjs [--rounds 3] [--keys 1000000] [--jobs bgsave,aofrw,sync] [--no-write]
//                           [--load pacer|benchmark|both]
//                           [--nodis-bin path/to/bin/nodis-server] (e.g. an older build, for a before/after)
//                           [--bin name=path --kinds name,nodis,redis] (more servers side by side)
//                           [--kinds nodis] (one server only: comparing builds or settings)
//                           [--section jobs] (the docs/PERFORMANCE.md section written)
// Build first (npm run build). Writes the "jobs" section of docs/PERFORMANCE.md.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, median, cli, writeSection, incrPacer as pacer } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const keys = Number(option(args, 'keys', '1000000'));
const idleMs = Number(option(args, 'idle-ms', '1500'));
const jobs = option(args, 'jobs', 'bgsave,aofrw,sync').split(',');
const kinds = option(args, 'kinds', 'nodis,redis').split(',');
const loadOpt = option(args, 'load', 'pacer');
const loads = loadOpt === 'both' ? ['pacer', 'benchmark'] : [loadOpt];
const section = option(args, 'section', 'jobs');
const write = !args.includes('--no-write') && kinds.includes('redis') && kinds.includes('nodis');
const BINS = { nodis: path.resolve(option(args, 'nodis-bin', path.join(root, 'bin/nodis-server'))), redis: '/usr/bin/redis-server' };
// --bin name=path (repeatable): another nodis build or wrapper as kind `name` (e.g. --bin
// base=/tmp/old/bin/nodis-server --kinds base,nodis,redis: before and after in one run).
args.forEach((a, i) => {
  if (a !== '--bin') return;
  const [name, bin] = args[i + 1].split('=');
  BINS[name] = path.resolve(bin);
});
const EXTRA = ['--enable-debug-command', 'yes', '--repl-diskless-sync-delay', '0'];
const TICK = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ)

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** CPU seconds of `pid` so far: user + system, its own and its reaped children's. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime stime cutime cstime) are 11-14 after the command name.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
}

/** A RESP connection for one command at a time (the polls): returns the reply's text. */
function connection(port) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  let buf = '';
  let waiting = null;
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    if (waiting === null) return;
    // Replies here are a bulk string (INFO) or a simple line.
    if (buf[0] === '$') {
      const eol = buf.indexOf('\r\n');
      const len = Number(buf.slice(1, eol));
      if (buf.length < eol + 2 + len + 2) return;
      const body = buf.slice(eol + 2, eol + 2 + len);
      buf = '';
      const w = waiting;
      waiting = null;
      w(body);
    } else if (buf.endsWith('\r\n')) {
      const line = buf.slice(0, -2);
      buf = '';
      const w = waiting;
      waiting = null;
      w(line);
    }
  });
  const ready = new Promise((r) => sock.once('connect', r));
  return {
    async call(...argv) {
      await ready;
      const p = new Promise((r) => (waiting = r));
      sock.write(`*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
      return p;
    },
    close: () => sock.destroy(),
  };
}

/** redis-benchmark -c 50 INCRs for as long as it runs; the pace is read from INFO. */
function benchmarkLoad(port, poll) {
  const proc = spawn('redis-benchmark', ['-p', String(port), '-c', '50', '-n', '1000000000', '-t', 'incr', '-r', '100000', '-q'], { stdio: 'ignore' });
  children.add(proc);
  const processed = async () => Number(/total_commands_processed:(\d+)/.exec(await poll.call('info', 'stats'))[1]);
  return {
    async run(until) {
      const n0 = await processed();
      const t0 = performance.now();
      await until;
      const n1 = await processed();
      return { rate: (n1 - n0) / ((performance.now() - t0) / 1000), lat: null };
    },
    close() {
      proc.kill('SIGKILL');
      children.delete(proc);
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** With NODIS_TRACE_SLICES=1 (nodis's snapshot slice report) or --echo-log: the servers' log lines about the job. */
const echo = process.env.NODIS_TRACE_SLICES === '1' || args.includes('--echo-log');
function echoLog(name, proc) {
  if (!echo) return;
  const t0 = performance.now();
  proc.stdout.on('data', (d) => {
    for (const line of String(d).split('\n')) {
      if (/slices \d+|MASTER <-> REPLICA|Synchronization|Background|Done loading|DB saved|rdb transfer|RDB transfer/.test(line)) console.log(`  [${name} +${(performance.now() - t0).toFixed(0)} ms] ${line.trim()}`);
    }
  });
}

async function pollUntil(check) {
  for (;;) {
    if (await check()) return;
    await sleep(5);
  }
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function runJob(kind, server, job, loadKind) {
  const port = server.port;
  const poll = connection(port);
  let replica = null;
  let replicaPoll = null;
  let start;
  let until;
  if (job === 'bgsave') {
    start = () => poll.call('bgsave');
    until = () => pollUntil(async () => (await poll.call('info', 'persistence')).includes('rdb_bgsave_in_progress:0'));
  } else if (job === 'aofrw') {
    start = () => poll.call('bgrewriteaof');
    until = () => pollUntil(async () => (await poll.call('info', 'persistence')).includes('aof_rewrite_in_progress:0'));
  } else {
    replica = await startServer(`jobs-replica-${kind}`, BINS[kind], EXTRA);
    children.add(replica.proc);
    replicaPoll = connection(replica.port);
    echoLog('replica', replica.proc);
    start = () => replicaPoll.call('replicaof', '127.0.0.1', String(port));
    until = () => pollUntil(async () => (await replicaPoll.call('info', 'replication')).includes('master_link_status:up'));
  }
  if (echo) server.proc.stdout.removeAllListeners('data');
  echoLog('master', server.proc);
  const load = loadKind === 'pacer' ? pacer(port) : benchmarkLoad(port, connection(port));
  if (loadKind === 'benchmark') await sleep(500); // its 50 connections open
  const idle = await load.run(sleep(idleMs));
  const pids = [server.proc.pid, ...(replica ? [replica.proc.pid] : [])];
  const cpu0 = pids.map(cpuSeconds);
  const load0 = os.loadavg()[0];
  const t0 = performance.now();
  const started = start();
  const during = await load.run(started.then(until));
  const took = performance.now() - t0;
  const cpu = pids.map((p, i) => cpuSeconds(p) - cpu0[i]);
  const load1 = os.loadavg()[0];
  load.close();
  poll.close();
  replicaPoll?.close();
  if (replica) {
    await stopServer(replica);
    children.delete(replica.proc);
  }
  return {
    took,
    idleRate: idle.rate,
    rate: during.rate,
    pace: during.rate / idle.rate,
    idleP50: idle.lat ? pct(idle.lat, 0.5) : NaN,
    idleP99: idle.lat ? pct(idle.lat, 0.99) : NaN,
    p50: during.lat ? pct(during.lat, 0.5) : NaN,
    p99: during.lat ? pct(during.lat, 0.99) : NaN,
    max: during.lat ? during.lat.reduce((a, b) => (b > a ? b : a), 0) : NaN,
    n: during.lat ? during.lat.length : 0,
    cpu: cpu.reduce((a, b) => a + b, 0),
    cpuParts: cpu,
    load: (load0 + load1) / 2,
  };
}

const results = {};
for (let round = 0; round < rounds; round++) {
  // Each round starts with the next kind (a rotation), so that none always runs first.
  const order = kinds.map((_, i) => kinds[(i + round) % kinds.length]);
  for (const kind of order) {
    const server = await startServer(`jobs-${kind}`, BINS[kind], EXTRA);
    children.add(server.proc);
    cli(server.port, 'debug', 'populate', String(keys), 'key', '10');
    // Let the load's aftermath (nodis: a full collection of the new heap) pass first.
    cli(server.port, 'memory', 'purge');
    await sleep(1000);
    for (const loadKind of loads) {
      for (const job of jobs) {
        const r = await runJob(kind, server, job, loadKind);
        ((results[`${loadKind}/${job}`] ??= {})[kind] ??= []).push(r);
        console.log(
          `round ${round + 1} ${kind} ${loadKind} ${job}: took ${r.took.toFixed(0)} ms, cpu ${r.cpuParts.map((c) => c.toFixed(2)).join('+')} s, ` +
            `${r.rate.toFixed(0)}/s during vs ${r.idleRate.toFixed(0)}/s idle (${r.pace.toFixed(2)}x), ` +
            (r.n > 0 ? `p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} max ${r.max.toFixed(1)} ms (idle p50 ${r.idleP50.toFixed(3)} p99 ${r.idleP99.toFixed(3)}), n=${r.n}, ` : '') +
            `load ${r.load.toFixed(2)}`,
        );
      }
    }
    await stopServer(server);
    children.delete(server.proc);
  }
}

{
  const m = (key, kind, f) => median(results[key][kind].map(f));
  const loadsSeen = Object.values(results).flatMap((byKind) => Object.values(byKind).flat().map((r) => r.load));
  const loadRange = `${Math.min(...loadsSeen).toFixed(1)}–${Math.max(...loadsSeen).toFixed(1)}`;
  let md = `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} cores, 1-minute load average ${loadRange} during the jobs; ${keys.toLocaleString('en')} keys (DEBUG POPULATE); medians of ${rounds} rounds, servers in turn. Pace = the write load's rate during the job / its idle rate (1 client: INCR one at a time; -c 50: redis-benchmark -c 50 -t incr); CPU = the server's CPU seconds during the job (redis: with its fork child; sync: master + replica).\n\n`;
  md += '| load | job | server | job time | vs redis | CPU s | pace | idle rate /s | p50 / p99 / max ms |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n';
  for (const key of Object.keys(results)) {
    const [loadKind, job] = key.split('/');
    const tr = results[key].redis ? m(key, 'redis', (r) => r.took) : NaN;
    for (const kind of kinds) {
      if (!results[key][kind]) continue;
      const t = m(key, kind, (r) => r.took);
      const lat = loadKind === 'pacer' ? `${m(key, kind, (r) => r.p50).toFixed(3)} / ${m(key, kind, (r) => r.p99).toFixed(3)} / ${m(key, kind, (r) => r.max).toFixed(1)}` : '–';
      md += `| ${loadKind === 'pacer' ? '1 client' : '-c 50'} | ${job} | ${kind} | ${t.toFixed(0)} ms | ${Number.isNaN(tr) ? '–' : `${(t / tr).toFixed(2)}x`} | ${m(key, kind, (r) => r.cpu).toFixed(2)} | ${m(key, kind, (r) => r.pace).toFixed(2)} | ${m(key, kind, (r) => r.idleRate).toFixed(0)} | ${lat} |\n`;
    }
  }
  console.log(md);
  if (write) writeSection(section, md);
}
process.exit(0);
