/**
 * The import direction docs/ARCHITECTURE.md states, checked on the sources: the bottom layers
 * (core/, protocol/, types/) import nothing above them; persistence/, replication/, scripting/
 * and keyspace/ use the executor and the keyspace, never commands/; and the replication modules
 * import one another without a run-time cycle. For the layers, type-only imports count: a type
 * from commands/ is still a dependency on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceFiles } from './helpers/source-files.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');

interface Edge {
  from: string;
  to: string;
  /** `import type …`: erased at run time (still a dependency for the layering rules). */
  typeOnly: boolean;
}

/** Every relative import/export-from/dynamic import of every file under src/, as src-relative paths. */
function edges(): Edge[] {
  // import/export … from '…' (possibly over several lines), import '…', import('…').
  const re = /^(?:import|export)\s+(type\s+)?(?:[^;'"]*?\bfrom\s*)?'(\.{1,2}\/[^']+)'|\bimport\s*\(\s*'(\.{1,2}\/[^']+)'/gms;
  const out: Edge[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(re)) {
      const spec = m[2] ?? m[3]!;
      const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
      out.push({ from: path.relative(SRC, file), to: path.relative(SRC, target), typeOnly: m[1] !== undefined });
    }
  }
  return out;
}

const topDir = (p: string): string => p.split(path.sep)[0]!;

const ALL = edges();

test('the scan finds the imports (sanity: server.ts imports the keyspace)', () => {
  assert.ok(ALL.length > 500, `only ${ALL.length} imports found`);
  assert.ok(ALL.some((e) => e.from === path.join('server', 'server.ts') && e.to === path.join('keyspace', 'db.ts')));
});

test('core/, protocol/ and types/ import nothing above them', () => {
  const bottom = new Set(['core', 'protocol', 'types']);
  const bad = ALL.filter((e) => bottom.has(topDir(e.from)) && !bottom.has(topDir(e.to)));
  assert.deepEqual(bad.map((e) => `${e.from} -> ${e.to}`), []);
});

test('persistence/, replication/, scripting/ and keyspace/ never import commands/', () => {
  const below = new Set(['persistence', 'replication', 'scripting', 'keyspace']);
  const bad = ALL.filter((e) => below.has(topDir(e.from)) && topDir(e.to) === 'commands');
  assert.deepEqual(bad.map((e) => `${e.from} -> ${e.to}`), []);
});

test('the replication modules import one another without a cycle (at run time)', () => {
  // Type-only references between the state and the link it holds are erased; a run-time cycle
  // (replica.ts -> failover.ts -> roles.ts -> replica.ts, before roles.ts owned the role
  // transitions) makes module initialisation order matter.
  const graph = new Map<string, string[]>();
  for (const e of ALL) {
    if (e.typeOnly || topDir(e.from) !== 'replication' || topDir(e.to) !== 'replication') continue;
    let l = graph.get(e.from);
    if (l === undefined) graph.set(e.from, (l = []));
    l.push(e.to);
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (n: string, trail: string[]): void => {
    const s = state.get(n);
    if (s === 'done') return;
    if (s === 'open') {
      cycles.push([...trail.slice(trail.indexOf(n)), n].join(' -> '));
      return;
    }
    state.set(n, 'open');
    for (const m of graph.get(n) ?? []) visit(m, [...trail, n]);
    state.set(n, 'done');
  };
  for (const n of graph.keys()) visit(n, []);
  assert.deepEqual(cycles, []);
});
