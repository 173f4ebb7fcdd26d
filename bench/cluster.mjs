#!/usr/bin/env node
// redis-benchmark --cluster against a 3-master nodis cluster and a 3-master redis-server cluster
// (each formed by its own cli's --cluster create), alternating rounds. Reports requests/s and
// the servers' CPU time per request (utime + stime of the three server processes from
// /proc/<pid>/stat, divided by the requests), which moves far less than requests/s on a loaded
// machine. The benchmark client's own CPU is not counted.
//
// Usage: node bench/cluster.mjs [--rounds 3] [--n 100000] [--tests set,get]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root, option, startServer, stopServer, freePort, cli, median } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const n = Number(option(args, 'n', '100000'));
const tests = option(args, 'tests', 'set,get').split(',');
const TICKS = 100;

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS;
}

const kinds = {
  nodis: { bin: path.join(root, 'bin/nodis-server'), cli: path.join(root, 'bin/nodis-cli') },
  redis: { bin: 'redis-server', cli: 'redis-cli' },
};

async function startCluster(kind) {
  const nodes = [];
  for (let i = 0; i < 3; i++) nodes.push(await startServer(`cluster-${kind}`, kinds[kind].bin, ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort())]));
  const r = spawnSync(kinds[kind].cli, ['--cluster', 'create', ...nodes.map((s) => `127.0.0.1:${s.port}`), '--cluster-yes'], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`${kind}: --cluster create failed:\n${r.stdout}${r.stderr}`);
  for (const s of nodes) {
    while (!cli(s.port, 'cluster', 'info').includes('cluster_state:ok')) await new Promise((res) => setTimeout(res, 100));
  }
  return nodes;
}

const results = {};
for (let round = 0; round < rounds; round++) {
  for (const kind of round % 2 === 0 ? ['nodis', 'redis'] : ['redis', 'nodis']) {
    const nodes = await startCluster(kind);
    try {
      for (const t of tests) {
        const before = nodes.reduce((a, s) => a + cpuSeconds(s.proc.pid), 0);
        const r = spawnSync('redis-benchmark', ['--cluster', '-p', String(nodes[0].port), '-n', String(n), '-c', '50', '-r', '100000', '-q', '-t', t], { encoding: 'utf8' });
        const us = ((nodes.reduce((a, s) => a + cpuSeconds(s.proc.pid), 0) - before) / n) * 1e6;
        const rps = Number(/([\d.]+) requests per second/.exec(r.stdout)?.[1] ?? NaN);
        (results[`${kind}|${t}`] ??= []).push({ rps, us });
        process.stderr.write(`round ${round + 1} ${kind} ${t}: ${rps} requests/s, ${us.toFixed(2)} µs CPU/request\n`);
      }
    } finally {
      for (const s of nodes) await stopServer(s);
    }
  }
}
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`| test | nodis req/s | redis req/s | ratio | nodis µs CPU/req | redis µs CPU/req | CPU ratio |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const t of tests) {
  const a = results[`nodis|${t}`];
  const b = results[`redis|${t}`];
  const [ar, br] = [median(a.map((x) => x.rps)), median(b.map((x) => x.rps))];
  const [au, bu] = [median(a.map((x) => x.us)), median(b.map((x) => x.us))];
  console.log(`| ${t.toUpperCase()} | ${ar.toFixed(0)} | ${br.toFixed(0)} | ${(ar / br).toFixed(2)} | ${au.toFixed(2)} | ${bu.toFixed(2)} | ${(au / bu).toFixed(2)} |`);
}
console.log(`\n${rounds} alternating rounds, medians; -n ${n} -c 50 -r 100000; load average at the end: ${load}`);
