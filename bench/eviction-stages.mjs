#!/usr/bin/env node
// CPU per evicting SET, in process (no sockets): bench/eviction.mjs's workload — SET of 1 KB
// values on random keys over 1,000,000, `maxmemory 64mb`, allkeys-lru — parsed from RESP into
// fresh strings and run through processCommand, with and without maxmemory, so that the
// difference is what eviction costs (the used-memory check before every command, the pool,
// the deletion, the DEL's propagation, the signals). Also: one used-memory sum alone.
// CPU time (process.cpuUsage) per operation; medians of --rounds.
//
// Where the evicting SET's time goes, stage by stage: run it under the CPU profiler and read
// the functions' inclusive times (bench/cpuprofile-shares.mjs --per N prints them per SET):
//   node --cpu-prof --cpu-prof-dir=/tmp/p bench/eviction-stages.mjs --evicting-only
//   node bench/cpuprofile-shares.mjs /tmp/p/*.cpuprofile --per 1000000
//
//   node bench/eviction-stages.mjs [--dist path/to/dist] [--n 200000] [--rounds 5] [--policy allkeys-lru] [--evicting-only]
import path from 'node:path';
import { root, option, median, inProcessServer, parsedCommands } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '200000'));
const rounds = Number(option(args, 'rounds', '5'));
const policy = option(args, 'policy', 'allkeys-lru');
const evictingOnly = args.includes('--evicting-only');
const { server, client: c, load, Random } = await inProcessServer(dist);
const { RespParser } = await load('src/protocol/parser.js');

const rnd = new Random(7);
const value = 'x'.repeat(1000);
/** `count` SETs of 1 KB values on random keys, parsed as from a socket. */
const sets = (count) =>
  parsedCommands(RespParser, count, () => ['SET', `key:${String(Math.floor(rnd.next() * 1000000)).padStart(12, '0')}`, value]);
function run(argvs) {
  const before = process.cpuUsage();
  for (let i = 0; i < argvs.length; i++) {
    c.argv = argvs[i];
    server.processCommand(c);
    if ((i & 15) === 15) c.reply.len = 0;
  }
  const u = process.cpuUsage(before);
  return (u.user + u.system) / argvs.length;
}
function timed(count, f) {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) f(i);
  const u = process.cpuUsage(before);
  return (u.user + u.system) / count;
}
const results = {};
const put = (k, v) => (results[k] ??= []).push(v);
const setConfig = (name, v) => server.config.set(name, [v], 'runtime');
setConfig('maxmemory-policy', policy);
if (evictingOnly) {
  // Filled, then 1,000,000 evicting SETs in 5 batches, and nothing else (for the profiler).
  setConfig('maxmemory', String(64 * 1024 * 1024));
  run(sets(120000));
  for (let i = 0; i < 5; i++) run(sets(200000));
  process.exit(0);
}
for (let round = 0; round < rounds; round++) {
  // Without maxmemory: the same SETs, the keyspace growing (no eviction).
  setConfig('maxmemory', '0');
  server.dbs[0].clear();
  put('SET, no maxmemory', run(sets(n)));
  // With maxmemory: filled first, then every SET evicts ~1 key.
  server.dbs[0].clear();
  setConfig('maxmemory', String(64 * 1024 * 1024));
  run(sets(120000));
  const evictedBefore = server.stats.evictedKeys;
  put('SET, evicting', run(sets(n)));
  put('keys evicted per SET', (server.stats.evictedKeys - evictedBefore) / n);
  put('used memory, one sum', timed(n, () => server.usedMemory()));
  process.stderr.write(`round ${round + 1}: ${Object.entries(results).map(([k, v]) => `${k} ${v.at(-1).toFixed(3)}`).join(', ')}\n`);
}
let md = `µs of CPU in process (median of ${rounds} rounds, ${n} SETs of 1 KB values, ${policy}, ${dist}):\n\n| stage | µs |\n|---|---:|\n`;
for (const [k, v] of Object.entries(results)) md += `| ${k} | ${median(v).toFixed(3)} |\n`;
process.stdout.write(md, () => process.exit(0));
