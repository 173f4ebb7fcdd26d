#!/usr/bin/env node
// ZSet.set A/B on redis-benchmark's ZADD pattern (`ZADD myzset <rand> element:<rand>`, -r
// 100000: ~100k members, nearly every ZADD moves an existing member to a random new rank), the
// sorted set alone: one ZSet per build in one process, filled with the same 400k ZADDs, then
// slices of 100k ZADDs alternating between the builds; prints each build's median process CPU
// ns per ZADD. Both sets live side by side, so each sees the same cache pressure and load.
//
//   node bench/zset-move-ab.mjs <build>/dist [<other>/dist …]   (env ROUNDS=15, R=100000)
const dists = process.argv.slice(2);
if (dists.length === 0) {
  process.stderr.write('usage: node bench/zset-move-ab.mjs <dist> [<dist> …]\n');
  process.exit(2);
}
const R = Number(process.env.R ?? 100000);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const SLICE = 100000;
const r = () => Math.floor(Math.random() * R);
const cmds = [];
for (let i = 0; i < 400000; i++) cmds.push([r(), 'element:' + String(r()).padStart(12, '0')]);
const sets = [];
for (const d of dists) {
  const { ZSet } = await import(new URL(`file://${d.startsWith('/') ? d : `${process.cwd()}/${d}`}/src/types/zset.js`).href);
  const z = new ZSet(false);
  for (const [s, m] of cmds) z.set(m, s);
  sets.push(z);
}
const ns = dists.map(() => []);
let off = 0;
for (let k = 0; k < ROUNDS; k++) {
  sets.forEach((z, b) => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < SLICE; i++) {
      const c = cmds[(off + i) % cmds.length];
      z.set(c[1], (c[0] + i) % R);
    }
    const u = process.cpuUsage(t0);
    ns[b].push(((u.user + u.system) * 1000) / SLICE);
  });
  off += SLICE;
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
dists.forEach((d, b) => {
  process.stdout.write(`${d}: ${median(ns[b]).toFixed(0)} ns per ZADD (median of ${ROUNDS}), ${sets[b].size()} members, ${sets[b].list.pageCount} pages\n`);
});
