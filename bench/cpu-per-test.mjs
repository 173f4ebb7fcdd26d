#!/usr/bin/env node
// Server CPU per request of each redis-benchmark test, in the order bench/run.mjs runs them on
// one server (so INCR and MSET find the keyspace SET and GET left, as in the throughput table):
// a fresh server per round, then one `redis-benchmark -t <test>` after another, the server
// process's utime + stime (/proc/<pid>/stat) read around each. Builds given with --bin and
// redis-server alternate per round; medians.
//
//   node bench/cpu-per-test.mjs --bin path/to/nodis-server [--bin other] [--rounds 3]
//        [--n 200000] [--tests ping_mbulk,set,get,incr,mset] [--pipelines 16] [--user] [--r 100000]
//        [--warmup]
// --warmup: first runs the tests once at -P 1, unmeasured, as bench/run.mjs's -P 1 pass precedes
// its -P 16 one on the same server (the keys then exist and the JIT is warm; without it the
// first write test on a fresh server also pays for V8's compiler threads and the key table's
// growth).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { option, startServer, stopServer, median } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, d) => option(args, name, d);
const rounds = Number(opt('rounds', '3'));
const n = Number(opt('n', '200000'));
const pipelines = opt('pipelines', '16').split(',').map(Number);
// A test with spaces is a command line (`incr key:__rand_int__`), run instead of `-t <test>`.
const tests = opt('tests', 'ping_mbulk,set,get,incr,mset').split(',');
const userOnly = args.includes('--user');
const keyRange = opt('r', '100000');
const warmup = args.includes('--warmup');
const bins = args.flatMap((a, i) => (a === '--bin' ? [args[i + 1]] : []));
const servers = [...bins.map((b, i) => ({ name: `nodis#${i + 1}`, bin: path.resolve(b) })), { name: 'redis', bin: 'redis-server' }];

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(r[11]) + (userOnly ? 0 : Number(r[12]))) / 100;
}

const res = {};
for (let round = 0; round < rounds; round++) {
  for (const p of pipelines) {
    for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
      const srv = await startServer(s.name.replace('#', '-'), s.bin);
      try {
        const line = [];
        const bench = (p, t) => spawnSync('redis-benchmark', ['-p', String(srv.port), '-n', String(n), '-c', '50', '-P', String(p), '-r', keyRange, '-q', ...(t.includes(' ') ? t.split(' ') : ['-t', t])]);
        if (warmup) for (const t of tests) bench(1, t);
        for (const t of tests) {
          const before = cpuSeconds(srv.proc.pid);
          const t0 = process.hrtime.bigint();
          bench(p, t);
          const wall = Number(process.hrtime.bigint() - t0) / 1e9;
          const cpu = cpuSeconds(srv.proc.pid) - before;
          const us = (cpu / n) * 1e6;
          (res[`${s.name}|${p}|${t}`] ??= []).push(us);
          (res[`${s.name}|${p}|${t}|busy`] ??= []).push(cpu / wall);
          line.push(`${t} ${us.toFixed(2)} µs (${Math.round(n / wall / 1000)}k/s, busy ${(cpu / wall).toFixed(2)})`);
        }
        process.stderr.write(`round ${round + 1} -P ${p} ${s.name}: ${line.join(', ')}\n`);
      } finally {
        await stopServer(srv);
      }
    }
  }
}
let md = `Server ${userOnly ? 'user ' : ''}CPU µs per request, tests in order on one server${warmup ? ' after an unmeasured -P 1 pass of them' : ''} (median of ${rounds} rounds, n ${n}, 50 clients, -r ${keyRange}; load ${os.loadavg()[0].toFixed(1)} at the end)\n\n`;
md += `| test | -P | ${servers.map((s) => `${s.name} µs | busy`).join(' | ')} |\n|---|---:|${servers.map(() => '---:|---:').join('|')}|\n`;
for (const p of pipelines) for (const t of tests) md += `| ${t} | ${p} | ${servers.map((s) => `${median(res[`${s.name}|${p}|${t}`]).toFixed(2)} | ${median(res[`${s.name}|${p}|${t}|busy`]).toFixed(2)}`).join(' | ')} |\n`;
process.stdout.write(md);
