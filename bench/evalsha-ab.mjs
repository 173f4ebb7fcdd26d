#!/usr/bin/env node
// Two (or more) builds' EVALSHA path side by side in one process, for a machine too loaded for
// separate runs to compare: each build gets its own in-process server (bench/lib.mjs), and short
// slices of `evalsha <sha> 1 lockkey token` (bench/lock-release.lua, parsed from 16-command RESP
// chunks as in bench/evalsha-stages.mjs --loop) alternate between the builds, so load that comes
// and goes hits them alike. Per build: the fastest slice, the 10th percentile and the median,
// in µs of CPU per EVALSHA, and the median of the per-pair ratios against the first build.
//
//   node bench/evalsha-ab.mjs --dist /tmp/before/dist --dist dist [--slices 60] [--per-slice 20000]
//        [--command 'get lockkey']   (any command instead, its {sha} the release script's)
//        [--via-input]   (one command per read through the server's own input path, as a client at
//                         -P 1 sends it: Server.readInput → processInput, the key prefetch included)
import fs from 'node:fs';
import path from 'node:path';
import { root, median, inProcessServer, resp, runChunk } from './lib.mjs';

const args = process.argv.slice(2);
const dists = [];
for (let i = 0; i < args.length; i++) if (args[i] === '--dist') dists.push(path.resolve(args[++i]));
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const slices = Number(opt('slices', '60'));
const perSlice = Number(opt('per-slice', '20000'));
const command = opt('command', 'evalsha {sha} 1 lockkey token');
const viaInput = args.includes('--via-input');
if (dists.length < 1) throw new Error('give --dist at least once');
const release = fs.readFileSync(path.join(root, 'bench/lock-release.lua'), 'latin1');

const builds = [];
for (const dist of dists) {
  const { server, client: c, load } = await inProcessServer(dist);
  const { RespParser } = await load('src/protocol/parser.js');
  const { scriptingFor } = await load('src/scripting/engine.js');
  const r = scriptingFor(server).createFunction(release);
  if ('error' in r) throw new Error(r.error);
  const argv = command.split(' ').map((a) => (a === '{sha}' ? r.sha : a));
  const chunk = Buffer.from(resp(argv).repeat(16), 'latin1');
  const parser = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
  const one = Buffer.from(resp(argv), 'latin1');
  const run = (n) => {
    const before = process.cpuUsage();
    if (viaInput) {
      for (let i = 0; i < n; i++) {
        server.readInput(c, one);
        c.reply.len = 0;
      }
    } else for (let i = 0; i < n; i += 16) runChunk(server, c, parser, chunk);
    const u = process.cpuUsage(before);
    return (u.user + u.system) / n;
  };
  builds.push({ dist, run, times: [] });
}
// Warm-up: every build's code optimized before anything is kept.
for (const b of builds) b.run(perSlice * 5);
for (let s = 0; s < slices; s++) {
  // The order within a pair alternates too.
  const order = s % 2 === 0 ? builds : [...builds].reverse();
  for (const b of order) b.times.push(b.run(perSlice));
}
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];
let out = `\`${command}\`, µs of CPU per command, ${slices} alternating slices of ${perSlice} (${viaInput ? 'one command per read through Server.readInput' : 'parse included'}):\n\n`;
out += '| build | fastest | p10 | median | median ratio to the first |\n|---|---:|---:|---:|---:|\n';
for (const b of builds) {
  const ratios = b.times.map((t, i) => t / builds[0].times[i]);
  out += `| ${b.dist} | ${pct(b.times, 0).toFixed(3)} | ${pct(b.times, 0.1).toFixed(3)} | ${median(b.times).toFixed(3)} | ${median(ratios).toFixed(3)} |\n`;
}
process.stdout.write(out, () => process.exit(0));
