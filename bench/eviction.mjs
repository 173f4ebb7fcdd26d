#!/usr/bin/env node
// A cache under maxmemory, nodis vs redis-server: `maxmemory 64mb`, `allkeys-lru` (or
// --policy), and redis-benchmark SETting random keys with 1 KB values over a keyspace ten times
// larger than what fits, so that nearly every write evicts. Reports SET throughput (median of
// --runs), keys held and used_memory at the end, and evicted_keys, side by side. Results go to
// docs/PERFORMANCE.md between the markers of the "eviction" section.
//
// Usage: node bench/eviction.mjs [--runs 3] [--requests 400000] [--policy allkeys-lru]
//                                [--pipeline 16] [--no-write] [--nodis-bin path/to/bin/nodis-server]
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer as start, stopServer, cli, median, writeSection, serverCpuSeconds } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const runs = Number(opt('runs', '3'));
const requests = Number(opt('requests', '400000'));
const policy = opt('policy', 'allkeys-lru');
const pipeline = opt('pipeline', '16');
const write = !args.includes('--no-write');
const nodisBin = path.resolve(opt('nodis-bin', path.join(root, 'bin/nodis-server')));
const MAXMEMORY = '64mb';
/** 1 KB values over 1,000,000 random keys: ~1 GB of distinct data for a 64 MB cache. */
const KEYSPACE = '1000000';

function info(port, field) {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(cli(port, 'info'))?.[1] ?? NaN);
}


async function once(kind) {
  const s = await start(kind, kind === 'nodis' ? nodisBin : 'redis-server', ['--maxmemory', MAXMEMORY, '--maxmemory-policy', policy]);
  try {
    const cpuBefore = serverCpuSeconds(s.port);
    const r = spawnSync('redis-benchmark', ['-p', String(s.port), '-t', 'set', '-n', String(requests), '-r', KEYSPACE, '-d', '1000', '-P', pipeline, '-q', '--csv'], {
      encoding: 'latin1',
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('"SET"'));
    const rps = Number(line?.split(',')[1]?.replaceAll('"', '') ?? NaN);
    // Server CPU per SET in µs: steadier than throughput when the machine is loaded.
    const cpuUs = ((serverCpuSeconds(s.port) - cpuBefore) * 1e6) / requests;
    return { rps, cpuUs, keys: Number(cli(s.port, 'dbsize')), used: info(s.port, 'used_memory'), evicted: info(s.port, 'evicted_keys') };
  } finally {
    await stopServer(s);
  }
}

const results = { nodis: [], redis: [] };
for (let i = 0; i < runs; i++) {
  // Alternate so that machine noise falls on both alike.
  for (const kind of ['nodis', 'redis']) {
    const r = await once(kind);
    results[kind].push(r);
    console.log(`${kind} run ${i + 1}: ${Math.round(r.rps)} SET/s, ${r.cpuUs.toFixed(2)} µs CPU/SET, ${r.keys} keys held, used_memory ${(r.used / 1048576).toFixed(1)} MB, evicted ${r.evicted}`);
  }
}

const med = (kind, f) => median(results[kind].map((r) => r[f]));
const ratio = med('nodis', 'rps') / med('redis', 'rps');
let md = `\`maxmemory ${MAXMEMORY}\`, \`${policy}\`; \`redis-benchmark -t set -n ${requests} -r ${KEYSPACE} -d 1000 -P ${pipeline}\` `;
md += `(1 KB values over a keyspace ~15× larger than fits, so nearly every write evicts). Medians of ${runs} alternating runs.\n\n`;
md += '| server | SET/s | server CPU µs/SET | keys held at the end | used_memory at the end | evicted_keys |\n|---|---:|---:|---:|---:|---:|\n';
for (const kind of ['nodis', 'redis']) {
  md += `| ${kind} | ${Math.round(med(kind, 'rps'))} | ${med(kind, 'cpuUs').toFixed(2)} | ${med(kind, 'keys')} | ${(med(kind, 'used') / 1048576).toFixed(1)} MB | ${med(kind, 'evicted')} |\n`;
}
md += `\nThroughput ratio nodis/redis: **${ratio.toFixed(2)}**; CPU per SET redis/nodis: ${(med('redis', 'cpuUs') / med('nodis', 'cpuUs')).toFixed(2)}; `;
md += `keys held nodis/redis: ${(med('nodis', 'keys') / med('redis', 'keys')).toFixed(2)}; load average ${os.loadavg()[0].toFixed(1)} at the end.\n`;
console.log(md);
if (write) writeSection('eviction', md);
