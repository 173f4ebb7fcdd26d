#!/usr/bin/env node
// Two builds' Snapshot over the same 1,000,000-key Database, in one process, in turn (the order
// swapped every round): CPU ms of each whole snapshot in slices of --slice ms (0.015: a lone
// client's), medians. --thrash KB touches that much memory between slices (the client's
// commands between a job's slices leave the job's tables and buffers cold); that time is not
// counted. Both builds' last 8 bytes (the CRC64) are printed: they must be the same.
//
//   node bench/snapshot-walk-ab.mjs --a /other/tree/dist [--b dist] [--rounds 15] [--slice 0.015] [--thrash 0]
import path from 'node:path';
import { root, option } from './lib.mjs';

const args = process.argv.slice(2);
const distA = path.resolve(option(args, 'a', path.join(root, 'dist')));
const distB = path.resolve(option(args, 'b', path.join(root, 'dist')));
const [rounds, slice, thrashKB] = [['rounds', 15], ['slice', 0.015], ['thrash', 0]].map(([n, d]) => Number(option(args, n, String(d))));
const { Database } = await import(path.join(distB, 'src/keyspace/db.js'));
const { standaloneOwner } = await import(path.join(distB, 'test/helpers/in-process.js'));
const builds = [];
for (const d of [distA, distB]) {
  const { Snapshot } = await import(path.join(d, 'src/persistence/snapshot.js'));
  const { DEFAULT_ENCODE_OPTIONS } = await import(path.join(d, 'src/persistence/rdb-encode.js'));
  builds.push({ name: d, Snapshot, enc: DEFAULT_ENCODE_OPTIONS, ms: [], crc: new Set() });
}
const db = new Database(0, standaloneOwner());
for (let i = 0; i < 1e6; i++) db.set(`key:${i}`, `value:${i}`);
const junk = new Int32Array(thrashKB * 256);
let sink = 0;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? [...builds].reverse() : builds) {
    const snap = new b.Snapshot([db], { encode: b.enc, checksum: true, aux: [], functions: [] });
    let last = null;
    let skipped = 0;
    const t0 = cpu();
    while (!snap.complete) {
      const c = snap.step(slice, Infinity, 8 << 20, 256 * 1024);
      if (c.length > 0) last = c;
      if (thrashKB > 0) {
        const t1 = cpu();
        for (let i = 0; i < junk.length; i += 16) sink += junk[i]++;
        skipped += cpu() - t1;
      }
    }
    b.ms.push(cpu() - t0 - skipped);
    b.crc.add(last.subarray(-8).toString('hex'));
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`snapshot of 1M keys in ${slice} ms slices${thrashKB ? `, ${thrashKB} KB touched between slices` : ''}: CPU ms, median of ${rounds} (each round) ${sink ? '' : ' '}`);
for (const b of builds) console.log(`  ${b.name}: ${med(b.ms).toFixed(0)}   (${b.ms.map((x) => x.toFixed(0)).join(', ')})  crc ${[...b.crc].join(',')}`);
