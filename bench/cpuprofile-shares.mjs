#!/usr/bin/env node
// Shares of a V8 CPU profile (`node --cpu-prof`): self and inclusive time per function, or the
// callees of one function. A function counts once per sample however deep it recurses.
//
//   node bench/cpuprofile-shares.mjs FILE.cpuprofile [--top 40] [--under NAME [--depth 1]]
//
// --under NAME: how the samples inside the first frame named NAME split among its callees
// (`--depth` frames below it; "(self)" for NAME's own time).
// Used for the EVALSHA stages in docs/PERFORMANCE.md:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/evalsha-stages.mjs --loop 3000000
import fs from 'node:fs';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const file = args[0];
if (file === undefined || file.startsWith('--')) {
  process.stderr.write('usage: node bench/cpuprofile-shares.mjs FILE.cpuprofile [--top 40] [--under NAME [--depth 1]]\n');
  process.exit(2);
}
const top = Number(option(args, 'top', '40'));
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

const samplesAt = new Map();
for (const s of profile.samples) samplesAt.set(s, (samplesAt.get(s) ?? 0) + 1);
const total = profile.samples.length;
const add = (m, k, c) => m.set(k, (m.get(k) ?? 0) + c);
const show = (title, m) => {
  process.stdout.write(`${title}\n`);
  for (const [k, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * c) / total).toFixed(1).padStart(6)}%  ${k}\n`);
  }
};

process.stdout.write(`${total} samples\n`);
if (under !== '') {
  const split = new Map();
  for (const [id, c] of samplesAt) {
    const frames = stack(id);
    const i = frames.findIndex((n) => n.callFrame.functionName === under);
    if (i >= 0) add(split, frames.slice(i + 1, i + 1 + depth).map(label).join(' -> ') || '(self)', c);
  }
  show(`inside ${under}:`, split);
} else {
  const self = new Map();
  const inclusive = new Map();
  for (const [id, c] of samplesAt) {
    const frames = stack(id);
    add(self, label(frames[frames.length - 1]), c);
    for (const k of new Set(frames.map(label))) add(inclusive, k, c);
  }
  show('self:', self);
  show('inclusive:', inclusive);
}
