#!/usr/bin/env node
// Server CPU per SET of the eviction benchmark (bench/eviction.mjs's workload) for several
// nodis variants side by side, alternating them round by round: each variant is a
// `name=bin[:NODE_OPTIONS]` (bin: a bin/nodis-server path; NODE_OPTIONS: node flags for it).
// `--no-maxmemory` runs the same SETs without maxmemory (the keyspace grows).
//
// Usage: node bench/eviction-variants.mjs [--rounds 3] [--requests 300000] [--no-maxmemory]
//          [--redis] before=/work/main/bin/nodis-server after=bin/nodis-server 'semi8=bin/nodis-server:--max-semi-space-size=8'
import { spawnSync } from 'node:child_process';
import { option, startServer, stopServer, cli, median } from './lib.mjs';
import os from 'node:os';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const requests = Number(option(args, 'requests', '300000'));
const withMax = !args.includes('--no-maxmemory');
const variants = args
  .filter((a) => /^[\w.-]+=/.test(a))
  .map((a) => {
    const [name, rest] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    const colon = rest.indexOf(':');
    return colon < 0 ? { name, bin: rest, nodeOptions: '' } : { name, bin: rest.slice(0, colon), nodeOptions: rest.slice(colon + 1) };
  });
if (args.includes('--redis')) variants.push({ name: 'redis', bin: 'redis-server', nodeOptions: '' });

function cpuSeconds(port) {
  const text = cli(port, 'info', 'cpu');
  const f = (name) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return f('used_cpu_user') + f('used_cpu_sys');
}

async function once(v) {
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = v.nodeOptions;
  const extra = withMax ? ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] : [];
  const s = await startServer(v.name, v.bin, extra);
  if (saved === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = saved;
  try {
    const before = cpuSeconds(s.port);
    const r = spawnSync('redis-benchmark', ['-p', String(s.port), '-t', 'set', '-n', String(requests), '-r', '1000000', '-d', '1000', '-P', '16', '-q', '--csv'], { encoding: 'latin1' });
    const line = r.stdout.split('\n').find((l) => l.startsWith('"SET"'));
    const rps = Number(line?.split(',')[1]?.replaceAll('"', '') ?? NaN);
    const cpuUs = ((cpuSeconds(s.port) - before) * 1e6) / requests;
    return { rps, cpuUs, keys: Number(cli(s.port, 'dbsize')) };
  } finally {
    await stopServer(s);
  }
}

const results = new Map(variants.map((v) => [v.name, []]));
for (let i = 0; i < rounds; i++) {
  for (const v of variants) {
    const r = await once(v);
    results.get(v.name).push(r);
    console.log(`${v.name} round ${i + 1}: ${r.cpuUs.toFixed(2)} µs CPU/SET, ${Math.round(r.rps)} SET/s, ${r.keys} keys, load ${os.loadavg()[0].toFixed(1)}`);
  }
}
console.log(`\n| variant | CPU µs/SET (rounds) | median | SET/s median | keys held |\n|---|---|---:|---:|---:|`);
for (const v of variants) {
  const rs = results.get(v.name);
  console.log(`| ${v.name} | ${rs.map((r) => r.cpuUs.toFixed(2)).join(' / ')} | ${median(rs.map((r) => r.cpuUs)).toFixed(2)} | ${Math.round(median(rs.map((r) => r.rps)))} | ${median(rs.map((r) => r.keys))} |`);
}
