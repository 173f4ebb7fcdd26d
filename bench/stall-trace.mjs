#!/usr/bin/env node
// Where the worst `-P 1` request comes from (issue #15, lat3): latency-p1.mjs's workload (a fresh
// server, an unmeasured warm-up, then `redis-benchmark -t set,get -n <n> -c 50 -P 1 -r 100000
// --precision 3`), with the server's NODIS_STALL_LOG lines (src/server/stall-log.ts) of the
// measured run printed with their time since its start, and, per test, how many requests took
// 2 / 5 / 10 ms or more (from redis-benchmark's cumulative counts): one stall of the server or
// of the client delays every connection's request at once (~50 requests), a slow connection one.
//   --perf-sched <file>   also `perf sched record` the whole machine during the measured run
//   --redis               also run redis-server (no stall lines; its tail counts)
// Usage: node bench/stall-trace.mjs [--rounds 1] [--n 200000] [--threshold 3] [--redis] [bin]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { option, redisBenchmark, root, startServer, stopServer } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '1'));
const n = Number(option(args, 'n', '200000'));
const warmup = Number(option(args, 'warmup', '200000'));
const threshold = option(args, 'threshold', '3');
const perfSched = option(args, 'perf-sched', '');
const bin = path.resolve(args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')).pop() ?? path.join(root, 'bin/nodis-server'));
const servers = [{ name: 'nodis', bin }];
if (args.includes('--redis')) servers.push({ name: 'redis', bin: 'redis-server' });
// The servers inherit it (redis-server ignores it); its lines come on the server's stderr.
process.env.NODIS_STALL_LOG = threshold;

/** Per thread of `pid`: name → CPU ticks (user + system); and the process's page faults. */
function threads(pid) {
  const out = { faults: [0, 0], cpu: new Map() };
  const stat = (f) => {
    const t = fs.readFileSync(f, 'utf8');
    const r = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return { comm: t.slice(t.indexOf('(') + 1, t.lastIndexOf(')')), minflt: Number(r[7]), majflt: Number(r[9]), ticks: Number(r[11]) + Number(r[12]) };
  };
  const p = stat(`/proc/${pid}/stat`);
  out.faults = [p.minflt, p.majflt];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = stat(`/proc/${pid}/task/${tid}/stat`);
      out.cpu.set(`${t.comm}/${tid}`, t.ticks);
    } catch {}
  }
  return out;
}

function threadDelta(a, b) {
  const parts = [];
  for (const [k, v] of b.cpu) if (v - (a.cpu.get(k) ?? 0) > 0) parts.push(`${k} ${(v - (a.cpu.get(k) ?? 0)) * 10}ms`);
  return `minflt ${b.faults[0] - a.faults[0]} majflt ${b.faults[1] - a.faults[1]}; thread CPU: ${parts.join(', ')}`;
}

let lastClientPid = 0;

function benchmark(port, count, quiet) {
  const argv = ['-p', String(port), '-t', 'set,get', '-c', '50', '-P', '1', '-r', '100000', '-n', String(count), '--precision', '3', ...(quiet ? ['-q'] : [])];
  const { child, output } = redisBenchmark(argv);
  lastClientPid = child.pid;
  return output;
}

/** Per test: requests at or over 2 / 5 / 10 ms, and the max. */
function tails(text) {
  const out = [];
  for (const block of text.split('====== ').slice(1)) {
    const name = block.slice(0, block.indexOf(' ======'));
    const rows = [...block.matchAll(/^\s*([\d.]+)% <= ([\d.]+) milliseconds \(cumulative count (\d+)\)/gm)].map((m) => [Number(m[2]), Number(m[3])]);
    const total = rows.at(-1)[1];
    const over = (ms) => total - (rows.filter(([l]) => l < ms).at(-1)?.[1] ?? 0);
    out.push(`${name} ≥2ms ${over(2)} ≥5ms ${over(5)} ≥10ms ${over(10)} max ${rows.at(-1)[0]}`);
  }
  return out.join('; ');
}

for (let round = 0; round < rounds; round++) {
  for (const v of servers) {
    const s = await startServer(v.name, v.bin);
    s.out = '';
    s.proc.stderr.on('data', (d) => (s.out += d));
    try {
      await benchmark(s.port, warmup, true);
      await new Promise((r) => setTimeout(r, 300));
      const mark = s.out.length;
      const t0 = performance.now();
      const perf = perfSched !== '' ? spawn('perf', ['sched', 'record', '-k', 'CLOCK_MONOTONIC', '-o', `${perfSched}.${v.name}.${round}`, '--', 'sleep', '60'], { stdio: 'ignore' }) : null;
      if (perf !== null) await new Promise((r) => setTimeout(r, 500));
      const th0 = threads(s.proc.pid);
      const out = await benchmark(s.port, n, false);
      const th1 = threads(s.proc.pid);
      const elapsed = performance.now() - t0;
      if (perf !== null) {
        perf.kill('SIGINT');
        await new Promise((r) => perf.once('exit', r));
      }
      await new Promise((r) => setTimeout(r, 200));
      const log = s.out.slice(mark);
      console.log(`round ${round + 1} ${v.name} pid ${s.proc.pid} client pid ${lastClientPid} (load ${os.loadavg()[0].toFixed(1)}, ${elapsed.toFixed(0)} ms): ${tails(out)}`);
      console.log(`  ${threadDelta(th0, th1)}`);
      for (const line of log.split('\n').filter((l) => /^(stall|client-stall|burst) /.test(l))) console.log(`  ${line}`);
      const kinds = {};
      for (const m of log.matchAll(/^gc (\S+) mono \S+ ms ([\d.]+)/gm)) {
        const k = (kinds[m[1]] ??= { n: 0, sum: 0, max: 0 });
        k.n++;
        k.sum += Number(m[2]);
        k.max = Math.max(k.max, Number(m[2]));
      }
      if (v.name === 'nodis') console.log(`  gc: ${Object.entries(kinds).map(([k, x]) => `${k} ${x.n}× sum ${x.sum.toFixed(1)} longest ${x.max.toFixed(2)} ms`).join('; ')}`);
    } finally {
      await stopServer(s);
    }
  }
}
