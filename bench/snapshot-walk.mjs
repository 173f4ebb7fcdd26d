#!/usr/bin/env node
// The CPU of one whole snapshot of 1,000,000 small keys (as DEBUG POPULATE makes them), in
// process: Snapshot.step in 0.6 ms slices gathering 256 KB chunks into memory (no I/O), as a
// BGSAVE's walk does. Three variants per round: nothing touched; --touched keys (default
// 100,000) marked as born after the start, as `redis-benchmark -t incr -r 100000` creates
// `counter:N` keys while a job runs (the walk then skips such keys); and rdbchecksum no (no CRC).
// --dist DIR runs another build's compiled modules (an older tree's dist/), for a before/after.
//
// --slice MS sets the slices' budget (default 0.6, an idle job's; a one-at-a-time client's turns
// give the job slices of ~0.01–0.02 ms, jobs7).
//
//   node bench/snapshot-walk.mjs [--rounds 3] [--keys 1000000] [--touched 100000] [--slice 0.6] [--dist /tmp/old/dist]
import path from 'node:path';
import { root, option, median } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const [rounds, keys, touchedKeys, sliceMs] = [['rounds', 3], ['keys', 1e6], ['touched', 1e5], ['slice', 0.6]].map(([name, dflt]) => Number(option(args, name, String(dflt))));
const { Database } = await import(path.join(dist, 'src/keyspace/db.js'));
const { Snapshot } = await import(path.join(dist, 'src/persistence/snapshot.js'));
const { DEFAULT_ENCODE_OPTIONS } = await import(path.join(dist, 'src/persistence/rdb-encode.js'));
const { standaloneOwner } = await import(path.join(dist, 'test/helpers/in-process.js'));

const db = new Database(0, standaloneOwner());
for (let i = 0; i < keys; i++) db.set(`key:${i}`, `value:${i}`);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function run(touched, checksum) {
  const snap = new Snapshot([db], { encode: DEFAULT_ENCODE_OPTIONS, checksum, aux: [], functions: [] });
  for (let i = 0; i < touched; i++) snap.beforeKeyChange(db, `counter:${i}`);
  const t0 = cpuMs();
  while (!snap.complete) snap.step(sliceMs, Infinity, 8 << 20, 256 * 1024);
  return cpuMs() - t0;
}

const variants = { 'nothing touched': [0, true], [`${touchedKeys} keys touched`]: [touchedKeys, true], 'rdbchecksum no': [0, false] };
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, [touched, checksum]] of Object.entries(variants)) results[name].push(run(touched, checksum));
}
console.log(`${dist}: snapshot of ${keys} keys in ${sliceMs} ms slices, CPU ms (median of ${rounds}; each round)`);
for (const [name, ms] of Object.entries(results)) console.log(`  ${name.padEnd(24)} ${median(ms).toFixed(0).padStart(5)}   (${ms.map((m) => m.toFixed(0)).join(', ')})`);
