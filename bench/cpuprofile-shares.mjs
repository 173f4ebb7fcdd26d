#!/usr/bin/env node
// Shares of a V8 CPU profile (`node --cpu-prof`): self and inclusive time per function, as a
// share of the busy (non-idle) time and, with --per N, in µs per operation for N operations in
// the profiled run; or, with --under NAME, how the time inside one function splits among its
// callees. A function counts once per sample however deep it recurses. Functions are named
// `name file:line`.
//
//   node bench/cpuprofile-shares.mjs FILE.cpuprofile [--top 40] [--per N] [--match TEXT]
//                                    [--under NAME [--depth 1]]
//
// --under NAME: the samples inside the first frame named NAME, split among its callees
// (`--depth` frames below it; "(self)" for NAME's own time). --match TEXT: only functions whose
// label contains TEXT.
// Used for the EVALSHA and eviction stages in docs/PERFORMANCE.md:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/evalsha-stages.mjs --loop 3000000
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/eviction-stages.mjs --evicting-only
import fs from 'node:fs';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const file = args[0];
if (file === undefined || file.startsWith('--')) {
  process.stderr.write('usage: node bench/cpuprofile-shares.mjs FILE.cpuprofile [--top 40] [--per N] [--match TEXT] [--under NAME [--depth 1]]\n');
  process.exit(2);
}
const top = Number(option(args, 'top', '40'));
const per = Number(option(args, 'per', '0'));
const match = option(args, 'match', '');
const under = option(args, 'under', '');
const depth = Number(option(args, 'depth', '1'));

const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
const label = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
/** The frames of a sample, outermost first. */
const stack = (id) => {
  const frames = [];
  for (let x = id; x !== undefined; x = parent.get(x)) frames.push(byId.get(x));
  return frames.reverse();
};

// Time (µs) spent at each sampled node, from the samples' time deltas.
const timeAt = new Map();
for (let i = 0; i < profile.samples.length; i++) timeAt.set(profile.samples[i], (timeAt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas?.[i] ?? 0));
let idle = 0;
let sampled = 0;
for (const [id, t] of timeAt) {
  sampled += t;
  if (byId.get(id).callFrame.functionName === '(idle)') idle += t;
}
const busy = sampled - idle || 1;
const add = (m, k, t) => m.set(k, (m.get(k) ?? 0) + t);
const show = (title, m) => {
  process.stdout.write(`${title}\n`);
  const rows = [...m].filter(([k]) => k.includes(match) && !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, t] of rows) process.stdout.write(`${((100 * t) / busy).toFixed(1).padStart(6)}%  ${per > 0 ? `${(t / per).toFixed(3).padStart(7)} µs  ` : ''}${k}\n`);
};

process.stdout.write(`busy ${(busy / 1e6).toFixed(2)} s of ${(sampled / 1e6).toFixed(2)} s sampled (${profile.samples.length} samples)${per > 0 ? `; ${(busy / per).toFixed(3)} µs busy per operation` : ''}\n`);
if (under !== '') {
  const split = new Map();
  for (const [id, t] of timeAt) {
    const frames = stack(id);
    const i = frames.findIndex((n) => n.callFrame.functionName === under);
    if (i >= 0) add(split, frames.slice(i + 1, i + 1 + depth).map(label).join(' -> ') || '(self)', t);
  }
  show(`inside ${under}:`, split);
} else {
  const self = new Map();
  const inclusive = new Map();
  for (const [id, t] of timeAt) {
    const frames = stack(id);
    add(self, label(frames[frames.length - 1]), t);
    for (const k of new Set(frames.map(label))) add(inclusive, k, t);
  }
  show('self:', self);
  show('inclusive:', inclusive);
}
