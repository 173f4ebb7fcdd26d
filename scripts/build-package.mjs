#!/usr/bin/env node
/**
 * Builds what the npm package runs: one esbuild bundle per entry point under dist/pkg/ (so
 * `npm i nodis` loads one file per program instead of ~150 modules, and needs no compiler), the
 * command table beside them, and — with --types — .d.ts files for the API under dist/types/.
 * Run by `npm run build` (after tsc) and by `prepack`.
 *
 * An entry whose source does not exist yet is skipped (src/lock/, src/ha/ are written by other
 * work); adding a program is one line in ENTRIES plus its "bin" line in package.json.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/pkg');

/** dist/pkg/<out>.js ← <in>. Entries that start a program get a shebang. */
const ENTRIES = [
  { in: 'src/server/main.ts', out: 'server/main' },
  { in: 'src/server/launch.ts', out: 'server/launch' },
  { in: 'src/server/heap.ts', out: 'server/heap' },
  // A worker thread the server starts by URL, beside the server's bundle.
  { in: 'src/scripting/busy-acceptor.ts', out: 'server/busy-acceptor' },
  { in: 'src/cli/main.ts', out: 'cli/main' },
  { in: 'src/api/index.ts', out: 'api/index' },
  { in: 'src/lock/index.ts', out: 'lock/index' },
  { in: 'src/ha/main.ts', out: 'ha/main' },
];

const present = ENTRIES.filter((e) => fs.existsSync(path.join(root, e.in)));
fs.rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: present,
  outdir: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Runtime dependencies (wasmoon-lua5.1) are installed beside nodis, not bundled.
  packages: 'external',
  logLevel: 'warning',
  legalComments: 'none',
});
fs.copyFileSync(path.join(root, 'src/commands/redis-command-table.json'), path.join(out, 'redis-command-table.json'));

if (process.argv.includes('--types')) {
  fs.rmSync(path.join(root, 'dist/types'), { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
}
console.log(`dist/pkg: ${present.map((e) => e.out).join(', ')}`);
