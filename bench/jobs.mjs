#!/usr/bin/env node
// Writes while a background job runs, side by side with redis-server: the server holds --keys
// (default 1,000,000) keys from DEBUG POPULATE; one client sends INCR one at a time (the next
// after the reply) and records each round trip. First --idle-ms of that with nothing else
// running (the client's idle pace), then the same while a job runs:
//   bgsave   BGSAVE, until rdb_bgsave_in_progress:0
//   aofrw    BGREWRITEAOF, until aof_rewrite_in_progress:0
//   sync     a fresh replica (same server kind, repl-diskless-sync-delay 0) gets REPLICAOF,
//            until its master_link_status is up
// Reported per job: the job's duration, the client's INCR/s during it as a fraction of its
// idle pace, and the write latency p50 / p99 / max during the job. Rounds alternate servers.
//
// Usage: node bench/jobs.mjs [--rounds 3] [--keys 1000000] [--jobs bgsave,aofrw,sync] [--no-write]
//                           [--nodis-bin path/to/bin/nodis-server] (e.g. an older build, for a before/after)
//                           [--kinds nodis] (one server only: comparing builds or settings)
// Build first (npm run build). Writes the "jobs" section of docs/PERFORMANCE.md.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, median, cli, writeSection } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const keys = Number(option(args, 'keys', '1000000'));
const idleMs = Number(option(args, 'idle-ms', '1500'));
const jobs = option(args, 'jobs', 'bgsave,aofrw,sync').split(',');
const kinds = option(args, 'kinds', 'nodis,redis').split(',');
const write = !args.includes('--no-write') && kinds.length === 2;
const BINS = { nodis: path.resolve(option(args, 'nodis-bin', path.join(root, 'bin/nodis-server'))), redis: '/usr/bin/redis-server' };
const EXTRA = ['--enable-debug-command', 'yes', '--repl-diskless-sync-delay', '0'];

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** A client that sends INCR one at a time while `running()` and records each round trip. */
function pacer(port) {
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
    /** Runs until `until` resolves; returns the latencies (ms) and the elapsed ms. */
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
      return { lat, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
    },
    close: () => sock.destroy(),
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function pollUntil(check) {
  for (;;) {
    if (check()) return;
    await sleep(10);
  }
}

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function runJob(kind, server, job) {
  const port = server.port;
  let replica = null;
  let start;
  let until;
  if (job === 'bgsave') {
    start = () => cli(port, 'bgsave');
    until = () => pollUntil(() => cli(port, 'info', 'persistence').includes('rdb_bgsave_in_progress:0'));
  } else if (job === 'aofrw') {
    start = () => cli(port, 'bgrewriteaof');
    until = () => pollUntil(() => cli(port, 'info', 'persistence').includes('aof_rewrite_in_progress:0'));
  } else {
    replica = await startServer(`jobs-replica-${kind}`, BINS[kind], EXTRA);
    children.add(replica.proc);
    start = () => cli(replica.port, 'replicaof', '127.0.0.1', String(port));
    until = () => pollUntil(() => cli(replica.port, 'info', 'replication').includes('master_link_status:up'));
  }
  const p = pacer(port);
  const idle = await p.run(sleep(idleMs));
  const t0 = performance.now();
  start();
  const during = await p.run(until());
  const took = performance.now() - t0;
  p.close();
  if (replica) {
    await stopServer(replica);
    children.delete(replica.proc);
  }
  const idleRate = idle.lat.length / (idle.ms / 1000);
  const rate = during.lat.length / (during.ms / 1000);
  return {
    took,
    idleRate,
    rate,
    pace: rate / idleRate,
    idleP99: pct(idle.lat, 0.99),
    p50: pct(during.lat, 0.5),
    p99: pct(during.lat, 0.99),
    max: Math.max(...during.lat),
    n: during.lat.length,
  };
}

const results = {};
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? kinds : [...kinds].reverse();
  for (const kind of order) {
    const server = await startServer(`jobs-${kind}`, BINS[kind], EXTRA);
    children.add(server.proc);
    cli(server.port, 'debug', 'populate', String(keys), 'key', '10');
    // Let the load's aftermath (nodis: a full collection of the new heap) pass first.
    cli(server.port, 'memory', 'purge');
    await sleep(1000);
    for (const job of jobs) {
      const r = await runJob(kind, server, job);
      ((results[job] ??= {})[kind] ??= []).push(r);
      console.log(
        `round ${round + 1} ${kind} ${job}: took ${r.took.toFixed(0)} ms, INCR ${r.rate.toFixed(0)}/s during vs ${r.idleRate.toFixed(0)}/s idle (${r.pace.toFixed(2)}x), ` +
          `p50 ${r.p50.toFixed(3)} p99 ${r.p99.toFixed(3)} max ${r.max.toFixed(1)} ms (idle p99 ${r.idleP99.toFixed(3)}), n=${r.n}`,
      );
    }
    await stopServer(server);
    children.delete(server.proc);
  }
}

if (kinds.length === 2) {
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const m = (job, kind, f) => median(results[job][kind].map(f));
  let md = `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, load average at the end ${load}; ${keys.toLocaleString('en')} keys (DEBUG POPULATE), one client sending INCR one at a time; medians of ${rounds} alternating rounds.\n\n`;
  md += '| job | nodis job time | redis job time | ratio | nodis pace during / idle | redis pace during / idle | nodis p50 / p99 / max ms | redis p50 / p99 / max ms |\n|---|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const job of jobs) {
    const tn = m(job, 'nodis', (r) => r.took);
    const tr = m(job, 'redis', (r) => r.took);
    const lat = (kind) => `${m(job, kind, (r) => r.p50).toFixed(3)} / ${m(job, kind, (r) => r.p99).toFixed(3)} / ${m(job, kind, (r) => r.max).toFixed(1)}`;
    md += `| ${job} | ${tn.toFixed(0)} ms | ${tr.toFixed(0)} ms | ${(tn / tr).toFixed(2)}x | ${m(job, 'nodis', (r) => r.pace).toFixed(2)} | ${m(job, 'redis', (r) => r.pace).toFixed(2)} | ${lat('nodis')} | ${lat('redis')} |\n`;
  }
  console.log(md);
  if (write) writeSection('jobs', md);
}
process.exit(0);
