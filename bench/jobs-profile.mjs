#!/usr/bin/env node
// Where a background job's wall time goes while one client writes one command at a time: a
// nodis-server under `node --cpu-prof`, 1,000,000 keys (DEBUG POPULATE), the INCR pacer of
// bench/jobs.mjs running, then BGSAVE and BGREWRITEAOF in turn. The profile's samples are cut
// to each job's window (both clocks are CLOCK_MONOTONIC) and split into stages: the main
// thread idle, the snapshot's walk and encoding (`step`, less what is named below), CRC64,
// chunk hand-over and file writes, the drive loop and pacer, the collector, and the rest (the
// INCR client's commands, the loop).
//
//   node bench/jobs-profile.mjs [--bin bin/nodis-server] [--keys 1000000] [--jobs bgsave,aofrw]
//                               [--rounds 1] [--keep DIR]
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, option, cli, incrPacer, startVariant } from './lib.mjs';

const args = process.argv.slice(2);
const bin = path.resolve(option(args, 'bin', path.join(root, 'bin/nodis-server')));
const keys = Number(option(args, 'keys', '1000000'));
const jobs = option(args, 'jobs', 'bgsave,aofrw').split(',');
const rounds = Number(option(args, 'rounds', '1'));
const keep = option(args, 'keep', '');

const profDir = keep || fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-prof-'));
fs.mkdirSync(profDir, { recursive: true });
const server = await startVariant({ name: 'prof', cmd: process.execPath, pre: ['--cpu-prof', '--cpu-prof-dir', profDir, bin] }, ['--enable-debug-command', 'yes']);
const { port, proc } = server;
cli(port, 'DEBUG', 'POPULATE', String(keys));
const pacer = incrPacer(port);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const windows = [];
const run = promisify(execFile);
const infoField = async (section, name) => new RegExp(`${name}:(\\d+)`).exec((await run('redis-cli', ['-p', String(port), 'INFO', section])).stdout)?.[1];
for (let r = 0; r < rounds; r++) {
  for (const job of jobs) {
    const until = (async () => {
      await sleep(200);
      const t0 = process.hrtime.bigint();
      await run('redis-cli', ['-p', String(port), job === 'bgsave' ? 'BGSAVE' : 'BGREWRITEAOF']);
      const field = job === 'bgsave' ? 'rdb_bgsave_in_progress' : 'aof_rewrite_in_progress';
      for (;;) {
        await sleep(20);
        if ((await infoField('persistence', field)) === '0') break;
      }
      windows.push({ job, t0, t1: process.hrtime.bigint() });
    })();
    const res = await pacer.run(until);
    const lat = res.lat.sort((a, b) => a - b);
    process.stdout.write(`${job}: ${res.rate.toFixed(0)}/s p99 ${lat[Math.floor(lat.length * 0.99)].toFixed(3)} ms\n`);
    if (job === 'aofrw') cli(port, 'CONFIG', 'SET', 'appendonly', 'no');
  }
}
pacer.close();
cli(port, 'SHUTDOWN', 'NOSAVE');
await new Promise((r) => proc.once('exit', r));
fs.rmSync(server.dir, { recursive: true, force: true });

const file = fs.readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(profDir, f)).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0];
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const names = (id) => {
  const out = [];
  for (let x = id; x !== undefined; x = parent.get(x)) out.push(byId.get(x).callFrame.functionName);
  return out; // innermost first
};
/** The stage a sample belongs to, from its frames (innermost first). */
function stage(fr) {
  const leaf = fr[0];
  if (leaf === '(idle)') return 'idle (main thread asleep)';
  if (leaf === '(garbage collector)') return 'garbage collector';
  if (leaf === '(program)') return '(program): V8/libuv outside JS';
  if (fr.includes('step')) {
    if (fr.includes('update') && fr.some((n) => n === 'update')) return 'step: CRC64';
    if (fr.includes('handOver')) return 'step: chunk hand-over';
    if (fr.includes('rewriteKey')) return 'step: AOF command text (rewriteKey)';
    if (fr.includes('record') || fr.includes('keyValue')) return 'step: encode key/value';
    if (fr.includes('next')) return 'step: walk (DictWalker.next)';
    return 'step: walk loop (self)';
  }
  if (fr.includes('writeAll') || fr.includes('write') && fr.includes('drive')) return 'file write (hand to pool)';
  if (fr.includes('drive') || fr.includes('nextFlushOrRest') || fr.includes('next') && fr.includes('drive')) return 'drive loop / pacer';
  return 'other (clients, loop)';
}
let t = profile.startTime;
const acc = windows.map(() => new Map());
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i];
  const ns = BigInt(Math.round(t)) * 1000n;
  const w = windows.findIndex((x) => ns >= x.t0 && ns < x.t1);
  if (w < 0) continue;
  const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i];
  const st = stage(names(profile.samples[i]));
  acc[w].set(st, (acc[w].get(st) ?? 0) + dt);
}
windows.forEach((w, i) => {
  const wall = Number(w.t1 - w.t0) / 1e6;
  process.stdout.write(`\n${w.job}: window ${wall.toFixed(0)} ms (job + up to 20 ms polling); ms per ${keys} keys:\n`);
  for (const [k, us] of [...acc[i]].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${(us / 1000).toFixed(1).padStart(8)}  ${(100 * us / 1000 / wall).toFixed(1).padStart(5)}%  ${k}\n`);
});
process.stdout.write(`\nprofile: ${file}\n`);
