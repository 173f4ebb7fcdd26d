#!/usr/bin/env node
// Reads a V8 CPU profile (node --cpu-prof) and prints each function's self and inclusive time,
// as a share of the busy (non-idle) time and, with --per N, in µs per operation for N
// operations in the profiled run. Functions are named `name file:line`.
//
//   node bench/profile-summary.mjs file.cpuprofile [--per 1000000] [--top 40] [--match evict]
import fs from 'node:fs';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const file = args[0];
const per = Number(option(args, 'per', '0'));
const top = Number(option(args, 'top', '40'));
const match = option(args, 'match', '');
const p = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
const timeOf = new Map();
for (let i = 0; i < p.samples.length; i++) timeOf.set(p.samples[i], (timeOf.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map();
const inclusive = new Map();
let idle = 0;
let total = 0;
for (const [id, t] of timeOf) {
  total += t;
  const n = byId.get(id);
  if (n.callFrame.functionName === '(idle)') idle += t;
  self.set(name(n), (self.get(name(n)) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const nm = name(byId.get(cur));
    if (seen.has(nm)) continue; // recursion counts once
    seen.add(nm);
    inclusive.set(nm, (inclusive.get(nm) ?? 0) + t);
  }
}
const busy = total - idle;
const row = ([nm, t]) => `${((100 * t) / busy).toFixed(1).padStart(5)}%  ${per > 0 ? `${(t / per).toFixed(3).padStart(7)} µs  ` : ''}${nm}`;
const list = (m) => [...m].filter(([nm]) => nm.includes(match) && !nm.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top).map(row).join('\n');
console.log(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled${per > 0 ? `; ${(busy / per).toFixed(3)} µs busy per operation` : ''}`);
console.log('--- self');
console.log(list(self));
console.log('--- inclusive');
console.log(list(inclusive));
