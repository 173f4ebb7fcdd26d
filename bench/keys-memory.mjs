#!/usr/bin/env node
// RSS and used_memory per small key, several nodis builds or node flag sets against redis-server,
// alternating servers for several rounds: `key:<9 digits>` = `val:<n>` loaded pipelined
// (bench/lib.mjs loadKeys), read 1 s after MEMORY PURGE (bench/run.mjs's memory step, one
// key count, every server of the list per round). Medians per server.
//
// Usage: node bench/keys-memory.mjs [--keys 1000000] [--rounds 3]
//          [--nodis-bin path/to/bin/nodis-server ...]   (repeat: a build, or a script running one with node flags)
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, usedMemory, rssBytes, loadKeys, median } from './lib.mjs';

const args = process.argv.slice(2);
const keys = Number(option(args, 'keys', '1000000'));
const rounds = Number(option(args, 'rounds', '3'));
const nodisBins = args.flatMap((a, i) => (a === '--nodis-bin' ? [path.resolve(args[i + 1])] : []));
if (nodisBins.length === 0) nodisBins.push(path.join(root, 'bin/nodis-server'));
const servers = [...nodisBins.map((bin) => ({ name: path.relative(process.cwd(), bin), kind: 'nodis', bin })), { name: 'redis-server', kind: 'redis', bin: 'redis-server' }];

async function measure(server) {
  const s = await startServer(server.kind, server.bin);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const usedBefore = usedMemory(s.port);
    const rssBefore = rssBytes(s.proc.pid);
    await loadKeys(s.port, keys);
    const rssLoaded = rssBytes(s.proc.pid);
    const usedAfter = usedMemory(s.port); // MEMORY PURGE first
    await new Promise((r) => setTimeout(r, 1000));
    const rssAfter = rssBytes(s.proc.pid);
    return { used: (usedAfter - usedBefore) / keys, rssLoaded: (rssLoaded - rssBefore) / keys, rss: (rssAfter - rssBefore) / keys };
  } finally {
    await stopServer(s);
  }
}

const results = new Map(servers.map((s) => [s.name, []]));
for (let round = 0; round < rounds; round++) {
  for (const server of servers) {
    const r = await measure(server);
    results.get(server.name).push(r);
    console.error(`round ${round + 1} ${server.name}: used ${r.used.toFixed(1)} B/key, RSS ${r.rssLoaded.toFixed(1)} loaded, ${r.rss.toFixed(1)} after MEMORY PURGE + 1 s (load ${os.loadavg()[0].toFixed(1)})`);
  }
}
const redisRss = median(results.get('redis-server').map((r) => r.rss));
let md = `${keys} keys, median of ${rounds} alternating rounds (load average ${os.loadavg()[0].toFixed(1)} at the end):\n\n`;
md += '| server | used_memory/key | RSS/key loaded | RSS/key after MEMORY PURGE + 1 s | RSS ratio |\n|---|---:|---:|---:|---:|\n';
for (const [name, rs] of results) {
  const rss = median(rs.map((r) => r.rss));
  md += `| ${name} | ${median(rs.map((r) => r.used)).toFixed(1)} B | ${median(rs.map((r) => r.rssLoaded)).toFixed(1)} B | ${rss.toFixed(1)} B | ${(rss / redisRss).toFixed(2)} |\n`;
}
console.log(md);
