#!/usr/bin/env node
/**
 * CI's package check (run by .ci/run after `npm test` has built dist/): packs nodis as npm
 * would publish it, installs the tarball into an empty temporary project (its dependency
 * wasmoon-lua5.1 from the npm cache, else the registry), and uses it from there as a user
 * would: `npx nodis-server --version`, the installed nodis-server answering `npx nodis-cli
 * ping`, the installed nodis-sentinel watching it, the API imported by name (startServer) and
 * its types checked by tsc. Fails on anything the tarball must not ship (sources, tests, benchmarks).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-pack-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const started = Date.now();
const children = new Set();

function step(text) {
  console.log(`[check-package ${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);
}

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts an installed program in the project and waits for `ready` in its output. Long-running
 * programs are started with node directly (npx would put a shell between us and the server,
 * and a signal to npx would not reach it).
 */
function startBin(project, bin, args, ready) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(project, 'node_modules/nodis/bin', bin), ...args], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${bin} not ready in 30 s:\n${out}`)), 30000);
    const onData = (d) => {
      out += d;
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve(p);
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => {
      children.delete(p);
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${code}):\n${out}`));
    });
  });
}

async function stopBin(p) {
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

function assert(ok, message) {
  if (!ok) throw new Error(`check-package: ${message}`);
}

try {
  step('building bundles and types');
  run(process.execPath, [path.join(root, 'scripts/build-package.mjs'), '--types'], root);
  step('npm pack');
  const packed = JSON.parse(run(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root))[0];
  const files = packed.files.map((f) => f.path);
  console.log(`  ${packed.filename}: ${files.length} files, ${(packed.size / 1024).toFixed(0)} kB packed, ${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked`);
  for (const f of files) assert(/^(bin\/|dist\/pkg\/|dist\/types\/|README\.md$|LICENSE$|package\.json$)/.test(f), `the tarball must not ship ${f}`);
  for (const f of ['LICENSE', 'README.md', 'bin/nodis-server', 'dist/pkg/server/main.js', 'dist/pkg/server/start.js', 'dist/pkg/server/snapshot-builder.js', 'dist/pkg/cli/main.js', 'dist/pkg/api/index.js', 'dist/pkg/ha/main.js', 'bin/nodis-ha', 'dist/types/api/index.d.ts', 'dist/pkg/redis-command-table.json', 'dist/pkg/redis-command-core.json']) {
    assert(files.includes(f), `the tarball lacks ${f}`);
  }

  step('installing the tarball into an empty project');
  const project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'nodis-pack-check', private: true, type: 'module' }));
  run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, packed.filename)], project);

  step('npx nodis-server --version / nodis-cli --version');
  const version = run(npx, ['--no-install', 'nodis-server', '--version'], project);
  assert(/^nodis-server v=\d+\.\d+\.\d+ \(Redis 7\.0\.15 compatible\)/.test(version), `nodis-server --version printed ${version}`);
  assert(/^nodis-cli \d+\.\d+\.\d+/.test(run(npx, ['--no-install', 'nodis-cli', '--version'], project)), 'nodis-cli --version');
  assert(/^nodis-ha \d+\.\d+\.\d+/.test(run(npx, ['--no-install', 'nodis-ha', '--version'], project)), 'nodis-ha --version');

  step('nodis-server, then npx nodis-cli ping');
  const port = await freePort();
  const server = await startBin(project, 'nodis-server', ['--port', String(port), '--save', '', '--dir', work], 'Ready to accept connections');
  assert(run(npx, ['--no-install', 'nodis-cli', '-p', String(port), 'ping'], project).trim() === 'PONG', 'nodis-cli ping');
  assert(run(npx, ['--no-install', 'nodis-cli', '-p', String(port), 'eval', "return redis.call('ping')", '0'], project).trim() === 'PONG', 'Lua (wasmoon-lua5.1) runs');

  step('nodis-sentinel watching it');
  const sport = await freePort();
  const conf = path.join(work, 'sentinel.conf');
  fs.writeFileSync(conf, `port ${sport}\nsentinel monitor m 127.0.0.1 ${port} 1\n`);
  const sentinel = await startBin(project, 'nodis-sentinel', [conf], '+monitor master m');
  const masterAddr = run(npx, ['--no-install', 'nodis-cli', '-p', String(sport), 'sentinel', 'get-master-addr-by-name', 'm'], project);
  assert(masterAddr.includes(String(port)), `sentinel names the master: ${masterAddr}`);
  await stopBin(sentinel);
  await stopBin(server);

  step("import { startServer } from 'nodis'");
  fs.writeFileSync(
    path.join(project, 'use.mjs'),
    [
      "import net from 'node:net';",
      "import { startServer, NODIS_VERSION } from 'nodis';",
      'const s = await startServer();',
      "const pong = await new Promise((r) => { const c = net.connect(s.port, s.host, () => c.write('PING\\r\\n')); c.on('data', (d) => { r(d.toString()); c.end(); }); });",
      'await s.stop();',
      'console.log(NODIS_VERSION, JSON.stringify(pong));',
    ].join('\n'),
  );
  const used = run(process.execPath, ['use.mjs'], project).trim();
  assert(/^\d+\.\d+\.\d+ "\+PONG\\r\\n"$/.test(used), `the API answered ${used}`);

  step('tsc on a TypeScript user of the API');
  fs.writeFileSync(
    path.join(project, 'use.ts'),
    "import { startTopology, type Topology } from 'nodis';\nconst t: Topology = await startTopology({ replicas: 1, sentinels: 1 });\nconst s: { host: string; port: number }[] = [...t.sentinels];\nconsole.log(s.length, t.name, t.master.url);\nawait t.stop();\n",
  );
  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')] }, files: ['use.ts'] }),
  );
  run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', project], project);
  step('ok');
} finally {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
