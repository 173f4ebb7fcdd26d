#!/usr/bin/env node
// A replica's load of a full sync's image, by stage, in process: 1,000,000 small keys as DEBUG
// POPULATE makes them (`key:N` → `value:N`) are snapshotted into one RDB image in memory (as
// the master sends it), then per round, CPU ms and the collector's pause ms of:
//   parse only, CRC      parseRdbSteps with a target that drops every key (the decoder + CRC64)
//   parse only, no CRC   the same without the checksum
//   whole load           loadRdbSliced into an in-process server (a replica's load after the
//                        whole image arrived: emptyData, the loader in 10 ms slices)
//   streamed load        StreamedRdbLoad: the image appended in 64 KB reads (each parsed as far
//                        as it goes), then finish() (the rest, the swap into the server's dbs)
// --dist DIR runs another build's compiled modules (an older tree's dist/) in the same process
// after this one, round by round, for an A/B: same image, same heap, alternating.
//
//   node bench/rdb-load-stages.mjs [--rounds 5] [--keys 1000000] [--dist /work/wt/start/dist [--skip-self]] [--only load]
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { root, option, median } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '5'));
const keys = Number(option(args, 'keys', '1000000'));
const only = option(args, 'only', '');
const dists = [path.join(root, 'dist')];
const other = option(args, 'dist', '');
if (other !== '') dists.push(path.resolve(other));

async function build(dist) {
  const m = (p) => import(path.join(dist, p));
  const { parseRdbSteps, defaultLoadLimits } = await m('src/persistence/rdb-decode.js');
  const { rdbOf } = await m('src/persistence/rdb.js');
  const { emptyData } = await m('src/keyspace/flush.js');
  const { serverInProcess } = await m('test/helpers/in-process.js');
  const { Database } = await m('src/keyspace/db.js');
  const { Snapshot } = await m('src/persistence/snapshot.js');
  const { DEFAULT_ENCODE_OPTIONS } = await m('src/persistence/rdb-encode.js');
  const { standaloneOwner } = await m('test/helpers/in-process.js');
  const transfer = await m('src/replication/rdb-transfer.js');
  const server = serverInProcess();
  server.config.set('replicaof', ['127.0.0.1', '1'], 'args');
  const p = rdbOf(server);
  return { dist, transfer, parseRdbSteps, defaultLoadLimits, p, server, emptyData, Database, Snapshot, DEFAULT_ENCODE_OPTIONS, standaloneOwner };
}

const builds = [];
for (const d of dists) builds.push(await build(d));

// The image: this tree's snapshot of a POPULATE-like database.
const b0 = builds[0];
const image = (() => {
  const db = new b0.Database(0, b0.standaloneOwner());
  for (let i = 0; i < keys; i++) db.set(`key:${i}`, `value:${i}`);
  const snap = new b0.Snapshot([db], { encode: b0.DEFAULT_ENCODE_OPTIONS, checksum: true, aux: [['repl-id', 'x'.repeat(40)]], functions: [] });
  return Buffer.concat(snap.runToEnd());
})();
console.log(`image: ${keys} keys, ${(image.length / 1e6).toFixed(1)} MB`);

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const drain = (g) => {
  for (;;) if (g.next().done === true) return;
};
const drop = { selectDb() {}, aux() {}, functionCode() {}, key() {} };

async function timed(fn) {
  await new Promise((r) => setImmediate(r)); // the previous stage's GC entries land first
  const g0 = gcMs;
  const t0 = cpuMs();
  const extra = await fn();
  const cpu = cpuMs() - t0;
  await new Promise((r) => setTimeout(r, 50));
  return { cpu, gc: gcMs - g0, extra };
}

const stages = {
  'parse only, CRC': (b) => drain(b.parseRdbSteps(image, drop, b.defaultLoadLimits(), true)),
  'parse only, no CRC': (b) => drain(b.parseRdbSteps(image, drop, b.defaultLoadLimits(), false)),
  'whole load': async (b) => {
    await b.transfer.loadRdbSliced(b.server, image);
    if (b.server.dbs[0].dict.size !== keys) throw new Error(`loaded ${b.server.dbs[0].dict.size} keys`);
    b.server.invalidateUsedMemory();
    return b.server.usedMemory();
  },
  // As a replica gets it: 64 KB reads, each appended (and parsed as far as it goes), then the
  // rest and the swap into the server's databases (StreamedRdbLoad, when the build has it).
  'streamed load': async (b) => {
    if (b.transfer.StreamedRdbLoad === undefined) return 0;
    b.emptyData(b.server, -1);
    const load = new b.transfer.StreamedRdbLoad(b.server, 0);
    for (let at = 0; at < image.length; at += 65536) load.append(image.subarray(at, Math.min(image.length, at + 65536)));
    await load.finish();
    if (b.server.dbs[0].dict.size !== keys) throw new Error(`loaded ${b.server.dbs[0].dict.size} keys`);
    return 0;
  },
};
const results = {};
// --skip-self: only the --dist build's stages (the image is still this tree's), e.g. under
// `perf stat -e instructions` once per build.
const measured = args.includes('--skip-self') ? builds.slice(1) : builds;
for (let r = 0; r < rounds; r++) {
  for (const b of measured) {
    for (const [name, fn] of Object.entries(stages)) {
      if (only !== '' && !name.includes(only)) continue;
      const key = `${b.dist}\t${name}`;
      (results[key] ??= []).push(await timed(() => fn(b)));
      if (name.includes('load')) b.emptyData(b.server, -1);
    }
  }
}
console.log(`CPU ms / GC pause ms per stage, median of ${rounds} (each round's CPU)`);
for (const [key, rs] of Object.entries(results)) {
  const [dist, name] = key.split('\t');
  console.log(`  ${path.basename(path.dirname(dist)).padEnd(8)} ${name.padEnd(20)} cpu ${median(rs.map((x) => x.cpu)).toFixed(0).padStart(5)}  gc ${median(rs.map((x) => x.gc)).toFixed(0).padStart(4)}   (${rs.map((x) => x.cpu.toFixed(0)).join(', ')})`);
}
