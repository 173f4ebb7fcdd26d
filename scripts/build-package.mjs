#!/usr/bin/env node
/**
 * Builds what the npm package runs: one esbuild bundle per entry point under dist/pkg/ (so
 * `npm i nodis` loads one file per program instead of ~150 modules, and needs no compiler), the
 * command table beside them, and — with --types — .d.ts files for the API under dist/types/.
 * Run by `npm run build` (after tsc) and by `prepack`.
 *
 * An entry whose source does not exist yet is skipped (src/lock/, src/ha/ are written by other
 * work). src/ha/main.ts becomes the `nodis-ha` program with one line in package.json's "bin":
 * `"nodis-ha": "dist/pkg/ha/main.js"` (its bundle starts with a hashbang).
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/pkg');

/**
 * dist/pkg/<out>.js ← <in>. Programs (server, cli) are CommonJS bundles (a package.json with
 * "type": "commonjs" beside them): Node loads them without its ES module loader, which is a
 * measurable part of a one-shot `nodis-cli ping` (docs/PERFORMANCE.md). Modules users import
 * (the API, the lock library) and programs that may use top-level await are ES modules.
 */
const PROGRAMS = [
  { in: 'src/server/main.ts', out: 'server/main' },
  { in: 'src/server/launch.ts', out: 'server/launch' },
  // main.js with V8's code cache (what startServer() and a re-executed launcher run).
  { in: 'src/server/start.ts', out: 'server/start' },
  { in: 'src/server/heap.ts', out: 'server/heap' },
  // The start-up snapshot's file names (bench/startup.mjs starts servers from it as startServer() does).
  { in: 'src/server/startup-snapshot.ts', out: 'server/startup-snapshot' },
  // Builds the snapshot in the background (started by a server once it is ready).
  { in: 'src/server/snapshot-builder.ts', out: 'server/snapshot-builder' },
  // A worker thread the server starts by URL, beside the server's bundle.
  { in: 'src/scripting/busy-acceptor.ts', out: 'server/busy-acceptor' },
  { in: 'src/cli/main.ts', out: 'cli/main' },
];
const MODULES = [
  { in: 'src/api/index.ts', out: 'api/index' },
  { in: 'src/lock/index.ts', out: 'lock/index' },
  { in: 'src/ha/main.ts', out: 'ha/main' },
];

const exists = (e) => fs.existsSync(path.join(root, e.in));
const common = {
  absWorkingDir: root,
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Runtime dependencies (wasmoon-lua5.1) are installed beside nodis, not bundled.
  packages: 'external',
  logLevel: 'warning',
  legalComments: 'none',
};
/**
 * Built-ins that no start-up path uses (a hash, a worker thread, a new context) are loaded
 * when first used, not when the bundle loads: each is module code node runs at every start,
 * and heap the server's start-up snapshot carries (node:crypto alone ~0.2 MB of the blob;
 * docs/PERFORMANCE.md "Start-up"). Not node:child_process or node:dns: listening on a TCP
 * port loads both (through node:cluster and the address lookup). A bundle variable bound to one of them becomes an object
 * whose properties (the ones the bundle reads: `x.default`, `(0, x.spawn)`) load the module on
 * first read and then are plain data properties. A variable used in any other way (passed on
 * as a whole, destructured) stays eager.
 */
const LAZY = ['crypto', 'worker_threads', 'vm'];
const LAZY_HELPER = `var __nodisLazy = (id, names) => {
  var o = {};
  var load = () => {
    var m = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule(id) : require(id);
    for (var n of names) Object.defineProperty(o, n, { value: n === 'default' ? m : m[n], writable: true, enumerable: true, configurable: true });
  };
  for (const n of names) Object.defineProperty(o, n, { get() { load(); return o[n]; }, enumerable: true, configurable: true });
  return o;
};
`;

/** The bundle with LAZY built-ins bound through __nodisLazy where every use allows it. */
function lazyBuiltins(text) {
  const bind = new RegExp(`([\\w$]+)=(?:__nodisBuiltin\\(require\\("node:(${LAZY.join('|')})"\\)(?:,1)?\\)|require\\("node:(${LAZY.join('|')})"\\))`, 'g');
  const declared = new Set();
  for (const m of text.matchAll(/\bvar ([\w$]+(?:,[\w$]+)*)[;,=]/g)) for (const v of m[1].split(',')) declared.add(v);
  const replacements = new Map();
  for (const m of text.matchAll(bind)) {
    const v = m[1];
    const id = `node:${m[2] ?? m[3]}`;
    const uses = [...text.matchAll(new RegExp(`(?<![\\w$.])${v.replaceAll('$', '\\$')}(?![\\w$])(\\.[\\w$]+|=)?`, 'g'))];
    const props = new Set(uses.filter((u) => u[1]?.startsWith('.')).map((u) => u[1].slice(1)));
    const assigns = uses.filter((u) => u[1] === '=').length;
    const propUses = uses.filter((u) => u[1]?.startsWith('.')).length;
    // Every use is `v.prop`, the one binding, or a bare name in a `var a,v,b;` list.
    if (assigns !== 1 || uses.length - propUses - assigns > (declared.has(v) ? 1 : 0) || props.size === 0) continue;
    replacements.set(m[0], `${v}=__nodisLazy(${JSON.stringify(id)},${JSON.stringify([...props])})`);
  }
  for (const [from, to] of replacements) text = text.replace(from, to);
  return text;
}

fs.rmSync(out, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: PROGRAMS.filter(exists),
  format: 'cjs',
  // Whitespace and syntax only (names stay, for stack traces and `.name`): a smaller server
  // start-up snapshot, −5 ms CPU per start from it (docs/PERFORMANCE.md "Start-up").
  minifyWhitespace: true,
  minifySyntax: true,
  // import.meta.url (the command table, the Lua binary, the acceptor thread) in CommonJS.
  define: { 'import.meta.url': '__nodisModuleUrl' },
  banner: { js: "var __nodisModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
// esbuild's __toESM copies every property of a CommonJS module onto a new object (a getter
// per property) for each `import x from 'node:…'`: ~40 built-in imports × ~100 properties at
// every start. A built-in needs no interop: an object inheriting from it, with `default` set,
// reads the same (docs/PERFORMANCE.md "Start-up").
for (const e of PROGRAMS.filter(exists)) {
  const file = path.join(out, `${e.out}.js`);
  const text = lazyBuiltins(fs.readFileSync(file, 'utf8').replaceAll('__toESM(require("node:', '__nodisBuiltin(require("node:'));
  const helper = 'var __nodisBuiltin = (m) => { var o = Object.create(m); o.default = m; return o; };\n' + LAZY_HELPER;
  fs.writeFileSync(file, helper + text);
}
// The hashbang lets an ES module be a program too: `"nodis-ha": "dist/pkg/ha/main.js"` in bin.
await build({ ...common, entryPoints: MODULES.filter(exists), format: 'esm', banner: { js: '#!/usr/bin/env node' } });
for (const dir of new Set(PROGRAMS.map((e) => path.dirname(e.out)))) {
  fs.writeFileSync(path.join(out, dir, 'package.json'), '{ "type": "commonjs" }\n');
}
const present = [...PROGRAMS, ...MODULES].filter(exists);
fs.copyFileSync(path.join(root, 'src/commands/redis-command-table.json'), path.join(out, 'redis-command-table.json'));
// The same table without the documentation fields, which the server parses at start (COMMAND
// DOCS / INFO and nodis-cli's help read the whole table on first use; command-table.ts).
const DOC_FIELDS = new Set(['summary', 'complexity', 'group', 'since', 'arguments', 'history', 'doc_flags', 'deprecated_since', 'replaced_by']);
const coreOf = (doc) => {
  const core = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'subcommands') core[k] = Object.fromEntries(Object.entries(v).map(([n, sub]) => [n, coreOf(sub)]));
    else if (!DOC_FIELDS.has(k)) core[k] = v;
  }
  return core;
};
const table = JSON.parse(fs.readFileSync(path.join(root, 'src/commands/redis-command-table.json'), 'utf8'));
const core = Object.fromEntries(Object.entries(table.commands).map(([n, doc]) => [n, coreOf(doc)]));
fs.writeFileSync(path.join(out, 'redis-command-core.json'), JSON.stringify({ commands: core }));

if (process.argv.includes('--types')) {
  fs.rmSync(path.join(root, 'dist/types'), { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
}
console.log(`dist/pkg: ${present.map((e) => e.out).join(', ')}`);
