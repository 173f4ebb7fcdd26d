#!/usr/bin/env node
// Server CPU per request of two (or more) nodis builds and redis-server over sockets, in short
// alternating slices: every server runs the whole time, and slices of `redis-benchmark -n
// <per-slice>` go to each in turn (the order alternating), so load that comes and goes on a
// shared machine hits them alike — bench/cpu-cost.mjs's measure with evalsha-ab.mjs's pairing.
// CPU is the scheduler's run time of all the server's threads (/proc/<pid>/task/*/schedstat, ns,
// exact; not the 10 ms ticks of /proc/<pid>/stat). Per server: fastest, p10 and median µs per
// request, and the median of its per-slice ratios to the first server.
//
//   node bench/socket-ab.mjs --nodis-bin /tmp/before/bin/nodis-server --nodis-bin bin/nodis-server
//        [--slices 20] [--per-slice 40000] [--warmup 100000] [--pipeline 1] [--no-redis]
//        [--script-load bench/lock-release.lua] [--command 'evalsha {sha} 1 lockkey token']
//        [--user]   (user CPU only, from /proc/<pid>/stat's 10 ms ticks: the server's own code
//                    without the kernel's loopback work, the noisiest part on a loaded machine)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, median, processCpu } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const slices = Number(opt('slices', '20'));
const perSlice = Number(opt('per-slice', '40000'));
const warmup = Number(opt('warmup', '100000'));
const pipeline = opt('pipeline', '1');
const userOnly = args.includes('--user');
const cpuUs = (pid) => {
  const c = processCpu(pid);
  return userOnly ? c.userS * 1e6 : c.runNs / 1000;
};
const scriptFile = opt('script-load', path.join(root, 'bench/lock-release.lua'));
const script = fs.readFileSync(scriptFile);
const sha = createHash('sha1').update(script).digest('hex');
const command = opt('command', 'evalsha {sha} 1 lockkey token').replaceAll('{sha}', sha).split(' ');
const bins = args.flatMap((a, i) => (a === '--nodis-bin' ? [path.resolve(args[i + 1])] : []));
if (bins.length === 0) bins.push(path.join(root, 'bin/nodis-server'));
const servers = bins.map((bin, i) => ({ name: `nodis#${i + 1} ${bin}`, bin, times: [] }));
if (!args.includes('--no-redis')) servers.push({ name: 'redis-server', bin: 'redis-server', times: [] });

const bench = (port, n) =>
  spawnSync('redis-benchmark', ['-p', String(port), '-n', String(n), '-c', '50', '-P', pipeline, '-r', '100000', '-q', ...command], { encoding: 'utf8' });
try {
  for (const s of servers) {
    s.srv = await startServer(s.name.startsWith('redis') ? 'redis' : 'nodis', s.bin);
    spawnSync('redis-cli', ['-p', String(s.srv.port), '-x', 'script', 'load'], { input: script });
    bench(s.srv.port, warmup);
  }
  for (let i = 0; i < slices; i++) {
    for (const s of i % 2 === 0 ? servers : [...servers].reverse()) {
      const before = cpuUs(s.srv.proc.pid);
      const r = bench(s.srv.port, perSlice);
      if (r.status !== 0) throw new Error(`redis-benchmark failed: ${r.stderr}`);
      s.times.push((cpuUs(s.srv.proc.pid) - before) / perSlice);
    }
  }
} finally {
  for (const s of servers) if (s.srv !== undefined) await stopServer(s.srv);
}
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
let out = `\`${command.join(' ')}\` -P ${pipeline}, server ${userOnly ? 'user ' : ''}CPU µs per request, ${slices} alternating slices of ${perSlice} (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end):\n\n`;
out += '| server | fastest | p10 | median | median ratio to the first |\n|---|---:|---:|---:|---:|\n';
for (const s of servers) {
  const ratios = s.times.map((t, i) => t / servers[0].times[i]);
  out += `| ${s.name} | ${pct(s.times, 0).toFixed(2)} | ${pct(s.times, 0.1).toFixed(2)} | ${median(s.times).toFixed(2)} | ${median(ratios).toFixed(3)} |\n`;
}
process.stdout.write(out);
