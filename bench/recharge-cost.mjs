#!/usr/bin/env node
// What the memory model's recharge of one write to a big hash or set costs (keyspace/memory.ts
// rechargeValue), in process: HSET myhash / SADD myset of redis-benchmark's `element:__rand_int__`
// (-r 100000) into a 100,000-element collection, timed with and without the recharge after each
// write; the difference per write is the recharge. Builds alternate slice by slice in one process.
// Also LPUSH / RPUSH mylist xxx onto a list of 100,000 (the list grows by 2 × n per slice).
//
//   node bench/recharge-cost.mjs --dist <build>/dist [--dist <other>/dist] [--n 200000] [--slices 10]
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const dists = args.flatMap((a, i) => (a === '--dist' ? [path.resolve(args[i + 1])] : []));
if (dists.length === 0) dists.push(path.resolve('dist'));
const n = Number(option(args, 'n', '200000'));
const slices = Number(option(args, 'slices', '10'));
const load = async (d, m) => import(pathToFileURL(path.join(d, m)).href);

const builds = [];
for (const d of dists) {
  const memory = await load(d, 'src/keyspace/memory.js');
  const { HashValue } = await load(d, 'src/types/hash.js');
  const { SetValue } = await load(d, 'src/types/set.js');
  const { ListValue } = await load(d, 'src/types/list.js');
  const l = new ListValue();
  for (let i = 0; i < 100000; i++) l.pushTail('xxx');
  memory.chargedValueBytes(l);
  const h = new HashValue();
  const s = new SetValue();
  for (let i = 0; i < 100000; i++) {
    h.set(`element:${String(i).padStart(12, '0')}`, 'xxx');
    s.add(`element:${String(i).padStart(12, '0')}`);
  }
  memory.chargedValueBytes(h);
  memory.chargedValueBytes(s);
  builds.push({ d, memory, h, s, l });
}
let seed = 7;
const names = Array.from({ length: 4096 }, () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return `element:${String(seed % 100000).padStart(12, '0')}`;
});
let sink = 0;
function slice(b, kind, recharge) {
  const t0 = process.cpuUsage();
  const { memory, h, s, l } = b;
  const v = kind === 'hset' ? h : kind === 'sadd' ? s : l;
  for (let i = 0; i < n; i++) {
    const name = names[i & 4095];
    if (kind === 'hset') h.set(name, 'xxx');
    else if (kind === 'sadd') s.add(name);
    else if (kind === 'lpush') l.pushHead('xxx');
    else l.pushTail('xxx');
    if (recharge) sink += memory.rechargeValue(v);
  }
  const t = process.cpuUsage(t0);
  return ((t.user + t.system) * 1000) / n; // ns per write
}
const results = {};
for (let r = 0; r < slices; r++) {
  for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
    for (const kind of ['hset', 'sadd', 'lpush', 'rpush']) {
      const with_ = slice(b, kind, true);
      const without = slice(b, kind, false);
      (results[`${b.d}|${kind}`] ??= []).push(with_ - without);
    }
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`ns per write spent in the recharge (with − without, median of ${slices} slices of ${n}; sink ${sink % 7})`);
for (const b of builds) console.log(`${b.d}: ${['hset', 'sadd', 'lpush', 'rpush'].map((k) => `${k} ${median(results[`${b.d}|${k}`]).toFixed(1)}`).join('  ')}`);
