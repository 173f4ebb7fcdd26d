#!/usr/bin/env node
// Tail latency at `-P 1` (issue #15: "p99 and worst no worse than redis-server's"), several
// servers alternating round by round: each a fresh server, a warm-up run (not measured: the JIT's
// tiers and the keyspace's growth are done), then `redis-benchmark -t <tests> -n <n> -c 50 -P 1
// -r 100000 --precision 3`, whose percentile distribution gives p50 / p99 / p99.9 / max. Also
// per request: the server's CPU time (/proc/<pid>/stat), robust to load where latency is not.
//
// A nodis variant is `name=bin[:node flags]` (flags on node's own command line, space-separated,
// e.g. 'st=bin/nodis-server:--single-threaded-gc'); `--redis` adds redis-server.
//   --trace-gc   runs each nodis with node's --trace-gc and sums the collections of the measured
//                run: count, longest pause, pauses over 2 ms, by kind (Scavenge, Mark-Compact).
//   --history    runs `redis-cli --latency-history -i 1` (a PING every 10 ms) beside the measured
//                run: the worst PING, and how many 1-second windows had one of 5 ms or more.
//   --server-args '<args>'   more server arguments (e.g. '--maxmemory 64mb --maxmemory-policy allkeys-lru')
//   --idle <s>               seconds between the warm-up and the measured run (default 0.3)
//   --bench '<args>'         redis-benchmark's arguments instead of `-t <tests> -c 50 -P 1 -r 100000`
//                            (e.g. '-t set -d 1000 -P 16 -r 1000000' for the eviction workload)
//
// Usage: node bench/latency-p1.mjs [--rounds 3] [--n 200000] [--warmup 200000] [--tests set,get]
//          [--trace-gc] [--history] [--redis] main=/work/main/bin/nodis-server lat2=bin/nodis-server
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { option, median, redisBenchmark, startVariant, stopVariant } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const n = Number(option(args, 'n', '200000'));
const warmup = Number(option(args, 'warmup', '200000'));
const tests = option(args, 'tests', 'set,get');
const traceGc = args.includes('--trace-gc');
// Seconds between the warm-up and the measured run (default 0.3): an idle spell, after which V8
// may shrink the young generation (lat3).
const idle = Number(option(args, 'idle', '0.3'));
const history = args.includes('--history');
const serverArgs = option(args, 'server-args', '').split(' ').filter(Boolean);
const benchArgs = option(args, 'bench', '').split(' ').filter(Boolean);
const variants = args
  .filter((a) => /^[\w.-]+=/.test(a))
  .map((a) => {
    const name = a.slice(0, a.indexOf('='));
    const rest = a.slice(a.indexOf('=') + 1);
    const colon = rest.indexOf(':');
    const bin = path.resolve(colon < 0 ? rest : rest.slice(0, colon));
    const flags = colon < 0 ? [] : rest.slice(colon + 1).split(' ').filter(Boolean);
    // V8 prints its trace through stdio: line-buffered (stdbuf) so that none waits in a buffer.
    if (traceGc) return { name, cmd: 'stdbuf', pre: ['-oL', process.execPath, ...flags, '--trace-gc', bin] };
    return { name, cmd: process.execPath, pre: [...flags, bin] };
  });
if (args.includes('--redis')) variants.push({ name: 'redis', cmd: 'redis-server', pre: [] });

const start = (v) => startVariant(v, serverArgs);
const stop = (s) => stopVariant(s);

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const r = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(r[11]) + Number(r[12])) / 100;
}

/** redis-benchmark's "Latency by percentile distribution" → { TEST: { p50, p99, p999, max } }. */
function percentiles(text) {
  const out = {};
  for (const block of text.split('====== ').slice(1)) {
    const name = block.slice(0, block.indexOf(' ======'));
    const rows = [...block.matchAll(/^\s*([\d.]+)% <= ([\d.]+) milliseconds/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    const at = (q) => rows.find(([p]) => p >= q)?.[1] ?? NaN;
    out[name] = { p50: at(50), p99: at(99), p999: at(99.9), max: at(100) };
  }
  return out;
}

/** Runs redis-benchmark without blocking this process's loop (the server's output is read meanwhile). */
function benchmark(port, quiet) {
  const what = benchArgs.length > 0 ? benchArgs : ['-t', tests, '-c', '50', '-P', '1', '-r', '100000'];
  const argv = ['-p', String(port), ...what, '-n', String(quiet ? warmup : n), '--precision', '3', ...(quiet ? ['-q'] : [])];
  return redisBenchmark(argv).output;
}

const settle = () => new Promise((r) => setTimeout(r, 300));

/** The collections --trace-gc printed in `text`: per kind, count / median / longest / over 2 ms / sum (ms). */
function gcPauses(text) {
  const kinds = {};
  for (const m of text.matchAll(/ms: (Scavenge|Mark-Compact|Minor Mark-Compact)[^,]*, ([\d.]+) \/ [\d.]+ ms/g)) {
    const k = (kinds[m[1]] ??= { count: 0, longest: 0, over2: 0, sum: 0, all: [] });
    const ms = Number(m[2]);
    k.all.push(ms);
    k.count++;
    k.sum += ms;
    k.over2 += ms > 2 ? 1 : 0;
    k.longest = Math.max(k.longest, ms);
  }
  return kinds;
}

const results = new Map(variants.map((v) => [v.name, []]));
for (let round = 0; round < rounds; round++) {
  for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
    const s = await start(v);
    try {
      if (warmup > 0) await benchmark(s.port, true);
      await new Promise((r) => setTimeout(r, idle * 1000));
      const mark = s.out.length;
      // Not a tty: redis-cli prints `min max avg samples` per PING, the window's running
      // figures (samples start again at 1 each window); stdbuf so that no line waits in a buffer.
      const hist = history ? spawn('stdbuf', ['-oL', 'redis-cli', '-p', String(s.port), '--latency-history', '-i', '1'], { stdio: ['ignore', 'pipe', 'ignore'] }) : null;
      let histOut = '';
      hist?.stdout.on('data', (d) => (histOut += d));
      const cpu0 = cpuSeconds(s.proc.pid);
      const load = os.loadavg()[0];
      const p = percentiles(await benchmark(s.port, false));
      const cpuUs = ((cpuSeconds(s.proc.pid) - cpu0) * 1e6) / (n * Math.max(1, Object.keys(p).length));
      await settle();
      if (hist !== null) {
        hist.kill('SIGINT');
        await new Promise((r) => hist.once('exit', r));
      }
      const windows = [];
      let lastCount = Infinity;
      for (const m of histOut.matchAll(/^\d+ (\d+) [\d.]+ (\d+)$/gm)) {
        if (Number(m[2]) <= lastCount) windows.push(0);
        windows[windows.length - 1] = Number(m[1]);
        lastCount = Number(m[2]);
      }
      const r = { p, cpuUs, load, gc: traceGc && v.name !== 'redis' ? gcPauses(s.out.slice(mark)) : null, ping: history ? { max: Math.max(0, ...windows), over5: windows.filter((x) => x >= 5).length, windows: windows.length } : null };
      results.get(v.name).push(r);
      const line = Object.entries(p).map(([t, x]) => `${t} ${x.p50}/${x.p99}/${x.p999}/${x.max}`).join(', ');
      const gc = r.gc === null ? '' : ` gc ${Object.entries(r.gc).map(([k, x]) => `${k} ${x.count}× median ${median(x.all).toFixed(2)} longest ${x.longest.toFixed(1)} >2ms ${x.over2} sum ${x.sum.toFixed(0)}`).join('; ')}`;
      const ping = r.ping === null ? '' : ` ping max ${r.ping.max} ms, windows ≥5 ms ${r.ping.over5}/${r.ping.windows}`;
      console.log(`round ${round + 1} ${v.name} (load ${load.toFixed(1)}): p50/p99/p99.9/max ms ${line}; ${cpuUs.toFixed(2)} µs CPU/req${gc}${ping}`);
    } finally {
      await stop(s);
    }
  }
}

const testNames = Object.keys(results.get(variants[0].name)[0].p);
console.log(`\nMedians of ${rounds} rounds (ms; every round's max in brackets):\n`);
console.log(`| test | server | p50 | p99 | p99.9 | max (rounds) | CPU µs/req |${history ? ' worst PING (rounds) |' : ''}`);
console.log(`|---|---|---:|---:|---:|---|---:|${history ? '---|' : ''}`);
for (const t of testNames) {
  for (const v of variants) {
    const rs = results.get(v.name);
    const m = (k) => median(rs.map((r) => r.p[t][k])).toFixed(3);
    const maxes = rs.map((r) => r.p[t].max.toFixed(1)).join(', ');
    const ping = history ? ` ${rs.map((r) => r.ping.max).join(', ')} |` : '';
    console.log(`| ${t} | ${v.name} | ${m('p50')} | ${m('p99')} | ${m('p999')} | ${m('max')} (${maxes}) | ${median(rs.map((r) => r.cpuUs)).toFixed(2)} |${ping}`);
  }
}
console.log(`\nload average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`);
