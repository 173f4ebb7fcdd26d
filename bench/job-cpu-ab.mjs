#!/usr/bin/env node
// A background job's own CPU in the server, two builds side by side: each server holds --keys
// keys (DEBUG POPULATE) and no client runs, so the server's CPU during the job (all its threads,
// /proc/<pid>/task/*/schedstat) is the job's: the walk, encoding, CRC64 and the file writes.
// CPU time, not wall time, so less at the mercy of the machine's load than bench/jobs.mjs (the
// lone-client job time is ~5× the slices' time, docs/PERFORMANCE.md jobs7). Jobs alternate
// between the servers, --rounds per job; medians.
//
//   node bench/job-cpu-ab.mjs --a <tree>/bin/nodis-server [--b bin/nodis-server] [--rounds 8] [--jobs bgsave,aofrw]
import path from 'node:path';
import os from 'node:os';
import { root, option, startServer, stopServer, cli, processCpu, median } from './lib.mjs';

const args = process.argv.slice(2);
const bins = { a: path.resolve(option(args, 'a', path.join(root, 'bin/nodis-server'))), b: path.resolve(option(args, 'b', path.join(root, 'bin/nodis-server'))) };
const keys = option(args, 'keys', '1000000');
const rounds = Number(option(args, 'rounds', '8'));
const jobs = option(args, 'jobs', 'bgsave,aofrw').split(',');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const servers = {};
for (const [name, bin] of Object.entries(bins)) {
  servers[name] = await startServer(`jobcpu-${name}`, bin, ['--enable-debug-command', 'yes']);
  cli(servers[name].port, 'DEBUG', 'POPULATE', keys);
}
const res = {};
const loads = [];
for (let r = 0; r < rounds; r++) {
  for (const job of jobs) {
    for (const name of r % 2 ? ['b', 'a'] : ['a', 'b']) {
      const { port, proc } = servers[name];
      await sleep(300);
      const flag = job === 'bgsave' ? 'rdb_bgsave_in_progress:0' : 'aof_rewrite_in_progress:0';
      const c0 = processCpu(proc.pid).runNs;
      const t0 = performance.now();
      cli(port, job === 'bgsave' ? 'BGSAVE' : 'BGREWRITEAOF');
      while (!cli(port, 'INFO', 'persistence').includes(flag)) await sleep(5);
      const ms = performance.now() - t0;
      const cpuMs = (processCpu(proc.pid).runNs - c0) / 1e6;
      ((res[job] ??= {})[name] ??= []).push({ ms, cpuMs });
      loads.push(os.loadavg()[0]);
    }
  }
}
for (const s of Object.values(servers)) await stopServer(s);
console.log(`${keys} keys, no client, medians of ${rounds} (load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}); a = ${bins.a}, b = ${bins.b}`);
console.log('| job | build | CPU ms (each round) | wall ms |\n|---|---|---|---:|');
for (const [job, byName] of Object.entries(res)) {
  for (const [name, xs] of Object.entries(byName)) {
    console.log(`| ${job} | ${name} | ${median(xs.map((x) => x.cpuMs)).toFixed(0)} (${xs.map((x) => x.cpuMs.toFixed(0)).join(', ')}) | ${median(xs.map((x) => x.ms)).toFixed(0)} |`);
  }
}
process.exit(0);
