#!/usr/bin/env node
// One client doing INCR with `appendonly yes` (issue #15), several servers side by side: builds,
// the same build with different environment variables, and redis-server. Every server is
// started once, warmed under the policy that is measured (not under everysec first), and then
// measured in short alternating slices of `redis-benchmark -c 1 -t incr` (the order flips every
// slice, so all meet the same disk and the same load). Per server, the medians over the slices
// of: requests/s, CPU per INCR (all threads' exact run time from /proc/<pid>/task/*/schedstat),
// and the main process's user and system time per INCR (utime/stime, 10 ms ticks: use enough
// requests per slice). Prints a Markdown table with the load average.
//
// Usage: node bench/aof-c1-ab.mjs [--policy everysec|always|no] [--rounds 1] [--slices 10] [--n 20000]
//          [--warmup 50000] [--warmup-clients 50]
//          [--server 'name=path/to/bin/nodis-server'] [--server 'name=bin ENV=value …'] …
//          (default: this checkout's nodis-server; redis-server is always added)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, median, processCpu } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const policy = opt('policy', 'everysec');
const rounds = Number(opt('rounds', '1'));
const slices = Number(opt('slices', '10'));
const n = Number(opt('n', policy === 'always' ? '2000' : '20000'));
const warmup = Number(opt('warmup', policy === 'always' ? '20000' : '50000'));
const warmupClients = Number(opt('warmup-clients', '50'));

const specs = args.flatMap((a, i) => (a === '--server' ? [args[i + 1]] : []));
if (specs.length === 0) specs.push(`nodis=${path.join(root, 'bin/nodis-server')}`);
const servers = specs.map((spec) => {
  const [name, rest] = [spec.slice(0, spec.indexOf('=')), spec.slice(spec.indexOf('=') + 1)];
  const [bin, ...envs] = rest.split(' ');
  return { name, bin: path.resolve(bin), env: Object.fromEntries(envs.map((e) => e.split('='))) };
});
servers.push({ name: 'redis', bin: 'redis-server', env: {} });

function benchmark(port, clients, count) {
  const r = spawnSync('redis-benchmark', ['-p', String(port), '-c', String(clients), '-n', String(count), '-t', 'incr', '--csv'], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('"INCR"'));
  if (line === undefined) throw new Error(`redis-benchmark: ${r.stdout}${r.stderr}`);
  return Number(JSON.parse(`[${line}]`)[1]);
}

const conf = policy === 'no' ? [] : ['--appendonly', 'yes', '--appendfsync', policy];
const load0 = os.loadavg()[0];
const running = servers.map((s) => ({ s, srv: null, rows: [] }));
const saved = { ...process.env };
for (let round = 0; round < rounds; round++) {
  // Fresh processes every round: one process's JIT and memory layout can sit a few µs per INCR
  // off another's of the same build.
  try {
    for (const r of running) {
      Object.assign(process.env, r.s.env);
      try {
        r.srv = await startServer(`aofab-${r.s.name}`, r.s.bin, conf);
      } finally {
        for (const k of Object.keys(r.s.env)) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
      }
    }
    for (const { srv } of running) if (warmup > 0) benchmark(srv.port, warmupClients, warmup);
    for (let slice = 0; slice < slices; slice++) {
      for (const r of (slice + round) % 2 === 0 ? running : [...running].reverse()) {
        const before = processCpu(r.srv.proc.pid);
        const rps = benchmark(r.srv.port, 1, n);
        const after = processCpu(r.srv.proc.pid);
        r.rows.push({ rps, cpu: (after.runNs - before.runNs) / 1e3 / n, user: ((after.userS - before.userS) / n) * 1e6, sys: ((after.sysS - before.sysS) / n) * 1e6 });
      }
    }
  } finally {
    for (const r of running) if (r.srv !== null) await stopServer(r.srv);
    for (const r of running) r.srv = null;
  }
  const part = running.map((r) => `${r.s.name} ${median(r.rows.map((x) => x.rps)).toFixed(0)} req/s ${median(r.rows.map((x) => x.cpu)).toFixed(1)} µs`).join(', ');
  console.error(`round ${round + 1} (so far): ${part}`);
}
const redisRps = median(running.at(-1).rows.map((x) => x.rps));
console.log(`INCR, appendfsync ${policy}, redis-benchmark -c 1: ${rounds} round(s) of fresh servers, each warmed by ${warmup} INCRs at -c ${warmupClients} under the same policy, then ${slices} alternating slices of ${n}; medians of all slices. ${new Date().toISOString()}, load ${load0.toFixed(1)} → ${os.loadavg()[0].toFixed(1)}.`);
console.log('');
console.log('| server | req/s | ratio to redis | CPU µs/INCR | user µs | sys µs |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const { s, rows } of running) {
  const m = (k) => median(rows.map((x) => x[k]));
  console.log(`| ${s.name} | ${m('rps').toFixed(0)} | ${(m('rps') / redisRps).toFixed(2)} | ${m('cpu').toFixed(1)} | ${m('user').toFixed(1)} | ${m('sys').toFixed(1)} |`);
}
