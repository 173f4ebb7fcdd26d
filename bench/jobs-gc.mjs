#!/usr/bin/env node
// One nodis-server, one background job at a time, with V8's --trace-gc: how many collections
// ran during the job and how long they paused the thread, next to the one-at-a-time INCR
// client's pace and tail (the same client as bench/jobs.mjs). For tuning the job's slices and
// allocations (docs/PERFORMANCE.md "Writes while a background job runs").
//
// Usage: node bench/jobs-gc.mjs [--bin bin/nodis-server] [--keys 1000000] [--jobs bgsave,aofrw]
//                              [--rounds 2] [--idle-ms 1500] [--raw]
//                              [--variant name='{"busyShare":0.15}' ...]
// Each --variant is a server started with NODIS_JOB_PACING set to its JSON (job-pacer.ts's
// settings), servers in turn each round; medians per variant at the end. --raw prints the
// collections of the idle window and of the job.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, cli, incrPacer as pacer } from './lib.mjs';

const args = process.argv.slice(2);
const bin = path.resolve(option(args, 'bin', path.join(root, 'bin/nodis-server')));
const keys = Number(option(args, 'keys', '1000000'));
const jobs = option(args, 'jobs', 'bgsave,aofrw').split(',');
const rounds = Number(option(args, 'rounds', '2'));
const idleMs = Number(option(args, 'idle-ms', '1500'));
// node refuses --trace-gc in NODE_OPTIONS: a wrapper runs the launcher under `node --trace-gc`.
const wrapper = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-gc-')), 'nodis-server');
fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} --trace-gc ${bin} "$@"\n`, { mode: 0o755 });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** CPU seconds of `pid` so far (user + system, /proc/<pid>/stat). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// --variant name=JSON (repeatable): servers started with NODIS_JOB_PACING=JSON, in turn.
const variants = [];
args.forEach((a, i) => {
  if (a !== '--variant') return;
  const v = args[i + 1];
  const eq = v.indexOf('=');
  variants.push({ name: v.slice(0, eq), pacing: v.slice(eq + 1) });
});
if (variants.length === 0) variants.push({ name: 'default', pacing: process.env.NODIS_JOB_PACING ?? '' });
const results = {};

for (let round = 0; round < rounds; round++) {
  for (let vi = 0; vi < variants.length; vi++) {
  const variant = variants[(vi + round) % variants.length];
  if (variant.pacing) process.env.NODIS_JOB_PACING = variant.pacing;
  else delete process.env.NODIS_JOB_PACING;
  const server = await startServer('jobs-gc', wrapper, ['--enable-debug-command', 'yes']);
  let log = '';
  server.proc.stdout.on('data', (d) => (log += d));
  cli(server.port, 'debug', 'populate', String(keys), 'key', '10');
  cli(server.port, 'memory', 'purge');
  await sleep(1000);
  const p = pacer(server.port);
  for (const job of jobs) {
    const idleMark = log.length;
    const idle = await p.run(sleep(idleMs));
    const mark = log.length;
    if (args.includes('--raw')) console.log(`idle:\n${log.slice(idleMark, mark).split('\n').filter((l) => l.includes(' ms: ')).join('\n')}\njob:`);
    const t0 = performance.now();
    const cpu0 = cpuSeconds(server.proc.pid);
    const flag = job === 'bgsave' ? 'rdb_bgsave_in_progress:0' : 'aof_rewrite_in_progress:0';
    const until = (async () => {
      cli(server.port, job === 'bgsave' ? 'bgsave' : 'bgrewriteaof');
      // Polled over a connection of our own, asynchronously (redis-cli would block the pacer).
      const sock = net.connect(server.port, '127.0.0.1');
      let buf = '';
      sock.on('data', (d) => (buf += d));
      for (;;) {
        buf = '';
        sock.write('*2\r\n$4\r\ninfo\r\n$11\r\npersistence\r\n');
        while (!buf.includes('aof_last_cow_size')) await sleep(1);
        if (buf.includes(flag)) break;
        await sleep(5);
      }
      sock.destroy();
    })();
    const during = await p.run(until);
    const took = performance.now() - t0;
    const cpu = cpuSeconds(server.proc.pid) - cpu0;
    const gcs = log
      .slice(mark)
      .split('\n')
      .map((l) => /ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*, ([\d.]+) \/ ([\d.]+) ms/.exec(l))
      .filter(Boolean);
    if (args.includes('--raw')) {
      console.log(log.slice(mark).split('\n').filter((l) => l.includes(' ms: ')).join('\n'));
      // The idle window's collections, for comparison.
    }
    const byKind = {};
    for (const g of gcs) {
      const k = (byKind[g[1]] ??= { n: 0, ms: 0, max: 0 });
      k.n++;
      k.ms += Number(g[2]);
      k.max = Math.max(k.max, Number(g[2]));
    }
    const gcText = Object.entries(byKind)
      .map(([k, v]) => `${k} ${v.n}× ${v.ms.toFixed(1)} ms (max ${v.max.toFixed(2)})`)
      .join(', ');
    const gcMs = Object.values(byKind).reduce((a, v) => a + v.ms, 0);
    const gcN = Object.values(byKind).reduce((a, v) => a + v.n, 0);
    const r = { took, cpu, pace: during.rate / idle.rate, p50: pct(during.lat, 0.5), p99: pct(during.lat, 0.99), idleP99: pct(idle.lat, 0.99), gcN, gcMs };
    ((results[job] ??= {})[variant.name] ??= []).push(r);
    console.log(
      `round ${round + 1} ${variant.name} ${job}: took ${took.toFixed(0)} ms, cpu ${cpu.toFixed(2)} s, pace ${(during.rate / idle.rate).toFixed(2)} (${during.rate.toFixed(0)}/${idle.rate.toFixed(0)}/s), ` +
        `p50 ${pct(during.lat, 0.5).toFixed(3)} p99 ${pct(during.lat, 0.99).toFixed(3)} ms (idle p50 ${pct(idle.lat, 0.5).toFixed(3)} p99 ${pct(idle.lat, 0.99).toFixed(3)}); GC: ${gcText || 'none'}; load ${os.loadavg()[0].toFixed(1)}`,
    );
  }
  p.close();
  await stopServer(server);
  }
}
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`medians of ${rounds} rounds (load now ${os.loadavg()[0].toFixed(1)}):`);
console.log('| job | variant | took ms | CPU s | pace | p50 ms | p99 ms | idle p99 ms | GCs | GC ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [job, byVariant] of Object.entries(results)) {
  for (const [name, rs] of Object.entries(byVariant)) {
    const m = (f) => med(rs.map(f));
    console.log(`| ${job} | ${name} | ${m((r) => r.took).toFixed(0)} | ${m((r) => r.cpu).toFixed(2)} | ${m((r) => r.pace).toFixed(2)} | ${m((r) => r.p50).toFixed(3)} | ${m((r) => r.p99).toFixed(3)} | ${m((r) => r.idleP99).toFixed(3)} | ${m((r) => r.gcN)} | ${m((r) => r.gcMs).toFixed(1)} |`);
  }
}
process.exit(0);
