#!/usr/bin/env node
// Server CPU per SET of the eviction benchmark (bench/eviction.mjs's workload) for several
// nodis variants side by side, alternating them round by round: each variant is a
// `name=bin[:NODE_OPTIONS]` (bin: a bin/nodis-server path; NODE_OPTIONS: node flags for it).
// `--no-maxmemory` runs the same SETs without maxmemory (the keyspace grows).
//
// `--together` runs each round's variants at the same time instead (every server started, then
// one redis-benchmark per server, concurrently), so they all see the same machine load: on a
// shared, loaded machine the round-to-round noise of running them one after another is larger
// than the differences worth measuring. It also prints the median of the per-round differences
// against the first variant. (Throughput is then not comparable with other runs.)
//
// Usage: node bench/eviction-variants.mjs [--rounds 3] [--requests 300000] [--no-maxmemory]
//          [--together] [--redis] before=/work/main/bin/nodis-server after=bin/nodis-server
//          'semi8=bin/nodis-server:--max-semi-space-size=8'
import { spawn } from 'node:child_process';
import { option, startServer, stopServer, cli, median, serverCpuSeconds } from './lib.mjs';
import os from 'node:os';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const requests = Number(option(args, 'requests', '300000'));
const withMax = !args.includes('--no-maxmemory');
const together = args.includes('--together');
const variants = args
  .filter((a) => /^[\w.-]+=/.test(a))
  .map((a) => {
    const [name, rest] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    const colon = rest.indexOf(':');
    return colon < 0 ? { name, bin: rest, nodeOptions: '' } : { name, bin: rest.slice(0, colon), nodeOptions: rest.slice(colon + 1) };
  });
if (args.includes('--redis')) variants.push({ name: 'redis', bin: 'redis-server', nodeOptions: '' });

async function start(v) {
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = v.nodeOptions;
  const extra = withMax ? ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'] : [];
  try {
    return await startServer(v.name, v.bin, extra);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

/** redis-benchmark against one server: its SET/s, the server's CPU per SET, the keys it holds. */
async function measure(s) {
  const before = serverCpuSeconds(s.port);
  const p = spawn('redis-benchmark', ['-p', String(s.port), '-t', 'set', '-n', String(requests), '-r', '1000000', '-d', '1000', '-P', '16', '-q', '--csv']);
  let out = '';
  p.stdout.on('data', (d) => (out += d.toString('latin1')));
  await new Promise((resolve) => p.once('close', resolve));
  const line = out.split('\n').find((l) => l.startsWith('"SET"'));
  const rps = Number(line?.split(',')[1]?.replaceAll('"', '') ?? NaN);
  const cpuUs = ((serverCpuSeconds(s.port) - before) * 1e6) / requests;
  return { rps, cpuUs, keys: Number(cli(s.port, 'dbsize')) };
}

/** One round: the variants one after another, or (--together) all at once. */
async function round(order) {
  const results = new Map();
  if (!together) {
    for (const v of order) {
      const s = await start(v);
      try {
        results.set(v.name, await measure(s));
      } finally {
        await stopServer(s);
      }
    }
    return results;
  }
  const servers = [];
  try {
    for (const v of order) servers.push(await start(v));
    const rs = await Promise.all(servers.map(measure));
    order.forEach((v, j) => results.set(v.name, rs[j]));
  } finally {
    for (const s of servers) await stopServer(s);
  }
  return results;
}

const results = new Map(variants.map((v) => [v.name, []]));
const diffs = new Map(variants.map((v) => [v.name, []]));
for (let i = 0; i < rounds; i++) {
  // Alternate the order (who runs, or starts, first).
  const rs = await round(i % 2 === 0 ? variants : [...variants].reverse());
  for (const v of variants) {
    const r = rs.get(v.name);
    results.get(v.name).push(r);
    diffs.get(v.name).push(r.cpuUs - rs.get(variants[0].name).cpuUs);
    console.log(`${v.name} round ${i + 1}: ${r.cpuUs.toFixed(2)} µs CPU/SET, ${Math.round(r.rps)} SET/s, ${r.keys} keys, load ${os.loadavg()[0].toFixed(1)}`);
  }
}
if (together) {
  for (const v of variants.slice(1)) {
    const d = diffs.get(v.name);
    console.log(`${v.name} − ${variants[0].name}: median ${median(d).toFixed(2)} µs CPU/SET, below in ${d.filter((x) => x < 0).length} of ${rounds} rounds`);
  }
}
console.log(`\n| variant | CPU µs/SET (rounds) | median | SET/s median | keys held |\n|---|---|---:|---:|---:|`);
for (const v of variants) {
  const rs = results.get(v.name);
  console.log(`| ${v.name} | ${rs.map((r) => r.cpuUs.toFixed(2)).join(' / ')} | ${median(rs.map((r) => r.cpuUs)).toFixed(2)} | ${Math.round(median(rs.map((r) => r.rps)))} | ${median(rs.map((r) => r.keys))} |`);
}
