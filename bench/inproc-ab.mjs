#!/usr/bin/env node
// Builds A/B'd in process, one child process per build and round, rounds alternating: each child
// makes an in-process server from a build's dist/ (bench/lib.mjs inProcessServer), then runs
// redis-benchmark's commands for each test (bench/lib.mjs benchmarkCommands: the same keys,
// fields and values as `-r 100000`) as 16-command pipelined reads through the client's parser
// and Server.processInput — parse, dispatch, admission, the executor, the handler, the reply —
// without sockets, and reports the process's CPU time (all threads: GC helpers included) per
// command. One child per build and round, builds alternating (or, with --together, all builds in
// one child, slices of --slice commands alternating). The RESP bytes are made before the clock
// starts. On a loaded machine the other
// jobs take wall time, not this CPU time, so builds a few percent apart can be told apart where
// whole-server runs cannot (docs/PERFORMANCE.md, "p16c").
//
//   node bench/inproc-ab.mjs --dist <build>/dist [--dist <other>/dist] [--rounds 5]
//        [--n 320000] [--warmup 160000] [--slice 8000] [--together] [--tests ping_mbulk,set,get,incr,hset,lpush]
//        [--fresh] [--semi MB]
//
// --fresh: the measured commands write a collection key of their own (`myset` → `myset:m`), so
// the set, hash or list grows from empty during the measured run, as in a redis-benchmark test
// of -n 200000 on a server that never held it (the warm-up's commands, on the plain key, only
// warm the code). --semi MB: the children run with V8's semi-spaces at MB, as nodis-server's
// (4 MB without maxmemory, src/server/heap.ts) instead of V8's default.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { option, median, inProcessServer, benchmarkCommands, pipelinedReads, runReads } from './lib.mjs';

const args = process.argv.slice(2);
const PIPELINE = 16;

if (args[0] === '--child') {
  // Every build in this one process (each its own module graph and server), slices of each
  // test's commands alternating between them, so both see the same moments of the machine.
  const [, distList, testList, nArg, warmArg, sliceArg, freshArg] = args;
  const fresh = freshArg === 'fresh';
  const n = Number(nArg);
  const warm = Number(warmArg);
  const slice = Number(sliceArg);
  const builds = [];
  for (const dist of distList.split(',')) builds.push(await inProcessServer(dist));
  const out = {};
  for (const test of testList.split(',')) {
    const gens = builds.map((b) => ({ ...benchmarkCommands(b.Random, 7), ping_mbulk: () => ['PING'] })[test]);
    const chunks = (gen, count) => pipelinedReads(gen, count, PIPELINE);
    const run = runReads;
    builds.forEach((b, i) => {
      const w = chunks(gens[i], warm);
      run(b, w, 0, w.length);
    });
    const measuredGen = (gen) => (fresh ? () => { const a = gen(); if (a.length > 1 && /^my/.test(a[1])) a[1] += ':m'; return a; } : gen);
    const lists = builds.map((b, i) => chunks(measuredGen(gens[i]), n));
    const cpu = builds.map(() => 0);
    const per = slice / PIPELINE;
    for (let from = 0, k = 0; from < lists[0].length; from += per, k++) {
      const order = k % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => builds.length - 1 - i);
      for (const i of order) {
        const t0 = process.cpuUsage();
        run(builds[i], lists[i], from, Math.min(from + per, lists[i].length));
        const t = process.cpuUsage(t0);
        cpu[i] += t.user + t.system;
      }
    }
    out[test] = cpu.map((us) => us / n);
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

const dists = args.flatMap((a, i) => (a === '--dist' ? [path.resolve(args[i + 1])] : []));
const rounds = Number(option(args, 'rounds', '5'));
const n = option(args, 'n', '320000');
const warmup = option(args, 'warmup', '160000');
const tests = option(args, 'tests', 'ping_mbulk,set,get,incr,hset,lpush');
const slice = option(args, 'slice', '8000');
const self = fileURLToPath(import.meta.url);
// --together: every build in one child (one heap: not for changes to what a command leaves
// for the collector, whose cost then falls on whichever build triggers a scavenge).
const together = args.includes('--together');
const fresh = args.includes('--fresh');
const semi = option(args, 'semi', '');
const nodeFlags = semi === '' ? [] : [`--max-semi-space-size=${semi}`, `--min-semi-space-size=${semi}`];
const res = {};
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? dists.map((_, i) => i) : dists.map((_, i) => dists.length - 1 - i);
  const groups = together ? [order] : order.map((i) => [i]);
  const line = [];
  for (const g of groups) {
    const p = spawnSync(process.execPath, [...nodeFlags, self, '--child', g.map((i) => dists[i]).join(','), tests, n, warmup, slice, fresh ? 'fresh' : '-'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (p.status !== 0) throw new Error(`child failed: ${p.stderr}`);
    const o = JSON.parse(p.stdout);
    for (const [t, list] of Object.entries(o)) list.forEach((us, j) => (res[`${dists[g[j]]}|${t}`] ??= []).push(us));
  }
  for (const t of tests.split(',')) line.push(`${t} ${dists.map((d) => res[`${d}|${t}`].at(-1).toFixed(3)).join('/')}`);
  process.stderr.write(`round ${r + 1}: ${line.join(', ')}\n`);
}
let md = `In-process CPU µs per command (median of ${rounds} rounds, ${n} commands per test after ${warmup}${fresh ? ', measured on a fresh collection key' : ''}${semi !== '' ? `, semi-spaces ${semi} MB` : ''}, ${PIPELINE} per read; load ${os.loadavg()[0].toFixed(1)} at the end)\n\n`;
md += `| test | ${dists.map((d, i) => `build ${i + 1}`).join(' | ')} |${dists.length > 1 ? ' 2 vs 1 |' : ''}\n|---|${dists.map(() => '---:').join('|')}|${dists.length > 1 ? '---:|' : ''}\n`;
for (const t of tests.split(',')) {
  const m = dists.map((d) => median(res[`${d}|${t}`]));
  md += `| ${t} | ${m.map((v) => v.toFixed(3)).join(' | ')} |${dists.length > 1 ? ` ${(((m[1] - m[0]) / m[0]) * 100).toFixed(1)}% |` : ''}\n`;
}
md += `\nbuilds: ${dists.map((d, i) => `${i + 1} = ${d}`).join(', ')}\n`;
process.stdout.write(md);
