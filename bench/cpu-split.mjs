#!/usr/bin/env node
// Server CPU per request with user and kernel time apart and context switches per request
// (all of the server process's threads, from /proc/<pid>/task/*/{stat,status}), alternating
// the builds given with --bin and redis-server; like cpu-cost.mjs otherwise.
//   node bench/cpu-split.mjs --bin path/to/nodis-server [--bin other] [--rounds 3] [--n 200000]
//        [--warmup 50000] [--tests set,get] [--pipelines 1,16]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { option, startServer, stopServer, median } from './lib.mjs';
const args = process.argv.slice(2);
const opt = (name, d) => option(args, name, d);
const rounds = Number(opt('rounds', '3')), n = Number(opt('n', '200000'));
const pipelines = opt('pipelines', '1,16').split(',').map(Number);
const tests = opt('tests', 'get'); const warmup = Number(opt('warmup', '50000'));
const bins = args.flatMap((a, i) => (a === '--bin' ? [args[i + 1]] : []));
const servers = [...bins.map((b) => ({ name: path.basename(b), bin: path.resolve(b) })), { name: 'redis', bin: 'redis-server' }];
function cpu(pid) {
  let u = 0, s = 0, cs = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    const f = fs.readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
    u += Number(r[11]); s += Number(r[12]);
    const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    cs += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)[1]);
  }
  return { u: u / 100, s: s / 100, cs };
}
const res = {};
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
    const srv = await startServer(s.name, s.bin);
    try {
      for (const p of pipelines) {
        const base = ['-p', String(srv.port), '-c', '50', '-P', String(p), '-r', '100000', '-q', '-t', tests];
        if (warmup > 0) spawnSync('redis-benchmark', [...base, '-n', String(warmup)]);
        const a = cpu(srv.proc.pid);
        const t0 = Date.now();
        const out = spawnSync('redis-benchmark', [...base, '-n', String(n)], { encoding: 'utf8' }).stdout;
        const wall = Date.now() - t0;
        const b = cpu(srv.proc.pid);
        const ntests = tests.split(',').length;
        const k = 1e6 / (n * ntests);
        const r = { user: (b.u - a.u) * k, sys: (b.s - a.s) * k, cs: (b.cs - a.cs) / (n * ntests), rps: (n * ntests) / (wall / 1000) };
        (res[`${s.name}|${p}`] ??= []).push(r);
        process.stderr.write(`r${round + 1} ${s.name} -P${p}: user ${r.user.toFixed(2)} sys ${r.sys.toFixed(2)} total ${(r.user + r.sys).toFixed(2)} µs, cs/req ${r.cs.toFixed(3)}, ${Math.round(r.rps)} req/s, load ${os.loadavg()[0].toFixed(1)}\n`);
      }
    } finally { await stopServer(srv); }
  }
}
console.log(`tests ${tests}, n ${n}, rounds ${rounds}, medians; load at end ${os.loadavg()[0].toFixed(1)}`);
console.log('| server | -P | user µs | sys µs | total µs | ctx sw/req |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const p of pipelines) for (const s of servers) {
  const rs = res[`${s.name}|${p}`];
  const m = (f) => median(rs.map(f));
  console.log(`| ${s.name} | ${p} | ${m((r) => r.user).toFixed(2)} | ${m((r) => r.sys).toFixed(2)} | ${m((r) => r.user + r.sys).toFixed(2)} | ${m((r) => r.cs).toFixed(3)} |`);
}
