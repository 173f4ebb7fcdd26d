/**
 * The server bundle's V8 code cache (src/server/code-cache.ts): a start writes it into
 * NODE_COMPILE_CACHE once the server is up, a later start uses it, a damaged cache is replaced,
 * and NODE_DISABLE_COMPILE_CACHE leaves the directory alone — the server answers every time.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodeModule from 'node:module';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer, stopAll, freePort, rawExchange } from './helpers/server.js';
import { fnv1a } from '../src/server/code-cache.js';

/** Node ≥ 22.1 keeps its own cache (its own file layout); before, nodis's one file per flags. */
const nodisCache = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache !== 'function';

after(stopAll);

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cc-'));
  after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Every file under dir (Node ≥ 22.1 keeps its own cache in subdirectories), with its size. */
function files(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = path.join(e.parentPath ?? e.path, e.name);
      out.set(p, fs.statSync(p).size);
    }
  }
  return out;
}

async function waitFor(check: () => boolean, timeoutMs = 20000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('the code cache is written after start, reused, and replaced when damaged', async () => {
  const cache = path.join(tmpDir(), 'cache');
  const env = { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '' };
  const a = await startServer({ env });
  assert.equal(await a.client().ping(), 'PONG');
  await waitFor(() => fs.existsSync(cache) && [...files(cache).values()].some((n) => n > 10000));
  await a.stop();
  const first = files(cache);
  assert.ok(first.size >= 1, 'a cache file was written');
  if (process.platform !== 'win32' && typeof process.getuid === 'function') assert.equal(fs.statSync(cache).mode & 0o777, 0o700);

  // A second start with the cache in place: it serves, and leaves the cache as it was.
  const b = await startServer({ env });
  assert.equal(await b.client().set('k', 'v'), 'OK');
  assert.equal(await b.client().get('k'), 'v');
  await b.stop();
  assert.deepEqual(files(cache), first);

  // Other node flags (V8 rejects a cache made under other flags): a cache file of their own,
  // the first one left as it was.
  const flagged = await startServer({ env: { ...env, NODE_OPTIONS: '--max-old-space-size=1024' } });
  assert.equal(await flagged.client().ping(), 'PONG');
  if (nodisCache) await waitFor(() => files(cache).size === first.size + 1);
  await flagged.stop();
  for (const [f, size] of first) assert.equal(files(cache).get(f), size);

  // Damaged cache files: V8 rejects them, the bundle compiles from source, the cache is rewritten.
  for (const f of files(cache).keys()) fs.writeFileSync(f, Buffer.alloc(64, 7));
  const c = await startServer({ env });
  assert.equal(await c.client().ping(), 'PONG');
  await waitFor(() => [...files(cache).values()].some((n) => n > 10000));
  await c.stop();
});

test('NODE_DISABLE_COMPILE_CACHE=1: no cache is written', async () => {
  const cache = path.join(tmpDir(), 'cache');
  const s = await startServer({ env: { NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '1' } });
  assert.equal(await s.client().ping(), 'PONG');
  // The cache would be written one second after start; wait past that.
  await new Promise((r) => setTimeout(r, 1500));
  await s.stop();
  assert.equal(fs.existsSync(cache) ? files(cache).size : 0, 0);
});

/** Resolves once a fresh connection to `port` answers PING. */
async function waitForPong(port: number): Promise<void> {
  const start = Date.now();
  while ((await rawExchange(port, 'PING\r\n', (r) => r.endsWith('\r\n'))) !== '+PONG\r\n') {
    if (Date.now() - start > 20000) throw new Error(`no PONG on ${port}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('two installs of the bundle keep a cache each (neither removes the other\'s)', async () => {
  const dir = tmpDir();
  const cache = path.join(dir, 'cache');
  const pkg = fileURLToPath(new URL('../pkg/', import.meta.url));
  // Two copies of the package's server bundles, as two projects' node_modules would hold.
  const installs = ['a', 'b'].map((name) => {
    const root = path.join(dir, name);
    fs.cpSync(path.join(pkg, 'server'), path.join(root, 'server'), { recursive: true });
    fs.copyFileSync(path.join(pkg, 'redis-command-table.json'), path.join(root, 'redis-command-table.json'));
    return path.join(root, 'server');
  });
  /** The part of a cache file's name that names its bundle (code-cache.ts). */
  const tag = (server: string): string => `main-${fnv1a(path.join(server, 'main.js'))}-`;
  const cacheOf = (server: string): boolean => [...files(cache).keys()].some((f) => path.basename(f).startsWith(tag(server)));
  for (const server of [...installs, ...installs]) {
    const port = await freePort();
    const env = { ...process.env, NODE_COMPILE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '', NODIS_SNAPSHOT: '0' };
    const p = spawn(process.execPath, [path.join(server, 'start.js'), '--port', String(port), '--save', ''], { stdio: 'ignore', env });
    const exited = new Promise((r) => p.once('exit', r));
    try {
      await waitForPong(port);
      // Written once the server is ready.
      await waitFor(() => fs.existsSync(cache) && (nodisCache ? cacheOf(server) : files(cache).size > 0));
    } finally {
      p.kill('SIGKILL');
      await exited;
    }
  }
  if (nodisCache) for (const server of installs) assert.ok(cacheOf(server), `the cache of ${server} is still there`);
});
