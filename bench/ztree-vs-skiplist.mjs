#!/usr/bin/env node
// The sorted set's two order structures side by side in one process (zset18): the B+tree
// (types/ztree.js) and the skip list it replaced (types/skiplist.js), on redis-benchmark's ZADD
// pattern — ~100k members `element:<12 digits>`, random integer scores below 100,000 — in
// alternating slices; prints median ns of process CPU per operation for: insert (fill to N),
// move (a member to a random new score), rank of a random member, element at a random rank,
// delete (random members until empty). Members are looked up through a Map, as ZSet does.
//
//   node bench/ztree-vs-skiplist.mjs [<dist>]   (env N=100000, ROUNDS=7)
const dist = process.argv[2] ?? new URL('../dist', import.meta.url).pathname;
const { ZTree } = await import(`${dist}/src/types/ztree.js`);
const { SkipList } = await import(`${dist}/src/types/skiplist.js`);
const N = Number(process.env.N ?? 100000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
let seed = 12345;
const rand = (k) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % k;
};
const members = Array.from({ length: N }, (_, i) => 'element:' + String(i).padStart(12, '0'));
const scores = Array.from({ length: 4 * N }, () => rand(100000));
const picks = Array.from({ length: 4 * N }, () => rand(N));
const cpu = (f) => {
  const t0 = process.cpuUsage();
  f();
  const u = process.cpuUsage(t0);
  return (u.user + u.system) * 1000;
};
const kinds = {
  ztree: { make: () => new ZTree(), move: (t, n, s, m) => t.updateScore(n, s, m), rank: (t, n) => t.rankOf(n), at: (t, r) => t.at(r) },
  skiplist: { make: () => new SkipList(), move: (t, n, s, m) => t.updateScore(n, s, m), rank: (t, n) => t.rank(t.score(n), t.member(n)), at: (t, r) => t.byRank(r + 1) },
};
const results = {};
for (const k of Object.keys(kinds)) results[k] = { insert: [], move: [], rank: [], at: [], delete: [] };
let sink = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, K] of (round & 1 ? Object.entries(kinds).reverse() : Object.entries(kinds))) {
    const t = K.make();
    const index = new Map();
    const r = results[name];
    r.insert.push(cpu(() => { for (let i = 0; i < N; i++) index.set(members[i], t.insert(scores[i], members[i])); }) / N);
    r.move.push(cpu(() => {
      for (let i = 0; i < 2 * N; i++) {
        const m = members[picks[i]];
        const n = index.get(m);
        const s = scores[N + i];
        if (t.score(n) !== s) K.move(t, n, s, m);
      }
    }) / (2 * N));
    r.rank.push(cpu(() => { for (let i = 0; i < N; i++) sink += K.rank(t, index.get(members[picks[i]])); }) / N);
    r.at.push(cpu(() => { for (let i = 0; i < N; i++) sink += K.at(t, picks[i]); }) / N);
    const order = members.slice();
    for (let i = N - 1; i > 0; i--) { const j = rand(i + 1); [order[i], order[j]] = [order[j], order[i]]; }
    r.delete.push(cpu(() => { for (let i = 0; i < N; i++) { t.deleteNode(index.get(order[i]), order[i]); index.delete(order[i]); } }) / N);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
process.stdout.write(`ns of CPU per operation, ${N} members, median of ${ROUNDS} (sink ${sink % 7})\n\n| op | skiplist | ztree | ztree/skiplist |\n|---|---:|---:|---:|\n`);
for (const op of ['insert', 'move', 'rank', 'at', 'delete']) {
  const a = median(results.skiplist[op]), b = median(results.ztree[op]);
  process.stdout.write(`| ${op} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(b / a).toFixed(2)} |\n`);
}
