#!/usr/bin/env node
// Replication benchmark, side by side: nodis master + nodis replica vs redis-server master +
// redis-server replica (Debian's 7.0.x), each pair on free ports, rounds alternating servers.
//
//  1. Full sync: the master holds --keys (default 1,000,000) keys `key:<9 digits>` = `val:<n>`;
//     an empty replica gets REPLICAOF and we time it until INFO says master_link_status:up
//     (and check its DBSIZE). Both servers run with repl-diskless-sync-delay 0, so the time is
//     the transfer's, not the default 5 s wait for more replicas.
//  2. Streaming: `redis-benchmark -t set -P 16 -n 1000000 -r 1000000` against the master while
//     INFO replication of both nodes is sampled every 100 ms: lag = master_repl_offset (master)
//     − slave_repl_offset (replica), in bytes. Reported: the benchmark's SET/s, the time the
//     replica needed after the benchmark ended to reach the master's final offset, the
//     replicated SET/s end to end (n / (benchmark + catch-up)), and the lag's median / p99 / max.
//
// Usage: node bench/replication.mjs [--rounds 1] [--keys 1000000] [--n 1000000] [--no-write]
// Build first (npx tsc -p .). Writes the "replication" section of docs/PERFORMANCE.md between
// its BEGIN/END markers, the raw runs to bench/results/. Kills every process it starts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { root, option, startServer as start, stopServer as stop, median, serverVersion, loadKeys, writeSection } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const rounds = Number(opt('rounds', '1'));
const keys = Number(opt('keys', '1000000'));
const n = Number(opt('n', '1000000'));
const write = !args.includes('--no-write');
const BINS = { nodis: path.join(root, 'bin/nodis-server'), redis: '/usr/bin/redis-server' };

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function startServer(kind) {
  const s = await start(`repl-${kind}`, BINS[kind], ['--repl-diskless-sync-delay', '0']);
  children.add(s.proc);
  // Keep draining the output so a chatty server never blocks on a full pipe.
  s.proc.stdout.resume();
  s.proc.stderr.resume();
  const client = new Redis({ port: s.port, lazyConnect: true, maxRetriesPerRequest: null });
  await client.connect();
  return { ...s, kind, client };
}

async function stopServer(s) {
  s.client.disconnect();
  await stop(s);
  children.delete(s.proc);
}

async function infoField(client, field) {
  const info = await client.info('replication');
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return m ? m[1].trim() : undefined;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function fullSync(master, replica) {
  const t0 = performance.now();
  await replica.client.call('replicaof', '127.0.0.1', String(master.port));
  for (;;) {
    if ((await infoField(replica.client, 'master_link_status')) === 'up') break;
    await sleep(20);
  }
  const ms = performance.now() - t0;
  const dbsize = await replica.client.dbsize();
  return { ms, dbsize };
}

/** The benchmark against the master while the lag is sampled every 100 ms. */
async function streaming(master, replica) {
  const bench = spawn('redis-benchmark', ['-p', String(master.port), '-t', 'set', '-P', '16', '-n', String(n), '-r', '1000000', '--csv'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.add(bench);
  let csv = '';
  bench.stdout.on('data', (d) => (csv += d));
  const done = new Promise((r) => bench.once('exit', r));
  const t0 = performance.now();
  let running = true;
  done.then(() => (running = false));
  const lags = [];
  while (running) {
    const [m, r] = await Promise.all([infoField(master.client, 'master_repl_offset'), infoField(replica.client, 'slave_repl_offset')]);
    lags.push(Math.max(0, Number(m) - Number(r)));
    await sleep(100);
  }
  await done;
  children.delete(bench);
  const benchMs = performance.now() - t0;
  const finalOffset = Number(await infoField(master.client, 'master_repl_offset'));
  for (;;) {
    const r = Number(await infoField(replica.client, 'slave_repl_offset'));
    if (r >= finalOffset) break;
    lags.push(finalOffset - r);
    await sleep(20);
  }
  const totalMs = performance.now() - t0;
  const rps = Number(/"SET","([\d.]+)"/.exec(csv)?.[1] ?? NaN);
  const sorted = [...lags].sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  return {
    rps,
    catchUpMs: totalMs - benchMs,
    replicatedRps: (n / totalMs) * 1000,
    lagMedian: pct(0.5),
    lagP99: pct(0.99),
    lagMax: sorted[sorted.length - 1] ?? 0,
    samples: lags.length,
  };
}

async function runOnce(kind) {
  const master = await startServer(kind);
  const replica = await startServer(kind);
  try {
    await loadKeys(master.port, keys);
    const sync = await fullSync(master, replica);
    const stream = await streaming(master, replica);
    const res = { kind, syncMs: sync.ms, syncedKeys: sync.dbsize, ...stream };
    process.stderr.write(`${JSON.stringify(res)}\n`);
    return res;
  } finally {
    await stopServer(replica);
    await stopServer(master);
  }
}

async function main() {
  const loadAtStart = os.loadavg()[0].toFixed(1);
  const runs = { nodis: [], redis: [] };
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? ['nodis', 'redis'] : ['redis', 'nodis']) runs[kind].push(await runOnce(kind));
  }
  const med = (kind, f) => median(runs[kind].map((r) => r[f]));
  const rows = [
    ['full sync of the keys (ms)', 'syncMs'],
    ['SET/s on the master (redis-benchmark)', 'rps'],
    ['replica catch-up after the benchmark (ms)', 'catchUpMs'],
    ['replicated SET/s end to end', 'replicatedRps'],
    ['lag median (bytes)', 'lagMedian'],
    ['lag p99 (bytes)', 'lagP99'],
    ['lag max (bytes)', 'lagMax'],
  ];
  const stamp = new Date().toISOString();
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, `bench/results/replication-${stamp}.json`), JSON.stringify({ rounds, keys, n, runs }, null, 2));
  let md = `Measured ${stamp.slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}, shared; load average ${loadAtStart} at the start), `;
  md += `Node ${process.version}, redis-server ${serverVersion('redis-server')}; master and replica on the same host, default configs `;
  md += `except repl-diskless-sync-delay 0 (diskless sync, no 5 s wait for more replicas), ${rounds} round(s) alternating servers, medians.\n`;
  md += `Full sync: ${keys} keys \`key:<9 digits>\` = \`val:<n>\`, REPLICAOF until master_link_status:up. `;
  md += `Streaming: \`redis-benchmark -t set -P 16 -n ${n} -r 1000000\` on the master, lag = master_repl_offset − the replica's `;
  md += 'slave_repl_offset sampled every 100 ms.\n\n';
  md += '| measure | nodis | redis | nodis/redis |\n|---|---:|---:|---:|\n';
  for (const [label, f] of rows) {
    const a = med('nodis', f);
    const b = med('redis', f);
    const ratio = b === 0 ? (a === 0 ? '1.00' : '—') : (a / b).toFixed(2);
    md += `| ${label} | ${Math.round(a)} | ${Math.round(b)} | ${ratio} |\n`;
  }
  md += `\nKeys on the replica after the full sync: nodis ${med('nodis', 'syncedKeys')}, redis ${med('redis', 'syncedKeys')}.\n`;
  process.stdout.write(md);
  if (write) writeSection('replication', md);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
